"""'Does not apply' is an answer: typed as n/a (or picked from a list) where the question may
not apply, it is stored in the item's `not_applicable` list, the question counts as answered,
and any other answer takes it back. Where a question always applies, n/a stays don't know."""

from __future__ import annotations

import pytest
import yaml

from expert.assessment.model import UNKNOWN
from expert.knowledge.knowledgebase import KnowledgeBase
from interview.questions import NOT_APPLICABLE, parse_typed, spec_for
from interview.session import Session
from tests.interview.test_session import question


def _loop(session: Session, loop_id: str) -> dict:
    data = yaml.safe_load(session.path.read_text(encoding="utf-8"))
    return next(lp for lp in data["loops"] if lp["id"] == loop_id)


@pytest.mark.parametrize("typed", ["n/a", "N/A", "not applicable", "doesn't apply"])
def test_typed_words_say_it_where_the_question_may_not_apply(
    kb: KnowledgeBase, four: Session, typed: str
) -> None:
    q = question(kb, "loop", "guards.give_up_after")
    spec = spec_for(q, kb, four.assessment, "gateway-timeout")
    assert spec.allows_not_applicable and "n/a" in spec.how
    assert parse_typed(spec, typed) == NOT_APPLICABLE


def test_where_a_question_always_applies_n_a_is_dont_know(kb: KnowledgeBase, four: Session) -> None:
    q = question(kb, "loop", "target")
    spec = spec_for(q, kb, four.assessment, "gateway-timeout")
    assert not spec.allows_not_applicable
    assert parse_typed(spec, "n/a") == UNKNOWN


def test_it_is_stored_beside_the_field_and_taken_back_by_another_answer(
    kb: KnowledgeBase, four: Session
) -> None:
    q = question(kb, "loop", "retry.jitter")
    four.answer(q, "sdk-retries", NOT_APPLICABLE)
    loop = _loop(four, "sdk-retries")
    assert loop["not_applicable"] == ["retry.jitter"]
    assert "jitter" not in loop["retry"]  # the field itself is left unset
    assert four.value(q, "sdk-retries") == NOT_APPLICABLE  # answered: not asked again
    four.answer(q, "sdk-retries", "yes")
    loop = _loop(four, "sdk-retries")
    assert "not_applicable" not in loop and loop["retry"]["jitter"] == "yes"


def test_a_patterns_own_question_may_not_apply(kb: KnowledgeBase, four: Session) -> None:
    q = next(q for q in kb.questions.values() if q.answer is not None and q.about == "loop")
    assert spec_for(q, kb, four.assessment, "replica-hpa").allows_not_applicable
    four.answer(q, "replica-hpa", NOT_APPLICABLE)
    assert _loop(four, "replica-hpa")["not_applicable"] == [f"answers.{q.id}"]
    assert four.value(q, "replica-hpa") == NOT_APPLICABLE
