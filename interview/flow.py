"""The order of the interview: which step comes after which.

Steps are recomputed from the assessment and the engine's latest open questions whenever
either changes, and are identified by a stable key (not a position in the list), so adding a
loop, answering a question that makes others relevant, or a follow-up the engine asks for
never moves the user somewhere unexpected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from expert.knowledge import KnowledgeBase
from expert.patterns import Question
from expert.results import OpenQuestion
from interview.questions import applies, encoded
from interview.session import Session

StepKind = Literal["welcome", "question", "loops", "loop-done", "resources", "economics", "review"]


@dataclass(frozen=True)
class Step:
    kind: StepKind
    scope: str = ""  # system | loop | resource | economics, for questions
    target: str = ""  # loop or resource id
    question: str = ""  # question id
    follow_up: bool = False  # asked because a possible finding needs it

    @property
    def key(self) -> str:
        return ":".join((self.kind, self.scope, self.target, self.question))

    @classmethod
    def from_key(cls, key: str) -> Step | None:
        parts = key.split(":")
        if len(parts) != 4 or parts[0] not in (
            "welcome",
            "question",
            "loops",
            "loop-done",
            "resources",
            "economics",
            "review",
        ):
            return None
        return cls(parts[0], parts[1], parts[2], parts[3])  # type: ignore[arg-type]


WELCOME = Step("welcome")
LOOPS = Step("loops")
RESOURCES = Step("resources")
ECONOMICS = Step("economics")
REVIEW = Step("review")


def ordered(kb: KnowledgeBase, about: str) -> list[Question]:
    return sorted(
        (q for q in kb.questions.values() if q.about == about), key=lambda q: (q.priority, q.id)
    )


def loop_steps(session: Session, loop_id: str, open_questions: list[OpenQuestion]) -> list[Step]:
    """A loop's questions: those that apply, those already answered (so they stay editable)
    and the follow-ups the engine asks about this loop, most useful first."""
    kb, a = session.kb, session.assessment
    steps = []
    included = set()
    fact = encoded(kb, a, "loop", loop_id) if a is not None else {}
    for q in ordered(kb, "loop"):
        if session.value(q, loop_id) is not None or applies(q, kb, a, loop_id, fact):
            steps.append(Step("question", "loop", loop_id, q.id))
            included.add(q.id)
    for oq in open_questions:
        if oq.loop == loop_id and oq.id not in included and oq.id in kb.questions:
            steps.append(Step("question", "loop", loop_id, oq.id, follow_up=True))
            included.add(oq.id)
    return steps


def build(session: Session, open_questions: list[OpenQuestion]) -> list[Step]:
    kb, a = session.kb, session.assessment
    steps = [WELCOME]
    steps += [Step("question", "system", "", q.id) for q in ordered(kb, "system")]
    steps.append(LOOPS)
    for loop in a.loops if a else []:
        steps += loop_steps(session, loop.id, open_questions)
        steps.append(Step("loop-done", "loop", loop.id))
    resource_questions = ordered(kb, "resource")
    if resource_questions and a is not None and a.resource_ids():
        steps.append(RESOURCES)
        for rid in a.resource_ids():
            fact = encoded(kb, a, "resource", rid)
            steps += [
                Step("question", "resource", rid, q.id)
                for q in resource_questions
                if session.value(q, rid) is not None or applies(q, kb, a, rid, fact)
            ]
    steps.append(ECONOMICS)
    steps += [Step("question", "economics", "", q.id) for q in ordered(kb, "economics")]
    steps.append(REVIEW)
    return steps


def index_of(steps: list[Step], key: str) -> int | None:
    return next((i for i, s in enumerate(steps) if s.key == key), None)


def first_unanswered(session: Session, steps: list[Step]) -> Step | None:
    for step in steps:
        if step.kind == "question" and step.scope != "economics":
            q = session.kb.questions.get(step.question)
            if q is not None and session.value(q, step.target) is None:
                return step
    return None


def progress(session: Session, steps: list[Step], scope: str, target: str = "") -> tuple[int, int]:
    """(answered, asked) among the questions of one section or loop."""
    answered = total = 0
    for step in steps:
        if step.kind == "question" and step.scope == scope and step.target == target:
            q = session.kb.questions.get(step.question)
            if q is None:
                continue
            total += 1
            answered += session.value(q, target) is not None
    return answered, total
