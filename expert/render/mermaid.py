"""The Coherence Risk Surface Map as a Mermaid flowchart, for Markdown reports.

Loops sit in one subgraph per layer; edges are solid (influence), dotted (part of a feedback
cycle) or thick (retry amplification) and coloured by conflict severity; a conflict between
two loops is named on one edge between them; loops in conflict zones get a border in their
worst severity. Labels keep their text as written (GitHub renders UTF-8, and a label full of
entity codes reads as "#38;" wherever the diagram is shown as text); only the characters that
would end a quoted label, start an entity code or read as markup are written as Mermaid entity
codes, so a loop name can neither break the diagram's syntax nor inject markup.

Mermaid refuses a diagram longer than its default maxTextSize (50,000 characters) or with more
than its default maxEdges (500) edges. Large maps keep the loops in a conflict, as the SVG
does; if that is still too much, fewer of them (the worst conflicts first) until it fits, and
the diagram's title says how many it shows.
"""

from __future__ import annotations

from expert.analysis.results import RiskMap
from expert.knowledge.patterns import SEVERITY_ORDER
from expert.render.svgmap import (
    ALONE_MARK,
    KIND_COLOUR,
    MAX_DRAWN,
    POSSIBLE_COLOUR,
    SEVERITY_COLOUR,
    MapEdge,
    MapParts,
    labelled_edges,
)

# What Mermaid needs escaped inside a quoted label: the quote that ends it, the # that starts
# an entity code, the angle brackets of markup, and the backtick of a Markdown string; square
# brackets too, so no name reads as a Markdown link where the block is not drawn.
_ESCAPE = {
    '"': "#quot;",
    "#": "#35;",
    "<": "#lt;",
    ">": "#gt;",
    "`": "#96;",
    "[": "#91;",
    "]": "#93;",
}
ARROW = {
    "influence": "-->",
    "feedback": "-.->",
    "amplification": "==>",
    "masks": "-.->",
    "conflict": "---",
}
MAX_TEXT = 50_000  # Mermaid's default maxTextSize
MAX_EDGES = 500  # Mermaid's default maxEdges
BUDGET = MAX_TEXT - 2_000  # room for the fence and a reader's own edits
NAME_MAX = 48  # characters of a loop's name in a box


def label(text: str) -> str:
    """Text for inside a quoted Mermaid label: as written, on one line, with only what
    Mermaid reads as syntax escaped (and nothing a terminal or parser could trip on)."""
    return "".join(_ESCAPE.get(ch, ch) for ch in " ".join(str(text).split()) if ch.isprintable())


def _short(text: str, n: int = NAME_MAX) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def flowchart(
    risk_map: RiskMap,
    layers: list[tuple[str, str]],
    edges: list[MapEdge] | None = None,
    parts: MapParts | None = None,
) -> str:
    """Mermaid source (without the code fence), under MAX_TEXT characters; empty when there is
    nothing to draw. `edges` is aggregate(risk_map), and `parts` MapParts(risk_map, edges),
    when the caller has them already."""
    parts = MapParts(risk_map, edges) if parts is None else parts
    limit = MAX_DRAWN
    while True:
        text, n_edges = _draw(parts, layers, limit)
        if (len(text) <= BUDGET and n_edges <= MAX_EDGES) or limit <= 1:
            return text
        limit = max(1, limit * 3 // 4)


def _draw(parts: MapParts, layers: list[tuple[str, str]], limit: int) -> tuple[str, int]:
    """The diagram of at most `limit` loops, and how many edges it has."""
    risk_map, zones, pairs, pale, lone = (
        parts.risk_map,
        parts.zones,
        parts.pairs,
        parts.pale,
        parts.lone,
    )
    nodes, edges, note = parts.select(limit)
    if not nodes:
        return "", 0
    names_on = labelled_edges(edges, pairs, pale)
    ids = {n.id: f"n{i}" for i, n in enumerate(nodes)}
    known = [lid for lid, _ in layers]
    names = dict(layers)
    out = []
    if note:
        shown = f"{len(nodes)} of {len(risk_map.nodes)} loops: those in conflicts, worst first"
        out += ["---", f'title: "{label(shown)}"', "---"]
    out.append("flowchart TB")
    groups: dict[str, list[str]] = {}
    for n in nodes:
        groups.setdefault(n.layer if n.layer in known else "unknown", []).append(n.id)
    order = [lid for lid in [*known, "unknown"] if lid in groups]
    by_id = {n.id: n for n in nodes}
    for i, lid in enumerate(order):
        out.append(f'  subgraph L{i}["{label(names.get(lid, "Layer not known"))}"]')
        for nid in groups[lid]:
            n = by_id[nid]
            mark = f" {ALONE_MARK}" if nid in lone else ""
            text = f"{label(_short(n.name))} · {label(n.timescale)}{mark}"
            out.append(f'    {ids[nid]}["{text}"]')
        out.append("  end")
    # Edges sharing a style share one linkStyle line, which keeps large maps short.
    styles: dict[str, list[str]] = {}
    for k, e in enumerate(edges):
        if k in names_on:
            text = names_on[k]
        elif e.kind == "masks":
            text = "; ".join(e.how)
        else:
            text = ", ".join(e.signals)
        link = f'|"{label(text)}"|' if text else ""
        out.append(f"  {ids[e.source]} {ARROW.get(e.kind, '-->')}{link} {ids[e.target]}")
        possible = (min(e.source, e.target), max(e.source, e.target)) in pale
        colours = POSSIBLE_COLOUR if possible else SEVERITY_COLOUR
        colour = colours[e.severity] if e.severity else KIND_COLOUR.get(e.kind)
        width = {"amplification": 4, "feedback": 2}.get(e.kind, 1) + (1 if e.severity else 0)
        # A possible conflict's line is paler and dashed, told apart from a confirmed one.
        dash = ",stroke-dasharray:6 4" if possible and e.severity else ""
        styles.setdefault(f"stroke:{colour},stroke-width:{width}px{dash}", []).append(str(k))
    for style, links in styles.items():
        out.append(f"  linkStyle {','.join(links)} {style}")
    for sev in SEVERITY_ORDER:
        members = [ids[lp] for lp, s in zones.items() if s == sev and lp in ids]
        if members:
            out.append(f"  classDef sev_{sev} stroke:{SEVERITY_COLOUR[sev]},stroke-width:3px")
            out.append(f"  class {','.join(members)} sev_{sev}")
    return "\n".join(out) + "\n", len(edges)
