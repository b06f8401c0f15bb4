"""The risk map as drawn: routed edges that never pass behind a box, named conflicts, the
conflict subgraph of a large map, Mermaid under its size limit, masking edges, and feedback
cycles classified and reported once per set of loops."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from expert.analysis import graph
from expert.analysis.results import ConflictZone, RiskEdge, RiskMap, RiskNode
from expert.assessment import model as assessment
from expert.deliverables import riskmap
from expert.render import mermaid, svgmap
from expert.render.reports import render
from tests.benchmarks.generate import generate
from tests.helpers import builtin_kb, make
from tests.map_geometry import edges_behind_boxes, labels_over_boxes, map_svg, parse
from tests.test_reports_golden import NAMES, assess_model, assessed

LAYERS = [
    ("scheduler", "Cluster scheduler"),
    ("orchestration", "Orchestration"),
    ("runtime", "Runtime"),
    ("model", "Model"),
    ("safety", "Safety"),
]


def _check_geometry(html: str) -> None:
    geo = parse(map_svg(html))
    assert geo.boxes and geo.edges
    assert edges_behind_boxes(geo) == [], "edges pass behind a box that is not their end"
    assert labels_over_boxes(geo) == [], "a conflict's name covers a box"


@pytest.mark.parametrize("name", NAMES)
def test_no_edge_of_an_example_passes_behind_a_box(name: str) -> None:
    results, a = assessed(name)
    html = render("html", results, a)
    _check_geometry(html)
    # Every pair of loops in conflict is named once on the picture, as is every masking edge.
    geo = parse(map_svg(html))
    pairs = svgmap.conflicts_by_pair(results.risk_map)
    masks = [e for e in svgmap.aggregate(results.risk_map) if e.kind == "masks"]
    assert len(geo.labels) == len(pairs) + len(masks) and pairs


def test_the_throttle_and_backfill_conflict_is_named_on_the_map() -> None:
    results, _a = assessed("llm-platform")
    m = svgmap.build(results.risk_map, LAYERS)
    labels = {e.label.text for e in m.edges if e.label}
    assert "Safety throttling vs scheduler backfill" in labels


@pytest.fixture(scope="module")
def generated_30() -> tuple:
    kb = builtin_kb()
    a = assessment.validate(generate(30, seed=1, kb=kb), kb.vocabulary, "<generated 30>")
    return assess_model(a), a


def test_no_edge_of_a_30_loop_map_passes_behind_a_box(generated_30, monkeypatch) -> None:
    results, a = generated_30
    _check_geometry(render("html", results, a))  # the conflict subgraph
    monkeypatch.setattr(svgmap, "SMALL_MAP", 100)  # every loop and every edge
    html = render("html", results, a)
    geo = parse(map_svg(html))
    assert len(geo.boxes) == 30 and len(geo.edges) > 100
    _check_geometry(html)


def _dense(n: int) -> RiskMap:
    """n loops over the five layers, each influencing the next four; two loops in three in
    conflict with the six after them, the rest in none: a worst case for size."""
    layers = [lid for lid, _ in LAYERS]
    nodes = [
        RiskNode(
            id=f"l{i}", name=f"loop {i} " + "é" * 30, layer=layers[i % 5], owner="o", timescale="1s"
        )
        for i in range(n)
    ]
    edges = [
        RiskEdge(
            source=f"l{i}",
            target=f"l{(i + k) % n}",
            signal="load_increase",
            resource="r",
            kind="influence",
        )
        for i in range(n)
        for k in range(1, 5)
    ]
    zones = [
        ConflictZone(
            finding=f"f{i}",
            loops=[f"l{i}", *(f"l{j}" for j in range(i + 1, min(n, i + 7)) if j % 3)],
            severity=("high", "medium", "critical")[i % 3],
            status="confirmed",
            title=f"Pattern number {i % 7} & co <b>",
            pairs=[[f"l{i}", f"l{j}"] for j in range(i + 1, min(n, i + 7)) if j % 3],
        )
        for i in range(n)
        if i % 3
    ]
    return RiskMap(
        nodes=nodes, edges=edges, cycles=[], amplification_paths=[], conflict_zones=zones
    )


@pytest.mark.parametrize("n", [100, 300])
def test_a_large_map_shows_its_conflict_subgraph_and_mermaid_fits(n: int) -> None:
    rm = _dense(n)
    m = svgmap.build(rm, LAYERS)
    in_conflict = {lp for z in rm.conflict_zones for lp in z.loops}
    assert {node.id for node in m.nodes} <= in_conflict
    assert 0 < len(m.nodes) <= svgmap.MAX_DRAWN and 0 < len(m.edges) <= svgmap.MAX_PAIRS
    assert m.scroll and f"leaves out {n - len(m.nodes)} loops" in m.note
    # One line per pair of loops in conflict, each named.
    ends = [tuple(sorted(re.findall(r"loop (\d+) é+ → loop (\d+)", e.title)[0])) for e in m.edges]
    assert len(set(ends)) == len(ends) and all(e.label for e in m.edges)
    text = mermaid.flowchart(rm, LAYERS)
    assert 0 < len(text) < mermaid.MAX_TEXT
    arrows = re.findall(r"^  n\d+ (?:-->|-\.->|==>|---)", text, re.M)
    assert 0 < len(arrows) <= mermaid.MAX_EDGES
    assert text.startswith("---\ntitle:") and "flowchart TB" in text


def test_a_small_map_draws_every_loop_at_page_width() -> None:
    rm = _dense(12)
    m = svgmap.build(rm, LAYERS)
    assert len(m.nodes) == 12 and not m.note and not m.scroll
    assert "leaves out" not in mermaid.flowchart(rm, LAYERS)


def test_a_long_unbroken_name_is_cut_on_the_picture_and_whole_in_its_title() -> None:
    name = "x" * 1999
    rm = RiskMap(
        nodes=[RiskNode(id="a", name=name, layer="runtime", owner="o", timescale="1s")],
        edges=[],
        cycles=[],
        amplification_paths=[],
    )
    m = svgmap.build(rm, LAYERS)
    assert m.width < 1000
    assert all(len(line) <= svgmap.NODE_W / svgmap.CHAR_W for line in m.nodes[0].lines)
    assert name in m.nodes[0].title


def _structure(**kw: object) -> SimpleNamespace:
    base = {
        "edges": [],
        "cycles": [],
        "amplifications": [],
        "cycles_truncated": False,
        "left_out": {},
    }
    return SimpleNamespace(**{**base, **kw})


def test_masking_edges_are_drawn_dotted_and_named() -> None:
    a = make([{"id": "smoother"}, {"id": "reader"}])
    mask = SimpleNamespace(
        source="smoother", target="reader", signal="queue_growth", how="averages"
    )
    vocab = builtin_kb().vocabulary
    rm = riskmap.build(a, _structure(masks=[mask]), [], vocab)
    assert [(e.kind, e.how) for e in rm.edges] == [("masks", "averages")]
    m = svgmap.build(rm, LAYERS)
    (edge,) = m.edges
    assert edge.dash == svgmap.KIND_DASH["masks"] and edge.stroke == svgmap.KIND_COLOUR["masks"]
    # the signal in the vocabulary's words, never its id
    said = f"averages away {vocab.signals['queue_growth'].label}"
    assert edge.label is not None and edge.label.text == said
    assert any("keeps a signal" in item.label for item in m.legend)
    assert said in mermaid.flowchart(rm, LAYERS)
    assert "queue_growth" not in mermaid.flowchart(rm, LAYERS)
    # A structure from before masks existed has no such attribute.
    assert riskmap.build(a, _structure(), []).edges == []
    assert "how" not in rm.edges[0].model_copy(update={"how": None}).model_dump()


def _cycles(loops: list[dict]) -> list:
    a = make(loops)
    s = graph.derive(a, builtin_kb().vocabulary)
    return riskmap.build(a, s, []).cycles


def test_throttle_against_backfill_oscillates() -> None:
    (c,) = _cycles(
        [
            {
                "id": "throttle",
                "actuations": ["throttle"],
                "triggers": ["rate_limit"],
                "acts_on": ["gpus"],
            },
            {
                "id": "backfill",
                "actuations": ["backfill"],
                "triggers": ["idle_capacity"],
                "acts_on": ["gpus"],
            },
        ]
    )
    assert c.kind == "oscillating" and not c.amplifying
    assert dict(zip(c.loops, c.signals, strict=True)) == {
        "throttle": "idle_capacity",
        "backfill": "load_increase",
    }


def test_rejections_against_retries_amplify() -> None:
    (c,) = _cycles(
        [
            {
                "id": "limiter",
                "actuations": ["reject"],
                "triggers": ["rate_limit"],
                "acts_on": ["api"],
            },
            {"id": "retrier", "actuations": ["retry"], "triggers": ["failure"], "acts_on": ["api"]},
        ]
    )
    assert c.kind == "amplifying" and c.amplifying
    assert dict(zip(c.loops, c.signals, strict=True)) == {
        "limiter": "rejection",
        "retrier": "load_increase",
    }


def test_classification_needs_known_directions() -> None:
    vocab = builtin_kb().vocabulary

    def classify(hops: list[list[str]]) -> str:
        return graph.classify(hops, vocab)

    assert classify([["load_increase"], ["task_terminated"]]) == "amplifying"
    assert classify([["idle_capacity"], ["load_increase"]]) == "oscillating"
    assert classify([["load_decrease"], ["capacity_added"]]) == "damping"
    # A hop that can go either way settles nothing, unless the others already change sign.
    assert classify([["load_increase"], ["placement_change"]]) == "unclassified"
    assert classify([["no_such_signal"], ["load_increase"]]) == "unclassified"
    assert classify([["capacity_freed"], ["rejection"], ["deployment"]]) == "oscillating"
    # One reinforcing signal on a hop is enough for the hop to reinforce.
    assert classify([["idle_capacity", "latency_increase"], ["load_increase"]]) == "amplifying"


def test_orderings_of_one_set_of_loops_are_one_cycle() -> None:
    edges = [
        graph.Edge(a, b, "r", "load_increase")
        for a, b in [("a", "b"), ("b", "c"), ("c", "a"), ("a", "c"), ("c", "b"), ("b", "a")]
    ]
    up = "reinforces"
    cycles = [
        graph.Cycle(["a", "b", "c"], [up] * 3, ["load_increase"] * 3),
        graph.Cycle(["a", "c", "b"], [up] * 3, ["load_increase"] * 3),
        graph.Cycle(["a", "b"], [up] * 2, ["load_increase"] * 2),
    ]
    a = make([{"id": "a"}, {"id": "b"}, {"id": "c"}])
    rm = riskmap.build(a, _structure(edges=edges, cycles=cycles), [])
    assert rm.cycles_found == 3
    assert [(sorted(c.loops), c.variants) for c in rm.cycles] == [
        (["a", "b"], 1),
        (["a", "b", "c"], 2),
    ]


@pytest.mark.parametrize("name", ["llm-platform", "training-cluster"])
def test_possible_conflicts_are_drawn_apart_and_every_coloured_loop_is_explained(
    name: str,
) -> None:
    results, _a = assessed(name)
    rm = results.risk_map
    m = svgmap.build(rm, LAYERS)
    pairs = svgmap.conflicts_by_pair(rm)
    pale = svgmap.possible_pairs(pairs, svgmap.possible_conflicts(rm))
    assert pale, "each example has a conflict found only as possible"
    pale_colours = set(svgmap.POSSIBLE_COLOUR.values())
    sure_colours = set(svgmap.SEVERITY_COLOUR.values())
    for e in m.edges:
        if e.stroke in pale_colours:
            assert "possible" in e.title
            assert e.label is None or e.label.text.startswith("possible: ")
        elif e.stroke in sure_colours:
            assert "possible" not in e.title
    assert any(e.stroke in pale_colours for e in m.edges)
    assert any("possible conflict" in item.label for item in m.legend)
    # A loop in a conflict colour is an end of a conflict line, or carries the mark of a
    # conflict found in it alone (said in its tooltip and the legend).
    ends = {lp for p in pairs for lp in p}
    for n in m.nodes:
        if n.badge:
            assert n.id in ends or n.mark == svgmap.ALONE_MARK, n.id
        if n.mark:
            assert "in this loop alone" in n.title
    assert any(item.symbol == svgmap.ALONE_MARK for item in m.legend) == any(
        n.mark for n in m.nodes
    )


def test_the_mermaid_diagram_draws_possible_conflicts_dashed_and_marks_lone_ones() -> None:
    from expert.render import mermaid

    results, _a = assessed("llm-platform")
    text = mermaid.flowchart(results.risk_map, LAYERS)
    assert '|"possible: ' in text
    dashed = [ln for ln in text.splitlines() if "stroke-dasharray" in ln]
    assert dashed and all(any(c in ln for c in svgmap.POSSIBLE_COLOUR.values()) for ln in dashed)
    lone = svgmap.alone(results.risk_map)
    assert lone and text.count(svgmap.ALONE_MARK) == len(lone)
