"""vLLM engine arguments and Ray Serve autoscaling, from the upstream documentation."""

from __future__ import annotations

import re

from tests.importers.helpers import loop, resource, run, source

# https://docs.vllm.ai/en/latest/deployment/k8s.html (a shell line in args, underscore flags)
VLLM = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: mistral-7b
  namespace: default
  labels:
    app: mistral-7b
spec:
  replicas: 1
  selector:
    matchLabels:
      app: mistral-7b
  template:
    metadata:
      labels:
        app: mistral-7b
    spec:
      containers:
      - name: mistral-7b
        image: vllm/vllm-openai:latest
        command: ["/bin/sh", "-c"]
        args: [
          "vllm serve mistralai/Mistral-7B-Instruct-v0.3 --trust-remote-code \
           --enable-chunked-prefill --max_num_batched_tokens 1024"
        ]
        ports:
        - containerPort: 8000
        livenessProbe:
          httpGet:
            path: /health
            port: 8000
          initialDelaySeconds: 60
          periodSeconds: 10
        readinessProbe:
          httpGet:
            path: /health
            port: 8000
          initialDelaySeconds: 60
          periodSeconds: 5
"""

# https://docs.vllm.ai/en/latest/configuration/serve_args.html (--config with a YAML file)
ENGINE_FILE = """
model: meta-llama/Llama-3.1-8B-Instruct
max-num-seqs: 128
scheduling-policy: priority
"""

# https://docs.ray.io/en/latest/serve/autoscaling-guide.html
SERVE = """
applications:
  - name: default
    import_path: resnet:app
    deployments:
    - name: Model
      max_ongoing_requests: 5
      autoscaling_config:
        target_ongoing_requests: 2
        min_replicas: 0
        max_replicas: 200
"""


def test_vllm_args_from_a_shell_line(tmp_path):
    result = run(tmp_path, {"vllm.yaml": VLLM})
    assert resource(result, "mistral-7b")["kind"] == "model_replica"
    lp = loop(result, "mistral-7b-batching")
    assert "max-num-batched-tokens 1024" in lp["target"]
    assert "enable-chunked-prefill true" in lp["target"]
    assert loop(result, "mistral-7b-liveness")["deadline"] == "90s"
    assert "mistral-7b-priority" not in [x["id"] for x in result.assessment["loops"]]


def test_engine_args_file_named_by_config(tmp_path):
    deploy = re.sub(r'"vllm serve [^"]*"', '"vllm serve --config /etc/vllm/engine.yaml"', VLLM)
    result = run(tmp_path, {"vllm.yaml": deploy, "engine.yaml": ENGINE_FILE})
    assert "max-num-seqs 128" in loop(result, "mistral-7b-batching")["target"]
    assert loop(result, "mistral-7b-priority")["actuations"] == ["prioritize", "preempt"]
    assert source(result, "mistral-7b-priority", "target").file.endswith("engine.yaml")


def test_standalone_engine_args_file(tmp_path):
    result = run(tmp_path, {"engine.yaml": ENGINE_FILE})
    assert resource(result, "vllm-engine")["kind"] == "model_replica"
    assert "vllm-engine-priority" in [x["id"] for x in result.assessment["loops"]]


def test_ray_serve_autoscaling_defaults(tmp_path):
    result = run(tmp_path, {"serve.yaml": SERVE})
    lp = loop(result, "default-model-autoscaling")
    assert lp["timescale"] == "30s-10m"  # upscale_delay_s 30, downscale_delay_s 600 (defaults)
    assert "max_ongoing_requests 5" in lp["target"]
    assert source(result, "default-model-autoscaling", "timescale").default


def test_rayservice_serve_config_lines_are_offset(tmp_path):
    text = "apiVersion: ray.io/v1\nkind: RayService\nmetadata: {name: rs}\nspec:\n"
    text += "  serveConfigV2: |\n" + "".join(f"    {ln}\n" for ln in SERVE.strip().splitlines())
    result = run(tmp_path, {"rs.yaml": text})
    lp = loop(result, "rs-default-model-autoscaling")
    assert lp["acts_on"] == ["rs-default-model"]
    assert source(result, "rs-default-model-autoscaling", "timescale").line > 5
