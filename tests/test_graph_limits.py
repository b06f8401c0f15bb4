"""The influence structure stays near-linear in the input: counted, never timed.

Each input here is small, but large enough that the old quadratic derivation is caught by
what it builds (memory held in reachability sets, pairs and edges kept), not by a clock.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from expert.analysis import graph
from expert.assessment import model as assessment
from tests.benchmarks.generate import chain, crowd
from tests.helpers import builtin_kb, make

KB = builtin_kb()
VOCAB = KB.vocabulary
EXAMPLE = Path(__file__).resolve().parent.parent / "expert" / "examples" / "llm-platform.yaml"


def _derive(doc: dict) -> graph.Structure:
    return graph.derive(assessment.validate(doc, VOCAB, "<generated>"), VOCAB)


def test_a_long_call_chain_builds_no_reachability_set_per_resource() -> None:
    # One descendants and one ancestors set per resource held about 2 x 2000^2 / 2 entries
    # (over 200 MB) for this chain; reachability kept only for loop-bearing resources holds
    # a few dozen.
    a = assessment.validate(chain(2000, 6, kb=KB), VOCAB, "<chain>")
    tracemalloc.start()
    try:
        s = graph.derive(a, VOCAB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"derive held {peak / 2**20:.0f} MB at its peak"
    assert s.amplifications and s.nestings  # the chain's loops still stack along it


def test_reachability_matches_descendants_on_any_call_graph() -> None:
    import networkx as nx

    for seed in range(40):
        g = nx.gnp_random_graph(10, 0.2, seed=seed, directed=True)  # cycles included
        g = nx.relabel_nodes(g, {i: f"r{i}" for i in g})
        marked = {f"r{i}" for i in range(0, 10, 2)}
        got = graph._reach({r: list(g.successors(r)) for r in g}, marked)
        assert got == {r: frozenset(nx.descendants(g, r) & marked) for r in marked}, seed


def test_many_loops_on_one_resource_make_a_bounded_number_of_pairs_and_edges() -> None:
    n = 120  # every ordered pair: 14,280 pair facts
    s = _derive(crowd(n, kb=KB))
    assert len(s.pairs) <= 2 * n * graph.MAX_PARTNERS
    assert s.left_out["pairs"] == n * (n - 1) - len(s.pairs)
    same_resource = [e for e in s.edges if e.resource == "shared"]
    signals = len(VOCAB.terms("signals"))
    assert len(same_resource) <= 2 * n * graph.MAX_PARTNERS * signals
    assert s.left_out["edges"] > 0
    # every loop is still compared with some others, and a pair is kept both ways round
    compared = {p.a for p in s.pairs}
    assert len(compared) == n
    kept = {(p.a, p.b) for p in s.pairs}
    assert all((b, a) in kept for a, b in kept)


def test_the_kept_pairs_are_the_same_in_every_run_and_for_loops_near_in_timescale() -> None:
    doc = crowd(80, seed=3, kb=KB)
    first, second = _derive(doc), _derive(doc)
    assert [(p.a, p.b) for p in first.pairs] == [(p.a, p.b) for p in second.pairs]
    assert [(e.source, e.target, e.signal) for e in first.edges] == [
        (e.source, e.target, e.signal) for e in second.edges
    ]
    # Two loops of the same timescale are among each other's partners when few share it.
    loops = [
        {"id": f"l{i:02}", "timescale": f"{i + 1}h", "acts_on": ["r"]}
        for i in range(3 * graph.MAX_PARTNERS)
    ]
    loops.append({"id": "twin", "timescale": "45h", "acts_on": ["r"]})
    s = graph.derive(make(loops), VOCAB)
    partners = {p.b for p in s.pairs if p.a == "twin"}
    assert "l44" in partners  # the other 45h loop
    assert "l00" not in partners  # 1h: far away in timescale


def test_up_to_the_cap_every_pair_is_kept() -> None:
    n = graph.MAX_PARTNERS + 1
    s = _derive(crowd(n, kb=KB))
    assert len(s.pairs) == n * (n - 1)
    assert "pairs" not in s.left_out


def test_nestings_are_capped_per_outer_loop_keeping_inversions_first() -> None:
    n = graph.MAX_NESTINGS_PER_LOOP + 20
    resources = [{"id": f"r{i}", "calls": [f"r{i + 1}"]} for i in range(n - 1)]
    resources.append({"id": f"r{n - 1}"})
    # The outer loop's 30s deadline is inverted by the 20 deepest loops (60s), not the rest.
    loops = [{"id": "outer", "acts_on": ["r0"], "deadline": "30s"}] + [
        {"id": f"in{i:03}", "acts_on": [f"r{i}"], "deadline": "60s" if i >= n - 20 else "5s"}
        for i in range(1, n)
    ]
    s = graph.derive(make(loops, resources), VOCAB)
    of_outer = [x for x in s.nestings if x.outer == "outer"]
    assert len(of_outer) == graph.MAX_NESTINGS_PER_LOOP
    assert sum(x.inverted == "yes" for x in of_outer) == 20
    assert [x.inner for x in of_outer] == sorted(x.inner for x in of_outer)  # input order
    per_outer: dict[str, int] = {}
    for x in s.nestings:
        per_outer[x.outer] = per_outer.get(x.outer, 0) + 1
    assert max(per_outer.values()) <= graph.MAX_NESTINGS_PER_LOOP
    uncapped = sum(n - 1 - i for i in range(n - 1))
    assert s.left_out["nestings"] == uncapped - len(s.nestings)


def test_what_the_caps_left_out_is_said_in_the_report() -> None:
    from expert.analysis.assess import Assessor
    from expert.render.reports import render

    a = assessment.validate(crowd(40, kb=KB), VOCAB, "<crowd>")
    with Assessor(KB) as ax:
        results = ax.assess(a)
    assert results.risk_map.left_out["pairs of loops on one resource"] > 0
    text = render("markdown", results, a)
    assert "counted but not analysed" in text
    assert "pairs of loops on one resource" in text


def test_networkx_is_loaded_only_for_the_cycle_search() -> None:
    """Validating the call graph, ordering it and chaining retries use the standard library;
    networkx (about 0.12 s to import) is loaded only to search for feedback cycles, which a
    platform with more two-loop cycles than are kept skips (here: none are kept)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from expert.analysis import graph\n"
        "from expert.analysis.assess import load_assessment\n"
        "from expert.knowledge import knowledgebase\n"
        "kb = knowledgebase.load([])\n"
        f"a = load_assessment({str(EXAMPLE)!r}, kb)\n"
        "graph.MAX_CYCLES = 0\n"
        "s = graph.derive(a, kb.vocabulary)\n"
        "print(bool(s.amplifications), s.cycles_truncated, 'networkx' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "True", "False"]
