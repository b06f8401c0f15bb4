"""The Control Plane Inventory: every control loop with all its answers, grouped by layer,
saying which answers are unknown (the user could not say) and which were never given."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from expert.analysis import plainwords
from expert.assessment.fields import (
    LOOP_FIELDS,
    NOT_FACT_LABELS,
    answered_or_kind_default,
    value_at,
)
from expert.assessment.model import DOES_NOT_APPLY, UNKNOWN, Assessment, Loop, Resource

if TYPE_CHECKING:
    from expert.analysis.results import Finding
    from expert.knowledge.knowledgebase import KnowledgeBase

# The seed's five dimensions plus what every loop needs to be assessed at all.
CORE = (
    "name",
    "layer",
    "owner",
    "objective",
    "target",
    "timescale",
    "triggers",
    "actuations",
    "acts_on",
    "decision_record",
)
# Every answer a loop's inventory shows, in reading order, by the registry's labels.
LABELS = {
    **{spec.name: spec.label for spec in LOOP_FIELDS if spec.label},
    **NOT_FACT_LABELS["loop"],
}
LAYER_UNKNOWN = "unknown"
# The resource answers a row says "does not apply" to when their question is not asked of
# the resource's kind (a service has no step to run in lockstep); `build` reads no other.
SAYS_NOT_ASKED = frozenset({"synchronized"})
# Fields the inventory shows in their own columns; the rest are details.
_COLUMNS = frozenset((*CORE, "observes", "changes"))

State = Literal["given", "unknown", "unanswered"]


class InventoryField(BaseModel):
    field: str
    label: str
    value: str
    state: State


class InventoryLoop(BaseModel):
    id: str
    name: str
    layer: str
    owner: str
    objective: str
    target: str
    timescale: str
    triggers: str
    actuations: str
    acts_on: str
    watches: str = Field(description="signals it observes beyond its triggers, and changes")
    decision_record: str
    details: list[InventoryField] = Field(
        default_factory=list,
        description="retry, deadline, guards and other answers given (in whole or in part)",
    )
    fields: list[InventoryField] = Field(description="every answer, in order")
    states: dict[str, State] = Field(default_factory=dict, description="field -> state")
    unknown: list[str] = Field(description="labels of answers the user could not give")
    unanswered: list[str] = Field(
        description="labels of answers never given: the core ones, and the details that apply"
    )
    findings: list[str] = Field(default_factory=list, description="findings involving the loop")


class LayerGroup(BaseModel):
    layer: str
    label: str
    help: str
    loops: list[InventoryLoop]


class InventoryResource(BaseModel):
    id: str
    name: str
    kind: str
    synchronized: str
    accelerated: str = Field(
        "",
        description="whether its work runs on accelerators, as answered (or what its kind "
        "implies, where nobody answered)",
    )
    calls: str
    details: str


class EmptyLayer(BaseModel):
    """A layer of the control plane no loop was described in: worth a question, since most
    platforms have loops in every layer and a missing one hides its conflicts."""

    layer: str
    label: str
    question: str = Field(description="the question to the user, in plain words")


class Inventory(BaseModel):
    loop_count: int
    unknown_count: int = Field(description="answers the user could not give, over all loops")
    unanswered_count: int = Field(description="core answers never given, over all loops")
    layers: list[LayerGroup]
    resources: list[InventoryResource] = Field(default_factory=list)
    empty_layers: list[EmptyLayer] = Field(
        default_factory=list, description="layers with no loop described"
    )


# Answers chosen from a vocabulary word list, shown by their labels.
_WORD_LISTS = frozenset({"triggers", "actuations", "observes", "changes", "retry.retries_on"})


def _is_unknown(value: Any) -> bool:
    return value == UNKNOWN or (isinstance(value, list) and UNKNOWN in value)


def _text(value: Any) -> str:
    if value is None:
        return "not answered"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "none"
    return str(value)


def _answer_words(kb: KnowledgeBase, field: str, value: Any) -> str:
    """A knowledge-base question's answer in the words its choices offered, as the interview
    showed them ("GPU utilisation (time a kernel was running)", not "gpu_utilization"); the
    file keeps the ids. Each question's own labels, since two questions may offer one id."""
    q = kb.questions.get(field.removeprefix("answers."))
    if q is None or not q.choices or value == DOES_NOT_APPLY:
        return _text(value)
    labels = {str(c.value): c.label for c in q.choices}
    items = value if isinstance(value, list) else [value]
    return ", ".join(labels.get(str(v), str(v)) for v in items) if items else "none"


def _relevant(lp: Loop) -> frozenset[str]:
    """The optional details that matter for this loop: they apply to it (retries for a
    retrying loop, a deadline for one triggered by a timeout)."""
    out: set[str] = set()
    if isinstance(lp.actuations, list) and "retry" in lp.actuations:
        out.update(f for f in LABELS if f.startswith("retry."))
    if isinstance(lp.triggers, list) and "timeout" in lp.triggers:
        out.update(("deadline", "propagates_cancellation"))
    return frozenset(out)


def _describe_value(field: str, value: Any, state: State, kb: KnowledgeBase) -> str:
    vocab = kb.vocabulary
    if isinstance(value, list) and state == "unknown" and any(v != UNKNOWN for v in value):
        # answered in part: the known members in words, the rest "unknown"
        return plainwords.value_words(kb, ", ".join(str(v) for v in value))
    if state != "given":
        return _text(value)
    if field == "objective" and value in vocab.objectives:
        return f"{value} ({vocab.objectives[value].label.lower()})"
    if field == "decision_record" and value in vocab.decision_records:
        return f"{value} ({vocab.decision_records[value]})"
    if field == "timescale":
        return str(value)  # as the user wrote it ("60s" stays "60s", never "1m")
    if field == "instances" and value in vocab.instances:
        return f"{value} ({vocab.instances[value]})"
    if field in _WORD_LISTS and isinstance(value, list) and value:
        # what the loop reacts to and does, in the vocabulary's words, not its ids
        return ", ".join(plainwords.label(kb, str(v)) for v in value)
    return _text(value)


# Each answer's field and label, and the field split where it is dotted ("retry", "jitter"):
# most loops have no retry or guards block, and then none of its fields needs a walk.
_READ = [(field, label, *field.partition(".")[::2]) for field, label in LABELS.items()]
_CORE = frozenset(CORE)


def loop_answers(lp: Loop, kb: KnowledgeBase) -> Iterator[tuple[str, str, Any, State]]:
    """Every answer of a loop in reading order as (field, label, raw value, state); cheaper
    than `loop_fields` for callers that only need the states."""
    not_applicable = set(lp.not_applicable or ())
    relevant = _relevant(lp)
    for field, label, head, rest in _READ:
        if field in not_applicable:  # an answer: the respondent said it does not apply
            yield field, label, DOES_NOT_APPLY, "given"
            continue
        # the block a dotted field is in read directly, and walked by value_at if there
        value = getattr(lp, head, None)
        if rest and value is not None:
            value = value_at(value, rest)
        if value is None and field not in _CORE and field not in relevant:
            continue
        yield field, label, value, _state(value)
    if not_applicable:
        for path in sorted(p for p in not_applicable if p.startswith("answers.")):
            q = kb.questions.get(path.removeprefix("answers."))
            yield path, q.short_name if q else path, DOES_NOT_APPLY, "given"
    for qid, value in sorted(lp.answers.items()):
        q = kb.questions.get(qid)
        # Extra answers are given or unknown; "unanswered" is for the fields above.
        yield (
            f"answers.{qid}",
            q.short_name if q else qid,
            value,
            "unknown" if _is_unknown(value) else "given",
        )


def _state(value: Any) -> State:
    return "unanswered" if value is None else "unknown" if _is_unknown(value) else "given"


# (field, label, state, value's key) -> the field made for it
def loop_fields(lp: Loop, kb: KnowledgeBase) -> list[InventoryField]:
    """Every answer of a loop in reading order, each with its state."""
    return [answer[0] for answer in _answers(lp, kb, {})]


# An answer as the inventory shows it: its InventoryField, and the field, label, words and
# state again as plain values (reading a model's attribute is slower than unpacking a tuple,
# and a platform of a thousand loops has fifteen thousand answers).
_Answer = tuple[InventoryField, str, str, str, State]
# (field, label, state, value's key) -> the answer made for it
Made = dict[tuple[str, str, str, Any], _Answer]


def _answers(lp: Loop, kb: KnowledgeBase, made: Made) -> list[_Answer]:
    """Every answer of a loop in reading order. `made` holds those made so far for other
    loops, which loops with the same answer share: fifteen thousand answers at 1,000 loops
    are a tenth as many different ones."""
    out = []
    for field, label, value, state in loop_answers(lp, kb):
        key = _value_key(value)
        answer = made.get((field, label, state, key)) if key is not None else None
        if answer is None:
            if field in LABELS:
                words = _describe_value(field, value, state, kb)
            elif field.startswith("answers.") and state != "unanswered":
                words = _answer_words(kb, field, value)
            else:
                words = _text(value)
            shown = InventoryField(field=field, label=label, value=words, state=state)
            answer = (shown, field, label, words, state)
            if key is not None:
                made[(field, label, state, key)] = answer
        out.append(answer)
    return out


def _value_key(value: Any) -> Any:
    """A key that tells apart every two values shown differently (1 and True are equal
    keys, so the type is part of it), or None for one kept apart (a statement, say). An
    answer's words follow from its field, state and value."""
    if value is None or type(value) is str:
        return value
    if type(value) is list and all(type(v) is str for v in value):
        return tuple(value)
    return None


def build(
    assessment: Assessment,
    kb: KnowledgeBase,
    findings: list[Finding],
    unasked: dict[str, set[str]] | None = None,
) -> Inventory:
    """`unasked`: per resource, the fields whose question does not apply to it (of those in
    SAYS_NOT_ASKED)."""
    unasked = unasked or {}
    layer_order = [*kb.vocabulary.layers, LAYER_UNKNOWN]
    groups: dict[str, list[InventoryLoop]] = {}
    unknown_total = unanswered_total = 0
    involving: dict[str, list[str]] = {}
    for f in (f for f in findings if f.evidence.shown):
        for lp_id in f.loops:
            involving.setdefault(lp_id, []).append(f.id)
    made: Made = {}  # the answers made so far, shared by loops with the same answer
    for lp in assessment.loops:
        answers = _answers(lp, kb, made)
        by: dict[str, str] = {}  # field -> words
        states: dict[str, State] = {}
        unknown: list[str] = []
        unanswered: list[str] = []
        # What is not known at all is listed once, in the last column, not with the details.
        details: list[InventoryField] = []
        for shown, field, label, words, state in answers:  # one pass over them all
            by[field] = words
            states[field] = state
            if state == "unknown":
                unknown.append(label)
            elif state == "unanswered":
                unanswered.append(label)
                unanswered_total += field in _CORE
            if field not in _COLUMNS and (
                state == "given" or (state == "unknown" and words != UNKNOWN)
            ):
                details.append(shown)
        unknown_total += len(unknown)
        layer = lp.layer if lp.layer in kb.vocabulary.layers else LAYER_UNKNOWN
        watched = [by[k] for k in ("observes", "changes") if k in by]
        groups.setdefault(layer, []).append(
            InventoryLoop(
                id=lp.id,
                name=lp.name if lp.name not in (None, UNKNOWN) else lp.id,
                layer=layer,
                owner=by["owner"],
                objective=by["objective"],
                target=by["target"],
                timescale=by["timescale"],
                triggers=by["triggers"],
                actuations=by["actuations"],
                acts_on=by["acts_on"],
                watches="; ".join(
                    f"{LABELS[k]}: {by[k]}" for k in ("observes", "changes") if k in by
                )
                if watched
                else "",
                decision_record=by["decision_record"],
                details=details,
                fields=[answer[0] for answer in answers],
                states=states,
                unknown=unknown,
                unanswered=unanswered,
                findings=involving.get(lp.id, []),
            )
        )
    layers = []
    empty = []
    for layer in layer_order:
        if layer not in groups:
            term = kb.vocabulary.layers.get(layer)
            if term is not None and assessment.loops:
                empty.append(
                    EmptyLayer(
                        layer=layer,
                        label=term.label,
                        question=f"No {_lower(term.label)} loops were described: is that "
                        f"true? ({term.help}) A layer left out hides its conflicts with the "
                        "others.",
                    )
                )
            continue
        term = kb.vocabulary.layers.get(layer)
        layers.append(
            LayerGroup(
                layer=layer,
                label=term.label if term else "Layer not known",
                help=term.help if term else "Loops whose layer nobody could name.",
                loops=groups[layer],
            )
        )
    resources = []
    names = {res.id: res.name or res.id for res in assessment.resource_list()}
    for res in assessment.resource_list():
        synchronized: str = res.synchronized or "not answered"
        if res.synchronized is None and "synchronized" in unasked.get(res.id, ()):
            synchronized = "does not apply"  # not asked of this kind (a service has no step)
        extra = [
            f"{label} {value}"
            for label, value in (
                ("start-up", res.startup_time),
                ("checkpoint every", res.checkpoint_interval),
                ("checkpoint takes", res.checkpoint_duration),
                ("interrupted about every", res.interrupted_every),
            )
            if value
        ]
        resources.append(
            InventoryResource(
                id=res.id,
                name=res.name or res.id,
                kind=_kind_words(res.kind, kb),
                synchronized=synchronized,
                accelerated=_accelerated_words(res, kb),
                # The file cannot tell "calls nothing" from "nothing said", so neither is claimed.
                calls=", ".join(names.get(c, c) for c in res.calls) if res.calls else "none named",
                details="; ".join(extra),
            )
        )
    return Inventory(
        loop_count=len(assessment.loops),
        unknown_count=unknown_total,
        unanswered_count=unanswered_total,
        layers=layers,
        resources=resources,
        empty_layers=empty,
    )


def _accelerated_words(res: Resource, kb: KnowledgeBase) -> str:
    """The answer as given ("no"), or what the kind implies while nobody has answered."""
    answer = value_at(res, "accelerated")
    if answer is not None:
        return "not known" if answer == UNKNOWN else str(answer)
    implied = answered_or_kind_default(res, "accelerated", kb.vocabulary.resource_kinds)
    return "not answered" if implied == UNKNOWN else f"{implied} (from its kind)"


def _kind_words(kind: str | None, kb: KnowledgeBase) -> str:
    """A resource kind as the vocabulary says it ("model server replica"), not its id."""
    if not kind:
        return "not answered"
    term = kb.vocabulary.resource_kinds.get(kind)
    if term is None:
        return kind
    return re.sub(r"^(a|an) ", "", term.label)


def _lower(label: str) -> str:
    """'Orchestration' -> 'orchestration'; an acronym ('GPU pool') stays as it is."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label
