"""The contained engine: correct on repeated runs in one worker, and free of known hazards."""

from __future__ import annotations

import ast
from pathlib import Path

from expert.analysis.assess import Assessor
from tests.helpers import builtin_kb, make

CHILD = Path(__file__).resolve().parent.parent / "expert" / "engine" / "child.py"


def test_child_never_calls_unsafe_engine_methods() -> None:
    # delete_state segfaults after an unhandled assert or a partial join; when_any/none are
    # wrong (study + tests/conformance). The child must never use them.
    calls = {
        node.func.attr
        for node in ast.walk(ast.parse(CHILD.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not calls & {"delete_state", "delete_ruleset", "retract_fact", "post", "assert_facts"}


def test_child_disables_the_timer_threads() -> None:
    assert "def _run(self) -> None:" in CHILD.read_text()


def test_repeated_runs_in_one_worker_stay_correct() -> None:
    """Unhandled facts and partial joins in every run: the shape that crashed delete_state."""
    quiet = make(
        [
            {
                "id": "t",
                "owner": "edge",
                "timescale": "30s",
                "decision_record": "reasoned",
                "objective": "protection",
                "deadline": "30s",
                "triggers": ["timeout"],
                "actuations": ["terminate"],
                "acts_on": ["api"],
            }
        ],
        [{"id": "api", "kind": "service"}],
    )
    noisy = make(
        [
            {"id": "t", "objective": "protection", "actuations": ["terminate"], "acts_on": ["api"]},
            {
                "id": "r",
                "triggers": ["failure"],
                "actuations": ["retry"],
                "acts_on": ["api"],
                "retry": {"retries_on": ["timeout"]},
            },
        ]
    )
    with Assessor(builtin_kb()) as ax:
        first_pid = None
        for i in range(30):
            q, n = ax.assess(quiet), ax.assess(noisy)
            first_pid = first_pid or ax.engine.pid
            assert q.findings == [] and q.engine_errors == []
            assert "shutdown-vs-retry" in {f.rule for f in n.findings}, i
        assert ax.engine.pid == first_pid  # one worker served every run


def test_one_engine_process_finds_what_two_find() -> None:
    # On one core the engine runs in one process, which then serves both halves of stage 1
    # in turn; the findings must not depend on how many processes there are.
    from expert.assessment.model import load as load_assessment
    from expert.engine.process import EngineProcess

    kb = builtin_kb()
    root = Path(__file__).resolve().parent.parent / "expert" / "examples"
    for example in ("llm-platform.yaml", "training-cluster.yaml"):
        a = load_assessment(root / example, kb.vocabulary)
        with (
            Assessor(kb, EngineProcess(workers=2)) as two,
            Assessor(kb, EngineProcess(workers=1)) as one,
        ):
            want = two.assess(a).findings
            assert want and one.assess(a).findings == want
            assert one.assess(a).findings == want  # and again, on the warm process
            assert len([p for p in one.engine.pids if p]) == 1


def test_a_failed_exchange_leaves_no_stale_reply_for_the_next_run() -> None:
    # A request that cannot be sent (here: a fact JSON cannot encode, bound for the second
    # process only) must not leave the first process's reply unread, to be taken as the
    # answer to the next run's request.
    import pytest

    from expert.analysis import facts as facts_mod
    from expert.analysis import graph
    from expert.analysis.assess import engine_facts
    from expert.assessment.model import load as load_assessment

    kb = builtin_kb()
    root = Path(__file__).resolve().parent.parent / "expert" / "examples"
    a = load_assessment(root / "llm-platform.yaml", kb.vocabulary)
    structure = graph.derive(a, kb.vocabulary)
    base = facts_mod.build(a, structure, kb.vocabulary, "a", kb.answer_fields())
    with Assessor(kb) as ax:
        facts = engine_facts(base, ax.compiled)
        want = ax.engine.run(ax.compiled, facts, base.loops_of)
        bad = [dict(f, signal={"a set"}) if f["kind"] == "edge" else f for f in facts]
        with pytest.raises(TypeError):
            ax.engine.run(ax.compiled, bad, base.loops_of)
        assert ax.engine.run(ax.compiled, facts, base.loops_of) == want
