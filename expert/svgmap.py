"""The Coherence Risk Surface Map as a picture: loops in bands by layer, influence edges
between them, conflict zones coloured by severity, feedback cycles dashed and retry
amplification drawn thick.

This module computes the geometry (positions, paths, colours) from the risk map; the HTML
template only writes it out as inline SVG, escaping every text. No external program and no
font metrics: text is wrapped by an average character width.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from expert.patterns import SEVERITY_ORDER
from expert.results import RiskMap

NODE_W, NODE_H = 196, 58
GAP_X = 34
BAND_H = 112
LABEL_W = 176
MARGIN = 12
TOP = 44  # room for arcs between loops of the first band
CHAR_W = 6.4  # average width of a 12px sans-serif character
MAX_DRAWN = 80  # beyond this many loops the picture stops being readable; the table has all

SEVERITY_COLOUR = {
    "critical": "#b3261e",
    "high": "#e8710a",
    "medium": "#c49000",
    "low": "#4f8a2c",
}
# Colour says conflict severity; a dash says "part of a feedback cycle"; thickness says
# "carries retry amplification". Edges outside conflict zones are grey, or magenta when
# they amplify retries (thickness alone is easy to miss).
KIND_COLOUR = {"influence": "#8a97a6", "feedback": "#8a97a6", "amplification": "#c2185b"}
KIND_WIDTH = {"influence": 1.4, "feedback": 2.0, "amplification": 3.4}
KIND_DASH = {"influence": "", "feedback": "7 4", "amplification": ""}
KIND_RANK = {"influence": 0, "feedback": 1, "amplification": 2}
LAYER_TINT = {
    "scheduler": "#eaf1fb",
    "orchestration": "#e9f5ec",
    "runtime": "#fdf6e3",
    "model": "#f4ecfb",
    "safety": "#fcebea",
}
UNKNOWN_TINT = "#f1f3f4"


@dataclass(slots=True)
class MapEdge:
    """All influence edges from one loop to another, merged. A plain dataclass, not a model:
    a large map has ten thousand of them, made on every render."""

    source: str
    target: str
    source_name: str
    target_name: str
    signals: list[str]
    resources: list[str]
    kind: str  # amplification > feedback > influence, the strongest
    severity: str | None = None


class Band(BaseModel):
    layer: str
    label: str
    lines: list[str] = Field(default_factory=list, description="the label, wrapped")
    y: float
    h: float
    fill: str


class Node(BaseModel):
    id: str
    x: float
    y: float
    w: float = NODE_W
    h: float = NODE_H
    lines: list[str]
    sub: str
    title: str
    stroke: str
    stroke_width: float
    badge: str = ""
    badge_fill: str = ""


class Edge(BaseModel):
    d: str
    stroke: str
    width: float
    dash: str
    marker: str
    title: str


class Marker(BaseModel):
    id: str
    fill: str


class LegendItem(BaseModel):
    label: str
    stroke: str
    width: float
    dash: str = ""


class SvgMap(BaseModel):
    width: float
    height: float
    bands: list[Band]
    nodes: list[Node]
    edges: list[Edge]
    markers: list[Marker]
    legend: list[LegendItem]
    note: str = ""
    description: str = Field(description="a text alternative for the picture")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _worse(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b, key=SEVERITY_ORDER.index)


def aggregate(risk_map: RiskMap) -> list[MapEdge]:
    """One edge per ordered pair of loops, with every signal and resource it carries."""
    names = {n.id: n.name for n in risk_map.nodes}
    merged: dict[tuple[str, str], MapEdge] = {}
    for e in risk_map.edges:
        key = (e.source, e.target)
        m = merged.get(key)
        if m is None:
            m = merged[key] = MapEdge(
                source=e.source,
                target=e.target,
                source_name=names.get(e.source, e.source),
                target_name=names.get(e.target, e.target),
                signals=[],
                resources=[],
                kind=e.kind,
            )
        if e.signal not in m.signals:
            m.signals.append(e.signal)
        if e.resource not in m.resources:
            m.resources.append(e.resource)
        if KIND_RANK.get(e.kind, 0) > KIND_RANK.get(m.kind, 0):
            m.kind = e.kind
        m.severity = _worse(m.severity, e.severity)
    return list(merged.values())


def zone_severity(risk_map: RiskMap) -> dict[str, str]:
    """Each loop's worst conflict-zone severity."""
    out: dict[str, str] = {}
    for z in risk_map.conflict_zones:
        for lp in z.loops:
            out[lp] = _worse(out.get(lp), z.severity) or z.severity
    return out


def _wrap(text: str, width: float, lines: int = 2) -> list[str]:
    per = max(4, int(width / CHAR_W))
    words, out, cur = text.split(), [], ""
    for w in words:
        while len(w) > per:  # a word longer than a line is cut
            if cur:
                out.append(cur)
                cur = ""
            out.append(w[:per])
            w = w[per:]
        if not cur:
            cur = w
        elif len(cur) + 1 + len(w) <= per:
            cur += " " + w
        else:
            out.append(cur)
            cur = w
    if cur:
        out.append(cur)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: per - 1].rstrip() + "…"
    return out or [""]


def _clip(text: str, width: float) -> str:
    per = max(4, int(width / CHAR_W))
    return text if len(text) <= per else text[: per - 1].rstrip() + "…"


def build(
    risk_map: RiskMap, layers: list[tuple[str, str]], edges: list[MapEdge] | None = None
) -> SvgMap:
    """Lay out the map. `layers` gives (layer id, label) in reading order; `edges` is
    aggregate(risk_map) when the caller has it already."""
    edges = aggregate(risk_map) if edges is None else edges
    zones = zone_severity(risk_map)
    involved = {e.source for e in edges} | {e.target for e in edges} | set(zones)
    nodes_in = list(risk_map.nodes)
    note = ""
    if len(nodes_in) > MAX_DRAWN:
        nodes_in = [n for n in nodes_in if n.id in involved][:MAX_DRAWN]
        note = (
            f"The picture shows {len(nodes_in)} of {len(risk_map.nodes)} loops (those that "
            "influence or conflict with others first); the tables list every loop and edge."
        )
    drawn = {n.id for n in nodes_in}
    edges = [e for e in edges if e.source in drawn and e.target in drawn]

    known = [lid for lid, _ in layers]
    band_of = {n.id: (n.layer if n.layer in known else "unknown") for n in nodes_in}
    order = [lid for lid in known if lid in band_of.values()]
    if "unknown" in band_of.values() and "unknown" not in order:
        order.append("unknown")
    rows: dict[str, list[str]] = {lid: [] for lid in order}
    for n in nodes_in:
        rows[band_of[n.id]].append(n.id)

    widest = max((len(r) for r in rows.values()), default=1)
    content_w = widest * (NODE_W + GAP_X) + GAP_X
    width = LABEL_W + content_w + MARGIN

    neighbours: dict[str, set[str]] = {n.id: set() for n in nodes_in}
    for e in edges:
        neighbours[e.source].add(e.target)
        neighbours[e.target].add(e.source)

    xs: dict[str, float] = {}

    def place(row: list[str]) -> None:
        span = len(row) * (NODE_W + GAP_X) - GAP_X
        left = LABEL_W + (content_w - span) / 2
        for i, nid in enumerate(row):
            xs[nid] = left + i * (NODE_W + GAP_X)

    for row in rows.values():
        place(row)
    # Barycentre sweeps: order each band by the mean position of its neighbours, which
    # shortens and uncrosses edges. Stable sorting keeps the result deterministic.
    for sweep in range(4):
        for lid in order if sweep % 2 == 0 else list(reversed(order)):
            row = rows[lid]

            def centre(nid: str, row: list[str] = row) -> float:
                near = [xs[m] for m in neighbours[nid] if m not in row]
                return sum(near) / len(near) if near else xs[nid]

            row.sort(key=centre)
            place(row)

    bands, nodes = [], []
    label_of = dict(layers)
    ys: dict[str, float] = {}
    for i, lid in enumerate(order):
        top = TOP + i * BAND_H
        text = label_of.get(lid, "Layer not known")
        bands.append(
            Band(
                layer=lid,
                label=text,
                lines=_wrap(text, LABEL_W - 24, 3),
                y=top,
                h=BAND_H - 8,
                fill=LAYER_TINT.get(lid, UNKNOWN_TINT),
            )
        )
        for nid in rows[lid]:
            ys[nid] = top + (BAND_H - 8 - NODE_H) / 2
    height = TOP + MARGIN + len(order) * BAND_H

    for n in nodes_in:
        sev = zones.get(n.id)
        nodes.append(
            Node(
                id=n.id,
                x=xs[n.id],
                y=ys[n.id],
                lines=_wrap(n.name, NODE_W - 16),
                sub=_clip(f"{n.timescale} · {n.owner}", NODE_W - 16),
                title=f"{n.name} ({n.id}) · layer {n.layer} · owner {n.owner} · "
                f"reacts in {n.timescale}" + (f" · in a {sev} conflict zone" if sev else ""),
                stroke=SEVERITY_COLOUR[sev] if sev else "#7b8794",
                stroke_width=3.0 if sev else 1.2,
                badge=sev.upper() if sev else "",
                badge_fill=SEVERITY_COLOUR[sev] if sev else "",
            )
        )

    paths, markers = _paths(edges, xs, ys, {lid: i for i, lid in enumerate(order)}, band_of)
    legend = [
        LegendItem(
            label="influence: one loop's action triggers another",
            stroke=KIND_COLOUR["influence"],
            width=KIND_WIDTH["influence"],
        ),
        LegendItem(
            label="dashed: part of a feedback cycle",
            stroke=KIND_COLOUR["feedback"],
            width=KIND_WIDTH["feedback"],
            dash=KIND_DASH["feedback"],
        ),
        LegendItem(
            label="thick: carries retry amplification",
            stroke=KIND_COLOUR["amplification"],
            width=KIND_WIDTH["amplification"],
        ),
        *(
            LegendItem(
                label=f"between loops in a {sev} conflict zone",
                stroke=SEVERITY_COLOUR[sev],
                width=2.6,
            )
            for sev in reversed(SEVERITY_ORDER)
        ),
    ]
    conflicts = len(risk_map.conflict_zones)
    description = (
        f"{_count(len(nodes_in), 'control loop')} in {_count(len(order), 'layer')}, "
        f"{_count(len(edges), 'influence link')}, "
        f"{_count(len(risk_map.cycles), 'feedback cycle')}, "
        f"{_count(len(risk_map.amplification_paths), 'amplification path')} and "
        f"{_count(conflicts, 'conflict zone')}."
    )
    return SvgMap(
        width=round(width, 1),
        height=round(height, 1),
        bands=bands,
        nodes=nodes,
        edges=paths,
        markers=markers,
        legend=legend,
        note=note,
        description=description,
    )


def _style(e: MapEdge) -> tuple[str, float, str]:
    colour = SEVERITY_COLOUR[e.severity] if e.severity else KIND_COLOUR.get(e.kind, "#8a97a6")
    width = KIND_WIDTH.get(e.kind, 1.4) + (1.0 if e.severity else 0.0)
    return colour, width, KIND_DASH.get(e.kind, "")


def _paths(
    edges: list[MapEdge],
    xs: dict[str, float],
    ys: dict[str, float],
    band_index: dict[str, int],
    band_of: dict[str, str],
) -> tuple[list[Edge], list[Marker]]:
    pairs = {(e.source, e.target) for e in edges}
    # Decide which side of each node every edge leaves or enters by, then spread the
    # attachment points along that side in the order of the other ends, so edges do not
    # start on top of each other.
    ends: list[tuple[MapEdge, str, str]] = []
    for e in edges:
        bs, bt = band_index[band_of[e.source]], band_index[band_of[e.target]]
        if bt > bs:
            sides = ("bottom", "top")
        elif bt < bs:
            sides = ("top", "bottom")
        else:
            # Same band: one direction arcs above, the reverse (if any) below.
            below = (e.target, e.source) in pairs and e.source > e.target
            sides = ("bottom", "bottom") if below else ("top", "top")
        ends.append((e, sides[0], sides[1]))
    attach: dict[tuple[str, str], list[tuple[float, int, str]]] = {}
    for i, (e, s_side, t_side) in enumerate(ends):
        attach.setdefault((e.source, s_side), []).append((xs[e.target], i, "s"))
        attach.setdefault((e.target, t_side), []).append((xs[e.source], i, "t"))
    point: dict[tuple[int, str], tuple[float, float]] = {}
    for (nid, side), items in attach.items():
        items.sort()
        for k, (_, i, role) in enumerate(items):
            x = xs[nid] + NODE_W * (k + 1) / (len(items) + 1)
            y = ys[nid] + (NODE_H if side == "bottom" else 0)
            point[(i, role)] = (round(x, 1), round(y, 1))

    out, markers = [], {}
    for i, (e, s_side, t_side) in enumerate(ends):
        (x1, y1), (x2, y2) = point[(i, "s")], point[(i, "t")]
        if s_side == t_side:  # same band: an arc above or below
            lift = 26 + min(40, abs(x2 - x1) / 8)
            cy = y1 - lift if s_side == "top" else y1 + lift
            d = f"M{x1},{y1} C{x1},{cy} {x2},{cy} {x2},{y2}"
        else:
            dy = max(24.0, abs(y2 - y1) / 2)
            c1 = y1 + dy if s_side == "bottom" else y1 - dy
            c2 = y2 - dy if t_side == "top" else y2 + dy
            d = f"M{x1},{y1} C{x1},{round(c1, 1)} {x2},{round(c2, 1)} {x2},{y2}"
        colour, width, dash = _style(e)
        marker = "arrow-" + colour.lstrip("#")
        markers[marker] = Marker(id=marker, fill=colour)
        kind = {
            "influence": "influence",
            "feedback": "feedback cycle",
            "amplification": "retry amplification",
        }.get(e.kind, e.kind)
        title = (
            f"{e.source_name} → {e.target_name}: {', '.join(e.signals)} on "
            f"{', '.join(e.resources)} ({kind}"
            + (f"; {e.severity} conflict" if e.severity else "")
            + ")"
        )
        out.append(Edge(d=d, stroke=colour, width=width, dash=dash, marker=marker, title=title))
    # Draw the plain edges first so coloured ones stay on top.
    order = sorted(range(len(out)), key=lambda k: (out[k].stroke != KIND_COLOUR["influence"], k))
    return [out[k] for k in order], sorted(markers.values(), key=lambda m: m.id)
