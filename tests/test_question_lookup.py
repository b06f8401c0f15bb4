"""KnowledgeBase.question_for_field answers from a lookup built once; it must give what a
walk over every question in (priority, id) order gives, and follow edits to the questions."""

from __future__ import annotations

from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.patterns import Question


def _walk(kb: knowledge.KnowledgeBase, fieldname: str) -> Question | None:
    for q in sorted(kb.questions.values(), key=lambda q: (q.priority, q.id)):
        if q.about == "loop" and (q.field == fieldname or f"answers.{q.id}" == fieldname):
            return q
    return None


def _asked_fields(kb: knowledge.KnowledgeBase) -> set[str]:
    names = {f"answers.{q.id}" for q in kb.questions.values()}
    names |= {q.field for q in kb.questions.values() if q.field is not None}
    return names | {"no.such.field", "answers.", ""}


def test_same_question_as_a_walk_over_all_questions() -> None:
    kb = knowledge.load([])
    fields = _asked_fields(kb)
    assert any(_walk(kb, f) is not None for f in fields)
    for fieldname in sorted(fields):
        assert kb.question_for_field(fieldname) is _walk(kb, fieldname), fieldname


def test_follows_questions_added_or_replaced_after_a_lookup() -> None:
    kb = knowledge.load([])
    first = next(q for q in kb.questions.values() if q.about == "loop" and q.field)
    assert kb.question_for_field(first.field or "") is _walk(kb, first.field or "")
    # An earlier question for the same field takes over; then a replacement under its id.
    earlier = first.model_copy(update={"id": "aaa-earlier", "priority": 0})
    kb.questions[earlier.id] = earlier
    assert kb.question_for_field(first.field or "") is earlier
    moved = earlier.model_copy(update={"field": "retry.elsewhere"})
    kb.questions[earlier.id] = moved
    assert kb.question_for_field("retry.elsewhere") is moved
    assert kb.question_for_field(first.field or "") is _walk(kb, first.field or "")
    # Questions about other things than loops are never the answer.
    system = moved.model_copy(update={"about": "system"})
    kb.questions[earlier.id] = system
    assert kb.question_for_field("retry.elsewhere") is None
