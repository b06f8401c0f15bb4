"""The order of the interview: which step comes after which.

Steps are recomputed from the assessment and the engine's latest open questions whenever
either changes, and are identified by a stable key (not a position in the list), so adding a
loop, answering a question that makes others relevant, or a follow-up the engine asks for
never moves the user somewhere unexpected.

On a file written by `coherence import`, what the configuration already answered is not
asked again: an imported loop's questions that had answers when the interview opened are
placed after the loop's closing step, where going on from one question to the next never
reaches them. They stay in the outline, answered and citing the line they came from, so
any of them can still be opened and changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from weakref import WeakKeyDictionary

from expert.knowledge import KnowledgeBase
from expert.patterns import Question
from expert.provenance import source_of
from expert.results import OpenQuestion
from interview.questions import applies, encoded, source_words
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
    return sorted((q for q in kb.questions.values() if q.about == about), key=_order)


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


def item_of(session: Session, scope: str, target: str) -> Any:
    """The loop or resource a question of `scope` is about (None for system, economics, or
    an id the assessment does not have)."""
    a = session.assessment
    if a is None:
        return None
    if scope == "loop":
        return a.loop(target)
    if scope == "resource":
        return next((r for r in a.resource_list() if r.id == target), None)
    return None


def field_path(q: Question) -> str:
    """Where q's answer lives in its loop or resource, as `sources` names it."""
    return q.field or f"answers.{q.id}"


def source(session: Session, step: Step, short: bool = False) -> str:
    """Where the value a question step shows was imported from, in plain words ("from
    cfg/hpa.yaml:14"); "" when it was not imported. `short`: the file name alone."""
    q = session.kb.questions.get(step.question)
    if q is None or step.kind != "question" or session.value(q, step.target) is None:
        return ""
    cited = source_of(item_of(session, step.scope, step.target), field_path(q))
    return source_words(cited, short) if cited else ""


# Per open session: the questions its imported loops and resources had answered when the
# interview opened. Answers given since stay where they are in the walk, so confirming one
# moves on to the next question rather than jumping past the loop.
_SETTLED: WeakKeyDictionary[Session, frozenset[tuple[str, str, str]]] = WeakKeyDictionary()


def settled(session: Session) -> frozenset[tuple[str, str, str]]:
    """(scope, target, question) of the answers an import gave, as the file was opened.

    Only loops and resources that carry `sources` (written by `coherence import`) count:
    on a loop the user described, every question stays in the walk, answered or not.
    Everything such an item answered counts, the name too (imports do not cite names).
    """
    known = _SETTLED.get(session)
    if known is None:
        found = set()
        a = session.assessment
        items = [("loop", lp) for lp in a.loops] if a else []
        items += [("resource", r) for r in a.resource_list()] if a else []
        for scope, item in items:
            if not item.sources:
                continue
            for q in ordered(session.kb, scope):
                if session.value(q, item.id) is not None:
                    found.add((scope, item.id, q.id))
        known = _SETTLED[session] = frozenset(found)
    return known


def _split(
    steps: list[Step], done: frozenset[tuple[str, str, str]]
) -> tuple[list[Step], list[Step]]:
    """(still to ask, already answered by an import)."""
    answered = [s for s in steps if (s.scope, s.target, s.question) in done]
    return [s for s in steps if s not in answered], answered


def build(session: Session, open_questions: list[OpenQuestion]) -> list[Step]:
    kb, a = session.kb, session.assessment
    done = settled(session)
    steps = [WELCOME]
    steps += [Step("question", "system", "", q.id) for q in ordered(kb, "system")]
    steps.append(LOOPS)
    for loop in a.loops if a else []:
        ask, answered = _split(loop_steps(session, loop.id, open_questions), done)
        steps += ask
        steps.append(Step("loop-done", "loop", loop.id))
        steps += answered  # reached from the outline (or by going back), never by going on
    resource_questions = ordered(kb, "resource")
    if resource_questions and a is not None and a.resource_ids():
        resource_steps = []
        for rid in a.resource_ids():
            fact = encoded(kb, a, "resource", rid)
            resource_steps += [
                Step("question", "resource", rid, q.id)
                for q in resource_questions
                if session.value(q, rid) is not None or applies(q, kb, a, rid, fact)
            ]
        ask, answered = _split(resource_steps, done)
        # After the last loop's closing step, as a loop's own are: "Describe them" on the
        # resources card goes on to the questions still open.
        steps += answered
        steps.append(RESOURCES)
        steps += ask
    steps.append(ECONOMICS)
    steps += [Step("question", "economics", "", q.id) for q in ordered(kb, "economics")]
    steps.append(REVIEW)
    return steps


def in_question_order(session: Session, steps: list[Step]) -> list[Step]:
    """Question steps as the knowledge base orders them, per loop or resource in the
    assessment's order, follow-ups last: how the outline lists them, wherever the walk
    puts them."""
    rank = {q.id: i for i, q in enumerate(sorted(session.kb.questions.values(), key=_order))}
    a = session.assessment
    place = {
        "loop": {lp.id: i for i, lp in enumerate(a.loops)} if a else {},
        "resource": {rid: i for i, rid in enumerate(a.resource_ids())} if a else {},
    }

    def key(pair: tuple[int, Step]) -> tuple[int, bool, int]:
        i, s = pair
        target = place.get(s.scope, {}).get(s.target, -1)
        # Follow-ups keep their order (most useful first); the rest go by question order.
        return (target, s.follow_up, i if s.follow_up else rank.get(s.question, len(rank)))

    return [s for _, s in sorted(enumerate(steps), key=key)]


def _order(q: Question) -> tuple[int, str]:
    return (q.priority, q.id)


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
