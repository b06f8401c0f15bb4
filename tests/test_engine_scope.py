"""Only facts some rule could match are built for the engine (Compiled.scopes,
assess.narrowing): leaving out the others changes no firing, and it does leave most pairs of
loops out, which is what makes it worth having."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from expert.analysis import facts as facts_mod
from expert.analysis import graph
from expert.analysis.assess import Assessor, engine_facts, narrowing
from expert.assessment.model import load as load_assessment
from tests.benchmarks.generate import generate
from tests.helpers import builtin_kb

EXAMPLES = Path(__file__).resolve().parent.parent / "expert" / "examples"


@pytest.fixture(scope="module")
def assessor() -> Iterator[Assessor]:
    with Assessor(builtin_kb()) as ax:
        yield ax


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _firings(ax: Assessor, facts: list[dict[str, Any]], loops_of: Any) -> list[Any]:
    firings, errors = ax.engine.run(ax.compiled, facts, loops_of)
    assert errors == []
    return sorted((f["rule"], sorted(f["bound"].items())) for f in firings)


def _base(ax: Assessor, path: Path, narrow: bool = True) -> facts_mod.FactBase:
    a = load_assessment(path, ax.kb.vocabulary)
    structure = graph.derive(a, ax.kb.vocabulary)
    return facts_mod.build(
        a,
        structure,
        ax.kb.vocabulary,
        "a",
        ax.kb.answer_fields(),
        narrow=narrowing(ax.compiled) if narrow else None,
    )


@pytest.mark.parametrize("source", ["llm-platform", "training-cluster", "generated"])
def test_scoped_facts_fire_exactly_what_all_facts_fire(
    assessor: Assessor, tmp_path: Path, source: str
) -> None:
    if source == "generated":
        path = write_yaml(tmp_path / "generated.yaml", generate(120, seed=3, kb=assessor.kb))
    else:
        path = EXAMPLES / f"{source}.yaml"
    narrow, whole = _base(assessor, path), _base(assessor, path, narrow=False)
    scoped = engine_facts(narrow, assessor.compiled)
    everything = engine_facts(whole, assessor.compiled)
    assert len(scoped) < len(everything)
    assert _firings(assessor, scoped, narrow.loops_of) == _firings(
        assessor, everything, whole.loops_of
    )


def test_most_pairs_of_loops_never_reach_the_engine(assessor: Assessor, tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "generated.yaml", generate(300, seed=1, kb=assessor.kb))
    built = Counter(f["kind"] for f in _base(assessor, path, narrow=False).facts.values())
    sent = Counter(f["kind"] for f in engine_facts(_base(assessor, path), assessor.compiled))
    assert sent["pair"] < built["pair"] / 2
    assert sent["loop"] == built["loop"]  # loops are what the others join: all of them go


def test_a_kind_no_scope_narrows_keeps_every_fact(assessor: Assessor, tmp_path: Path) -> None:
    """Loops, resources, the platform, and any kind some binding reads whole (it tests
    nothing of its fact and joins no loop) are built in full: only scoped kinds shrink."""
    path = write_yaml(tmp_path / "generated.yaml", generate(120, seed=2, kb=assessor.kb))
    whole = Counter(f["kind"] for f in _base(assessor, path, narrow=False).facts.values())
    narrow = Counter(f["kind"] for f in _base(assessor, path).facts.values())
    read = assessor.compiled.attrs  # the kinds some rule binds
    unscoped = [kind for kind in whole if kind in read and kind not in assessor.compiled.scopes]
    assert {"loop", "resource", "platform"} <= set(unscoped)
    assert {kind: narrow[kind] for kind in unscoped} == {kind: whole[kind] for kind in unscoped}
    for scopes in assessor.compiled.scopes.values():
        assert all(scope.checks or scope.loops for scope in scopes)


def test_a_kind_no_rule_binds_is_never_built(assessor: Assessor) -> None:
    """No built-in pattern binds a feedback cycle (they are drawn on the risk map): their
    facts are left out while the cycles themselves are still found."""
    assert "cycle" not in assessor.compiled.attrs  # the case this test is about
    path = EXAMPLES / "llm-platform.yaml"
    a = load_assessment(path, assessor.kb.vocabulary)
    assert graph.derive(a, assessor.kb.vocabulary).cycles
    whole = Counter(f["kind"] for f in _base(assessor, path, narrow=False).facts.values())
    narrow = Counter(f["kind"] for f in _base(assessor, path).facts.values())
    assert whole["cycle"] > 0 and narrow["cycle"] == 0


@pytest.mark.parametrize("source", ["llm-platform", "generated"])
def test_each_match_fires_one_rule(assessor: Assessor, tmp_path: Path, source: str) -> None:
    """A pattern's alternatives (one rule per member of a `has_any`) are disjoint: facts that
    hold several members fire the pattern once, not once per member. Every extra firing is
    matched, sent, decoded and explained only to be dropped as a duplicate."""
    if source == "generated":
        path = write_yaml(tmp_path / "generated.yaml", generate(120, seed=3, kb=assessor.kb))
    else:
        path = EXAMPLES / f"{source}.yaml"
    base = _base(assessor, path)
    firings, errors = assessor.engine.run(
        assessor.compiled, engine_facts(base, assessor.compiled), base.loops_of
    )
    assert errors == []
    meta = assessor.compiled.meta
    matches = Counter(
        (f["pattern"], meta[f["rule"]].form, tuple(sorted(f["bound"].items())))
        for f in firings
        if f["stage"] == 1
    )
    assert matches, "nothing fired: the test would prove nothing"
    assert [m for m, n in matches.items() if n > 1] == []
