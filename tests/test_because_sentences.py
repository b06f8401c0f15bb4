"""A finding's "flagged because" states derived facts as sentences from the field registry
(FieldSpec.says), naming the user's loops and resources, never as "field words: value"."""

from __future__ import annotations

from pathlib import Path

import pytest

from expert.analysis.assess import Assessor
from expert.analysis.plainwords import SNAKE
from expert.assessment.fields import FACT_KINDS
from expert.assessment.model import load
from tests.helpers import builtin_kb

EXAMPLES = Path(__file__).resolve().parent.parent / "expert" / "examples"
# The kinds whose because entries are built elsewhere: a loop's own answers are phrased by
# their questions, an edge as "what A does leads to ...", a finding's rule by its title.
PHRASED_ELSEWHERE = {"loop", "edge", "finding"}


def test_every_derived_fact_field_has_its_sentence() -> None:
    for kind, specs in FACT_KINDS.items():
        if kind in PHRASED_ELSEWHERE:
            continue
        for spec in specs:
            if spec.type == "ident":
                continue
            assert spec.says, f"{kind}.{spec.name} has no sentence (FieldSpec.says)"
            if spec.type == "yesno":
                assert len(spec.says) == 2, f"{kind}.{spec.name} needs a yes and a no sentence"
            else:
                assert "{value}" in spec.says[0], f"{kind}.{spec.name} does not say its value"


@pytest.fixture(scope="module")
def because() -> list[tuple[str, str]]:
    kb = builtin_kb()
    out: list[tuple[str, str]] = []
    with Assessor(kb) as assessor:
        for name in ("llm-platform.yaml", "training-cluster.yaml"):
            results = assessor.assess(load(EXAMPLES / name, kb.vocabulary), deliverables=False)
            out += [(b.field, b.said) for f in results.findings for b in f.because]
    return out


def test_derived_facts_read_as_sentences_with_the_users_names(
    because: list[tuple[str, str]],
) -> None:
    said = [s for field, s in because if field.split(".")[0] in FACT_KINDS]
    assert said
    for text in said:
        assert not SNAKE.search(text), text
        assert " vs " not in text and "factor:" not in text and "layers:" not in text, text
    joined = "\n".join(said)
    assert (
        "the deadline of Liveness probe restarts is 0.375x the start-up time of "
        "vLLM model servers" in joined
    )
    assert "retries at 2 layers on the path from Client SDK retries" in joined
    assert "the platform serves inference" in joined


def test_a_field_asked_in_other_words_reads_as_the_question_that_loop_was_asked() -> None:
    # One field (deadline) is a timeout's deadline and a disruptor's grace period: the
    # because-list quotes the question the loop got, not the field's first one.
    from tests.helpers import make

    kueue = {
        "id": "kueue",
        "triggers": ["priority_arrival"],
        "actuations": ["preempt"],
        "acts_on": ["pretrain"],
        "deadline": "30s",
    }
    job = {"id": "pretrain", "kind": "job", "checkpoint_duration": "10m"}
    kb = builtin_kb()
    with Assessor(kb) as assessor:
        results = assessor.assess(make([kueue], [job]), deliverables=False)
    said = [
        b.said
        for f in results.findings
        if f.rule == "grace-period-shorter-than-checkpoint"
        for b in f.because
        if b.field == "deadline"
    ]
    grace = next(q for q in kb.questions_for_field("deadline") if q.id == "loop-grace-period")
    assert said == [f"{grace.text}: 30s"]


def test_a_health_checks_deadline_is_asked_as_its_failure_window() -> None:
    # A liveness probe's deadline is how long its check may fail before the restart: the
    # follow-up asks that, and the probe's template proposes it under that question.
    from interview import flow
    from tests.helpers import make

    kb = builtin_kb()
    probe = {
        "id": "probe",
        "triggers": ["health_check"],
        "actuations": ["restart"],
        "acts_on": ["vllm"],
        "instances": "per_replica",
    }
    vllm = {"id": "vllm", "kind": "model_replica", "startup_time": "5m"}
    with Assessor(kb) as assessor:
        results = assessor.assess(make([probe], [vllm]), deliverables=False)
    asked = {q.id for q in results.open_questions if q.loop == "probe"}
    assert "loop-check-window" in asked
    assert "loop-deadline" not in asked
    assert "loop-check-window" in flow.template_answers(kb, kb.templates["liveness-probe"])
