"""Progressive delivery: Argo Rollouts (Rollout canary and blue-green steps, AnalysisTemplate
and ClusterAnalysisTemplate metrics) and Flagger Canary.

Each rollout becomes one gate loop: it reacts to a deployment and to the error rate its
metrics measure, and shifts traffic (or replaces pods) step by step, stopping and rolling
back when measurements fail. Its timescale is the measurement interval.

Defaults (argoproj.github.io/argo-rollouts, Analysis & Progressive Delivery): a metric's
failureLimit is 0 (the first failed measurement fails the analysis) and without an interval
a metric is measured once. Flagger (docs.flagger.app, How it works): `threshold` failed
checks roll the canary back; progressDeadlineSeconds defaults to 600.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from expert.errors import Problem
from expert.importers.kube import pod_workload
from expert.importers.model import (
    Entry,
    Source,
    Upstream,
    at,
    duration_ms,
    fmt_ms,
    fmt_range,
    mapping,
    name_of,
    namespace_of,
)
from expert.importers.model import parse_model as parse
from expert.importers.reader import Document
from expert.importers.registry import SCALERS, WORKLOADS, Context, register

ARGO = "argoproj.io"
FLAGGER = "flagger.app"
ARGO_FAILURE_LIMIT_DEFAULT = 0
MAX_STEPS_SHOWN = 8


class Metric(Upstream):
    name: str = ""
    interval: str | None = None
    initial_delay: str | None = None
    count: Any = None
    failure_limit: Any = None
    success_condition: str | None = None
    failure_condition: str | None = None


class AnalysisSpec(Upstream):
    metrics: list[Metric] = Field(default_factory=list)


@register(WORKLOADS - 5, ARGO, "AnalysisTemplate", "ClusterAnalysisTemplate")
def read_analysis_template(doc: Document, ctx: Context) -> None:
    """Kept for the Rollouts that name it; a template on its own acts on nothing."""
    ns = "" if doc.data.get("kind") == "ClusterAnalysisTemplate" else namespace_of(doc)
    ctx.analysis_templates[(ns, name_of(doc))] = doc


def _template_refs(analysis: Any) -> list[tuple[str, bool]]:
    """(templateName, clusterScope) of an analysis block: `templates:` or the older
    single `templateName:`."""
    if not isinstance(analysis, dict):
        return []
    refs = []
    for t in analysis.get("templates") or []:
        if isinstance(t, dict) and t.get("templateName"):
            refs.append((str(t["templateName"]), bool(t.get("clusterScope"))))
    if analysis.get("templateName"):
        refs.append((str(analysis["templateName"]), False))
    return refs


def _describe_steps(steps: list[Any]) -> str:
    words = []
    for step in steps[:MAX_STEPS_SHOWN]:
        if not isinstance(step, dict) or not step:
            continue
        key, value = next(iter(step.items()))
        if key == "pause":
            dur = value.get("duration") if isinstance(value, dict) else None
            ms = duration_ms(dur) if dur is not None else None
            words.append(f"pause {fmt_ms(ms)}" if ms else "pause until promoted")
        elif key in ("setWeight", "setCanaryScale"):
            words.append(f"{key} {value if not isinstance(value, dict) else ''}".strip())
        else:
            words.append(key)
    more = len(steps) - MAX_STEPS_SHOWN
    return " > ".join(words) + (f" > ... ({more} more)" if more > 0 else "")


def _measured(metric: Metric, doc: Document, loc: tuple[Any, ...]) -> tuple[str, int | None]:
    """A metric in words, and its interval in milliseconds (None when measured once)."""
    interval = duration_ms(metric.interval) if metric.interval else None
    limit = metric.failure_limit
    if limit is None:
        limit_text = f"failureLimit {ARGO_FAILURE_LIMIT_DEFAULT} (default)"
    else:
        limit_text = f"failureLimit {limit}"
    condition = metric.success_condition or (
        f"not ({metric.failure_condition})" if metric.failure_condition else "no condition"
    )
    every = f"every {fmt_ms(interval)}" if interval else "measured once"
    return f"{metric.name or 'metric'}: {condition}, {every}, {limit_text}", interval


@register(WORKLOADS + 1, ARGO, "Rollout")
def read_rollout(doc: Document, ctx: Context) -> None:
    spec = mapping(doc.data, "spec")
    name, ns = name_of(doc), namespace_of(doc)
    before = len(ctx.workloads)
    if isinstance(spec.get("template"), dict):
        pod_workload(doc, ctx, ("spec", "template"), "Rollout")
    if len(ctx.workloads) > before:
        workload: Entry | None = ctx.workloads[-1].entry
    elif isinstance(spec.get("workloadRef"), dict):
        ref = spec["workloadRef"]
        found = ctx.workload(ns, str(ref.get("kind", "")), str(ref.get("name", "")))
        workload = found.entry if found is not None else None
    else:
        workload = None
    strategy = mapping(spec, "strategy")
    canary = strategy.get("canary")
    blue_green = strategy.get("blueGreen")
    if isinstance(canary, dict):
        sloc: tuple[Any, ...] = ("spec", "strategy", "canary")
        plan = canary
        refs = [(r, (*sloc, "analysis")) for r in _template_refs(canary.get("analysis"))]
        for i, step in enumerate(canary.get("steps") or []):
            if isinstance(step, dict):
                refs += [
                    (r, (*sloc, "steps", i, "analysis"))
                    for r in _template_refs(step.get("analysis"))
                ]
        routed = isinstance(canary.get("trafficRouting"), dict)
        what = "canary"
    elif isinstance(blue_green, dict):
        sloc = ("spec", "strategy", "blueGreen")
        plan = blue_green
        refs = [
            (r, (*sloc, key))
            for key in ("prePromotionAnalysis", "postPromotionAnalysis")
            for r in _template_refs(blue_green.get(key))
        ]
        routed = True  # the active Service's selector is switched to the new ReplicaSet
        what = "blue-green"
    else:
        return
    src = at(doc, sloc, f"spec.strategy.{what}")
    loop = ctx.builder.loop(f"{name}-{what}", f"Argo Rollouts {what} of {name}", src)
    loop.put("layer", "orchestration", src)
    loop.put("objective", "availability", src)
    metrics, intervals, first_metric = [], [], None
    missing = []
    for (tname, cluster), rloc in refs:
        tdoc = ctx.analysis_templates.get(("" if cluster else ns, tname))
        if tdoc is None:
            missing.append((tname, rloc))
            continue
        aspec = parse(AnalysisSpec, tdoc.data.get("spec"), tdoc, ("spec",), ctx)
        if aspec is None:
            continue
        for mi, metric in enumerate(aspec.metrics):
            mloc = ("spec", "metrics", mi)
            text, interval = _measured(metric, tdoc, mloc)
            metrics.append(f"{tname}/{text}")
            if interval:
                intervals.append((interval, at(tdoc, (*mloc, "interval"), f"{tname} interval")))
            if first_metric is None:
                key = "successCondition" if metric.success_condition else "failureLimit"
                first_metric = at(tdoc, (*mloc, key), f"{tname} metrics[{mi}]")
    for tname, rloc in missing:
        ctx.problems.append(_missing_template(doc, tname, rloc))
    steps = plan.get("steps") if isinstance(plan.get("steps"), list) else []
    text = f"{what} of {name}"
    if steps:
        text += f" (steps: {_describe_steps(steps)})"
    if metrics:
        text += "; analysis " + "; ".join(metrics)
    loop.put("target", text, first_metric or src)
    if intervals:
        lo = min(i for i, _ in intervals)
        hi = max(i for i, _ in intervals)
        cited = min(intervals, key=lambda item: item[0])[1]
        loop.put("timescale", fmt_range(lo, hi), cited)
    loop.put("triggers", ["deployment", "error_rate"] if metrics else ["deployment"], src)
    actuations = ["route"] if routed else ["replace"]
    if refs:
        actuations.append("gate")  # analysis holds or aborts the rollout's own progress
    loop.put(
        "actuations",
        actuations,
        at(doc, (*sloc, "trafficRouting") if isinstance(canary, dict) and routed else sloc, what),
    )
    if workload is not None:
        loop.put("acts_on", [workload.id], src)
    loop.put("instances", "once", src)


def _missing_template(doc: Document, tname: str, loc: tuple[Any, ...]) -> Problem:
    return Problem(
        doc.file,
        f"Rollout {name_of(doc)!r} names AnalysisTemplate {tname!r}, which is not among the "
        "imported files",
        line=doc.line(*loc),
        fix="import the AnalysisTemplate's manifest too; the rollout's metrics stay unknown",
    )


class FlaggerMetric(Upstream):
    name: str = ""
    interval: str | None = None
    threshold_range: dict[str, Any] | None = None
    template_ref: dict[str, Any] | None = None


class FlaggerAnalysis(Upstream):
    interval: str | None = None
    threshold: int | None = None
    max_weight: int | None = None
    step_weight: int | None = None
    step_weights: list[int] = Field(default_factory=list)
    iterations: int | None = None
    metrics: list[FlaggerMetric] = Field(default_factory=list)


class FlaggerRef(Upstream):
    kind: str = ""
    name: str = ""


class CanarySpec(Upstream):
    target_ref: FlaggerRef = FlaggerRef()
    progress_deadline_seconds: int | None = None
    analysis: FlaggerAnalysis | None = None


def _flagger_metric(m: FlaggerMetric) -> str:
    bounds = m.threshold_range or {}
    parts = [f"{k} {bounds[k]}" for k in ("min", "max") if k in bounds]
    text = m.name or (m.template_ref or {}).get("name", "metric")
    if parts:
        text += f" ({', '.join(parts)})"
    if m.interval:
        text += f" over {m.interval}"
    return str(text)


@register(SCALERS, FLAGGER, "Canary")
def read_flagger_canary(doc: Document, ctx: Context) -> None:
    spec = parse(CanarySpec, doc.data.get("spec"), doc, ("spec",), ctx)
    if spec is None:
        return
    name = name_of(doc)
    src = at(doc, ("spec", "analysis"), "spec.analysis")
    target = ctx.target(doc, spec.target_ref, ("spec", "targetRef"))
    analysis = spec.analysis or FlaggerAnalysis()
    loop = ctx.builder.loop(f"{name}-canary", f"Flagger canary of {name}", src)
    loop.put("layer", "orchestration", src)
    loop.put("objective", "availability", src)
    if analysis.iterations is not None:
        plan = f"{analysis.iterations} iterations"
    elif analysis.step_weights:
        plan = "weights " + ", ".join(f"{w}%" for w in analysis.step_weights)
    elif analysis.step_weight is not None:
        plan = f"+{analysis.step_weight}% per step up to {analysis.max_weight or 100}%"
    else:
        plan = "steps not stated"
    threshold = (
        f"rolls back after {analysis.threshold} failed checks"
        if analysis.threshold is not None
        else "failed checks before rollback not stated"
    )
    metrics = "; ".join(_flagger_metric(m) for m in analysis.metrics) or "no metrics"
    loop.put(
        "target",
        f"canary of {spec.target_ref.kind} {spec.target_ref.name} ({plan}; {threshold}); "
        f"metrics: {metrics}",
        at(
            doc,
            ("spec", "analysis", "threshold" if analysis.threshold is not None else "metrics"),
            "analysis.threshold and metrics",
        ),
    )
    interval = duration_ms(analysis.interval) if analysis.interval else None
    if interval:
        loop.put(
            "timescale",
            fmt_ms(interval),
            Source(doc.file, doc.line("spec", "analysis", "interval"), False, "analysis.interval"),
        )
    loop.put("triggers", ["deployment", "error_rate"] if analysis.metrics else ["deployment"], src)
    loop.put("actuations", ["route", "gate"], src)
    if target:
        loop.put("acts_on", [target], at(doc, ("spec", "targetRef"), "spec.targetRef"))
    loop.put("instances", "once", src)
