"""Kubernetes core objects, with manifests from the upstream documentation."""

from __future__ import annotations

from tests.importers.helpers import loop, resource, run, source

# https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
# (pods/probe/exec-liveness.yaml)
EXEC_LIVENESS = """
apiVersion: v1
kind: Pod
metadata:
  labels:
    test: liveness
  name: liveness-exec
spec:
  containers:
  - name: liveness
    image: registry.k8s.io/busybox
    args:
    - /bin/sh
    - -c
    - touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600
    livenessProbe:
      exec:
        command:
        - cat
        - /tmp/healthy
      initialDelaySeconds: 5
      periodSeconds: 5
"""

# Same page, "Protect slow starting containers with startup probes".
STARTUP = """
apiVersion: v1
kind: Pod
metadata: {name: slow-start}
spec:
  containers:
  - name: app
    image: registry.k8s.io/liveness
    livenessProbe:
      httpGet:
        path: /healthz
        port: liveness-port
      failureThreshold: 1
      periodSeconds: 10
    startupProbe:
      httpGet:
        path: /healthz
        port: liveness-port
      failureThreshold: 30
      periodSeconds: 10
"""

# https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale-walkthrough/
PHP_APACHE = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: php-apache
spec:
  selector:
    matchLabels:
      run: php-apache
  template:
    metadata:
      labels:
        run: php-apache
    spec:
      containers:
      - name: php-apache
        image: registry.k8s.io/hpa-example
        ports:
        - containerPort: 80
        resources:
          limits:
            cpu: 500m
          requests:
            cpu: 200m
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: php-apache
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: php-apache
  minReplicas: 1
  maxReplicas: 10
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 50
"""

# https://kubernetes.io/docs/tasks/job/pod-failure-policy/
# (controllers/job-pod-failure-policy-example.yaml)
JOB_POLICY = """
apiVersion: batch/v1
kind: Job
metadata:
  name: job-pod-failure-policy-example
spec:
  completions: 12
  parallelism: 3
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: docker.io/library/bash:5
        command: ["bash"]
        args:
        - -c
        - echo "Hello world!" && sleep 5 && exit 42
  backoffLimit: 6
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes:
        containerName: main
        operator: In
        values: [42]
    - action: Ignore
      onPodConditions:
      - type: DisruptionTarget
"""

# https://kubernetes.io/docs/concepts/workloads/controllers/job/ (controllers/job.yaml)
JOB_PI = """
apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  template:
    spec:
      containers:
      - name: pi
        image: perl:5.34.0
        command: ["perl",  "-Mbignum=bpi", "-wle", "print bpi(2000)"]
      restartPolicy: Never
"""

# https://kubernetes.io/docs/tasks/run-application/configure-pdb/
# (policy/zookeeper-pod-disruption-budget-minavailable.yaml)
ZK = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: zk}
spec:
  replicas: 3
  serviceName: zk-hs
  selector: {matchLabels: {app: zookeeper}}
  template:
    metadata: {labels: {app: zookeeper}}
    spec:
      containers:
      - {name: kubernetes-zookeeper, image: registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: zk-pdb
spec:
  minAvailable: 2
  selector:
    matchLabels:
      app: zookeeper
"""

# https://github.com/kubernetes/autoscaler/blob/master/vertical-pod-autoscaler/examples/hamster.yaml
HAMSTER = """
apiVersion: "autoscaling.k8s.io/v1"
kind: VerticalPodAutoscaler
metadata:
  name: hamster-vpa
spec:
  targetRef:
    apiVersion: "apps/v1"
    kind: Deployment
    name: hamster
  resourcePolicy:
    containerPolicies:
      - containerName: '*'
        minAllowed:
          cpu: 100m
          memory: 50Mi
        maxAllowed:
          cpu: 1
          memory: 500Mi
        controlledResources: ["cpu", "memory"]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hamster
spec:
  selector:
    matchLabels:
      app: hamster
  replicas: 2
  template:
    metadata:
      labels:
        app: hamster
    spec:
      containers:
        - name: hamster
          image: registry.k8s.io/ubuntu-slim:0.14
"""

# https://keda.sh/docs/latest/scalers/prometheus/
# (its example, with pollingInterval and cooldownPeriod unset)
KEDA = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: my-deployment}
spec:
  selector: {matchLabels: {app: my}}
  template:
    metadata: {labels: {app: my}}
    spec:
      containers: [{name: app, image: example/app}]
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: prometheus-scaledobject
  namespace: default
spec:
  scaleTargetRef:
    name: my-deployment
  triggers:
  - type: prometheus
    metadata:
      serverAddress: http://<prometheus-host>:9090
      metricName: http_requests_total
      threshold: '100'
      query: sum(rate(http_requests_total{deployment="my-deployment"}[2m]))
"""


def test_probe_values_and_defaults_with_their_sources(tmp_path):
    result = run(tmp_path, {"pod.yaml": EXEC_LIVENESS})
    lp = loop(result, "liveness-exec-liveness")
    # initialDelaySeconds 5 + periodSeconds 5 x failureThreshold 3 (default)
    assert lp["deadline"] == "20s"
    assert lp["timescale"] == "5s"
    deadline = source(result, "liveness-exec-liveness", "deadline")
    assert deadline.default and "failureThreshold 3 (default)" in deadline.upstream_field
    assert deadline.line == 15
    assert not source(result, "liveness-exec-liveness", "timescale").default


def test_liveness_counts_from_the_end_of_the_startup_window(tmp_path):
    result = run(tmp_path, {"pod.yaml": STARTUP})
    assert loop(result, "slow-start-startup")["deadline"] == "5m"
    assert loop(result, "slow-start-liveness")["deadline"] == "310s"


def test_hpa_defaults_sync_period_and_scale_down_window(tmp_path):
    result = run(tmp_path, {"hpa.yaml": PHP_APACHE})
    lp = loop(result, "php-apache-hpa")
    assert lp["timescale"] == "15s-5m"
    assert lp["acts_on"] == ["php-apache"]
    assert lp["answers"]["scaler-metric"] == "cpu_utilization"
    assert lp["objective"] == "utilization"
    assert source(result, "php-apache-hpa", "timescale").default
    assert source(result, "php-apache-hpa", "guards.rate_limited").default


def test_hpa_behavior_windows_are_read(tmp_path):
    text = PHP_APACHE + "  behavior:\n    scaleDown:\n      stabilizationWindowSeconds: 60\n"
    text += "      selectPolicy: Disabled\n"
    result = run(tmp_path, {"hpa.yaml": text})
    lp = loop(result, "php-apache-hpa")
    assert lp["timescale"] == "15s-1m"
    assert lp["actuations"] == ["scale_out"]


def test_job_pod_failure_policy_excludes_disruptions_and_exit_codes(tmp_path):
    result = run(tmp_path, {"job.yaml": JOB_POLICY})
    lp = loop(result, "job-pod-failure-policy-example-backoff")
    assert lp["answers"]["counts-disruptions"] == "no"
    assert "disruption" not in lp["retry"]["retries_on"]
    assert "application_error" not in lp["retry"]["retries_on"]
    assert lp["guards"]["give_up_after"] == 6
    assert resource(result, "job-pod-failure-policy-example")["kind"] == "job"


def test_job_without_policy_counts_disruptions_and_defaults_backoff_limit(tmp_path):
    result = run(tmp_path, {"job.yaml": JOB_PI})
    lp = loop(result, "pi-backoff")
    assert lp["answers"]["counts-disruptions"] == "yes"
    assert lp["retry"]["max_retries"] == 6
    assert source(result, "pi-backoff", "retry.max_retries").default


def test_pdb_links_by_selector_and_judges_its_budget(tmp_path):
    result = run(tmp_path, {"pdb.yaml": ZK})
    lp = loop(result, "zk-pdb-pdb")
    assert lp["acts_on"] == ["zk"]
    assert lp["answers"]["budget-can-reach-zero"] == "no"  # 2 of 3 replicas


def test_pdb_equal_to_replicas_can_reach_zero(tmp_path):
    result = run(tmp_path, {"pdb.yaml": ZK.replace("minAvailable: 2", "minAvailable: 3")})
    assert loop(result, "zk-pdb-pdb")["answers"]["budget-can-reach-zero"] == "yes"


def test_vpa_default_update_mode_evicts(tmp_path):
    result = run(tmp_path, {"vpa.yaml": HAMSTER})
    lp = loop(result, "hamster-vpa-vpa")
    assert lp["actuations"] == ["resize_resources", "evict"]
    assert lp["acts_on"] == ["hamster"]
    assert source(result, "hamster-vpa-vpa", "actuations").default


def test_vpa_off_does_not_act(tmp_path):
    text = HAMSTER.replace(
        "  resourcePolicy:", '  updatePolicy:\n    updateMode: "Off"\n  resourcePolicy:'
    )
    result = run(tmp_path, {"vpa.yaml": text})
    assert loop(result, "hamster-vpa-vpa")["actuations"] == []


def test_keda_defaults(tmp_path):
    result = run(tmp_path, {"keda.yaml": KEDA})
    lp = loop(result, "prometheus-scaledobject-keda")
    assert lp["timescale"] == "30s-5m"  # pollingInterval 30 (default), HPA scale-down 300s
    assert lp["answers"]["scales-to-zero"] == "yes"  # minReplicaCount defaults to 0
    assert lp["answers"]["scaler-metric"] == "request_rate"
    assert source(result, "prometheus-scaledobject-keda", "timescale").default


def test_scale_target_missing_is_a_problem_not_a_crash(tmp_path):
    result = run(tmp_path, {"hpa.yaml": PHP_APACHE.split("---")[1]})
    assert "acts_on" not in loop(result, "php-apache-hpa")
    assert "not among the imported files" in str(result.problems[0])


def test_invalid_field_is_a_located_problem(tmp_path):
    text = EXEC_LIVENESS.replace("periodSeconds: 5", "periodSeconds: often")
    result = run(tmp_path, {"pod.yaml": text})
    assert result.problems and result.problems[0].line == 21  # periodSeconds


# The cluster-autoscaler's Deployment, with its flags in one flow list ({flags}).
CLUSTER_AUTOSCALER_FLAGS = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: cluster-autoscaler, namespace: kube-system}}
spec:
  selector: {{matchLabels: {{app: ca}}}}
  template:
    metadata: {{labels: {{app: ca}}}}
    spec:
      containers:
        - name: cluster-autoscaler
          image: registry.k8s.io/autoscaling/cluster-autoscaler:v1.30.2
          command: [./cluster-autoscaler, {flags}]
"""


def test_cluster_autoscaler_flags_and_evictable_pods(tmp_path):
    ca = CLUSTER_AUTOSCALER_FLAGS.format(
        flags="--scan-interval=20s, --max-graceful-termination-sec=60"
    )
    result = run(tmp_path, {"ca.yaml": ca, "job.yaml": JOB_PI})
    lp = loop(result, "cluster-autoscaler")
    assert lp["timescale"] == "20s-10m"
    assert lp["acts_on"] == ["pi"]
    assert lp["deadline"] == "30s"  # the pod's default grace, under the 60s cap
    assert lp["answers"]["stops-whole-job"] == "no"  # it drains node by node
    cited = source(result, "cluster-autoscaler", "deadline")
    assert cited.file.endswith("job.yaml") and cited.default


def test_cluster_autoscaler_flags_that_are_no_durations_are_defaults_said_to_be(tmp_path):
    ca = CLUSTER_AUTOSCALER_FLAGS.format(
        flags="--scan-interval=banana, --scale-down-unneeded-time=-5m"
    )
    result = run(tmp_path, {"ca.yaml": ca, "job.yaml": JOB_PI})
    assert loop(result, "cluster-autoscaler")["timescale"] == "10s-10m"
    assert source(result, "cluster-autoscaler", "timescale").default
    said = [str(p) for p in result.problems]
    assert any('--scan-interval="banana"' in p and "default 10s" in p for p in said), said
    assert any('--scale-down-unneeded-time="-5m"' in p for p in said), said


def _job(containers: str) -> str:
    return f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: work}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
{containers}
"""


def test_a_job_asking_for_a_gpu_runs_on_accelerators(tmp_path) -> None:
    job = _job(
        "      - name: train\n        image: trainer\n"
        "        resources: {limits: {cpu: 8, nvidia.com/gpu: 8}}\n"
    )
    result = run(tmp_path, {"job.yaml": job})
    res = resource(result, "work")
    assert res["accelerated"] == "yes"
    assert "job.yaml:11" in res["sources"]["accelerated"]


def test_a_job_whose_containers_state_no_accelerator_runs_without_them(tmp_path) -> None:
    job = _job(
        "      - name: etl\n        image: spark\n"
        "        resources: {requests: {cpu: 4, memory: 8Gi}, limits: {nvidia.com/gpu: 0}}\n"
    )
    result = run(tmp_path, {"job.yaml": job})
    assert resource(result, "work")["accelerated"] == "no"


def test_a_job_that_states_no_resources_is_left_to_its_kind(tmp_path) -> None:
    """The pi Job names no resources: a GPU could still come from a device the node gives
    every pod, so the interview asks."""
    result = run(tmp_path, {"job.yaml": JOB_PI})
    assert "accelerated" not in resource(result, "pi")
