"""Queues and batch schedulers: Kueue ClusterQueue and LocalQueue, and slurm.conf.

Defaults: Kueue preemption policies are Never unless set (kueue.sigs.k8s.io, Cluster Queue);
Slurm's SchedulerType is sched/backfill with bf_interval 30 s, PreemptType preempt/none,
PreemptMode OFF and a partition GraceTime of 0 (slurm.schedmd.com, slurm.conf).
"""

from __future__ import annotations

import shlex
from typing import Any

from pydantic import Field

from expert.errors import Problem
from expert.importers.model import (
    Source,
    Upstream,
    at,
    fmt_ms,
    fmt_range,
    mapping,
    name_of,
    namespace_of,
)
from expert.importers.model import parse_model as parse
from expert.importers.reader import Document
from expert.importers.registry import QUEUES, Context, register

KUEUE = "kueue.x-k8s.io"


class LocalQueueSpec(Upstream):
    cluster_queue: str = ""


@register(QUEUES - 5, KUEUE, "LocalQueue")
def read_local_queue(doc: Document, ctx: Context) -> None:
    spec = parse(LocalQueueSpec, doc.data.get("spec"), doc, ("spec",), ctx)
    if spec is not None and spec.cluster_queue:
        ctx.local_queues[(namespace_of(doc), name_of(doc))] = spec.cluster_queue


class ClusterQueueSpec(Upstream):
    cohort: str | None = None
    cohort_name: str | None = None
    resource_groups: list[dict[str, Any]] = Field(default_factory=list)
    preemption: dict[str, Any] | None = None


@register(QUEUES, KUEUE, "ClusterQueue")
def read_cluster_queue(doc: Document, ctx: Context) -> None:
    spec = parse(ClusterQueueSpec, doc.data.get("spec"), doc, ("spec",), ctx)
    if spec is None:
        return
    name = name_of(doc)
    quotas = []
    for group in spec.resource_groups:
        for flavor in group.get("flavors") or []:
            for res in (flavor or {}).get("resources") or []:
                if isinstance(res, dict):
                    quotas.append(
                        f"{res.get('name')} {res.get('nominalQuota')} on {flavor.get('name')}"
                    )
    cohort = spec.cohort_name or spec.cohort
    entry = ctx.builder.resource(
        name,
        "tenant_quota",
        f"Kueue ClusterQueue {name}" + (f" (cohort {cohort})" if cohort else ""),
        at(doc, ("kind",), "ClusterQueue"),
    )
    jobs = [
        wl
        for wl in ctx.workloads
        if wl.queue and ctx.local_queues.get((wl.namespace, wl.queue)) == name
    ]
    src = at(doc, ("spec",), "ClusterQueue")
    jobs_src = at(
        doc,
        ("metadata", "name"),
        "LocalQueue spec.clusterQueue and the jobs' kueue.x-k8s.io/queue-name label",
    )
    admit = ctx.builder.loop(f"{name}-admission", f"Kueue admission to {name}", src)
    admit.put("layer", "scheduler", src)
    admit.put("objective", "fairness", src)
    admit.put(
        "target",
        "nominal quota: " + ("; ".join(quotas) or "none"),
        at(doc, ("spec", "resourceGroups"), "spec.resourceGroups"),
    )
    admit.put("triggers", ["queue_depth"], src)
    admit.put("actuations", ["place", "throttle"], src)
    admit.put("acts_on", [entry.id] + [wl.entry.id for wl in jobs], jobs_src)
    admit.put("instances", "once", src)
    pre = spec.preemption or {}
    ploc = ("spec", "preemption")
    borrow = mapping(pre, "borrowWithinCohort")
    policies = {
        "withinClusterQueue": str(pre.get("withinClusterQueue", "Never")),
        "reclaimWithinCohort": str(pre.get("reclaimWithinCohort", "Never")),
        "borrowWithinCohort.policy": str(borrow.get("policy", "Never")),
    }
    active = {k: v for k, v in policies.items() if v != "Never"}
    if not active:
        return
    text = ", ".join(f"{k} {v}" for k, v in active.items())
    psrc = at(doc, ploc, f"spec.preemption: {text}")
    loop = ctx.builder.loop(f"{name}-preemption", f"Kueue preemption in {name}", psrc)
    loop.put("layer", "scheduler", psrc)
    loop.put("objective", "fairness", psrc)
    loop.put("target", f"pending higher-priority or reclaiming workloads ({text})", psrc)
    loop.put("triggers", ["priority_arrival"], psrc)
    loop.put("actuations", ["preempt"], psrc)
    loop.put("acts_on", [entry.id] + [wl.entry.id for wl in jobs], jobs_src)
    loop.put("instances", "once", psrc)
    # Kueue preempts whole Workloads: the job is suspended and all its pods go together.
    loop.put(
        "answers.stops-whole-job",
        "yes",
        at(doc, ploc, "Kueue preemption (a whole Workload)", default=True),
    )
    if jobs:
        graces = [wl.grace_s for wl in jobs]
        first = min(jobs, key=lambda wl: wl.grace_s)
        loop.put(
            "deadline",
            fmt_range(min(graces) * 1000, max(graces) * 1000),
            Source(
                first.grace_source.file,
                first.grace_source.line,
                first.grace_source.default,
                "the preempted pods' terminationGracePeriodSeconds",
            ),
        )


# --------------------------------------------------------------------------------- Slurm


def parse_slurm_conf(
    text: str,
) -> tuple[
    dict[str, tuple[str, int]], list[dict[str, tuple[str, int]]], list[dict[str, tuple[str, int]]]
]:
    """(global options, NodeName lines, PartitionName lines); keys lower-cased, each value
    with its line number. Comments and backslash continuations as slurm.conf(5) allows."""
    options: dict[str, tuple[str, int]] = {}
    nodes: list[dict[str, tuple[str, int]]] = []
    partitions: list[dict[str, tuple[str, int]]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if not line.strip():
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        pairs = {}
        for word in words:
            key, eq, value = word.partition("=")
            if eq:
                pairs[key.lower()] = (value, start)
        if not pairs:
            continue
        first = words[0].partition("=")[0].lower()
        if first == "nodename":
            nodes.append(pairs)
        elif first == "partitionname":
            partitions.append(pairs)
        else:
            options.update(pairs)
    return options, nodes, partitions


def read_slurm(file: str, text: str, ctx: Context) -> None:
    options, nodes, partitions = parse_slurm_conf(text)

    def src(key: str, what: str, default: str) -> Source:
        if key in options:
            return Source(file, options[key][1], False, f"{what}={options[key][0]}")
        return Source(file, 1, True, f"{what} (default {default})")

    gpu_nodes = {n["nodename"][0] for n in nodes if "gpu" in n.get("gres", ("", 0))[0].lower()}
    parts = []
    for p in partitions:
        pname, line = p["partitionname"]
        if pname.lower() == "default":
            continue
        kind = (
            "gpu_pool"
            if p.get("nodes", ("", 0))[0] in gpu_nodes or "gpu" in pname.lower()
            else "node"
        )
        entry = ctx.builder.resource(
            f"slurm-{pname}",
            kind,
            f"Slurm partition {pname}",
            Source(file, line, False, f"PartitionName={pname}"),
        )
        parts.append((p, entry))
    if not parts:
        return
    sched = options.get("schedulertype", ("sched/backfill", 0))[0]
    params = dict(
        item.partition("=")[::2]
        for item in options.get("schedulerparameters", ("", 0))[0].split(",")
        if item
    )
    if sched == "sched/backfill":
        interval = params.get("bf_interval")
        loop = ctx.builder.loop(
            "slurm-backfill",
            "Slurm backfill scheduler",
            src("schedulertype", "SchedulerType", "sched/backfill"),
        )
        s = src("schedulertype", "SchedulerType", "sched/backfill")
        loop.put("layer", "scheduler", s)
        loop.put("objective", "utilization", s)
        loop.put("target", "idle nodes before the next reserved start", s)
        params_line = options.get("schedulerparameters", ("", 1))[1] or 1
        readable = interval is not None and interval.isdigit()
        if interval is not None and not readable:
            ctx.problems.append(
                Problem(
                    file,
                    f"SchedulerParameters bf_interval={interval} is not a whole number of "
                    "seconds, so the backfill interval was taken as Slurm's default, 30 s",
                    line=params_line,
                    fix="write it in seconds (bf_interval=120) and import again, or correct "
                    "the loop's timescale in the interview",
                )
            )
        seconds = int(interval) if interval is not None and readable else 30
        loop.put(
            "timescale",
            fmt_ms(seconds * 1000),
            src("schedulerparameters", "SchedulerParameters bf_interval", "30")
            if readable
            else Source(file, params_line, True, "bf_interval (default 30)"),
        )
        loop.put("triggers", ["idle_capacity"], s)
        loop.put("actuations", ["backfill", "place"], s)
        loop.put("acts_on", [e.id for _, e in parts], s)
        loop.put("instances", "once", s)
    ptype = options.get("preempttype", ("preempt/none", 0))[0]
    if ptype == "preempt/none":
        return
    gmode = options.get("preemptmode", ("OFF", 0))[0].upper()
    victims = [
        (p, e) for p, e in parts if p.get("preemptmode", (gmode, 0))[0].upper() not in ("OFF",)
    ]
    if not victims:
        return
    modes = {p.get("preemptmode", (gmode, 0))[0].upper() for p, _ in victims}
    acts = ["preempt"]
    if any("REQUEUE" in m for m in modes):
        acts.append("reschedule")
    if any("CANCEL" in m for m in modes):
        acts.append("terminate")
    s = src("preempttype", "PreemptType", "preempt/none")
    loop = ctx.builder.loop("slurm-preemption", f"Slurm preemption ({ptype})", s)
    loop.put("layer", "scheduler", s)
    loop.put("objective", "fairness", s)
    loop.put(
        "target",
        f"higher-priority jobs waiting (PreemptMode {', '.join(sorted(modes))})",
        src("preemptmode", "PreemptMode", "OFF"),
    )
    loop.put("triggers", ["priority_arrival"], s)
    loop.put("actuations", acts, src("preemptmode", "PreemptMode", "OFF"))
    loop.put("acts_on", [e.id for _, e in victims], s)
    loop.put("instances", "once", s)
    graces = []
    for p, _ in victims:
        value = p.get("gracetime", ("0", p["partitionname"][1]))
        if value[0].isdigit():
            graces.append((int(value[0]), value[1], "gracetime" in p))
            continue
        # A value read as 0 would say "no notice at all", which may be far from the truth:
        # the loop's grace time is left for the interview to ask instead.
        ctx.problems.append(
            Problem(
                file,
                f"partition {p['partitionname'][0]}: GraceTime={value[0]} is not a whole "
                "number of seconds, so the preemption notice was left unknown",
                line=value[1],
                fix="write it in seconds (GraceTime=300) and import again, or answer the "
                "preemption loop's deadline in the interview",
            )
        )
    if len(graces) < len(victims):  # the range would leave the unread partition out
        return
    lo, hi = min(g[0] for g in graces), max(g[0] for g in graces)
    first = min(graces)
    loop.put(
        "deadline",
        fmt_range(lo * 1000, hi * 1000),
        Source(
            file,
            first[1],
            not first[2],
            "partition GraceTime" + ("" if first[2] else " (default 0)"),
        ),
    )
