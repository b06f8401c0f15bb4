"""Reads the risk map's inline SVG back as geometry: loop boxes, edge polylines and label
boxes, and counts edges that pass behind a box that is not one of their ends.

An edge's ends are found from the picture alone (the boxes its first and last points touch),
so the same check measures any drawing of the map, curved or routed.
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

SVG_NS = "{http://www.w3.org/2000/svg}"
Box = tuple[float, float, float, float]  # x0, y0, x1, y1
Point = tuple[float, float]


@dataclass
class MapGeometry:
    boxes: list[Box]
    edges: list[list[Point]]
    labels: list[Box]


def map_svg(html: str) -> str:
    """The risk map's <svg> element out of an HTML report."""
    start = html.index('<div class="map-wrap')
    start = html.index("<svg", start)
    return html[start : html.index("</svg>", start) + len("</svg>")]


def _cubic(p0: Point, p1: Point, p2: Point, p3: Point, steps: int = 24) -> list[Point]:
    out = []
    for i in range(1, steps + 1):
        t = i / steps
        u = 1 - t
        out.append(
            (
                u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0],
                u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1],
            )
        )
    return out


def polyline(d: str) -> list[Point]:
    """An SVG path (absolute M, L, H, V and C commands) as points; curves are sampled."""
    tokens = re.findall(r"[MLHVC]|-?\d+(?:\.\d+)?", d)
    pts: list[Point] = []
    cmd = ""
    i = 0
    while i < len(tokens):
        if tokens[i] in "MLHVC":
            cmd = tokens[i]
            i += 1
            continue
        if cmd in ("M", "L"):
            pts.append((float(tokens[i]), float(tokens[i + 1])))
            i += 2
        elif cmd == "H":
            pts.append((float(tokens[i]), pts[-1][1]))
            i += 1
        elif cmd == "V":
            pts.append((pts[-1][0], float(tokens[i])))
            i += 1
        elif cmd == "C":
            c = [float(t) for t in tokens[i : i + 6]]
            pts += _cubic(pts[-1], (c[0], c[1]), (c[2], c[3]), (c[4], c[5]))
            i += 6
        else:
            raise ValueError(f"unsupported path command {cmd!r} in {d!r}")
    return pts


def parse(svg: str) -> MapGeometry:
    root = ET.fromstring(svg)
    rects = [r for r in root.iter(f"{SVG_NS}rect") if r.get("class") == "loop"]
    if not rects:  # a drawing without classes: a loop's group's first rectangle is its box
        groups = (g for g in root.iter(f"{SVG_NS}g") if not g.get("class"))
        rects = [r for g in groups if (r := g.find(f"{SVG_NS}rect")) is not None]
    boxes: list[Box] = []
    for rect in rects:
        x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
        boxes.append((x, y, x + float(rect.get("width", 0)), y + float(rect.get("height", 0))))
    edges = [
        polyline(p.get("d", ""))
        for p in root.iter(f"{SVG_NS}path")
        if p.get("marker-end") or "edge" in (p.get("class") or "")
    ]
    labels = []
    for r in root.iter(f"{SVG_NS}rect"):
        if "edge-label" in (r.get("class") or ""):
            x, y = float(r.get("x", 0)), float(r.get("y", 0))
            labels.append((x, y, x + float(r.get("width", 0)), y + float(r.get("height", 0))))
    return MapGeometry(boxes, edges, labels)


def _touches(p: Point, b: Box, tol: float = 1.5) -> bool:
    return b[0] - tol <= p[0] <= b[2] + tol and b[1] - tol <= p[1] <= b[3] + tol


def _segment_enters(a: Point, b: Point, box: Box, inset: float = 1.0) -> bool:
    """Whether segment a-b passes through the box's interior (shrunk by `inset`), by
    Liang-Barsky clipping."""
    x0, y0, x1, y1 = box[0] + inset, box[1] + inset, box[2] - inset, box[3] - inset
    dx, dy = b[0] - a[0], b[1] - a[1]
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, a[0] - x0), (dx, x1 - a[0]), (-dy, a[1] - y0), (dy, y1 - a[1])):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return False
    return t1 - t0 > 1e-9


def edges_behind_boxes(geo: MapGeometry) -> list[int]:
    """Indexes of edges with a segment through a box that is neither of their ends."""
    bad = []
    for k, pts in enumerate(geo.edges):
        ends = {i for i, b in enumerate(geo.boxes) if _touches(pts[0], b) or _touches(pts[-1], b)}
        segs = list(itertools.pairwise(pts))
        if any(
            _segment_enters(a, b, box)
            for i, box in enumerate(geo.boxes)
            if i not in ends
            for a, b in segs
        ):
            bad.append(k)
    return bad


def labels_over_boxes(geo: MapGeometry) -> list[int]:
    """Indexes of edge labels that overlap a loop's box."""
    return [
        k
        for k, lb in enumerate(geo.labels)
        if any(lb[0] < b[2] and b[0] < lb[2] and lb[1] < b[3] and b[1] < lb[3] for b in geo.boxes)
    ]
