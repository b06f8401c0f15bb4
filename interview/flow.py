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

from expert.analysis.applicability import applies, item_fact
from expert.analysis.results import OpenQuestion
from expert.assessment.fields import value_at
from expert.assessment.model import Loop, Resource
from expert.assessment.provenance import source_of
from expert.errors import InputError
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.knowledge.patterns import Question
from expert.knowledge.templates import LoopTemplate
from interview.questions import source_words
from interview.relevance import can_change_finding
from interview.session import Session

StepKind = Literal[
    "welcome", "question", "loops", "template", "loop-done", "resources", "economics", "review"
]


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
            "template",
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


MORE = "more"  # the section of details asked only on demand ("More about this loop")
# What every loop is described by (who owns it and the five dimensions): the inventory is
# made of these, so they are asked whether or not a pattern reads them.
DESCRIBED = ("identity", "dimensions")


@dataclass(frozen=True)
class Proposal:
    """What a template proposed for one loop: the questions it fills and the values not
    confirmed yet (question id -> value)."""

    template: LoopTemplate
    questions: frozenset[str]
    unconfirmed: dict[str, Any]


def proposal(session: Session, template_id: str, values: dict[str, Any]) -> Proposal | None:
    """What template `template_id` proposed, with `values` still unconfirmed."""
    template = session.kb.templates.get(template_id)
    if template is None:
        return None
    return Proposal(template, template_answers(session.kb, template), values)


# Per open session: each loop's steps, by what they are computed from. After an answer only
# that loop's (or, for a resource, its loops') steps change, and working them out is most
# of the time a redraw takes at 30 loops (which questions apply, which can change a finding).
_LOOP_STEPS: WeakKeyDictionary[Session, dict[tuple[Any, ...], tuple[list[Step], list[Step]]]] = (
    WeakKeyDictionary()
)
_LOOP_STEPS_KEPT = 2000  # entries per session before the memo starts again


def _memo_loop_steps(
    session: Session,
    loop: Loop,
    resources: dict[str, str],
    open_questions: list[OpenQuestion],
    proposed: Proposal | None,
) -> tuple[list[Step], list[Step]]:
    """`loop_steps`, kept for as long as what it reads is unchanged: the loop, the
    resources it acts on (`resources`: id -> the resource as JSON), the follow-ups the
    engine asks about it, and what a template proposed for it."""
    acted = loop.acts_on if isinstance(loop.acts_on, list) else []
    key = (
        loop.model_dump_json(),
        tuple(resources.get(rid, rid) for rid in acted),
        tuple(oq.id for oq in open_questions if oq.loop == loop.id),
        None
        if proposed is None
        else (proposed.template.id, repr(sorted(proposed.unconfirmed.items()))),
    )
    memo = _LOOP_STEPS.setdefault(session, {})
    found = memo.get(key)
    if found is None:
        if len(memo) >= _LOOP_STEPS_KEPT:
            memo.clear()
        found = memo[key] = loop_steps(session, loop.id, open_questions, proposed)
    return list(found[0]), list(found[1])


def loop_steps(
    session: Session,
    loop_id: str,
    open_questions: list[OpenQuestion],
    proposed: Proposal | None = None,
) -> tuple[list[Step], list[Step]]:
    """A loop's questions as (asked in turn, reached on demand).

    Asked: for a loop started from a template, its card and the values it proposes that are
    not confirmed yet; then the questions that apply and can change a finding, those the
    user answered (so they stay editable in place) and the follow-ups the engine asks about
    this loop, most useful first. On demand: details (section "more") nobody asked a
    follow-up about, and the template's values once confirmed.
    """
    kb, a = session.kb, session.assessment
    steps: list[Step] = []
    later: list[Step] = []
    included = set()
    fact = item_fact(kb, a, "loop", loop_id) if a is not None else {}
    follow_ups = {oq.id for oq in open_questions if oq.loop == loop_id}
    unconfirmed: dict[str, Any] = proposed.unconfirmed if proposed else {}
    if proposed is not None:
        steps.append(Step("template", "loop", loop_id))
        for qid in walked_proposals(session, loop_id, unconfirmed):
            steps.append(Step("question", "loop", loop_id, qid))
            included.add(qid)
    for q in ordered(kb, "loop"):
        if q.id in included or q.id in unconfirmed:
            continue
        answered = session.value(q, loop_id) is not None
        # A field asked in other words of other loops (a timeout's deadline, an
        # interrupting loop's grace period): its answer belongs to the question that fits.
        shared = bool(q.field) and len(kb.questions_for_field(q.field or "")) > 1
        if answered and shared and not applies(q, kb, a, loop_id, fact):
            continue
        if answered or wanted(q, kb, a, loop_id, fact):
            step = Step("question", "loop", loop_id, q.id)
            on_demand = (
                # the name is given in the dialog that adds the loop
                (q.field == "name" and answered)
                or (proposed is not None and q.id in proposed.questions and answered)
                or (q.section == MORE and not answered and q.id not in follow_ups)
            )
            (later if on_demand else steps).append(step)
            included.add(q.id)
    for oq in open_questions:
        if oq.loop != loop_id or oq.id in included or oq.id not in kb.questions:
            continue
        # A follow-up the loop's own structure rules out (its `asked_when` fails, e.g. a
        # workload's give-up count for a per-request retry) does not apply to it.
        if applies(kb.questions[oq.id], kb, a, loop_id, fact):
            steps.append(Step("question", "loop", loop_id, oq.id, follow_up=True))
            included.add(oq.id)
    return steps, later


def walked_proposals(session: Session, loop_id: str, unconfirmed: dict[str, Any]) -> list[str]:
    """The proposed values shown one by one, in question order: every one, also those whose
    question the interview would not ask such a loop on its own (a cluster autoscaler's
    drain grace period), but for those another proposed answer covers (`covered`)."""
    if not unconfirmed:
        return []
    kb = session.kb
    covered = covered_proposals(kb, unconfirmed)
    return [q.id for q in ordered(kb, "loop") if q.id in unconfirmed and q.id not in covered]


def covered_proposals(kb: KnowledgeBase, unconfirmed: dict[str, Any]) -> dict[str, str]:
    """Proposed values whose question is asked only while another answer is unknown, where
    the template proposes that answer too: question id -> the question covering it. An
    autoscaler's metric in words is asked only while the metric it scales on is unknown;
    the template gives both, so it is saved with that one, not asked twice."""
    by_path = {field_path(kb.questions[qid]): qid for qid in unconfirmed if qid in kb.questions}
    out: dict[str, str] = {}
    for qid in unconfirmed:
        q = kb.questions.get(qid)
        for term in q.asked_when if q is not None else []:
            other = by_path.get(term.field)
            if term.op == "is" and term.operand == "unknown" and other not in (None, qid):
                out[qid] = str(other)
    return out


def with_proposals(kb: KnowledgeBase, loop: Any, values: dict[str, Any]) -> Any:
    """The loop as it would be with the proposed values confirmed (the loop itself if they
    do not make a valid loop)."""
    data = loop.model_dump(mode="json", exclude_none=True)
    for qid, value in values.items():
        q = kb.questions.get(qid)
        if q is None:
            continue
        if q.answer is not None:
            data.setdefault("answers", {})[qid] = value
        else:
            target = data
            *parents, last = (q.field or "").split(".")
            for part in parents:
                target = target.setdefault(part, {})
            target[last] = value
    try:
        return type(loop).model_validate(data)
    except ValueError:
        return loop


def wanted(q: Question, kb: KnowledgeBase, a: Any, target: str, fact: dict[str, Any]) -> bool:
    """Whether an unanswered question is asked: it applies to the loop or resource (its
    `asked_when` tests can hold) and describes the loop or can change a finding."""
    if not applies(q, kb, a, target, fact):
        return False
    if q.section in DESCRIBED:
        return True
    acted_on = None
    loop = a.loop(target) if a is not None and q.about == "loop" else None
    if loop is not None and isinstance(loop.acts_on, list) and loop.acts_on:
        acted_on = [item_fact(kb, a, "resource", rid) for rid in loop.acts_on]
    return can_change_finding(kb, q, fact, acted_on)


def template_answers(kb: KnowledgeBase, template: LoopTemplate) -> frozenset[str]:
    """Ids of the loop questions a template fills in (its name aside). A field asked in
    different words of different loops (a deadline, an interrupting loop's grace period) is
    proposed through the question that fits the template's loop."""
    loop = template.loop
    found = set()
    for q in ordered(kb, "loop"):
        if q.field == "name":
            continue  # named in the dialog that adds the loop
        if q.answer is not None:
            if q.id in (loop.get("answers") or {}):
                found.add(q.id)
        elif value_at(loop, q.field or "") is not None:
            if len(kb.questions_for_field(q.field or "")) > 1 and not _fits(kb, q, template):
                continue
            found.add(q.id)
    return frozenset(found)


def _fits(kb: KnowledgeBase, q: Question, template: LoopTemplate) -> bool:
    """Whether q's `asked_when` can hold for the template's loop, judged on a one-loop
    assessment of it."""
    from expert.assessment.model import validate

    data = {k: v for k, v in template.loop.items() if k != "answers"}
    try:
        a = validate(
            {"schema_version": 1, "system": {"name": "template"}, "loops": [{"id": "t", **data}]},
            kb.vocabulary,
        )
    except InputError:  # a template the loader accepted always validates
        return True
    return applies(q, kb, a, "t")


def proposed_values(kb: KnowledgeBase, template: LoopTemplate) -> dict[str, Any]:
    """Question id -> the value a template proposes for it."""
    out: dict[str, Any] = {}
    for qid in template_answers(kb, template):
        q = kb.questions[qid]
        if q.answer is not None:
            out[qid] = (template.loop.get("answers") or {})[qid]
        else:
            out[qid] = value_at(template.loop, q.field or "")
    return out


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
        items: list[tuple[str, Loop | Resource]] = [("loop", lp) for lp in a.loops] if a else []
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


def build(
    session: Session,
    open_questions: list[OpenQuestion],
    proposed: dict[str, Proposal] | None = None,
) -> list[Step]:
    """Every step in order. `proposed`: per loop started from a template, what it
    proposed (see `proposal`)."""
    kb, a = session.kb, session.assessment
    done = settled(session)
    steps = [WELCOME]
    steps += [Step("question", "system", "", q.id) for q in ordered(kb, "system")]
    steps.append(LOOPS)
    resources = {r.id: r.model_dump_json() for r in a.resource_list()} if a else {}
    for loop in a.loops if a else []:
        own, more = _memo_loop_steps(
            session, loop, resources, open_questions, (proposed or {}).get(loop.id)
        )
        ask, answered = _split(own, done)
        steps += ask
        steps.append(Step("loop-done", "loop", loop.id))
        steps += answered  # reached from the outline (or by going back), never by going on
        steps += more
    resource_questions = ordered(kb, "resource")
    if resource_questions and a is not None and a.resource_ids():
        resource_steps = []
        for rid in a.resource_ids():
            fact = item_fact(kb, a, "resource", rid)
            for q in resource_questions:
                given = session.value(q, rid) is not None
                # A field asked in other words of other kinds (a pool is asked the checkpoint
                # interval of the work it runs): its answer belongs to the question that fits.
                shared = len(kb.questions_for_field(q.field or "", about="resource")) > 1
                if given and shared and not applies(q, kb, a, rid, fact):
                    continue
                if given or wanted(q, kb, a, rid, fact):
                    resource_steps.append(Step("question", "resource", rid, q.id))
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


def progress_of_each(session: Session, steps: list[Step], scope: str) -> dict[str, tuple[int, int]]:
    """`progress` of every loop (or resource) of a scope, by target, in one pass: the
    outline shows it for each loop, and one pass per loop read every step 30 times over."""
    counts: dict[str, list[int]] = {}
    for step in steps:
        if step.kind == "question" and step.scope == scope:
            q = session.kb.questions.get(step.question)
            if q is None:
                continue
            count = counts.setdefault(step.target, [0, 0])
            count[1] += 1
            count[0] += session.value(q, step.target) is not None
    return {target: (answered, total) for target, (answered, total) in counts.items()}


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
