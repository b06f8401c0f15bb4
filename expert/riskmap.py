"""The Coherence Risk Surface Map as data: loops, influence edges (marked where they close a
feedback cycle or carry retry amplification), cycles, amplification paths, conflict zones."""

from __future__ import annotations

from expert.assessment import UNKNOWN, Assessment
from expert.graph import Structure
from expert.patterns import SEVERITY_ORDER
from expert.results import (
    AmplificationOut,
    ConflictZone,
    CycleOut,
    Finding,
    RiskEdge,
    RiskMap,
    RiskNode,
)

# How a reader names what graph.py's caps counted instead of keeping.
_LEFT_OUT_WORDS = {
    "pairs": "pairs of loops on one resource",
    "edges": "influences between loops",
    "nestings": "deadline nestings",
    "amplification paths": "amplification paths",
}


def build(assessment: Assessment, structure: Structure, findings: list[Finding]) -> RiskMap:
    nodes = [
        RiskNode(
            id=lp.id,
            name=lp.name if lp.name not in (None, UNKNOWN) else lp.id,
            layer=lp.layer or UNKNOWN,
            owner=lp.owner or UNKNOWN,
            timescale=lp.timescale or UNKNOWN,
        )
        for lp in assessment.loops
    ]
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
    zones = []
    for f in findings:
        if f.kind != "incoherence":
            continue
        zones.append(
            ConflictZone(finding=f.id, loops=f.loops, severity=f.severity, status=f.status)
        )
        for a in f.loops:
            for b in f.loops:
                key = frozenset((a, b))
                if a != b and SEVERITY_ORDER.index(f.severity) >= SEVERITY_ORDER.index(
                    conflict.get(key, "low")
                ):
                    conflict[key] = f.severity
    edges = []
    seen_pairs = set()
    for e in structure.edges:
        pair = (e.source, e.target)
        kind = (
            "feedback"
            if pair in in_cycle
            else "amplification"
            if (pair in amplifying and e.signal == "load_increase")
            else "influence"
        )
        edges.append(
            RiskEdge(
                source=e.source,
                target=e.target,
                signal=e.signal,
                resource=e.resource,
                kind=kind,
                severity=conflict.get(frozenset(pair)),
            )
        )
        seen_pairs.add(pair)
    # Stacked retries multiply load even where no trigger of the lower loop reacts to it.
    for a in structure.amplifications:
        for src, tgt in zip(a.loops, a.loops[1:], strict=False):
            if (src, tgt) not in seen_pairs:
                edges.append(
                    RiskEdge(
                        source=src,
                        target=tgt,
                        signal="load_increase",
                        resource="call path",
                        kind="amplification",
                        severity=conflict.get(frozenset((src, tgt))),
                    )
                )
    return RiskMap(
        nodes=nodes,
        edges=edges,
        cycles=[
            CycleOut(loops=c.loops, amplifying=c.amplifying == "yes") for c in structure.cycles
        ],
        amplification_paths=[
            AmplificationOut(loops=a.loops, factor_low=a.factor[0], factor_high=a.factor[1])
            for a in structure.amplifications
        ],
        conflict_zones=zones,
        cycles_truncated=structure.cycles_truncated,
        left_out={_LEFT_OUT_WORDS.get(k, k): n for k, n in sorted(structure.left_out.items())},
    )
