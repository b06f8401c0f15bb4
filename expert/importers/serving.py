"""Model serving: vLLM engine arguments (a container's args or a YAML/JSON of them) and
Ray Serve autoscaling_config (a RayService's serveConfigV2 or a Serve config file).

Ray Serve defaults (docs.ray.io, Ray Serve autoscaling): target_ongoing_requests 2,
upscale_delay_s 30, downscale_delay_s 600, look_back_period_s 30.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from expert.importers.kube import container_words, flag_values
from expert.importers.model import Snake, Source, at, fmt_ms, fmt_range, name_of
from expert.importers.model import parse_model as parse
from expert.importers.reader import Document, parse_documents
from expert.importers.registry import QUEUES, Context, Workload, register

ENGINE_KEYS = {
    "max-num-seqs",
    "max-num-batched-tokens",
    "enable-chunked-prefill",
    "scheduling-policy",
    "preemption-mode",
    "gpu-memory-utilization",
    "max-model-len",
}


def is_engine_args(data: dict[str, Any]) -> bool:
    keys = {str(k).replace("_", "-") for k in data}
    return bool(keys & ENGINE_KEYS) and "kind" not in data


def read_vllm(ctx: Context) -> None:
    """Batching and priority loops of every vLLM server among the workloads."""
    for wl in ctx.workloads:
        if wl.entry.data.get("kind") != "model_replica":
            continue
        for ci, c in enumerate(wl.containers):
            words = container_words(c)
            if "vllm" not in c.image and not any(
                w == "vllm" or w.startswith("vllm.") for w in words
            ):
                continue
            flags = flag_values(words)
            cloc = (*wl.template_loc, "spec", "containers", ci)
            where = (*cloc, "args") if c.args else (*cloc, "command")
            args = {k: (v, at(wl.doc, where, f"--{k}")) for k, (v, _) in flags.items()}
            config = flags.get("config")
            if config:
                base = config[0].rsplit("/", 1)[-1]
                if base in ctx.engine_args:
                    data, doc = ctx.engine_args.pop(base)
                    for k, v in data.items():
                        key = str(k).replace("_", "-")
                        args.setdefault(key, (str(v), at(doc, (k,), f"{key} in {doc.file}")))
            _engine_loops(ctx, wl, args)


def read_engine_file(doc: Document, ctx: Context) -> None:
    """A standalone engine-args file that no Deployment names with --config."""
    name = doc.file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    src = at(doc, (), f"vLLM engine arguments in {doc.file}")
    entry = ctx.builder.resource(
        f"vllm-{name}", "model_replica", f"vLLM server configured by {doc.file}", src
    )
    args = {str(k).replace("_", "-"): (str(v), at(doc, (k,), str(k))) for k, v in doc.data.items()}
    holder = Workload(entry, doc, "engine-args", name, "default", {}, {}, [], 30, src)
    _engine_loops(ctx, holder, args)


def _engine_loops(ctx: Context, wl: Workload, args: dict[str, tuple[str, Source]]) -> None:
    src = at(wl.doc, (), "vLLM engine arguments")
    picked = [
        f"{k} {args[k][0]}"
        for k in (
            "max-num-seqs",
            "max-num-batched-tokens",
            "enable-chunked-prefill",
            "gpu-memory-utilization",
            "preemption-mode",
        )
        if k in args
    ]
    batch = ctx.builder.loop(
        f"{wl.entry.id}-batching", f"vLLM continuous batching on {wl.name}", src
    )
    first = next((args[k][1] for k in ("max-num-seqs", "max-num-batched-tokens") if k in args), src)
    batch.put("layer", "model", src)
    batch.put("objective", "throughput", src)
    batch.put(
        "target",
        "running sequences per step"
        + (f" ({', '.join(picked)})" if picked else " (engine defaults)"),
        first,
    )
    batch.put("triggers", ["queue_depth", "resource_pressure"], src)
    # out of KV-cache blocks, the scheduler preempts running sequences (recompute or swap)
    batch.put(
        "actuations", ["resize_batch", "preempt"], args.get("preemption-mode", (None, src))[1]
    )
    batch.put("acts_on", [wl.entry.id], src)
    batch.put("instances", "per_replica", src)
    policy, psrc = args.get("scheduling-policy", ("fcfs", src))
    if policy == "priority":
        loop = ctx.builder.loop(
            f"{wl.entry.id}-priority", f"vLLM priority scheduling on {wl.name}", psrc
        )
        loop.put("layer", "model", psrc)
        loop.put("objective", "latency", psrc)
        loop.put("target", "request priority", psrc)
        loop.put("triggers", ["priority_arrival"], psrc)
        loop.put("actuations", ["prioritize", "preempt"], psrc)
        loop.put("acts_on", [wl.entry.id], psrc)
        loop.put("instances", "per_replica", psrc)


class Autoscaling(Snake):
    target_ongoing_requests: float | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    upscale_delay_s: float | None = None
    downscale_delay_s: float | None = None
    look_back_period_s: float | None = None


class ServeDeployment(Snake):
    name: str = ""
    max_ongoing_requests: int | None = None
    autoscaling_config: Autoscaling | None = None


class ServeApp(Snake):
    name: str = "app"
    deployments: list[ServeDeployment] = Field(default_factory=list)


class ServeConfig(Snake):
    applications: list[ServeApp] = Field(default_factory=list)


@register(QUEUES, "ray.io", "RayService")
def read_rayservice(doc: Document, ctx: Context) -> None:
    text = (doc.data.get("spec") or {}).get("serveConfigV2")
    if not isinstance(text, str):
        return
    offset = doc.line("spec", "serveConfigV2") or 1
    for data, lines in parse_documents(text, doc.file):
        inner = Document(data if isinstance(data, dict) else {}, lines, doc.file)
        read_serve_config(inner, ctx, offset, name_of(doc))


def read_serve_config(doc: Document, ctx: Context, offset: int = 0, owner: str = "") -> None:
    config = parse(ServeConfig, doc.data, doc, (), ctx)
    if config is None:
        return
    for ai, app in enumerate(config.applications):
        for di, dep in enumerate(app.deployments):
            loc = ("applications", ai, "deployments", di)

            def src(*sub: str, default: bool = False, what: str = "", loc: Any = loc) -> Source:
                line = doc.line(*loc, *sub)
                return Source(
                    doc.file, (line or 0) + offset, default, what or ".".join(sub) or "deployment"
                )

            label = "-".join(p for p in (owner, app.name, dep.name) if p)
            entry = ctx.builder.resource(
                label,
                "model_replica",
                f"Ray Serve deployment {app.name}/{dep.name}",
                src(what="deployments[].name"),
            )
            auto = dep.autoscaling_config
            if auto is None:
                continue
            up = auto.upscale_delay_s if auto.upscale_delay_s is not None else 30
            down = auto.downscale_delay_s if auto.downscale_delay_s is not None else 600
            target = auto.target_ongoing_requests if auto.target_ongoing_requests is not None else 2
            look = auto.look_back_period_s if auto.look_back_period_s is not None else 30
            loop = ctx.builder.loop(
                f"{label}-autoscaling",
                f"Ray Serve autoscaling of {dep.name}",
                src("autoscaling_config"),
            )
            s = src("autoscaling_config")
            loop.put("layer", "orchestration", s)
            loop.put("objective", "latency", s)
            text = f"ongoing requests per replica (target {target:g}, look-back {look:g}s)"
            if dep.max_ongoing_requests is not None:
                text += f"; max_ongoing_requests {dep.max_ongoing_requests}"
            loop.put(
                "target",
                text,
                src(
                    "autoscaling_config",
                    "target_ongoing_requests",
                    default=auto.target_ongoing_requests is None,
                    what="target_ongoing_requests",
                ),
            )
            loop.put(
                "timescale",
                fmt_range(int(up * 1000), int(max(up, down) * 1000)),
                src(
                    "autoscaling_config",
                    default=auto.upscale_delay_s is None or auto.downscale_delay_s is None,
                    what=f"upscale_delay_s {up:g} to downscale_delay_s {down:g}",
                ),
            )
            loop.put(
                "window",
                fmt_ms(int(look * 1000)),
                src(
                    "autoscaling_config",
                    "look_back_period_s",
                    default=auto.look_back_period_s is None,
                    what=f"look_back_period_s {look:g}",
                ),
            )
            loop.put("triggers", ["queue_depth", "threshold"], s)
            loop.put("actuations", ["scale_out", "scale_in"], s)
            loop.put("acts_on", [entry.id], s)
            loop.put("instances", "once", s)
            loop.put("answers.scaler-metric", "concurrency", s)
