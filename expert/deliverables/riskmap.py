"""The Coherence Risk Surface Map as data: loops, influence edges (marked where they close a
feedback cycle or carry retry amplification), cycles, amplification paths, conflict zones."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import TypeAdapter

from expert.analysis.graph import Structure
from expert.analysis.results import (
    AmplificationOut,
    ConflictZone,
    CycleOut,
    Finding,
    RiskEdge,
    RiskMap,
    RiskNode,
)
from expert.assessment.model import UNKNOWN, Assessment
from expert.assessment.vocabulary import CYCLE_KINDS, Vocabulary
from expert.knowledge.patterns import SEVERITY_ORDER

# Amplifying cycles first, then oscillating ones (CYCLE_KINDS is in that order).
_KIND_RANK = {kind: i for i, kind in enumerate(CYCLE_KINDS)}

# Thousands of nodes, edges and zones are validated as one list each: a model built one at a
# time costs most of its time outside validation.
_NODES = TypeAdapter(list[RiskNode])
_EDGES = TypeAdapter(list[RiskEdge])
_ZONES = TypeAdapter(list[ConflictZone])

# How a reader names what graph.py's caps counted instead of keeping.
_LEFT_OUT_WORDS = {
    "pairs": "pairs of loops on one resource",
    "edges": "influences between loops",
    "nestings": "deadline nestings",
    "amplification paths": "amplification paths",
}


def build(
    assessment: Assessment,
    structure: Structure,
    findings: list[Finding],
    vocab: Vocabulary | None = None,
) -> RiskMap:
    nodes = _NODES.validate_python(
        [
            {
                "id": lp.id,
                "name": lp.name if lp.name not in (None, UNKNOWN) else lp.id,
                "layer": lp.layer or UNKNOWN,
                "owner": lp.owner or UNKNOWN,
                "timescale": lp.timescale or UNKNOWN,
            }
            for lp in assessment.loops
        ]
    )
    in_cycle = {
        (c.loops[i], c.loops[(i + 1) % len(c.loops)])
        for c in structure.cycles
        for i in range(len(c.loops))
    }
    amplifying = {
        (a.loops[i], a.loops[i + 1])
        for a in structure.amplifications
        for i in range(len(a.loops) - 1)
    }
    conflict: dict[frozenset[str], str] = {}
    zones: list[dict[str, Any]] = []
    for f in findings:
        if f.kind != "incoherence":
            continue
        pairs = conflict_pairs(f)
        zones.append(
            {
                "finding": f.id,
                "loops": f.loops,
                "severity": f.severity,
                "status": f.status,
                "title": f.title,
                "pairs": [list(p) for p in pairs],
            }
        )
        for a, b in pairs:
            key = frozenset((a, b))
            if SEVERITY_ORDER.index(f.severity) >= SEVERITY_ORDER.index(conflict.get(key, "low")):
                conflict[key] = f.severity
    rows: list[dict[str, Any]] = []
    seen_pairs = set()
    for e in structure.edges:
        pair = (e.source, e.target)
        kind: Literal["feedback", "amplification", "influence"] = (
            "feedback"
            if pair in in_cycle
            else "amplification"
            if (pair in amplifying and e.signal == "load_increase")
            else "influence"
        )
        rows.append(
            {
                "source": e.source,
                "target": e.target,
                "signal": e.signal,
                "resource": e.resource,
                "kind": kind,
                "severity": conflict.get(frozenset(pair)),
            }
        )
        seen_pairs.add(pair)
    # Stacked retries multiply load even where no trigger of the lower loop reacts to it.
    for amp in structure.amplifications:
        for src, tgt in zip(amp.loops, amp.loops[1:], strict=False):
            if (src, tgt) not in seen_pairs:
                rows.append(
                    {
                        "source": src,
                        "target": tgt,
                        "signal": "load_increase",
                        "resource": "call path",
                        "kind": "amplification",
                        "severity": conflict.get(frozenset((src, tgt))),
                    }
                )
    # Another loop keeping a signal from the loop that reads it: hidden, delayed or averaged
    # away. Structures without masks (older ones) have no such attribute.
    for m in getattr(structure, "masks", []):
        rows.append(
            {
                "source": m.source,
                "target": m.target,
                "signal": m.signal,
                "resource": getattr(m, "resource", "") or "",
                "kind": "masks",
                "how": m.how,
            }
        )
    edges = _EDGES.validate_python(rows)
    amp_paths = [
        AmplificationOut(loops=a.loops, factor_low=a.factor[0], factor_high=a.factor[1])
        for a in structure.amplifications
    ]
    cycles = summarise_cycles(structure, conflict, amp_paths)
    shown = {e.signal for e in edges} | {sig for c in cycles for sig in c.signals}
    return RiskMap(
        nodes=nodes,
        edges=edges,
        cycles=cycles,
        signal_labels={
            sig: vocab.signals[sig].label
            for sig in sorted(shown)
            if vocab is not None and sig in vocab.signals
        },
        cycles_found=len(structure.cycles),
        amplification_paths=amp_paths,
        conflict_zones=_ZONES.validate_python(zones),
        cycles_truncated=structure.cycles_truncated,
        left_out={_LEFT_OUT_WORDS.get(k, k): n for k, n in sorted(structure.left_out.items())},
    )


def conflict_pairs(f: Finding) -> list[tuple[str, str]]:
    """The pairs of loops a conflict finding was found between: its members' pairs when it
    groups several matches (so loops that never met are not drawn as fighting), else every
    pair of its loops."""
    groups = [m.loops for m in f.members if len(m.loops) > 1] or [f.loops]
    out: dict[tuple[str, str], None] = {}
    for loops in groups:
        for i, a in enumerate(loops):
            for b in loops[i + 1 :]:
                if a != b:
                    out[(a, b) if a < b else (b, a)] = None
    return list(out)


def summarise_cycles(
    structure: Structure,
    conflict: dict[frozenset[str], str],
    amplification_paths: list[AmplificationOut],
) -> list[CycleOut]:
    """The structure's cycles classified, one per set of loops, strongest first: amplifying
    before oscillating, then by the retry factor riding on the cycle, the worst conflict
    between its neighbours, and the fewest hops. The kind is the one graph.py gave the cycle,
    which the cycle facts carry too, so the map and the rules never disagree."""
    factor: dict[tuple[str, str], int] = {}
    for a in amplification_paths:
        for hop in zip(a.loops, a.loops[1:], strict=False):
            factor[hop] = max(factor.get(hop, 1), a.factor_high)

    best: dict[frozenset[str], tuple[tuple, CycleOut]] = {}
    for c in structure.cycles:
        hops = list(zip(c.loops, c.loops[1:] + c.loops[:1], strict=True))
        kind = c.kind
        severities = [conflict[frozenset(h)] for h in hops if frozenset(h) in conflict]
        worst = max((SEVERITY_ORDER.index(sev) for sev in severities), default=-1)
        key = (
            _KIND_RANK[kind],
            -max((factor.get(h, 1) for h in hops), default=1),
            -worst,
            len(c.loops),
            c.loops,
        )
        out = CycleOut(
            loops=c.loops, amplifying=kind == "amplifying", kind=kind, signals=list(c.signals)
        )
        loops = frozenset(c.loops)
        if loops in best:
            variants = best[loops][1].variants + 1
            if key < best[loops][0]:
                best[loops] = (key, out)
            best[loops][1].variants = variants
        else:
            best[loops] = (key, out)
    return [out for _, out in sorted(best.values(), key=lambda kv: kv[0])]
