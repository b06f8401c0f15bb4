"""Import speed: 500 generated manifests (the target is at most 2 s).

Run:  uv run python tests/benchmarks/bench_import.py [--manifests N] [--runs R]

Writes N manifests, one object per file, in the mix of the shipped example platforms
(Deployments with probes and engine arguments, Services, VirtualServices with timeouts and
retries, DestinationRules, HPAs, PodDisruptionBudgets, Jobs), imports the directory R times
and prints the seconds of each run and the best. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.bench import positive  # noqa: E402  (needs ROOT on sys.path)


def application(i: int) -> list[str]:
    """The manifests of one generated application, one per file."""
    name = f"app-{i}"
    host = f"{name}.ns{i % 10}.svc.cluster.local"
    return [
        f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: ns{i % 10}}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 60
      containers:
        - name: server
          image: vllm/vllm-openai:v0.8.5
          args: [--max-num-seqs=128, --max-num-batched-tokens=4096, --scheduling-policy=priority]
          env: [{{name: NEXT, value: "http://app-{i + 1}.ns{(i + 1) % 10}.svc.cluster.local"}}]
          livenessProbe: {{httpGet: {{path: /health, port: 8000}}, periodSeconds: 15}}
          readinessProbe: {{httpGet: {{path: /health, port: 8000}}}}
""",
        f"""apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: ns{i % 10}}}
spec: {{selector: {{app: {name}}}, ports: [{{port: 8000}}]}}
""",
        f"""apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: ns{i % 10}}}
spec:
  hosts: [{host}]
  http:
    - route: [{{destination: {{host: {host}}}}}]
      timeout: 30s
      retries: {{attempts: 2, perTryTimeout: 10s, retryOn: "5xx,reset"}}
""",
        f"""apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: {name}, namespace: ns{i % 10}}}
spec:
  host: {host}
  trafficPolicy:
    outlierDetection: {{consecutive5xxErrors: 5, interval: 10s}}
""",
        f"""apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: {name}, namespace: ns{i % 10}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 70}}}}
""",
        f"""apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: {name}, namespace: ns{i % 10}}}
spec: {{minAvailable: 1, selector: {{matchLabels: {{app: {name}}}}}}}
""",
        f"""apiVersion: batch/v1
kind: Job
metadata: {{name: {name}-job, namespace: ns{i % 10}}}
spec:
  backoffLimit: 4
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: main, image: busybox}}]
""",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--manifests", type=positive, default=500)
    parser.add_argument("--runs", type=positive, default=3)
    args = parser.parse_args()

    from expert.importers import import_paths

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        written = 0
        i = 0
        while written < args.manifests:
            for j, text in enumerate(application(i)):
                if written == args.manifests:
                    break
                (base / f"{i:05d}-{j}.yaml").write_text(text)
                written += 1
            i += 1
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            result = import_paths([base])
            times.append(time.perf_counter() - start)
        loops = len(result.assessment["loops"])
        print(
            f"manifests: {written}  loops: {loops}  resources: "
            f"{len(result.assessment['resources'])}"
        )
        print("runs (s): " + ", ".join(f"{t:.3f}" for t in times))
        print(f"best: {min(times):.3f} s (target: at most 2 s)")


if __name__ == "__main__":
    main()
