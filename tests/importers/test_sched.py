"""Kueue, PyTorchJob and Slurm, with configuration from the upstream documentation."""

from __future__ import annotations

from tests.importers.helpers import loop, resource, run, source

# https://kueue.sigs.k8s.io/docs/concepts/cluster_queue/ (preemption example)
CLUSTER_QUEUE = """
apiVersion: kueue.x-k8s.io/v1beta1
kind: ClusterQueue
metadata:
  name: "cluster-queue"
spec:
  namespaceSelector: {} # match all.
  resourceGroups:
  - coveredResources: ["cpu", "memory"]
    flavors:
    - name: "default-flavor"
      resources:
      - name: "cpu"
        nominalQuota: 9
      - name: "memory"
        nominalQuota: 36Gi
  preemption:
    reclaimWithinCohort: Any
    borrowWithinCohort:
      policy: LowerPriority
      maxPriorityThreshold: 100
    withinClusterQueue: LowerPriority
"""

# https://kueue.sigs.k8s.io/docs/concepts/local_queue/ and
# https://kueue.sigs.k8s.io/docs/tasks/run/jobs/ (sample-job, generateName)
LOCAL_QUEUE_AND_JOB = """
apiVersion: kueue.x-k8s.io/v1beta1
kind: LocalQueue
metadata:
  namespace: team-a
  name: team-a-queue
spec:
  clusterQueue: cluster-queue
---
apiVersion: batch/v1
kind: Job
metadata:
  generateName: sample-job-
  namespace: team-a
  labels:
    kueue.x-k8s.io/queue-name: team-a-queue
spec:
  parallelism: 3
  completions: 3
  suspend: true
  template:
    spec:
      containers:
      - name: dummy-job
        image: gcr.io/k8s-staging-perf-tests/sleep:v0.1.0
        args: ["30s"]
        resources:
          requests:
            cpu: 1
            memory: "200Mi"
      restartPolicy: Never
"""

# https://www.kubeflow.org/docs/components/trainer/legacy-v1/user-guides/pytorch/ (pytorch-simple)
PYTORCH_SIMPLE = """
apiVersion: "kubeflow.org/v1"
kind: PyTorchJob
metadata:
  name: pytorch-simple
  namespace: kubeflow
spec:
  pytorchReplicaSpecs:
    Master:
      replicas: 1
      restartPolicy: OnFailure
      template:
        spec:
          containers:
            - name: pytorch
              image: docker.io/kubeflowkatib/pytorch-mnist:v1beta1-45c5727
              imagePullPolicy: Always
              command:
                - "python3"
                - "/opt/pytorch-mnist/mnist.py"
                - "--epochs=1"
    Worker:
      replicas: 1
      restartPolicy: OnFailure
      template:
        spec:
          containers:
            - name: pytorch
              image: docker.io/kubeflowkatib/pytorch-mnist:v1beta1-45c5727
              imagePullPolicy: Always
              command:
                - "python3"
                - "/opt/pytorch-mnist/mnist.py"
                - "--epochs=1"
"""

# https://slurm.schedmd.com/preempt.html (partition_prio example, partitions low/med/hi)
SLURM = """
# Excerpt of slurm.conf
PreemptMode=SUSPEND,GANG
PreemptType=preempt/partition_prio
SchedulerParameters=bf_interval=45
NodeName=linux[1-64] Gres=gpu:4
PartitionName=low Nodes=linux[1-64] Default=YES OverSubscribe=NO PriorityTier=10 PreemptMode=requeue GraceTime=60
PartitionName=med Nodes=linux[1-64] Default=NO OverSubscribe=FORCE:1 PriorityTier=20 PreemptMode=suspend
PartitionName=hi Nodes=linux[1-64] Default=NO OverSubscribe=FORCE:1 PriorityTier=30 PreemptMode=off
"""  # noqa: E501  (slurm.conf lines as the documentation writes them)


def test_cluster_queue_preemption_reaches_queued_jobs(tmp_path):
    result = run(tmp_path, {"cq.yaml": CLUSTER_QUEUE, "job.yaml": LOCAL_QUEUE_AND_JOB})
    assert resource(result, "cluster-queue")["kind"] == "tenant_quota"
    pre = loop(result, "cluster-queue-preemption")
    assert pre["actuations"] == ["preempt"]
    assert pre["acts_on"] == ["cluster-queue", "sample-job"]
    assert pre["deadline"] == "30s"  # the job's default terminationGracePeriodSeconds
    assert source(result, "cluster-queue-preemption", "deadline").default
    assert "reclaimWithinCohort Any" in pre["target"]
    assert "cpu 9 on default-flavor" in loop(result, "cluster-queue-admission")["target"]
    # Kueue preempts whole Workloads: drain-vs-gang-job does not apply to it
    assert pre["answers"]["stops-whole-job"] == "yes"
    assert source(result, "cluster-queue-preemption", "answers.stops-whole-job").default


def test_cluster_queue_without_preemption_has_no_preemption_loop(tmp_path):
    text = CLUSTER_QUEUE.split("  preemption:")[0]
    result = run(tmp_path, {"cq.yaml": text})
    assert [lp["id"] for lp in result.assessment["loops"]] == ["cluster-queue-admission"]


def test_pytorchjob_is_a_synchronised_job_with_restarts(tmp_path):
    result = run(tmp_path, {"pt.yaml": PYTORCH_SIMPLE})
    job = resource(result, "pytorch-simple")
    assert job["kind"] == "job" and job["synchronized"] == "yes"
    lp = loop(result, "pytorch-simple-restarts")
    assert "disruption" in lp["retry"]["retries_on"]
    assert "max_retries" not in lp["retry"]  # no backoffLimit: unknown, for the interview
    assert "owner" not in lp


def test_slurm_partitions_backfill_and_preemption(tmp_path):
    result = run(tmp_path, {"slurm.conf": SLURM})
    assert resource(result, "slurm-low")["kind"] == "gpu_pool"
    backfill = loop(result, "slurm-backfill")
    assert backfill["timescale"] == "45s"
    assert source(result, "slurm-backfill", "actuations").default  # SchedulerType defaulted
    pre = loop(result, "slurm-preemption")
    assert pre["acts_on"] == ["slurm-low", "slurm-med"]  # hi has PreemptMode=off
    assert pre["actuations"] == ["preempt", "reschedule"]
    assert pre["deadline"] == "1ms-1m"  # med has no GraceTime (default 0: no notice)
    assert source(result, "slurm-preemption", "deadline").line == 7


def test_slurm_without_preemption(tmp_path):
    text = SLURM.replace("PreemptType=preempt/partition_prio", "PreemptType=preempt/none")
    result = run(tmp_path, {"slurm.conf": text})
    assert [lp["id"] for lp in result.assessment["loops"]] == ["slurm-backfill"]


def test_slurm_values_it_cannot_read_are_warned_of_not_guessed(tmp_path):
    """A grace time read as 0 would say "no notice at all": one it cannot read is left for
    the interview, and an interval it cannot read is the default, said to be one; both with
    a warning naming the file and line."""
    text = SLURM.replace("bf_interval=45", "bf_interval=2m").replace(
        "GraceTime=60", "GraceTime=5min"
    )
    assert text != SLURM and "GraceTime=5min" in text
    result = run(tmp_path, {"slurm.conf": text})
    assert "deadline" not in loop(result, "slurm-preemption")
    assert loop(result, "slurm-backfill")["timescale"] == "30s"
    assert source(result, "slurm-backfill", "timescale").default
    said = [str(p) for p in result.problems]
    assert any("bf_interval=2m" in p and "slurm.conf:" in p for p in said), said
    assert any("GraceTime=5min" in p and "left unknown" in p for p in said), said
