"""What the interview and the deliverables may ask of the analysis: the fact one loop or
resource makes on its own, whether a pattern's term could still hold for it, and so whether a
question applies to it at all.

The interview decides which questions can apply and which can change a finding by the
engine's own three-valued reading of the same facts (so it never asks what an answer has
already ruled out). This module is that reading's public face: the UI calls these two
functions and never builds facts or evaluates terms itself.
"""

from __future__ import annotations

from typing import Any

from expert.analysis.facts import encode_field, loop_values, resource_values
from expert.analysis.graph import Structure, emits, reacts, roles
from expert.assessment.fields import FACT_KINDS
from expert.assessment.model import Assessment, Loop, Resource
from expert.knowledge.conditions import evaluate, resolve
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.knowledge.patterns import Question, Term

Fact = dict[str, Any]


def item_fact(
    kb: KnowledgeBase,
    assessment: Assessment,
    scope: str,
    target: str,
    loop: Loop | None = None,
) -> Fact:
    """The engine fact of one loop or resource on its own (empty if it does not exist).
    `loop`: the loop as it would be (with values not saved yet), instead of the saved one.
    Roles follow from what the loop does; whether its resources are synchronised is left
    unknown, as the engine starts from."""
    fact: Fact = {}
    if scope == "loop":
        loop = loop or assessment.loop(target)
        if loop is None:
            return fact
        structure = Structure()
        structure.emits = {loop.id: emits(loop, kb.vocabulary)}
        structure.reacts = {loop.id: reacts(loop, kb.vocabulary)}
        structure.roles = {loop.id: roles(loop, kb.vocabulary)}
        values = loop_values(loop, structure)
        for spec in FACT_KINDS["loop"]:
            encode_field(spec, values[spec.name], kb.vocabulary, fact)
        for qid, (spec, choices) in _answer_fields(kb).items():
            encode_field(spec, loop.answers.get(qid), kb.vocabulary, fact, choices)
    elif scope == "resource":
        resources = assessment.resource_list()
        res = next((r for r in resources if r.id == target), None)
        if res is None:
            return fact
        return resource_fact(kb, res, {r.id: r.kind for r in resources})
    return fact


def resource_fact(kb: KnowledgeBase, res: Resource, kinds: dict[str, str | None]) -> Fact:
    """The engine fact of one resource on its own. `kinds` is every resource's kind by id:
    a caller going through all resources makes it once, not once per resource."""
    fact: Fact = {}
    values = resource_values(res, kinds, kb.vocabulary)
    for spec in FACT_KINDS["resource"]:
        encode_field(spec, values[spec.name], kb.vocabulary, fact)
    return fact


def can_hold(kb: KnowledgeBase, kind: str, term: Term, fact: Fact) -> bool:
    """Whether `term` could still hold for a fact of `kind`: true unless the answers it
    reads rule it out (unknown could go either way). A field the registry does not know,
    or one the fact does not carry (derived from other facts), rules nothing out."""
    resolved = resolve(kind, term.field, kb.vocabulary, _answer_fields(kb))
    if resolved is None:
        return True
    try:
        return evaluate(term, resolved, fact, {}, {}) != "no"
    except KeyError:
        return True


def applies(
    q: Question,
    kb: KnowledgeBase,
    assessment: Assessment | None,
    target: str,
    fact: dict[str, Any] | None = None,
    item: Loop | Resource | None = None,
) -> bool:
    """Whether q's `asked_when` terms can hold for the loop or resource `target`.

    Terms are evaluated with the engine's own three-valued semantics, so a question is asked
    unless an answer already rules it out. `fact` is the target's encoded fact and `item`
    the target itself, if the caller has them already (see item_fact): finding them
    searches every loop or resource.
    """
    if not q.asked_when or assessment is None or q.about not in ("loop", "resource"):
        return True
    if fact is None:
        fact = item_fact(kb, assessment, q.about, target)
    if not fact:
        return False
    if item is None:
        item = assessment.loop(target) if q.about == "loop" else assessment.resource(target)
    # a term on a field the respondent said does not apply cannot hold
    not_applicable = set(getattr(item, "not_applicable", None) or ())
    if any(term.field in not_applicable for term in q.asked_when):
        return False
    return all(can_hold(kb, q.about, term, fact) for term in q.asked_when)


_ANSWER_FIELDS: dict[int, tuple[KnowledgeBase, dict[str, Any]]] = {}


def _answer_fields(kb: KnowledgeBase) -> dict[str, Any]:
    # A knowledge base does not change while the interview runs: compute this once.
    entry = _ANSWER_FIELDS.get(id(kb))
    if entry is None or entry[0] is not kb:
        entry = _ANSWER_FIELDS[id(kb)] = (kb, kb.answer_fields())
    return entry[1]
