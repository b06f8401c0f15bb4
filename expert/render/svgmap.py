"""The Coherence Risk Surface Map as a picture: loops in bands by layer, influence edges
between them, conflict zones coloured by severity and named, feedback cycles dashed, retry
amplification drawn thick, masked signals dotted.

The layout is layered: each layer is a band of one or more rows, and every loop sits on one
grid of columns, so the gaps between rows and between columns are corridors no box stands in.
Edges are routed orthogonally through those corridors (out of a box's top or bottom into the
gap beside it, along it to a column gap, down or up that gap, and along the target's gap into
the target), each segment on its own track, so no edge passes behind a box that is not one of
its ends. A conflict's name sits on a horizontal segment inside a gap, so it never covers a box.

This module computes the geometry (positions, paths, colours) from the risk map; the HTML
template only writes it out as inline SVG, escaping every text. No external program and no
font metrics: text is cut by an average character width, with the full text in <title>.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from expert.analysis.results import ConflictZone, RiskMap, RiskNode
from expert.knowledge.patterns import SEVERITY_ORDER

NODE_W, NODE_H = 196, 58
BADGE_CLEAR = 64  # the width of a box's top edge its severity badge covers, from the right
LABEL_W = 176
MARGIN = 12
CHAR_W = 6.4  # average width of a 12px sans-serif character
LABEL_CHAR_W = 5.6  # the same for the 10.5px edge labels
PER_ROW = 8  # loops in one row of a band; a band with more gets more rows
GAP_X_MIN, GAP_Y_MIN = 34, 30  # the narrowest corridors between columns and rows
TRACK_X, TRACK_Y, TRACK_LABEL = 8, 8, 18  # spacing of parallel segments; a labelled one
SMALL_MAP = 25  # above this many loops the picture keeps only the loops in a conflict
MAX_DRAWN = 80  # and at most this many of those, the worst conflicts first
MAX_PAIRS = 100  # pairs of loops in conflict drawn on a large map, one line each
LABEL_MAX = 48  # characters of a conflict's name on the picture (all of it in the tooltip)

SEVERITY_COLOUR = {
    "critical": "#b3261e",
    "high": "#e8710a",
    "medium": "#c49000",
    "low": "#4f8a2c",
}


def _pale(colour: str) -> str:
    """The colour halfway to white."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{(c + 255) // 2:02x}" for c in rgb)


# A conflict that rests on answers not known yet is drawn paler than a confirmed one.
POSSIBLE_COLOUR = {sev: _pale(c) for sev, c in SEVERITY_COLOUR.items()}
POSSIBLE_WORD = "possible: "  # before a possible conflict's name on its line
ALONE_MARK = "◆"  # on a loop with a conflict in it alone: no second loop, so no line
# Colour says conflict severity; a dash says "part of a feedback cycle"; thickness says
# "carries retry amplification"; dots say "keeps a signal from the loop that reads it". Edges
# outside conflict zones are grey, or magenta when they amplify retries (thickness alone is
# easy to miss). A conflict between loops with no influence between them is drawn as a line
# without an arrow.
KIND_COLOUR = {
    "influence": "#8a97a6",
    "feedback": "#8a97a6",
    "amplification": "#c2185b",
    "masks": "#6b7280",
    "conflict": "#8a97a6",
}
KIND_WIDTH = {
    "influence": 1.4,
    "feedback": 2.0,
    "amplification": 3.4,
    "masks": 1.8,
    "conflict": 1.6,
}
KIND_DASH = {
    "influence": "",
    "feedback": "7 4",
    "amplification": "",
    "masks": "2 4",
    "conflict": "12 3 2 3",
}
KIND_RANK = {"influence": 0, "feedback": 1, "amplification": 2}
MASK_VERB = {"hides": "hides", "delays": "delays", "averages": "averages away"}
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
    kind: str  # amplification > feedback > influence, the strongest; or masks, or conflict
    severity: str | None = None
    how: list[str] = field(default_factory=list)  # masks: "hides <signal>", one per signal


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
    mark: str = Field("", description="ALONE_MARK when a conflict was found in this loop alone")


class EdgeLabel(BaseModel):
    text: str
    title: str
    x: float  # the box around the text
    y: float
    w: float
    h: float = 14
    colour: str


class Edge(BaseModel):
    d: str
    stroke: str
    width: float
    dash: str
    marker: str = Field(description="the arrowhead's marker id; empty for an undirected line")
    title: str
    label: EdgeLabel | None = None


class Marker(BaseModel):
    id: str
    fill: str


class LegendItem(BaseModel):
    label: str
    stroke: str
    width: float
    dash: str = ""
    symbol: str = Field("", description="shown instead of a line sample")


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
    scroll: bool = Field(False, description="shown at natural size in a scrolling box")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


_RANK = {sev: i for i, sev in enumerate(SEVERITY_ORDER)}


def _worse(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return b if _RANK[b] > _RANK[a] else a  # the first of two equals, as max() gives


def aggregate(risk_map: RiskMap) -> list[MapEdge]:
    """One edge per ordered pair of loops, with every signal and resource it carries; masking
    edges apart, as they are drawn in their own style."""
    names = {n.id: n.name for n in risk_map.nodes}
    words = risk_map.signal_labels  # signals in the vocabulary's words, where it has them
    # Each signal's words, looked up once: a large map has a few dozen signals on ten
    # thousand edges.
    said: dict[str, str] = {}
    merged: dict[tuple[str, str, bool], MapEdge] = {}
    for e in risk_map.edges:
        kind = e.kind
        masks = kind == "masks"
        key = (e.source, e.target, masks)
        signal = said.get(e.signal)
        if signal is None:
            signal = said[e.signal] = words.get(e.signal, e.signal.replace("_", " "))
        m = merged.get(key)
        if m is None:  # most pairs have one edge: made whole, with nothing to merge
            m = merged[key] = MapEdge(
                e.source,
                e.target,
                names.get(e.source, e.source),
                names.get(e.target, e.target),
                [signal],
                [e.resource] if e.resource else [],
                kind,
                None if masks else e.severity,
            )
        else:
            if signal not in m.signals:
                m.signals.append(signal)
            if e.resource and e.resource not in m.resources:
                m.resources.append(e.resource)
            if not masks:
                if KIND_RANK.get(kind, 0) > KIND_RANK.get(m.kind, 0):
                    m.kind = kind
                if e.severity is not None:  # no severity leaves the worst so far as it is
                    m.severity = _worse(m.severity, e.severity)
        if masks:
            m.how.append(f"{MASK_VERB.get(e.how or '', e.how or 'masks')} {signal}")
    return list(merged.values())


def zone_severity(risk_map: RiskMap) -> dict[str, str]:
    """Each loop's worst conflict-zone severity."""
    out: dict[str, str] = {}
    for z in risk_map.conflict_zones:
        for lp in z.loops:
            out[lp] = _worse(out.get(lp), z.severity) or z.severity
    return out


def _zone_pairs(z: ConflictZone) -> list[tuple[str, str]]:
    """The pairs of loops (ids sorted) a conflict zone was found between."""
    pairs = z.pairs or [[a, b] for i, a in enumerate(z.loops) for b in z.loops[i + 1 :]]
    return [(a, b) if a < b else (b, a) for a, b in (p for p in pairs if len(p) == 2) if a != b]


Zoned = list[tuple[ConflictZone, list[tuple[str, str]]]]  # each zone with its pairs


def _zoned(risk_map: RiskMap) -> Zoned:
    return [(z, _zone_pairs(z)) for z in risk_map.conflict_zones]


def conflicts_by_pair(
    risk_map: RiskMap, zoned: Zoned | None = None
) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Each conflicting pair of loops (ids sorted) with its conflicts as (severity, title),
    worst first. `zoned` is the zones with their pairs, when the caller has them already."""
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for z, pairs in _zoned(risk_map) if zoned is None else zoned:
        entry = (z.severity, z.title or z.finding)
        for key in pairs:
            listed = out.get(key)
            if listed is None:
                out[key] = [entry]
            elif entry not in listed:
                listed.append(entry)
    for v in out.values():
        if len(v) > 1:
            v.sort(key=lambda st: (-_RANK[st[0]], st[1]))
    return out


def possible_conflicts(
    risk_map: RiskMap, zoned: Zoned | None = None
) -> set[tuple[tuple[str, str], str, str]]:
    """The (pair, severity, title) conflicts found only as possible: no confirmed finding of
    the same conflict between the same loops."""
    sure: set[tuple[tuple[str, str], str, str]] = set()
    maybe: set[tuple[tuple[str, str], str, str]] = set()
    for z, pairs in _zoned(risk_map) if zoned is None else zoned:
        into, sev, title = (
            sure if z.status == "confirmed" else maybe,
            z.severity,
            z.title or z.finding,
        )
        for key in pairs:
            into.add((key, sev, title))
    return maybe - sure


def possible_pairs(
    pairs: dict[tuple[str, str], list[tuple[str, str]]],
    possible: set[tuple[tuple[str, str], str, str]],
) -> set[tuple[str, str]]:
    """The pairs of loops whose every conflict is possible, drawn paler."""
    return {key for key, v in pairs.items() if all((key, sev, t) in possible for sev, t in v)}


def alone(risk_map: RiskMap) -> dict[str, list[str]]:
    """Each loop with a conflict found in it alone (no second loop, so no line to draw), and
    those conflicts in words."""
    out: dict[str, list[str]] = {}
    for z in risk_map.conflict_zones:
        if len(set(z.loops)) == 1:
            sure = "" if z.status == "confirmed" else "possible, "
            out.setdefault(z.loops[0], []).append(f"{z.title or z.finding} ({sure}{z.severity})")
    return out


Selection = tuple[list[RiskNode], list[MapEdge], str]  # what select() gives


@dataclass(slots=True)
class MapCaption:
    """What the map's text says of the picture: a text alternative and what it leaves out."""

    description: str
    note: str


class MapParts:
    """What the picture (`build`) and the Mermaid diagram (`mermaid.flowchart`) both work out
    from a risk map and its merged edges, worked out once: a large map has thousands of
    conflict zones and ten thousand edges, and a report reads them for both."""

    def __init__(self, risk_map: RiskMap, edges: list[MapEdge] | None = None) -> None:
        self.risk_map = risk_map
        self.edges = aggregate(risk_map) if edges is None else edges
        zoned = _zoned(risk_map)
        self.zones = zone_severity(risk_map)
        self.pairs = conflicts_by_pair(risk_map, zoned)
        self.maybe = possible_conflicts(risk_map, zoned)
        self.pale = possible_pairs(self.pairs, self.maybe)
        self.lone = alone(risk_map)
        self._selected: dict[int, Selection] = {}

    def select(self, limit: int = MAX_DRAWN) -> Selection:
        """`select` for at most `limit` loops (its lists are shared: read them, never change
        them)."""
        out = self._selected.get(limit)
        if out is None:
            out = self._selected[limit] = select(self.risk_map, self.edges, self.pairs, limit)
        return out

    def caption(self, layers: list[tuple[str, str]]) -> MapCaption:
        """The picture's description and note, without laying it out (Markdown shows them
        above the diagram)."""
        nodes_in, edges, note = self.select()
        _, order = _bands([lid for lid, _ in layers], nodes_in)
        return MapCaption(_description(self.risk_map, nodes_in, order, edges), note)


def _bands(known: list[str], nodes: list[RiskNode]) -> tuple[dict[str, str], list[str]]:
    """Each drawn loop's band (its layer, or "unknown"), and the bands in reading order."""
    band_of = {n.id: (n.layer if n.layer in known else "unknown") for n in nodes}
    order = [lid for lid in known if lid in band_of.values()]
    if "unknown" in band_of.values() and "unknown" not in order:
        order.append("unknown")
    return band_of, order


def _description(
    risk_map: RiskMap, nodes_in: list[RiskNode], order: list[str], edges: list[MapEdge]
) -> str:
    """A text alternative for the picture."""
    return (
        f"{_count(len(nodes_in), 'control loop')} in {_count(len(order), 'layer')}, "
        f"{_count(sum(e.kind not in ('conflict', 'masks') for e in edges), 'influence link')}, "
        f"{_count(len(risk_map.cycles), 'feedback cycle')}, "
        f"{_count(len(risk_map.amplification_paths), 'amplification path')} and "
        f"{_count(len(risk_map.conflict_zones), 'conflict zone')}."
    )


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


def _clip(text: str, width: float, char_w: float = CHAR_W) -> str:
    per = max(4, int(width / char_w))
    return text if len(text) <= per else text[: per - 1].rstrip() + "…"


def select(
    risk_map: RiskMap,
    edges: list[MapEdge],
    pairs: dict[tuple[str, str], list[tuple[str, str]]],
    limit: int = MAX_DRAWN,
) -> tuple[list[RiskNode], list[MapEdge], str]:
    """The loops and edges to draw (conflict lines included), and a note on what is left out.
    A small map draws every loop and edge. A large one draws the conflict subgraph: one line
    for each pair of loops in conflict, the worst conflicts first, up to MAX_PAIRS pairs among
    at most `limit` loops."""
    nodes = list(risk_map.nodes)
    known = {n.id for n in nodes}
    pairs = {p: v for p, v in pairs.items() if p[0] in known and p[1] in known}
    if len(nodes) <= SMALL_MAP:
        return nodes, with_conflict_links(edges, nodes, pairs), ""
    ranked = sorted(pairs, key=lambda p: (-_RANK[pairs[p][0][0]], -len(pairs[p]), p))
    keep: set[str] = set()
    fighting: list[tuple[str, str]] = []
    for a, b in ranked:
        if len(fighting) == MAX_PAIRS:
            break
        if len(keep | {a, b}) <= limit:
            keep |= {a, b}
            fighting.append((a, b))
    # One line per pair: the edge the conflict is marked on, else any edge between the two.
    line: dict[tuple[str, str], MapEdge] = {}
    for e in edges:  # ten thousand on a large map: the pair sorted without min and max
        key = (e.source, e.target) if e.source <= e.target else (e.target, e.source)
        if (
            e.kind != "masks"
            and key in pairs
            and (key not in line or (e.severity and not line[key].severity))
        ):
            line[key] = e
    drawn = [n for n in nodes if n.id in keep]
    kept = with_conflict_links(
        [line[p] for p in fighting if p in line], drawn, {p: pairs[p] for p in fighting}
    )
    in_conflict = {lp for p in pairs for lp in p}
    worst = ""
    if len(fighting) < len(pairs):
        worst = (
            f" ({len(fighting)} of the {len(pairs)} pairs in conflict, the worst first, so "
            f"{_count(len(in_conflict) - len(drawn), 'loop')} in a conflict are not drawn)"
        )
    note = (
        f"With {len(nodes)} loops the picture shows only the loops in a conflict and one line "
        f"for each pair of them{worst}: it draws {_count(len(drawn), 'loop')} and leaves out "
        f"{_count(len(nodes) - len(drawn), 'loop')}. The tables list every loop and edge."
    )
    return drawn, kept, note


def with_conflict_links(
    edges: list[MapEdge],
    nodes: list[RiskNode],
    pairs: dict[tuple[str, str], list[tuple[str, str]]],
) -> list[MapEdge]:
    """The edges between drawn loops, plus a line for each conflict between two drawn loops
    that do not influence each other, so every pair that fights is visible."""
    names = {n.id: n.name for n in nodes}
    out = [e for e in edges if e.source in names and e.target in names and e.source != e.target]
    linked = {(min(e.source, e.target), max(e.source, e.target)) for e in out}
    for (a, b), conflicts in pairs.items():
        if a in names and b in names and (a, b) not in linked:
            out.append(MapEdge(a, b, names[a], names[b], [], [], "conflict", conflicts[0][0]))
    return out


def labelled_edges(
    edges: list[MapEdge],
    pairs: dict[tuple[str, str], list],
    possible: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
) -> dict[int, str]:
    """Which edge carries each conflicting pair's name: the first between the two loops that
    is marked with the conflict, else the first between them. Edge index -> pair's name, said
    to be possible for a pair in `possible`."""
    first: dict[tuple[str, str], int] = {}
    for i, e in enumerate(edges):
        key = (min(e.source, e.target), max(e.source, e.target))
        if (key in pairs and e.kind != "masks") and (
            key not in first or (e.severity and not edges[first[key]].severity)
        ):
            first[key] = i
    out = {}
    for key, i in first.items():
        conflicts = pairs[key]
        more = f" +{len(conflicts) - 1}" if len(conflicts) > 1 else ""
        word = POSSIBLE_WORD if key in possible else ""
        out[i] = _clip(word + conflicts[0][1], LABEL_MAX * LABEL_CHAR_W, LABEL_CHAR_W) + more
    return out


@dataclass(slots=True)
class _Route:
    edge: MapEdge
    s_side: str
    t_side: str
    gs: int  # the row gap the edge leaves into
    gt: int  # the row gap it arrives from
    col_gap: int = -1  # the column gap it runs along, when gs != gt
    xs: float = 0.0
    xt: float = 0.0
    vx: float = 0.0
    v_track: int = 0
    h_tracks: dict[int, int] = field(default_factory=dict)  # row gap -> track
    label: str = ""
    label_title: str = ""
    label_seg: int = -1  # the row gap whose segment carries the label
    label_x: float = 0.0


def _tracks(intervals: list[tuple[float, float, int]]) -> dict[int, int]:
    """Greedy interval colouring: each (start, end, key) gets the lowest track free of every
    overlapping interval (ends touching count as overlapping)."""
    ends: list[float] = []  # per track, the end of its last interval
    out: dict[int, int] = {}
    for start, end, key in sorted(intervals):
        for t, last in enumerate(ends):
            if last < start:
                ends[t] = end
                out[key] = t
                break
        else:
            out[key] = len(ends)
            ends.append(end)
    return out


def build(
    risk_map: RiskMap,
    layers: list[tuple[str, str]],
    edges: list[MapEdge] | None = None,
    parts: MapParts | None = None,
) -> SvgMap:
    """Lay out the map. `layers` gives (layer id, label) in reading order; `edges` is
    aggregate(risk_map), and `parts` MapParts(risk_map, edges), when the caller has them
    already."""
    parts = MapParts(risk_map, edges) if parts is None else parts
    zones, pairs, maybe, pale, lone = parts.zones, parts.pairs, parts.maybe, parts.pale, parts.lone
    nodes_in, edges, note = parts.select()

    band_of, order = _bands([lid for lid, _ in layers], nodes_in)
    members: dict[str, list[str]] = {lid: [] for lid in order}
    for n in nodes_in:
        members[band_of[n.id]].append(n.id)
    _order_bands(members, order, edges)

    # Rows on one grid of columns: a band's loops fill rows of PER_ROW, each row centred.
    rows: list[list[str]] = []
    band_rows: list[tuple[str, int, int]] = []  # layer, first row, last row
    for lid in order:
        first = len(rows)
        ids = members[lid]
        for k in range(0, len(ids), PER_ROW):
            rows.append(ids[k : k + PER_ROW])
        band_rows.append((lid, first, len(rows) - 1))
    n_cols = max((len(r) for r in rows), default=1)
    row_of: dict[str, int] = {}
    col_of: dict[str, int] = {}
    for row_n, row in enumerate(rows):
        start = (n_cols - len(row)) // 2
        for c, nid in enumerate(row):
            row_of[nid], col_of[nid] = row_n, start + c

    routes = _route(edges, row_of, col_of, pairs, n_cols, maybe, pale)
    # Column gaps: as wide as their tracks need.
    v_tracks = _tracks(
        [(min(r.gs, r.gt), max(r.gs, r.gt), i) for i, r in enumerate(routes) if r.col_gap >= 0]
    )
    per_gap = [0] * (n_cols + 1)
    for i, r in enumerate(routes):
        if r.col_gap >= 0:
            r.v_track = v_tracks[i]
            per_gap[r.col_gap] = max(per_gap[r.col_gap], r.v_track + 1)
    gap_w = [max(GAP_X_MIN, (t + 1) * TRACK_X) for t in per_gap]
    col_x = []
    x = float(LABEL_W)
    for c in range(n_cols):
        x += gap_w[c]
        col_x.append(x)
        x += NODE_W
    width = x + gap_w[n_cols] + MARGIN
    xs = {nid: col_x[col_of[nid]] for nid in col_of}
    _attach(routes, xs, col_of)
    for r in routes:
        if r.col_gap >= 0:
            left = col_x[r.col_gap] - gap_w[r.col_gap] if r.col_gap < n_cols else x
            r.vx = round(left + gap_w[r.col_gap] * (r.v_track + 1) / (per_gap[r.col_gap] + 1), 1)

    # Row gaps: each horizontal segment (labels included) gets a track; a gap is as tall as
    # its tracks.
    row_gap_h, track_y = _row_gaps(routes, len(rows), width)
    row_y: list[float] = []
    y = float(MARGIN)
    gap_top: list[float] = []
    for g in range(len(rows) + 1):
        gap_top.append(y)
        y += row_gap_h[g]
        if g < len(rows):
            row_y.append(y)
            y += NODE_H
    height = y + MARGIN
    ys = {nid: row_y[row_of[nid]] for nid in row_of}

    label_of = dict(layers)
    bands = []
    for lid, first, last in band_rows:
        # A band reaches halfway into the gaps that separate it from its neighbours.
        top = gap_top[first] + (row_gap_h[first] / 2 if first else 0) + 2
        end = last + 1
        bottom = gap_top[end] + row_gap_h[end] * (0.5 if end < len(rows) else 1.0)
        text = label_of.get(lid, "Layer not known")
        bands.append(
            Band(
                layer=lid,
                label=text,
                lines=_wrap(text, LABEL_W - 24, 3),
                y=round(top, 1),
                h=round(bottom - top - 2, 1),
                fill=LAYER_TINT.get(lid, UNKNOWN_TINT),
            )
        )

    nodes = []
    for n in nodes_in:
        sev = zones.get(n.id)
        within = lone.get(n.id, [])
        nodes.append(
            Node(
                id=n.id,
                x=round(xs[n.id], 1),
                y=round(ys[n.id], 1),
                lines=_wrap(n.name, NODE_W - 16),
                # Room at the right for the mark of a conflict in this loop alone.
                sub=_clip(f"{n.timescale} · {n.owner}", NODE_W - (34 if within else 16)),
                title=f"{n.name} ({n.id}) · layer {n.layer} · owner {n.owner} · "
                f"reacts in {n.timescale}"
                + (f" · in a {sev} conflict zone" if sev else "")
                + (
                    f" · {ALONE_MARK} a conflict in this loop alone: {'; '.join(within)}"
                    if within
                    else ""
                ),
                mark=ALONE_MARK if within else "",
                stroke=SEVERITY_COLOUR[sev] if sev else "#7b8794",
                stroke_width=3.0 if sev else 1.2,
                badge=sev.upper() if sev else "",
                badge_fill=SEVERITY_COLOUR[sev] if sev else "",
            )
        )

    paths, markers = _paths(routes, ys, gap_top, track_y, pale)
    legend = _legend(edges, pale, any(n.mark for n in nodes))
    description = _description(risk_map, nodes_in, order, edges)
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
        scroll=bool(note) or width > 2000,
    )


def _order_bands(members: dict[str, list[str]], order: list[str], edges: list[MapEdge]) -> None:
    """Barycentre sweeps: order each band by the mean position of its neighbours in other
    bands, which shortens and uncrosses edges. Stable sorting keeps it deterministic."""
    neighbours: dict[str, set[str]] = {nid: set() for ids in members.values() for nid in ids}
    for e in edges:
        neighbours[e.source].add(e.target)
        neighbours[e.target].add(e.source)
    pos: dict[str, float] = {}

    def place(ids: list[str]) -> None:
        for i, nid in enumerate(ids):
            pos[nid] = (i % PER_ROW) - min(PER_ROW, len(ids)) / 2

    for ids in members.values():
        place(ids)
    for sweep in range(4):
        for lid in order if sweep % 2 == 0 else list(reversed(order)):
            ids = members[lid]
            own = set(ids)

            def centre(nid: str, own: set[str] = own) -> float:
                near = [pos[m] for m in neighbours[nid] if m not in own]
                return sum(near) / len(near) if near else pos[nid]

            ids.sort(key=centre)
            place(ids)


def _route(
    edges: list[MapEdge],
    row_of: dict[str, int],
    col_of: dict[str, int],
    pairs: dict[tuple[str, str], list[tuple[str, str]]],
    n_cols: int,
    maybe: set[tuple[tuple[str, str], str, str]],
    pale: set[tuple[str, str]],
) -> list[_Route]:
    """Which sides each edge leaves and enters by, the row gaps it runs in, and the column gap
    it crosses rows in (chosen among those between its ends, the least used first)."""
    directed = {(e.source, e.target) for e in edges}
    used = [0] * (n_cols + 1)
    labels = labelled_edges(edges, pairs, pale)
    out = []
    for i, e in enumerate(edges):
        rs, rt = row_of[e.source], row_of[e.target]
        if rt > rs:
            s_side, t_side = "bottom", "top"
        elif rt < rs:
            s_side, t_side = "top", "bottom"
        else:  # same row: one direction through the gap above, the reverse (if any) below
            below = (e.target, e.source) in directed and e.source > e.target
            s_side = t_side = "bottom" if below else "top"
        gs = rs + 1 if s_side == "bottom" else rs
        gt = rt if t_side == "top" else rt + 1
        r = _Route(e, s_side, t_side, gs, gt)
        if gs != gt:
            cs, ct = col_of[e.source], col_of[e.target]
            lo, hi = (cs + 1, ct) if cs < ct else (ct + 1, cs) if ct < cs else (cs, cs + 1)
            mid = (cs + ct + 1) / 2
            r.col_gap = min(range(lo, hi + 1), key=lambda k: (used[k], abs(k - mid), k))
            used[r.col_gap] += 1
        key = (min(e.source, e.target), max(e.source, e.target))
        if e.kind == "masks":
            r.label = _clip("; ".join(e.how), LABEL_MAX * LABEL_CHAR_W, LABEL_CHAR_W)
            r.label_title = f"{e.source_name} {'; '.join(e.how)} from {e.target_name}"
        elif i in labels:  # one name per pair of loops in conflict
            r.label = labels[i]
            r.label_title = "; ".join(
                f"{t} ({'possible, ' if (key, sev, t) in maybe else ''}{sev})"
                for sev, t in pairs[key]
            )
        out.append(r)
    return out


def _attach(routes: list[_Route], xs: dict[str, float], col_of: dict[str, int]) -> None:
    """Spread the points where edges meet a box's side along it, in the order of their other
    ends, so edges do not start on top of each other."""
    # the other end's column: half-way between two columns for an edge run down a gap
    at: dict[tuple[str, str], list[tuple[float, int, int, str]]] = {}
    for i, r in enumerate(routes):
        e = r.edge
        toward = col_of[e.target] if r.col_gap < 0 else r.col_gap - 0.5
        back = col_of[e.source] if r.col_gap < 0 else r.col_gap - 0.5
        at.setdefault((e.source, r.s_side), []).append((toward, i, 0, "s"))
        at.setdefault((e.target, r.t_side), []).append((back, i, 1, "t"))
    for (nid, side), items in at.items():
        items.sort()
        # The top side keeps clear of the severity badge in the box's top-right corner.
        span = NODE_W - BADGE_CLEAR if side == "top" else NODE_W
        for k, (_, i, _, role) in enumerate(items):
            x = round(xs[nid] + span * (k + 1) / (len(items) + 1), 1)
            if role == "s":
                routes[i].xs = x
            else:
                routes[i].xt = x


def _segments(r: _Route) -> list[tuple[int, float, float]]:
    """The horizontal segments of a route: (row gap, x from, x to)."""
    if r.col_gap < 0:
        return [(r.gs, r.xs, r.xt)]
    return [(r.gs, r.xs, r.vx), (r.gt, r.vx, r.xt)]


def _row_gaps(
    routes: list[_Route], n_rows: int, width: float
) -> tuple[list[float], dict[tuple[int, int], float]]:
    """Tracks for the horizontal segments of each row gap, labels included; the gaps' heights
    and each (route, row gap)'s offset from the top of its gap."""
    per_gap: dict[int, list[tuple[float, float, int]]] = {}
    for i, r in enumerate(routes):
        segs = _segments(r)
        if r.label:
            g, a, b = max(segs, key=lambda s: abs(s[2] - s[1]))
            w = len(r.label) * LABEL_CHAR_W + 10
            centre = min(max((a + b) / 2, LABEL_W + w / 2 + 4), width - MARGIN - w / 2)
            r.label_seg, r.label_x = g, round(centre - w / 2, 1)
        for g, a, b in segs:
            lo, hi = min(a, b), max(a, b)
            if r.label and g == r.label_seg:
                lo = min(lo, r.label_x - 6)
                hi = max(hi, r.label_x + len(r.label) * LABEL_CHAR_W + 16)
            per_gap.setdefault(g, []).append((lo, hi, i))
    heights = [float(GAP_Y_MIN)] * (n_rows + 1)
    offset: dict[tuple[int, int], float] = {}
    for g, intervals in per_gap.items():
        tracks = _tracks(intervals)
        n = max(tracks.values()) + 1
        tall = [TRACK_Y] * n
        for i, t in tracks.items():
            if routes[i].label and routes[i].label_seg == g:
                tall[t] = TRACK_LABEL
        tops = [12.0]
        for h in tall:
            tops.append(tops[-1] + h)
        for i, t in tracks.items():
            routes[i].h_tracks[g] = t
            offset[(i, g)] = tops[t] + tall[t] / 2
        heights[g] = max(float(GAP_Y_MIN), tops[-1] + 10)
    return heights, offset


def _style(e: MapEdge, pale: bool = False) -> tuple[str, float, str]:
    if e.kind == "masks":
        return KIND_COLOUR["masks"], KIND_WIDTH["masks"], KIND_DASH["masks"]
    colours = POSSIBLE_COLOUR if pale else SEVERITY_COLOUR
    colour = colours[e.severity] if e.severity else KIND_COLOUR.get(e.kind, "#8a97a6")
    width = KIND_WIDTH.get(e.kind, 1.4) + (1.0 if e.severity else 0.0)
    return colour, width, KIND_DASH.get(e.kind, "")


_KIND_WORDS = {
    "influence": "influence",
    "feedback": "feedback cycle",
    "amplification": "retry amplification",
    "masks": "masks a signal",
    "conflict": "conflict, no influence between them",
}


def _paths(
    routes: list[_Route],
    ys: dict[str, float],
    gap_top: list[float],
    offset: dict[tuple[int, int], float],
    pale: set[tuple[str, str]],
) -> tuple[list[Edge], list[Marker]]:
    out, markers = [], {}
    for i, r in enumerate(routes):
        e = r.edge
        possible = (min(e.source, e.target), max(e.source, e.target)) in pale
        y1 = ys[e.source] + (NODE_H if r.s_side == "bottom" else 0)
        y2 = ys[e.target] + (NODE_H if r.t_side == "bottom" else 0)
        hs = round(gap_top[r.gs] + offset[(i, r.gs)], 1)
        pts = [(r.xs, round(y1, 1)), (r.xs, hs)]
        if r.col_gap >= 0:
            ht = round(gap_top[r.gt] + offset[(i, r.gt)], 1)
            pts += [(r.vx, hs), (r.vx, ht), (r.xt, ht)]
        else:
            pts.append((r.xt, hs))
        pts.append((r.xt, round(y2, 1)))
        dedup = [p for k, p in enumerate(pts) if k == 0 or p != pts[k - 1]]
        d = "M" + " L".join(f"{x},{y}" for x, y in dedup)
        colour, width, dash = _style(e, possible)
        marker = ""
        if e.kind != "conflict":
            marker = "arrow-" + colour.lstrip("#")
            markers[marker] = Marker(id=marker, fill=colour)
        what = ", ".join(e.signals) + (f" on {', '.join(e.resources)}" if e.resources else "")
        title = (
            f"{e.source_name} → {e.target_name}: "
            + (f"{what} (" if what else "(")
            + _KIND_WORDS.get(e.kind, e.kind)
            + (f"; {'possible ' if possible else ''}{e.severity} conflict" if e.severity else "")
            + ")"
        )
        label = None
        if r.label:
            ly = gap_top[r.label_seg] + offset[(i, r.label_seg)]
            label = EdgeLabel(
                text=r.label,
                title=r.label_title,
                x=r.label_x,
                y=round(ly - 7, 1),
                w=round(len(r.label) * LABEL_CHAR_W + 10, 1),
                colour=colour if e.kind != "masks" else "#4b5563",
            )
        out.append(
            Edge(
                d=d, stroke=colour, width=width, dash=dash, marker=marker, title=title, label=label
            )
        )
    # Draw the plain edges first so coloured ones stay on top.
    order = sorted(range(len(out)), key=lambda k: (out[k].stroke != KIND_COLOUR["influence"], k))
    return [out[k] for k in order], sorted(markers.values(), key=lambda m: m.id)


# What each kind of line means, in legend order; the last three only where the map has one.
# (Inside a conflict zone an amplifying line takes the zone's colour and stays thick.)
_LEGEND = [
    ("influence", "influence: one loop's action triggers another"),
    ("feedback", "dashed: part of a feedback cycle"),
    ("amplification", "thick: carries retry amplification (magenta outside a conflict zone)"),
    ("masks", "dotted: keeps a signal from the loop that reads it"),
    ("conflict", "no arrow: a conflict between loops that do not trigger each other"),
]
_ALWAYS = {"influence", "feedback"}


def _legend(edges: list[MapEdge], pale: set[tuple[str, str]], marked: bool) -> list[LegendItem]:
    kinds = {e.kind for e in edges}
    items = [
        LegendItem(label=label, stroke=KIND_COLOUR[k], width=KIND_WIDTH[k], dash=KIND_DASH[k])
        for k, label in _LEGEND
        if k in _ALWAYS or k in kinds
    ]
    items += [
        LegendItem(
            label=f"between loops in a {sev} conflict zone (named on the line)",
            stroke=SEVERITY_COLOUR[sev],
            width=2.6,
        )
        for sev in reversed(SEVERITY_ORDER)
    ]
    drawn = {(min(e.source, e.target), max(e.source, e.target)) for e in edges if e.severity}
    if drawn & pale:
        items.append(
            LegendItem(
                label=f'paler, named "{POSSIBLE_WORD.strip()}": a possible conflict, resting on '
                "answers not known yet",
                stroke=POSSIBLE_COLOUR["high"],
                width=2.6,
            )
        )
    if marked:
        items.append(
            LegendItem(
                label="on a loop: a conflict found in that loop alone, so no line is drawn for "
                "it (its colour is the loop's border; hover the loop to read it)",
                stroke=SEVERITY_COLOUR["high"],
                width=0,
                symbol=ALONE_MARK,
            )
        )
    return items
