"""Kubernetes core objects: workloads and their probes, Jobs, Services, the autoscalers (HPA,
VPA, KEDA), PodDisruptionBudgets, and the cluster-autoscaler's flags.

Defaults are the documented ones: probes (kubernetes.io, configure liveness, readiness and
startup probes), terminationGracePeriodSeconds 30, Job backoffLimit 6 and its back-off of
10 s doubling to 6 min (kubernetes.io, Jobs), HPA sync period 15 s and scale-down
stabilisation 300 s (kubernetes.io, Horizontal Pod Autoscaling), KEDA pollingInterval 30 s
and cooldownPeriod 300 s (keda.sh, ScaledObject specification), cluster-autoscaler flags
(kubernetes/autoscaler, cluster-autoscaler FAQ).
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from pydantic import Field

from expert.importers.model import (
    Entry,
    Source,
    Upstream,
    at,
    fmt_ms,
    fmt_range,
    mapping,
    name_of,
    namespace_of,
    problem_at,
)
from expert.importers.model import parse_model as parse
from expert.importers.reader import Document
from expert.importers.registry import (
    SCALERS,
    SERVICES,
    WORKLOADS,
    Context,
    Workload,
    register,
)

PROBE_DEFAULTS = {
    "initialDelaySeconds": 0,
    "periodSeconds": 10,
    "timeoutSeconds": 1,
    "failureThreshold": 3,
}
GRACE_DEFAULT_S = 30
JOB_BACKOFF_DEFAULT = 6
HPA_SYNC_S = 15
HPA_SCALE_DOWN_WINDOW_S = 300
KEDA_POLLING_S = 30
KEDA_COOLDOWN_S = 300
MODEL_SERVER = re.compile(r"vllm|sglang|text-generation-inference|tritonserver|lmdeploy", re.I)
# Extended resources device plugins give accelerators under (NVIDIA, AMD and Intel GPUs,
# Google TPUs, Habana Gaudi, AWS Neuron); a MIG slice is an nvidia.com/mig-... resource.
ACCELERATOR_RESOURCE = re.compile(
    r"^(nvidia\.com/|amd\.com/gpu|gpu\.intel\.com/|google\.com/tpu|habana\.ai/|"
    r"aws\.amazon\.com/neuron)"
)
SERVER_WORDS = re.compile(
    r"^(vllm|vllm\.entrypoints\..*|sglang\.launch_server|text-generation-launcher|tritonserver)$"
)


def model_server(c: Any) -> bool:
    """Does this container run a model server (by its image or its program)?"""
    image = str(c.image).rsplit("/", 1)[-1]
    return bool(MODEL_SERVER.search(image)) or any(
        SERVER_WORDS.match(w) for w in container_words(c)
    )


class Probe(Upstream):
    initial_delay_seconds: int | None = None
    period_seconds: int | None = None
    timeout_seconds: int | None = None
    failure_threshold: int | None = None
    http_get: dict[str, Any] | None = None
    tcp_socket: dict[str, Any] | None = None
    grpc: dict[str, Any] | None = None
    exec: dict[str, Any] | None = None


class Container(Upstream):
    name: str = ""
    image: str = ""
    resources: dict[str, Any] | None = None
    command: list[Any] = Field(default_factory=list)
    args: list[Any] = Field(default_factory=list)
    env: list[dict[str, Any]] = Field(default_factory=list)
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None


class PodSpec(Upstream):
    containers: list[Container] = Field(default_factory=list)
    termination_grace_period_seconds: int | None = None
    # Dynamic resource allocation: a claim may hand the pod a GPU that no limit names.
    resource_claims: list[Any] | None = None


class Meta(Upstream):
    name: str = ""
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class PodTemplate(Upstream):
    metadata: Meta = Meta()
    spec: PodSpec = PodSpec()


class WorkloadSpec(Upstream):
    replicas: int | None = None
    template: PodTemplate | None = None
    backoff_limit: int | None = None
    pod_failure_policy: dict[str, Any] | None = None


def container_words(c: Container) -> list[str]:
    """A container's command and args as words; a shell line (`sh -c "vllm serve ..."`)
    is split as the shell would."""
    words: list[str] = []
    for item in [*c.command, *c.args]:
        text = str(item)
        if " " in text.strip():
            try:
                words += shlex.split(text)
            except ValueError:
                words += text.split()
        else:
            words.append(text)
    return words


def flag_values(words: list[str]) -> dict[str, tuple[str, int]]:
    """--name=value / --name value / --switch, with the index of the word holding it."""
    out: dict[str, tuple[str, int]] = {}
    for i, word in enumerate(words):
        if not word.startswith("--"):
            continue
        name, eq, value = word[2:].partition("=")
        if not eq:
            nxt = words[i + 1] if i + 1 < len(words) else ""
            value = nxt if nxt and not nxt.startswith("--") else "true"
        out[name.replace("_", "-")] = (value, i)
    return out


# --------------------------------------------------------------------------- workloads


def pod_workload(doc: Document, ctx: Context, template_loc: tuple[Any, ...], kind: str) -> None:
    spec = parse(WorkloadSpec, doc.data.get("spec"), doc, ("spec",), ctx)
    if spec is None:
        return
    template = _dig(doc.data, template_loc)
    tmpl = parse(PodTemplate, template, doc, template_loc, ctx)
    if tmpl is None:
        return
    add_workload(doc, ctx, kind, tmpl, template_loc, spec.replicas)


def add_workload(
    doc: Document,
    ctx: Context,
    kind: str,
    tmpl: Any,
    template_loc: tuple[Any, ...],
    replicas: int | None,
    resource_kind: str | None = None,
) -> Workload:
    name, ns = name_of(doc), namespace_of(doc)
    src = at(doc, ("kind",), f"kind: {kind}")
    serving = any(model_server(c) for c in tmpl.spec.containers)
    rkind = resource_kind or ("model_replica" if serving else "service")
    entry = ctx.builder.resource(name, rkind, f"{kind} {ns}/{name}", src)
    grace = tmpl.spec.termination_grace_period_seconds
    grace_loc = (*template_loc, "spec", "terminationGracePeriodSeconds")
    grace_src = at(doc, grace_loc, "terminationGracePeriodSeconds", default=grace is None)
    labels = mapping(mapping(doc.data, "metadata"), "labels")
    wl = Workload(
        entry=entry,
        doc=doc,
        kind=kind,
        name=name,
        namespace=ns,
        pod_labels={str(k): str(v) for k, v in tmpl.metadata.labels.items()},
        pod_annotations={str(k): str(v) for k, v in tmpl.metadata.annotations.items()},
        containers=tmpl.spec.containers,
        grace_s=GRACE_DEFAULT_S if grace is None else grace,
        grace_source=grace_src,
        replicas=replicas,
        queue=labels.get("kueue.x-k8s.io/queue-name"),
        template_loc=template_loc,
    )
    ctx.workloads.append(wl)
    if rkind == "job":  # a job may be GPU training or a CPU batch job; other kinds say
        _accelerated(doc, entry, tmpl, template_loc)
    for ci, container in enumerate(tmpl.spec.containers):
        cloc = (*template_loc, "spec", "containers", ci)
        many = len(tmpl.spec.containers) > 1
        _probes(doc, ctx, wl, container, cloc, many)
    return wl


def _accelerated(doc: Document, entry: Entry, tmpl: Any, template_loc: tuple[Any, ...]) -> None:
    """Whether the job's pods run on accelerators, from their containers' resources: yes
    where one asks for an accelerator, no where every container states its resources and
    none is one (and no claim could bring one). Otherwise left to the interview."""
    containers = tmpl.spec.containers
    stated = bool(containers) and tmpl.spec.resource_claims is None
    for ci, c in enumerate(containers):
        res = c.resources if isinstance(c.resources, dict) else {}
        parts = [p for p in ("limits", "requests") if isinstance(res.get(p), dict) and res[p]]
        stated = stated and bool(parts)
        for part in parts:
            for key, qty in res[part].items():
                if ACCELERATOR_RESOURCE.match(str(key)) and str(qty).strip() not in ("0", ""):
                    loc = (*template_loc, "spec", "containers", ci, "resources", part, key)
                    entry.put("accelerated", "yes", at(doc, loc, f"resources.{part}: {key} {qty}"))
                    return
    if stated:
        loc = (*template_loc, "spec", "containers")
        entry.put(
            "accelerated", "no", at(doc, loc, "containers' resources: no accelerator requested")
        )


def _dig(data: Any, loc: tuple[Any, ...]) -> Any:
    for key in loc:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        else:
            return None
    return data


def _probe_value(raw: dict[str, Any], field: str) -> tuple[int, bool]:
    """A probe field's value, and whether it is the documented default."""
    value = raw.get(field)
    if isinstance(value, int) and not isinstance(value, bool):
        return value, False
    return PROBE_DEFAULTS[field], True


def _handler(probe: Probe) -> str:
    if probe.http_get is not None:
        return f"HTTP GET {probe.http_get.get('path', '/')}"
    if probe.grpc is not None:
        return "gRPC health check"
    if probe.tcp_socket is not None:
        return f"TCP connect to port {probe.tcp_socket.get('port', '?')}"
    return "command in the container"


def _probes(
    doc: Document, ctx: Context, wl: Workload, c: Container, cloc: tuple[Any, ...], many: bool
) -> None:
    windows: dict[str, tuple[int, str, bool]] = {}
    for kind in ("startup", "liveness", "readiness"):
        probe: Probe | None = getattr(c, f"{kind}_probe")
        if probe is None:
            continue
        ploc = (*cloc, f"{kind}Probe")
        raw = _dig(doc.data, ploc) or {}
        vals = {f: _probe_value(raw, f) for f in PROBE_DEFAULTS}
        delay, period, threshold = (
            vals["initialDelaySeconds"][0],
            vals["periodSeconds"][0],
            vals["failureThreshold"][0],
        )
        window_s = delay + period * threshold
        parts = [
            f"initialDelaySeconds {delay}"
            + (" (default)" if vals["initialDelaySeconds"][1] else ""),
            f"periodSeconds {period}" + (" (default)" if vals["periodSeconds"][1] else ""),
            f"failureThreshold {threshold}" + (" (default)" if vals["failureThreshold"][1] else ""),
        ]
        formula = f"{kind}Probe: " + " + ".join(parts[:1]) + " + " + " x ".join(parts[1:])
        any_default = any(
            vals[f][1] for f in ("initialDelaySeconds", "periodSeconds", "failureThreshold")
        )
        windows[kind] = (window_s, formula, any_default)
        suffix = f"-{c.name}" if many and c.name else ""
        loop = ctx.builder.loop(
            f"{wl.entry.id}{suffix}-{kind}",
            f"{kind.capitalize()} probe of {wl.name}" + (f"/{c.name}" if many else ""),
            at(doc, ploc, f"{kind}Probe"),
        )
        src = at(doc, ploc, f"{kind}Probe")
        loop.put("layer", "orchestration", src)
        loop.put("objective", "availability", src)
        loop.put("target", f"{_handler(probe)} ({kind} probe)", src)
        loop.put(
            "timescale",
            fmt_ms(period * 1000),
            at(
                doc,
                (*ploc, "periodSeconds"),
                f"{kind}Probe.periodSeconds",
                vals["periodSeconds"][1],
            ),
        )
        loop.put("triggers", ["health_check"], src)
        loop.put("actuations", ["eject"] if kind == "readiness" else ["restart"], src)
        loop.put("acts_on", [wl.entry.id], src)
        loop.put("instances", "per_replica", src)
        if kind == "readiness":
            continue
        deadline_s, formula, defaulted = window_s, formula, any_default
        if kind == "liveness" and "startup" in windows:
            # Liveness checks begin only once the startup probe has succeeded.
            s_window, s_formula, s_default = windows["startup"]
            deadline_s += s_window
            formula = f"{s_formula}, then {formula}"
            defaulted = defaulted or s_default
        loop.put(
            "deadline",
            fmt_ms(deadline_s * 1000),
            Source(doc.file, doc.line(*ploc), defaulted, formula),
        )


@register(WORKLOADS, "apps", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
def read_deployment(doc: Document, ctx: Context) -> None:
    pod_workload(doc, ctx, ("spec", "template"), str(doc.data.get("kind")))


@register(WORKLOADS, "", "Pod")
def read_pod(doc: Document, ctx: Context) -> None:
    tmpl = parse(PodTemplate, doc.data, doc, (), ctx)
    if tmpl is not None:
        add_workload(doc, ctx, "Pod", tmpl, (), 1)


@register(WORKLOADS, "batch", "Job")
def read_job(doc: Document, ctx: Context) -> None:
    spec = parse(WorkloadSpec, doc.data.get("spec"), doc, ("spec",), ctx)
    tmpl = parse(PodTemplate, _dig(doc.data, ("spec", "template")), doc, ("spec", "template"), ctx)
    if spec is None or tmpl is None:
        return
    wl = add_workload(doc, ctx, "Job", tmpl, ("spec", "template"), None, resource_kind="job")
    limit = spec.backoff_limit
    limit_src = at(doc, ("spec", "backoffLimit"), "spec.backoffLimit", default=limit is None)
    if limit is None:
        limit = JOB_BACKOFF_DEFAULT
    rules = (spec.pod_failure_policy or {}).get("rules") or []
    policy_loc = ("spec", "podFailurePolicy")
    ignores_disruption = any(
        isinstance(r, dict)
        and r.get("action") == "Ignore"
        and any(
            isinstance(c, dict) and c.get("type") == "DisruptionTarget"
            for c in r.get("onPodConditions") or []
        )
        for r in rules
    )
    fails_on_exit = any(
        isinstance(r, dict) and r.get("action") == "FailJob" and r.get("onExitCodes") for r in rules
    )
    retries_on = ["transient", "policy_termination"]
    if not fails_on_exit:
        retries_on.append("application_error")
    if not ignores_disruption:
        retries_on.append("disruption")
    policy_src = at(
        doc,
        policy_loc if rules else ("spec",),
        "spec.podFailurePolicy"
        if rules
        else "spec.podFailurePolicy (absent: every pod failure counts)",
    )
    loop = ctx.builder.loop(
        f"{wl.entry.id}-backoff",
        f"Job pod retries of {wl.name}",
        at(doc, ("spec",), "Job pod back-off"),
    )
    backoff_src = Source(
        doc.file, doc.line("spec"), True, "Job pod back-off: 10s doubling, at most 6m"
    )
    _retrying_job_loop(loop, wl, limit, limit_src, backoff_src, retries_on, policy_src)
    loop.put("answers.counts-disruptions", "no" if ignores_disruption else "yes", policy_src)


def _retrying_job_loop(
    loop: Any,
    wl: Workload,
    limit: int | None,
    limit_src: Source,
    backoff_src: Source,
    retries_on: list[str],
    retries_src: Source,
) -> None:
    loop.put("layer", "orchestration", backoff_src)
    loop.put("objective", "progress", backoff_src)
    loop.put("target", "failed pods of the job", backoff_src)
    loop.put("timescale", "10s-6m", backoff_src)
    loop.put("triggers", ["failure"], backoff_src)
    loop.put("actuations", ["retry", "replace"], backoff_src)
    loop.put("acts_on", [wl.entry.id], backoff_src)
    loop.put("instances", "once", backoff_src)
    if limit is not None:
        loop.put("retry.max_retries", min(limit, 1000), limit_src)
        loop.put("guards.give_up_after", min(limit, 1000), limit_src)
    loop.put("retry.backoff", "exponential", backoff_src)
    loop.put("retry.jitter", "no", backoff_src)
    loop.put("retry.budget", "no", backoff_src)
    loop.put("retry.retries_on", retries_on, retries_src)


class ReplicaSpec(Upstream):
    replicas: int | None = None
    restart_policy: str | None = None
    template: PodTemplate | None = None


class RunPolicy(Upstream):
    backoff_limit: int | None = None


class PyTorchJobSpec(Upstream):
    pytorch_replica_specs: dict[str, ReplicaSpec] = Field(default_factory=dict)
    run_policy: RunPolicy | None = None
    elastic_policy: dict[str, Any] | None = None


@register(WORKLOADS, "kubeflow.org", "PyTorchJob")
def read_pytorchjob(doc: Document, ctx: Context) -> None:
    spec = parse(PyTorchJobSpec, doc.data.get("spec"), doc, ("spec",), ctx)
    if spec is None or not spec.pytorch_replica_specs:
        return
    role, first = next(iter(spec.pytorch_replica_specs.items()))
    tloc = ("spec", "pytorchReplicaSpecs", role, "template")
    wl = add_workload(
        doc, ctx, "PyTorchJob", first.template or PodTemplate(), tloc, None, resource_kind="job"
    )
    for other, rs in list(spec.pytorch_replica_specs.items())[1:]:
        if rs.template is not None:  # the other roles' probes, on the same job resource
            oloc = ("spec", "pytorchReplicaSpecs", other, "template")
            for ci, c in enumerate(rs.template.spec.containers):
                _probes(doc, ctx, wl, c, (*oloc, "spec", "containers", ci), True)
    total = sum(
        rs.replicas if rs.replicas is not None else 1 for rs in spec.pytorch_replica_specs.values()
    )
    if total > 1:
        wl.entry.put(
            "synchronized",
            "yes",
            at(
                doc,
                ("spec", "pytorchReplicaSpecs"),
                f"{total} PyTorch processes in one job (collectives)",
            ),
        )
    run = spec.run_policy or RunPolicy()
    limit = run.backoff_limit
    limit_src = at(doc, ("spec", "runPolicy", "backoffLimit"), "spec.runPolicy.backoffLimit")
    if limit is None and isinstance((spec.elastic_policy or {}).get("maxRestarts"), int):
        limit = spec.elastic_policy["maxRestarts"]
        limit_src = at(
            doc, ("spec", "elasticPolicy", "maxRestarts"), "spec.elasticPolicy.maxRestarts"
        )
    loop = ctx.builder.loop(
        f"{wl.entry.id}-restarts",
        f"PyTorchJob restarts of {wl.name}",
        at(doc, ("spec",), "PyTorchJob"),
    )
    policy = first.restart_policy or "Never"
    src = at(doc, ("spec", "pytorchReplicaSpecs", role, "restartPolicy"), f"restartPolicy {policy}")
    _retrying_job_loop(
        loop, wl, limit, limit_src, src, ["transient", "policy_termination", "disruption"], src
    )


# ------------------------------------------------------------------------------ services


class ServiceSpec(Upstream):
    selector: dict[str, str] | None = None


@register(SERVICES, "", "Service")
def read_service(doc: Document, ctx: Context) -> None:
    spec = parse(ServiceSpec, doc.data.get("spec"), doc, ("spec",), ctx)
    if spec is None or not spec.selector:
        return
    ns = namespace_of(doc)
    selector = {str(k): str(v) for k, v in spec.selector.items()}
    rids = [
        wl.entry.id
        for wl in ctx.workloads
        if wl.namespace == ns and selector.items() <= wl.pod_labels.items()
    ]
    if rids:
        ctx.services[(ns, name_of(doc))] = rids


_URL = re.compile(r"\bhttps?://([A-Za-z0-9.-]+)")


def link_calls(ctx: Context) -> None:
    """A workload whose env or args name another Service's URL calls that Service."""
    for wl in ctx.workloads:
        texts = []
        for c in wl.containers:
            texts += container_words(c)
            texts += [str(e.get("value", "")) for e in c.env if isinstance(e, dict)]
        for text in texts:
            for host in _URL.findall(text):
                parts = host.split(".")
                key = (
                    (parts[1], parts[0])
                    if len(parts) >= 2 and (len(parts) == 2 or parts[2] == "svc")
                    else (wl.namespace, parts[0])
                )
                for rid in ctx.services.get(key, []):
                    if rid != wl.entry.id:
                        wl.entry.add_to(
                            "calls",
                            [rid],
                            at(
                                wl.doc,
                                ("spec",),
                                f"URL {host} in the container's arguments or environment",
                            ),
                        )


# ---------------------------------------------------------------------------- autoscalers


class CrossRef(Upstream):
    kind: str = ""
    name: str = ""


class Rules(Upstream):
    stabilization_window_seconds: int | None = None
    select_policy: str | None = None
    policies: list[dict[str, Any]] | None = None


class Behavior(Upstream):
    scale_up: Rules | None = None
    scale_down: Rules | None = None


class HPASpec(Upstream):
    scale_target_ref: CrossRef = CrossRef()
    min_replicas: int | None = None
    max_replicas: int | None = None
    metrics: list[dict[str, Any]] = Field(default_factory=list)
    behavior: Behavior | None = None


_METRIC_WORDS = [
    ("gpu_memory", re.compile(r"kv_cache|cache_usage|FB_USED|gpu_mem", re.I)),
    ("gpu_utilization", re.compile(r"GPU_UTIL|gpu_util", re.I)),
    ("queue_depth", re.compile(r"waiting|queue|pending|lag|backlog", re.I)),
    ("concurrency", re.compile(r"running|in_flight|inflight|concurren|ongoing", re.I)),
    ("latency", re.compile(r"latency|ttft|time_to_first|duration|seconds", re.I)),
    ("request_rate", re.compile(r"per_second|rps|qps|_total|rate", re.I)),
]
_OBJECTIVE = {
    "cpu_utilization": "utilization",
    "memory": "utilization",
    "gpu_utilization": "utilization",
    "gpu_memory": "utilization",
    "queue_depth": "latency",
    "concurrency": "latency",
    "latency": "latency",
    "request_rate": "throughput",
}


def metric_kind(name: str) -> str:
    lowered = name.lower()
    if lowered == "cpu":
        return "cpu_utilization"
    if lowered == "memory":
        return "memory"
    return next((kind for kind, pattern in _METRIC_WORDS if pattern.search(name)), "custom")


def _hpa_metric(metric: dict[str, Any]) -> tuple[str, str]:
    """(description, scaler-metric answer) of one autoscaling/v2 metric."""
    mtype = str(metric.get("type", ""))
    body = metric.get(mtype[:1].lower() + mtype[1:], {}) if mtype else {}
    body = body if isinstance(body, dict) else {}
    name = body.get("name") or (body.get("metric") or {}).get("name") or mtype
    target = body.get("target") or {}
    value = next(
        (
            f"{k} {target[k]}"
            for k in ("averageUtilization", "averageValue", "value")
            if k in target
        ),
        "",
    )
    return f"{mtype} {name} {value}".strip(), metric_kind(str(name))


def _scales(
    loop: Entry, doc: Document, ctx: Context, target: str | None, min_replicas: int | None, key: str
) -> None:
    """An autoscaler acts on its scale target, whose replica floor a PDB is checked against."""
    if not target:
        return
    loop.put("acts_on", [target], at(doc, ("spec", "scaleTargetRef"), "spec.scaleTargetRef"))
    if min_replicas is not None:
        ctx.min_replicas[target] = (min_replicas, at(doc, ("spec", key), f"spec.{key}"))


@register(SCALERS, "autoscaling", "HorizontalPodAutoscaler")
def read_hpa(doc: Document, ctx: Context) -> None:
    spec = parse(HPASpec, doc.data.get("spec"), doc, ("spec",), ctx)
    if spec is None:
        return
    name = name_of(doc)
    target = ctx.target(doc, spec.scale_target_ref, ("spec", "scaleTargetRef"))
    loop = ctx.builder.loop(
        f"{name}-hpa", f"HPA {name}", at(doc, ("kind",), "HorizontalPodAutoscaler")
    )
    src = at(doc, ("spec",), "HorizontalPodAutoscaler")
    described = [_hpa_metric(m) for m in spec.metrics if isinstance(m, dict)]
    if not described:  # autoscaling/v2 default: 80% average CPU utilisation
        described = [("Resource cpu averageUtilization 80 (default)", "cpu_utilization")]
    metric_src = at(doc, ("spec", "metrics"), "spec.metrics", default=not spec.metrics)
    beh = spec.behavior or Behavior()
    up = (beh.scale_up or Rules()).stabilization_window_seconds
    down_rules = beh.scale_down or Rules()
    down = down_rules.stabilization_window_seconds
    lo = max(HPA_SYNC_S, up or 0)
    hi = max(lo, HPA_SCALE_DOWN_WINDOW_S if down is None else down)
    loop.put("layer", "orchestration", src)
    if described[0][1] in _OBJECTIVE:
        loop.put("objective", _OBJECTIVE[described[0][1]], metric_src)
    loop.put("target", "; ".join(d for d, _ in described), metric_src)
    loop.put(
        "timescale",
        fmt_range(lo * 1000, hi * 1000),
        Source(
            doc.file,
            # the upper bound is what timescale comparisons read: cite the window that sets it
            doc.line("spec", "behavior", "scaleDown", "stabilizationWindowSeconds")
            or doc.line("spec", "behavior"),
            down is None,
            f"sync period {HPA_SYNC_S}s (default) to behavior.scaleDown.stabilizationWindowSeconds "
            f"{hi}s" + (" (default)" if down is None else ""),
        ),
    )
    loop.put("triggers", ["threshold"], src)
    actuations = (
        ["scale_out"] if down_rules.select_policy == "Disabled" else ["scale_out", "scale_in"]
    )
    loop.put(
        "actuations", actuations, at(doc, ("spec", "behavior"), "behavior.scaleDown.selectPolicy")
    )
    _scales(loop, doc, ctx, target, spec.min_replicas, "minReplicas")
    loop.put("instances", "once", src)
    loop.put(
        "guards.rate_limited",
        "yes",
        at(
            doc,
            ("spec", "behavior"),
            "behavior scale policies (default: 4 pods or 100% per 15s)",
            default=spec.behavior is None,
        ),
    )
    loop.put("answers.scaler-metric", described[0][1], metric_src)


class KedaSpec(Upstream):
    scale_target_ref: CrossRef = CrossRef()
    polling_interval: int | None = None
    cooldown_period: int | None = None
    min_replica_count: int | None = None
    triggers: list[dict[str, Any]] = Field(default_factory=list)
    advanced: dict[str, Any] | None = None


_QUEUE_SCALERS = re.compile(
    r"queue|kafka|rabbit|sqs|redis|nats|pulsar|pubsub|servicebus|stream", re.I
)


@register(SCALERS, "keda.sh", "ScaledObject")
def read_keda(doc: Document, ctx: Context) -> None:
    spec = parse(KedaSpec, doc.data.get("spec"), doc, ("spec",), ctx)
    if spec is None:
        return
    name = name_of(doc)
    target = ctx.target(doc, spec.scale_target_ref, ("spec", "scaleTargetRef"))
    loop = ctx.builder.loop(
        f"{name}-keda", f"KEDA ScaledObject {name}", at(doc, ("kind",), "ScaledObject")
    )
    src = at(doc, ("spec",), "ScaledObject")
    polling = spec.polling_interval if spec.polling_interval is not None else KEDA_POLLING_S
    behavior = ((spec.advanced or {}).get("horizontalPodAutoscalerConfig") or {}).get(
        "behavior"
    ) or {}
    down = (behavior.get("scaleDown") or {}).get("stabilizationWindowSeconds")
    down = down if isinstance(down, int) else HPA_SCALE_DOWN_WINDOW_S
    loop.put("layer", "orchestration", src)
    kinds, words = [], []
    for trig in spec.triggers:
        ttype = str(trig.get("type", ""))
        meta = mapping(trig, "metadata")
        if _QUEUE_SCALERS.search(ttype):
            kinds.append("queue_depth")
        elif ttype in ("cpu", "memory"):
            kinds.append(metric_kind(ttype))
        else:
            kinds.append(metric_kind(str(meta.get("query") or meta.get("metricName") or ttype)))
        threshold = (
            meta.get("threshold")
            or meta.get("value")
            or meta.get("queueLength")
            or meta.get("listLength")
            or meta.get("lagThreshold")
        )
        words.append(f"{ttype}" + (f" threshold {threshold}" if threshold is not None else ""))
    trig_src = at(doc, ("spec", "triggers"), "spec.triggers")
    loop.put("target", "; ".join(words) or "no triggers", trig_src)
    if kinds and kinds[0] in _OBJECTIVE:
        loop.put("objective", _OBJECTIVE[kinds[0]], trig_src)
    loop.put(
        "timescale",
        fmt_range(polling * 1000, max(polling, down) * 1000),
        Source(
            doc.file,
            doc.line("spec", "pollingInterval"),
            spec.polling_interval is None,
            f"pollingInterval {polling}s{' (default)' if spec.polling_interval is None else ''} "
            f"to the scale-down stabilisation window {down}s",
        ),
    )
    loop.put(
        "triggers",
        ["queue_depth", "threshold"] if "queue_depth" in kinds else ["threshold"],
        trig_src,
    )
    loop.put("actuations", ["scale_out", "scale_in"], src)
    _scales(loop, doc, ctx, target, spec.min_replica_count, "minReplicaCount")
    loop.put("instances", "once", src)
    loop.put(
        "guards.rate_limited",
        "yes",
        at(
            doc,
            ("spec", "advanced"),
            "the HPA's scale policies (KEDA drives an HPA)",
            default=not behavior,
        ),
    )
    if kinds:
        loop.put("answers.scaler-metric", kinds[0], trig_src)
    cooldown = spec.cooldown_period if spec.cooldown_period is not None else KEDA_COOLDOWN_S
    zero = (spec.min_replica_count or 0) == 0
    loop.put(
        "answers.scales-to-zero",
        "yes" if zero else "no",
        at(
            doc,
            ("spec", "minReplicaCount"),
            f"minReplicaCount (default 0); cooldownPeriod {cooldown}s",
            default=spec.min_replica_count is None,
        ),
    )


class VPASpec(Upstream):
    target_ref: CrossRef = CrossRef()
    update_policy: dict[str, Any] | None = None
    resource_policy: dict[str, Any] | None = None


@register(SCALERS, "autoscaling.k8s.io", "VerticalPodAutoscaler")
def read_vpa(doc: Document, ctx: Context) -> None:
    spec = parse(VPASpec, doc.data.get("spec"), doc, ("spec",), ctx)
    if spec is None:
        return
    name = name_of(doc)
    mode = str((spec.update_policy or {}).get("updateMode", "Auto"))
    mode_src = at(
        doc,
        ("spec", "updatePolicy", "updateMode"),
        "updatePolicy.updateMode",
        default="updateMode" not in (spec.update_policy or {}),
    )
    target = ctx.target(doc, spec.target_ref, ("spec", "targetRef"))
    loop = ctx.builder.loop(
        f"{name}-vpa", f"VPA {name} ({mode})", at(doc, ("kind",), "VerticalPodAutoscaler")
    )
    src = at(doc, ("spec",), "VerticalPodAutoscaler")
    controlled: list[str] = []
    for pol in (spec.resource_policy or {}).get("containerPolicies") or []:
        if isinstance(pol, dict):
            controlled += [str(r) for r in pol.get("controlledResources") or []]
    controlled = sorted(set(controlled)) or ["cpu", "memory"]
    loop.put("layer", "orchestration", src)
    loop.put("objective", "utilization", src)
    loop.put("target", f"{', '.join(controlled)} requests from usage history", src)
    # the updater acts every minute (--updater-interval default 1m)
    loop.put(
        "timescale",
        "1m",
        Source(doc.file, doc.line("spec"), True, "VPA updater interval (default 1m)"),
    )
    loop.put("triggers", ["threshold"], src)
    acts = {"Off": [], "Initial": ["resize_resources"]}.get(mode, ["resize_resources", "evict"])
    loop.put("actuations", acts, mode_src)
    loop.put("observes", ["utilization_change"], src)
    if target:
        loop.put("acts_on", [target], at(doc, ("spec", "targetRef"), "spec.targetRef"))
    loop.put("instances", "once", src)


class PDBSpec(Upstream):
    min_available: int | str | None = None
    max_unavailable: int | str | None = None
    selector: dict[str, Any] | None = None


@register(SCALERS + 5, "policy", "PodDisruptionBudget")
def read_pdb(doc: Document, ctx: Context) -> None:
    spec = parse(PDBSpec, doc.data.get("spec"), doc, ("spec",), ctx)
    if spec is None:
        return
    name, ns = name_of(doc), namespace_of(doc)
    labels = {str(k): str(v) for k, v in ((spec.selector or {}).get("matchLabels") or {}).items()}
    targets = [
        wl
        for wl in ctx.workloads
        if wl.namespace == ns and labels and labels.items() <= wl.pod_labels.items()
    ]
    loop = ctx.builder.loop(
        f"{name}-pdb", f"PodDisruptionBudget {name}", at(doc, ("kind",), "PodDisruptionBudget")
    )
    src = at(doc, ("spec",), "PodDisruptionBudget")
    rule_loc: tuple[str, ...]
    if spec.min_available is not None:
        rule, rule_loc = f"minAvailable {spec.min_available}", ("spec", "minAvailable")
    elif spec.max_unavailable is not None:
        rule, rule_loc = f"maxUnavailable {spec.max_unavailable}", ("spec", "maxUnavailable")
    else:
        rule, rule_loc = "maxUnavailable 0 (neither field set)", ("spec",)
    loop.put("layer", "orchestration", src)
    loop.put("objective", "availability", src)
    loop.put("target", f"healthy pods ({rule})", at(doc, rule_loc, rule.split(" ")[0]))
    loop.put("triggers", ["loop_action"], src)
    loop.put("actuations", ["reject"], src)
    if targets:
        loop.put(
            "acts_on",
            [wl.entry.id for wl in targets],
            at(doc, ("spec", "selector"), "spec.selector"),
        )
    loop.put("instances", "once", src)
    zero = _budget_zero(spec, targets, ctx)
    if zero is not None:
        loop.put(
            "answers.budget-can-reach-zero",
            zero[0],
            Source(doc.file, doc.line(*rule_loc), False, zero[1]),
        )


def _budget_zero(spec: PDBSpec, targets: list[Workload], ctx: Context) -> tuple[str, str] | None:
    """Can this budget allow no eviction at all (while every pod is healthy)?"""
    if spec.min_available is None and spec.max_unavailable in (None, 0, "0%"):
        return "yes", "maxUnavailable 0"
    if spec.max_unavailable is not None:
        return "no", f"maxUnavailable {spec.max_unavailable}"
    if spec.min_available == "100%":
        return "yes", "minAvailable 100%"
    if not isinstance(spec.min_available, int) or len(targets) != 1:
        return None
    rid = targets[0].entry.id
    if rid in ctx.min_replicas:
        floor, _ = ctx.min_replicas[rid]
        what = f"minAvailable {spec.min_available} vs the autoscaler's minimum of {floor} replicas"
    elif targets[0].replicas is not None:
        floor = targets[0].replicas
        what = f"minAvailable {spec.min_available} vs spec.replicas {floor}"
    else:
        return None
    return ("yes" if spec.min_available >= floor else "no"), what


# -------------------------------------------------------------------- cluster-autoscaler

CA_DEFAULTS = {
    "scan-interval": "10s",
    "scale-down-delay-after-add": "10m",
    "scale-down-unneeded-time": "10m",
    "scale-down-utilization-threshold": "0.5",
    "max-graceful-termination-sec": "600",
    "scale-down-enabled": "true",
}


def read_cluster_autoscaler(ctx: Context) -> None:
    """The cluster-autoscaler's loop, from the flags of the Deployment that runs it."""
    from expert.importers.model import duration_ms

    for wl in list(ctx.workloads):
        for ci, c in enumerate(wl.containers):
            words = container_words(c)
            if "cluster-autoscaler" not in c.image and not any(
                "cluster-autoscaler" in w for w in words[:2]
            ):
                continue
            flags = flag_values(words)
            cloc = (*wl.template_loc, "spec", "containers", ci)

            def flag(
                name: str,
                duration: bool = False,
                flags: Any = flags,
                cloc: Any = cloc,
                c: Any = c,
                wl: Workload = wl,
            ) -> tuple[str, Source]:
                if name in flags:
                    value, _ = flags[name]
                    where = (*cloc, "args") if c.args else (*cloc, "command")
                    if not duration or (duration_ms(value) or 0) > 0:
                        return value, at(wl.doc, where, f"--{name}={value}")
                    # Never a guess passed off as the file's: the default, said to be one.
                    ctx.problems.append(
                        problem_at(
                            wl.doc,
                            where,
                            f'--{name}="{value}" is not a positive duration, so the default '
                            f"{CA_DEFAULTS[name]} was used",
                            'write it as a duration ("10s", "10m") and import again',
                        )
                    )
                return CA_DEFAULTS[name], at(
                    wl.doc, cloc, f"--{name} (default {CA_DEFAULTS[name]})", default=True
                )

            scan, scan_src = flag("scan-interval", duration=True)
            unneeded, unneeded_src = flag("scale-down-unneeded-time", duration=True)
            after_add, after_add_src = flag("scale-down-delay-after-add", duration=True)
            threshold, thr_src = flag("scale-down-utilization-threshold")
            grace, grace_src = flag("max-graceful-termination-sec")
            enabled, en_src = flag("scale-down-enabled")
            lo = duration_ms(scan) or 10_000
            hi = max(lo, duration_ms(unneeded) or 600_000, duration_ms(after_add) or 600_000)
            loop = ctx.builder.loop(
                "cluster-autoscaler", "Cluster autoscaler", at(wl.doc, cloc, "cluster-autoscaler")
            )
            src = at(wl.doc, cloc, "cluster-autoscaler")
            loop.put("layer", "orchestration", src)
            loop.put("objective", "cost", src)
            loop.put("target", f"pending pods; node utilisation below {threshold}", thr_src)
            # The upper bound, the longer scale-down delay, is what timescale comparisons
            # read (pod-hold-outlasts-node-removal): cite the flag that sets it.
            longer = (
                unneeded_src
                if (duration_ms(unneeded) or 600_000) >= (duration_ms(after_add) or 600_000)
                else after_add_src
            )
            cited = longer if hi > lo else scan_src
            loop.put(
                "timescale",
                fmt_range(lo, hi),
                Source(
                    cited.file,
                    cited.line,
                    cited.default,
                    f"--scan-interval {scan} to the scale-down delays "
                    f"(--scale-down-unneeded-time {unneeded}, "
                    f"--scale-down-delay-after-add {after_add})",
                ),
            )
            loop.put("triggers", ["queue_depth", "threshold"], src)
            scale_down = enabled.lower() != "false"
            loop.put(
                "actuations", ["scale_out", "scale_in"] if scale_down else ["scale_out"], en_src
            )
            loop.put("instances", "once", src)
            if scale_down:
                # It drains one node at a time and knows nothing of gangs (cluster-autoscaler
                # FAQ; kubernetes/autoscaler issue 5170): never a whole job at once.
                loop.put(
                    "answers.stops-whole-job",
                    "no",
                    at(wl.doc, cloc, "cluster-autoscaler scale-down (node by node)", default=True),
                )
            loop.put(
                "guards.exemptions",
                "yes",
                at(
                    wl.doc,
                    cloc,
                    "cluster-autoscaler.kubernetes.io/safe-to-evict annotation and "
                    "PodDisruptionBudgets",
                    default=True,
                ),
            )
            if not scale_down:
                continue
            evictable = [
                other
                for other in ctx.workloads
                if other is not wl
                and other.namespace != "kube-system"
                and other.pod_annotations.get("cluster-autoscaler.kubernetes.io/safe-to-evict")
                != "false"
            ]
            if evictable:
                loop.put(
                    "acts_on",
                    [o.entry.id for o in evictable],
                    at(
                        wl.doc,
                        cloc,
                        'scale-down drains nodes of pods without safe-to-evict: "false"',
                    ),
                )
                try:
                    cap = int(float(grace))
                except ValueError:
                    cap = 600
                notices = [min(o.grace_s, cap) for o in evictable]
                # cite what sets the shortest notice: a pod's grace period or the cap
                shortest = min(evictable, key=lambda o: o.grace_s)
                cited = shortest.grace_source if shortest.grace_s < cap else grace_src
                loop.put(
                    "deadline",
                    fmt_range(min(notices) * 1000, max(notices) * 1000),
                    Source(
                        cited.file,
                        cited.line,
                        cited.default,
                        "pods' terminationGracePeriodSeconds, capped by "
                        f"--max-graceful-termination-sec {grace}",
                    ),
                )
