"""Scaling delays compared across controllers with imported numbers: an HPA's scale-down
stabilisation window against the cluster-autoscaler's scale-down delays, each finding
confirmed and citing the configuration lines the numbers came from."""

from __future__ import annotations

from pathlib import Path

from expert.analysis.assess import Assessor, load_assessment
from expert.yamlio import dump_yaml
from tests.helpers import builtin_kb
from tests.importers.helpers import run

# Shapes from the Kubernetes HPA walkthrough (autoscaling/v2 with behavior) and the
# cluster-autoscaler's example Deployment (flags in `command`).
WORKLOAD = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - name: api
          image: example.com/api:1.0
"""
HPA = """
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 2
  maxReplicas: 20
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 1800
"""
CLUSTER_AUTOSCALER = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: cluster-autoscaler, namespace: kube-system}
spec:
  replicas: 1
  selector: {matchLabels: {app: cluster-autoscaler}}
  template:
    metadata: {labels: {app: cluster-autoscaler}}
    spec:
      containers:
        - name: cluster-autoscaler
          image: registry.k8s.io/autoscaling/cluster-autoscaler:v1.30.2
          command:
            - ./cluster-autoscaler
            - --cloud-provider=aws
            - --scale-down-unneeded-time=5m
            - --scale-down-delay-after-add=5m
"""


def assess(tmp_path: Path, files: dict[str, str]) -> list:
    result = run(tmp_path / "in", files)
    path = tmp_path / "imported.yaml"
    path.write_text(dump_yaml(result.assessment))
    with Assessor(builtin_kb()) as ax:
        return ax.assess(load_assessment(path, builtin_kb()), deliverables=False).findings


def test_hpa_window_longer_than_node_delays_fires_with_file_and_line(tmp_path):
    files = {"api.yaml": WORKLOAD, "hpa.yaml": HPA, "ca.yaml": CLUSTER_AUTOSCALER}
    findings = assess(tmp_path, files)
    hit = [
        f
        for f in findings
        if f.rule == "pod-hold-outlasts-node-removal"
        and set(f.loops) == {"api-hpa", "cluster-autoscaler"}
    ]
    assert hit, sorted({(f.rule, f.status) for f in findings})
    assert hit[0].status == "confirmed"
    assert hit[0].severity == "high"  # 30 min against 5 min: six times
    cited = {(b.loop, b.field): b.source for b in hit[0].because if b.source}
    folder = tmp_path / "in"
    # the line of stabilizationWindowSeconds, and the flag list holding the node delays
    assert cited["api-hpa", "timescale"] == f"{folder / 'hpa.yaml'}:13"
    assert cited["cluster-autoscaler", "timescale"] == f"{folder / 'ca.yaml'}:13"


def test_node_delays_at_least_the_hpa_window_stay_quiet(tmp_path):
    slow = CLUSTER_AUTOSCALER.replace("=5m", "=30m")
    files = {"api.yaml": WORKLOAD, "hpa.yaml": HPA, "ca.yaml": slow}
    findings = assess(tmp_path, files)
    assert not any(f.rule == "pod-hold-outlasts-node-removal" for f in findings)
