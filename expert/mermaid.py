"""The Coherence Risk Surface Map as a Mermaid flowchart, for Markdown reports.

Loops sit in one subgraph per layer; edges are solid (influence), dotted (part of a feedback
cycle) or thick (retry amplification) and coloured by conflict severity; loops in conflict
zones get a border in their worst severity. Every label is written with Mermaid entity codes
for anything but plain letters, digits and simple punctuation, so a loop name can neither
break the diagram's syntax nor inject markup.
"""

from __future__ import annotations

from expert.patterns import SEVERITY_ORDER
from expert.results import RiskMap
from expert.svgmap import (
    KIND_COLOUR,
    MAX_DRAWN,
    SEVERITY_COLOUR,
    MapEdge,
    aggregate,
    zone_severity,
)

_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-_/()'")
ARROW = {"influence": "-->", "feedback": "-.->", "amplification": "==>"}


def label(text: str) -> str:
    """Text for inside a quoted Mermaid label: everything unusual as a #code; entity."""
    return "".join(ch if ch in _SAFE else f"#{ord(ch)};" for ch in " ".join(str(text).split()))


def flowchart(
    risk_map: RiskMap, layers: list[tuple[str, str]], edges: list[MapEdge] | None = None
) -> str:
    """Mermaid source (without the code fence); empty when there is nothing to draw. `edges`
    is aggregate(risk_map) when the caller has it already."""
    nodes = list(risk_map.nodes)
    edges = aggregate(risk_map) if edges is None else edges
    zones = zone_severity(risk_map)
    if len(nodes) > MAX_DRAWN:
        involved = {e.source for e in edges} | {e.target for e in edges} | set(zones)
        nodes = [n for n in nodes if n.id in involved][:MAX_DRAWN]
    if not nodes:
        return ""
    ids = {n.id: f"n{i}" for i, n in enumerate(nodes)}
    edges = [e for e in edges if e.source in ids and e.target in ids]
    known = [lid for lid, _ in layers]
    names = dict(layers)
    out = ["flowchart TB"]
    groups: dict[str, list[str]] = {}
    for n in nodes:
        groups.setdefault(n.layer if n.layer in known else "unknown", []).append(n.id)
    order = [lid for lid in [*known, "unknown"] if lid in groups]
    by_id = {n.id: n for n in nodes}
    for i, lid in enumerate(order):
        out.append(f'  subgraph L{i}["{label(names.get(lid, "Layer not known"))}"]')
        for nid in groups[lid]:
            n = by_id[nid]
            out.append(f'    {ids[nid]}["{label(n.name)} #183; {label(n.timescale)}"]')
        out.append("  end")
    styles = []
    for k, e in enumerate(edges):
        signals = label(", ".join(e.signals))
        out.append(f'  {ids[e.source]} {ARROW.get(e.kind, "-->")}|"{signals}"| {ids[e.target]}')
        colour = SEVERITY_COLOUR[e.severity] if e.severity else KIND_COLOUR.get(e.kind)
        width = {"amplification": 4, "feedback": 2}.get(e.kind, 1) + (1 if e.severity else 0)
        styles.append(f"  linkStyle {k} stroke:{colour},stroke-width:{width}px")
    out += styles
    for sev in SEVERITY_ORDER:
        members = [ids[lp] for lp, s in zones.items() if s == sev and lp in ids]
        if members:
            out.append(f"  classDef sev_{sev} stroke:{SEVERITY_COLOUR[sev]},stroke-width:3px")
            out.append(f"  class {','.join(members)} sev_{sev}")
    return "\n".join(out) + "\n"
