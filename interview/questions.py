"""What each knowledge-base question asks for, and how a typed answer becomes a value.

A question either sets a field of the assessment (`field`) or stores its answer in a loop's
`answers` map (`answer`). The kind of input (free text, a duration, a number, one choice,
several choices, a list of ids) follows from the field's type in the assessment model, and
the choices from the vocabulary list the field is bound to (assessment/fields.py), so questions the
knowledge base adds need no code here.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from expert.assessment import durations, naturalinput
from expert.assessment import fields as field_registry
from expert.assessment.model import (
    DOES_NOT_APPLY,
    SLUG,
    UNKNOWN,
    Assessment,
    Duration,
    Economics,
    Loop,
    Resource,
    System,
)
from expert.assessment.provenance import parse
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.knowledge.patterns import Question

Kind = Literal["text", "duration", "integer", "number", "single", "multi", "ids"]

MODELS: dict[str, type[BaseModel]] = {
    "system": System,
    "loop": Loop,
    "resource": Resource,
    "economics": Economics,
}
# What a minimal valid object of each model needs, to probe which values a field accepts.
_MINIMAL: dict[str, dict[str, Any]] = {
    "system": {"name": "probe"},
    "loop": {"id": "probe"},
    "resource": {"id": "probe"},
    "economics": {},
}
# List fields whose choices are the assessment's own ids rather than a vocabulary.
_ID_CHOICES = {("loop", "controls"): "loops", ("resource", "calls"): "resources"}
_DURATION_MARK = get_args(Duration)[1]
UNKNOWN_LABEL = "Don't know"
# A question that does not apply to this loop or resource: stored under the item's
# `not_applicable` list, never as the field's value; shown in the model's words.
NOT_APPLICABLE = DOES_NOT_APPLY
NOT_APPLICABLE_LABEL = "Does not apply"


class AnswerError(ValueError):
    """A typed answer that cannot be stored; the message says how to fix it."""


@dataclass(frozen=True)
class Choice:
    value: str | int
    label: str
    help: str = ""


@dataclass(frozen=True)
class AnswerSpec:
    """How one question is answered."""

    kind: Kind
    choices: tuple[Choice, ...] = ()
    allows_unknown: bool = True
    suggestions: tuple[str, ...] = ()  # known ids offered for an `ids` answer
    # The question may not apply to the loop or resource (the field registry says which).
    allows_not_applicable: bool = False

    def label(self, value: Any) -> str:
        for choice in self.choices:
            if str(choice.value) == str(value):
                return choice.label
        return str(value)

    @property
    def how(self) -> str:
        """One line telling the user how to answer."""
        typed = self.kind not in ("single", "multi")
        return self._how + (
            " Type n/a if it does not apply." if typed and self.allows_not_applicable else ""
        )

    @property
    def _how(self) -> str:
        return {
            "text": "Type your answer, then Enter.",
            "duration": "Type a duration (30s, about 5m, a few seconds, 10s-2m), then Enter.",
            "integer": "Type a whole number (12, 20 000, 20 billion), then Enter.",
            "number": "Type a number (4.90, $2.50, 20 billion), then Enter.",
            "single": "Pick one with ↑ ↓, then Enter.",
            "multi": "Tick all that apply with Space, then Enter.",
            "ids": "Type ids separated by commas, then Enter.",
        }[self.kind]


# ---------------------------------------------------------------- reading the model


def _field_info(model: type[BaseModel], dotted: str) -> FieldInfo | None:
    parts = dotted.split(".")
    info: FieldInfo | None = None
    for i, part in enumerate(parts):
        info = model.model_fields.get(part)
        if info is None:
            return None
        if i < len(parts) - 1:
            sub = next(
                (
                    t
                    for t, _ in _atoms(info.annotation)
                    if isinstance(t, type) and issubclass(t, BaseModel)
                ),
                None,
            )
            if sub is None:
                return None
            model = sub
    return info


def _atoms(tp: Any, meta: tuple[Any, ...] = ()) -> list[tuple[Any, tuple[Any, ...]]]:
    """The alternatives of a (possibly Optional/Union/Annotated) type with their metadata."""
    origin = get_origin(tp)
    if origin is Annotated:
        base, *extra = get_args(tp)
        return _atoms(base, (*meta, *extra))
    if origin in (Union, types.UnionType):
        return [atom for arg in get_args(tp) for atom in _atoms(arg, meta)]
    if tp is type(None):
        return []
    return [(tp, meta)]


def field_kind(scope: str, field: str) -> Kind:
    """The input kind of a model field, from its type."""
    info = _field_info(MODELS[scope], field)
    if info is None:
        return "text"
    atoms = _atoms(info.annotation, tuple(info.metadata))
    if any(get_origin(t) is list for t, _ in atoms):
        return "multi" if _table(scope, field) or (scope, field) in _ID_CHOICES else "ids"
    literals = {v for t, _ in atoms if get_origin(t) is Literal for v in get_args(t)}
    if {"yes", "no"} <= literals:
        return "single"
    if any(t is int for t, _ in atoms):
        return "integer"
    if any(t is float for t, _ in atoms):
        return "number"
    if any(any(m is _DURATION_MARK for m in meta) for _, meta in atoms):
        return "duration"
    return "single" if _table(scope, field) else "text"


def _table(scope: str, field: str) -> str:
    spec = field_registry.spec(scope, field) if scope in ("loop", "resource") else None
    return spec.table if spec is not None else ""


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


def _accepts_unknown(scope: str, field: str) -> bool:
    info = _field_info(MODELS[scope], field)
    if info is None or info.is_required():
        return False
    data = dict(_MINIMAL[scope])
    _set_path(data, field, UNKNOWN)
    try:
        MODELS[scope].model_validate(data)
    except ValidationError:
        return False
    return True


# ---------------------------------------------------------------- choices and specs


def _vocab_choices(kb: KnowledgeBase, table: str) -> tuple[Choice, ...]:
    out = []
    for term_id, term in getattr(kb.vocabulary, table).items():
        if isinstance(term, str):
            out.append(Choice(term_id, term[:1].upper() + term[1:]))
        else:
            out.append(Choice(term_id, term.label[:1].upper() + term.label[1:], term.help))
    return tuple(out)


YES_NO = (Choice("yes", "Yes"), Choice("no", "No"))


def spec_for(
    q: Question, kb: KnowledgeBase, assessment: Assessment | None, target: str = ""
) -> AnswerSpec:
    """How question `q` is answered for `target` (a loop or resource id)."""
    authored = tuple(Choice(c.value, c.label) for c in q.choices)
    if q.answer is not None:
        kind: Kind = {
            "yesno": "single",
            "category": "single",
            "set": "multi",
            "number": "integer",
            "text": "text",
        }[q.answer]  # type: ignore[assignment]
        choices = YES_NO if q.answer == "yesno" else authored
        # A pattern's own question is about one mechanism, which a loop may not have.
        return AnswerSpec(kind, choices, allows_unknown=True, allows_not_applicable=True)
    field = q.field or ""
    kind = field_kind(q.about, field)
    allows = _accepts_unknown(q.about, field)
    na = q.about in ("loop", "resource") and field_registry.may_not_apply(q.about, field)
    if authored:
        kind = "multi" if kind in ("multi", "ids") else "single"
        return AnswerSpec(kind, authored, allows, allows_not_applicable=na)
    table = _table(q.about, field)
    if table:
        return AnswerSpec(kind, _vocab_choices(kb, table), allows, allows_not_applicable=na)
    ids_from = _ID_CHOICES.get((q.about, field))
    if ids_from and assessment is not None:
        if ids_from == "loops":
            pool = [(lp.id, lp.name) for lp in assessment.loops if lp.id != target]
        else:
            pool = [(r.id, r.name) for r in assessment.resource_list() if r.id != target]
        choices = tuple(
            Choice(pid, f"{name} ({pid})" if name and name != UNKNOWN else pid)
            for pid, name in pool
        )
        return AnswerSpec("multi", choices, allows)
    if kind == "single":  # a yes/no field
        return AnswerSpec("single", YES_NO, allows, allows_not_applicable=na)
    suggestions = tuple(assessment.resource_ids()) if assessment is not None else ()
    return AnswerSpec(kind, (), allows, suggestions if kind == "ids" else (), na)


# ---------------------------------------------------------------- typed answers


def slugify(text: str) -> str:
    """A valid id made from free text ('Gateway timeout' -> 'gateway-timeout')."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.strip().lower()).strip("-_")
    return slug[:64].rstrip("-_")


def parse_typed(spec: AnswerSpec, text: str) -> Any:
    """The value of a typed answer; AnswerError explains what is wrong with it.

    Typed text is read as people write it (expert.assessment.naturalinput): "nobody knows" is
    unknown, "n/a" says the question does not apply where it may not (else it is unknown
    too), and so does "never" for a count or a duration ("gives up after: never"); "a few
    seconds" is a range, "20 billion" a number.
    """
    s = text.strip()
    if spec.kind == "ids" and s.lower() in ("none", "nothing", "no"):
        return []  # "calls: none" is an answer: an empty list, not an unknown one
    if spec.allows_not_applicable and naturalinput.is_not_applicable(s):
        return NOT_APPLICABLE
    limited = spec.kind in ("integer", "number", "duration")
    if limited and spec.allows_not_applicable and naturalinput.is_no_limit(s):
        return NOT_APPLICABLE  # "gives up after: never" has no such limit
    if naturalinput.is_unknown(s):
        if spec.allows_unknown:
            return UNKNOWN
        raise AnswerError("This one needs an answer; any short label will do.")
    if not s:
        extra = ", press ctrl+d if you don't know," if spec.allows_unknown else ""
        raise AnswerError(f"Type an answer{extra} or press Page Down to skip it for now.")
    try:
        if spec.kind == "duration":
            return naturalinput.parse_duration(s)
        if spec.kind == "integer":
            return naturalinput.parse_count(s)
        if spec.kind == "number":
            value = naturalinput.parse_number(s)
            return int(value) if value.is_integer() else value
    except naturalinput.NaturalInputError as exc:
        raise AnswerError(_sentence(str(exc))) from None
    if spec.kind == "ids":
        # "vLLM servers" is read as the id vllm-servers, as a loop's name gives its id.
        items = [
            item.strip() if SLUG.match(item.strip()) else slugify(item)
            for item in re.split(r"[,;\n]+", s)
            if item.strip()
        ]
        if not all(items):
            raise AnswerError(
                "Name each one with letters or digits, for example inference-gateway."
            )
        return list(dict.fromkeys(items))
    return s


def close_to_known(ids: list[str], known: Sequence[str]) -> dict[str, str]:
    """The ids in `ids` that are new but look like a typo of a known one: {new: known}."""
    out = {}
    for item in ids:
        if item not in known:
            match = difflib.get_close_matches(item, known, n=1, cutoff=0.8)
            if match:
                out[item] = match[0]
    return out


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def describe(spec: AnswerSpec, value: Any) -> str:
    """A stored value as the user would read it."""
    if value is None:
        return "not answered yet"
    if value == UNKNOWN:
        return "don't know"
    if value == NOT_APPLICABLE:
        return NOT_APPLICABLE
    if isinstance(value, list):
        if not value:
            return "none"
        return ", ".join(spec.label(v) for v in value)
    if spec.kind == "duration":
        try:
            reading = durations.describe(durations.parse(value))
        except durations.DurationError:
            return str(value)
        return str(value) if reading == str(value) else f"{value} ({reading})"
    return spec.label(value)


def source_words(cited: str, short: bool = False) -> str:
    """A `sources` entry as a person reads it: "from cfg/hpa.yaml:14", or for a value the
    file leaves to its upstream default "from cfg/vllm.yaml:35, the documented default (the
    file does not set it)". `short` names the file without its folders (for the outline)."""
    c = parse(cited)
    file = c.file.rsplit("/", 1)[-1] if short else c.file
    where = f"{file}:{c.line}" if c.line else file
    if not c.note:
        return f"from {where}"
    if short:
        return f"from {where}, default" if c.default else f"from {where}"
    if c.note == "default":
        return f"from {where}, the documented default (the file does not set it)"
    return f"from {where} ({c.note})"


def as_text(spec: AnswerSpec, value: Any) -> str:
    """A stored value as it goes back into a text box for editing."""
    if value is None or value == UNKNOWN:
        return ""
    if value == NOT_APPLICABLE:
        return "n/a"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def duration_reading(text: str) -> str:
    """How a duration being typed will be read, or why it cannot be (for a live hint)."""
    s = text.strip()
    if not s:
        return ""
    try:
        value = naturalinput.parse_duration(s)
    except naturalinput.NaturalInputError as exc:
        return _sentence(str(exc))
    if value == UNKNOWN:
        return "reads as don't know"
    return "reads as " + durations.describe(durations.parse(value))
