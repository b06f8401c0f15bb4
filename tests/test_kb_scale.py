"""The knowledge base can grow: any number of valid patterns compiles into rulesets within
the engine's fixed limits, runs, and finds exactly what a brute-force evaluation finds.

Before the compiler split stages into as many rulesets as needed, stage 1 was two fixed
rulesets and a few dozen ordinary patterns in a pack overflowed the engine's 64-slot alpha
stack (an AssertionError, exit 70, even from `kb lint`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from expert.analysis.assess import Assessor
from expert.assessment import model as assessment_mod
from expert.cli.main import main
from expert.engine.compiler import compile_kb
from expert.engine.safety import (
    MAX_ALPHA_STACK,
    MAX_CHILDREN,
    MAX_PATTERNS_PER_CHAIN,
    check_ruleset,
)
from expert.knowledge import knowledgebase as knowledge
from tests.generated_pack import COST, SYMPTOMS, write_pack
from tests.test_fuzz_engine import check_against_oracle

EXAMPLES = Path(__file__).parent.parent / "expert" / "examples"


@pytest.fixture(scope="module")
def big_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pack(tmp_path_factory.mktemp("kb"), 500)


@pytest.fixture(scope="module")
def big_kb(big_pack: Path) -> knowledge.KnowledgeBase:
    return knowledge.load([big_pack])


@pytest.fixture(scope="module")
def big_assessor(big_kb: knowledge.KnowledgeBase) -> Iterator[Assessor]:
    with Assessor(big_kb) as ax:
        yield ax


def test_500_patterns_split_into_rulesets_within_the_engine_limits(
    big_kb: knowledge.KnowledgeBase,
) -> None:
    compiled = compile_kb(big_kb)
    stages = compiled.stages()
    assert len(stages[0]) > 2 and len(stages[1]) > 1  # too many rules for one ruleset each
    for stage in compiled.budget():
        for b in stage:
            assert b.alpha_stack <= MAX_ALPHA_STACK
            assert b.widest_node <= MAX_CHILDREN
            assert b.longest_shared_chain <= MAX_PATTERNS_PER_CHAIN
            assert check_ruleset(b.name, compiled.rulesets[b.name]) == []
    # Every rule is in exactly one ruleset.
    names = [rule for stage in stages for rs in stage for rule in compiled.rulesets[rs]]
    assert len(names) == len(set(names)) == len(compiled.meta)


def test_the_split_is_deterministic(big_pack: Path, big_kb: knowledge.KnowledgeBase) -> None:
    again = compile_kb(knowledge.load([big_pack]))
    first = compile_kb(big_kb)
    assert again.stages() == first.stages()
    assert again.rulesets == first.rulesets
    assert again.key == first.key


@pytest.mark.parametrize("example", ["llm-platform.yaml", "training-cluster.yaml"])
def test_500_patterns_find_what_brute_force_finds(big_assessor: Assessor, example: str) -> None:
    a = assessment_mod.load(EXAMPLES / example, big_assessor.kb.vocabulary)
    want = check_against_oracle(big_assessor, a)
    generated = {rule for rule in want.rule.values() if rule.startswith("gen-0")}
    assert len(generated) > 100  # the oracle agrees on many generated patterns, not on none
    assert set(SYMPTOMS) & set(want.rule.values()) and COST in want.rule.values()


def test_kb_lint_reports_the_budget_of_every_stage(big_pack: Path) -> None:
    out = CliRunner().invoke(main, ["kb", "--kb", str(big_pack), "lint", "--format", "json"])
    assert out.exit_code in (0, 1), out.output  # problems (no cases) but never exit 70
    report = {r["validator"]: r for r in json.loads(out.output)}
    assert report["compile"]["ok"], report["compile"]
    notes = "\n".join(report["compile"]["notes"])
    assert f"of {MAX_ALPHA_STACK}" in notes
    for n in (1, 2, 3):
        assert f"stage {n}: " in notes
    assert re.search(r"stage 1: \d+ rules in \d+ rulesets, largest alpha stack \d+ of 64", notes)


def test_a_rule_too_large_for_any_ruleset_is_a_lint_problem_naming_its_pattern(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No valid pattern of today's grammar makes one rule exceed the limits, so the limit is
    lowered: the compiler must name the patterns instead of failing an assertion."""
    from expert.engine import safety as rulesafety

    monkeypatch.setattr(rulesafety, "MAX_ALPHA_STACK", 1)
    out = CliRunner().invoke(main, ["kb", "lint", "--format", "json"])
    assert out.exit_code == 1, out.output
    report = {r["validator"]: r for r in json.loads(out.output)}
    problems = report["compile"]["problems"]
    assert problems, report["compile"]
    for p in problems:
        assert p["where"].startswith("pattern ")
        assert "exceed the rule engine's fixed limits" in p["message"]
        assert "alpha stack" in p["message"]
        assert p["file"].endswith(p["where"].removeprefix("pattern ") + ".yaml")


def test_one_engine_process_finds_what_two_find(big_assessor: Assessor) -> None:
    """Many rulesets per stage are dealt out to the processes; one process takes them one
    after another and must find the same."""
    from expert.analysis import facts as facts_mod
    from expert.analysis import graph
    from expert.analysis.assess import engine_facts
    from expert.engine.process import EngineProcess

    kb, compiled = big_assessor.kb, big_assessor.compiled
    a = assessment_mod.load(EXAMPLES / "training-cluster.yaml", kb.vocabulary)
    structure = graph.derive(a, kb.vocabulary)
    base = facts_mod.build(a, structure, kb.vocabulary, "a", kb.answer_fields())
    facts = engine_facts(base, compiled)
    with EngineProcess(workers=2) as two, EngineProcess(workers=1) as one:
        found = two.run(compiled, facts, base.loops_of)
        assert all(two.pids)  # both processes were started and given rulesets
        assert one.run(compiled, facts, base.loops_of) == found
    assert found[1] == [] and {f["stage"] for f in found[0]} == {1, 2, 3}
