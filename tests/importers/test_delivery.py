"""Argo Rollouts and Flagger, from the upstream documentation."""

from __future__ import annotations

from tests.importers.helpers import loop, run, source

# https://argoproj.github.io/argo-rollouts/features/analysis/ ("Background Analysis"); the
# page elides the Rollout's selector and pod template ("..."), filled in here.
ARGO_BACKGROUND = """
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: guestbook
spec:
  replicas: 5
  selector:
    matchLabels: {app: guestbook}
  template:
    metadata:
      labels: {app: guestbook}
    spec:
      containers:
      - name: guestbook
        image: argoproj/rollouts-demo:blue
  strategy:
    canary:
      analysis:
        templates:
        - templateName: success-rate
        startingStep: 2 # delay starting analysis run until setWeight: 40%
        args:
        - name: service-name
          value: guestbook-svc.default.svc.cluster.local
      steps:
      - setWeight: 20
      - pause: {duration: 10m}
      - setWeight: 40
      - pause: {duration: 10m}
      - setWeight: 60
      - pause: {duration: 10m}
      - setWeight: 80
      - pause: {duration: 10m}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
  - name: service-name
  metrics:
  - name: success-rate
    interval: 5m
    # NOTE: prometheus queries return results in the form of a vector.
    # So it is common to access the index 0 of the returned array to obtain the value
    successCondition: result[0] >= 0.95
    failureLimit: 3
    provider:
      prometheus:
        address: http://prometheus.example.com:9090
        query: |
          sum(irate(
            istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}",response_code!~"5.*"}[5m]
          )) /
          sum(irate(
            istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}"}[5m]
          ))
"""

# https://docs.flagger.app/tutorials/istio-progressive-delivery (podinfo canary; webhooks
# left out), with the Deployment it targets.
FLAGGER = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: test
spec:
  selector:
    matchLabels: {app: podinfo}
  template:
    metadata:
      labels: {app: podinfo}
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:6.0.0
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  progressDeadlineSeconds: 60
  service:
    port: 9898
    targetPort: 9898
    gateways:
    - public-gateway.istio-system.svc.cluster.local
    hosts:
    - app.example.com
    retries:
      attempts: 3
      perTryTimeout: 1s
      retryOn: "gateway-error,connect-failure,refused-stream"
  analysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
    - name: request-success-rate
      thresholdRange:
        min: 99
      interval: 1m
    - name: request-duration
      thresholdRange:
        max: 500
      interval: 30s
"""


def test_argo_background_analysis_becomes_a_gate_on_the_rollout(tmp_path):
    result = run(tmp_path, {"rollout.yaml": ARGO_BACKGROUND})
    gate = loop(result, "guestbook-canary")
    assert gate["acts_on"] == ["guestbook"]  # the Rollout's own pods, imported as a workload
    assert gate["triggers"] == ["deployment", "error_rate"]
    assert gate["actuations"] == ["replace", "gate"]  # no trafficRouting: replica weights
    assert gate["timescale"] == "5m"
    assert "result[0] >= 0.95" in gate["target"] and "failureLimit 3" in gate["target"]
    assert "setWeight 20 > pause 10m" in gate["target"]
    interval = source(result, "guestbook-canary", "timescale")
    assert interval.file.endswith("rollout.yaml") and interval.line == 44
    assert not result.problems and not result.skipped


def test_argo_defaults_and_a_missing_template(tmp_path):
    text = ARGO_BACKGROUND.replace("    failureLimit: 3\n", "").replace("    interval: 5m\n", "")
    result = run(tmp_path, {"rollout.yaml": text})
    gate = loop(result, "guestbook-canary")
    assert "failureLimit 0 (default)" in gate["target"] and "measured once" in gate["target"]
    assert "timescale" not in gate  # measured once: no period to compare
    # the Rollout alone: the template it names is reported, the gate's metrics stay unknown
    only = ARGO_BACKGROUND.split("---")[0]
    result = run(tmp_path / "alone", {"rollout.yaml": only})
    assert "error_rate" not in loop(result, "guestbook-canary")["triggers"]
    assert any("success-rate" in p.message for p in result.problems)


def test_argo_traffic_routing_routes_and_cluster_templates_resolve(tmp_path):
    text = ARGO_BACKGROUND.replace(
        "        - templateName: success-rate\n",
        "        - templateName: success-rate\n          clusterScope: true\n",
    ).replace(
        "    canary:\n",
        "    canary:\n      trafficRouting:\n        istio:\n"
        "          virtualService: {name: guestbook-vsvc}\n",
    )
    text = text.replace("kind: AnalysisTemplate", "kind: ClusterAnalysisTemplate")
    result = run(tmp_path, {"rollout.yaml": text})
    gate = loop(result, "guestbook-canary")
    assert gate["actuations"] == ["route", "gate"]
    assert gate["timescale"] == "5m"


def test_flagger_canary_gates_the_deployment_it_targets(tmp_path):
    result = run(tmp_path, {"canary.yaml": FLAGGER})
    gate = loop(result, "podinfo-canary")
    assert gate["acts_on"] == ["podinfo"]
    assert gate["actuations"] == ["route", "gate"]
    assert gate["triggers"] == ["deployment", "error_rate"]
    assert gate["timescale"] == "1m"
    assert "rolls back after 5 failed checks" in gate["target"]
    assert "request-success-rate (min 99) over 1m" in gate["target"]
    assert source(result, "podinfo-canary", "timescale").line == 40
    assert not result.problems


def test_flagger_without_threshold_or_target_says_so(tmp_path):
    text = FLAGGER.split("---")[1].replace("    threshold: 5\n", "")
    result = run(tmp_path, {"canary.yaml": text})
    gate = loop(result, "podinfo-canary")
    assert "failed checks before rollback not stated" in gate["target"]
    assert "acts_on" not in gate
    assert any("Deployment 'podinfo'" in p.message for p in result.problems)
