"""The assessment file: the interchange format between the interview and the engine.

A YAML file describing a platform's control loops. Every field except a loop's `id` may be
`unknown`, which is a value of its own: the engine treats it as "could be either", findings
resting on it are marked possible, and the auditability report counts it as evidence.
A field that is absent has simply not been answered yet and reads as unknown too.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from expert.assessment import durations, fields, limits
from expert.assessment.masking import MaskStatement, check_masks
from expert.assessment.vocabulary import Vocabulary, suggest
from expert.errors import InputError, Problem
from expert.yamlio import LineMap, atomic_write_text, dump_yaml, load_yaml, parse_yaml_text

SCHEMA_VERSION = 1
UNKNOWN = "unknown"
# How a field listed under `not_applicable` reads wherever it is shown.
DOES_NOT_APPLY = "does not apply"
Unknown = Literal["unknown"]
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SLUG_HELP = (
    "use lower-case letters, digits, '-' and '_' (at most 64), starting with a letter or digit"
)
MAX_TEXT = limits.MAX_TEXT
MAX_LOOPS = limits.MAX_LOOPS
# Characters a terminal or a browser acts on instead of showing: C0 controls (but tab and line
# breaks), DEL, C1 controls (U+009B is a one-byte CSI, the start of an escape sequence), and
# the bidirectional embeddings, overrides and isolates that make text display in an order
# other than the one it is stored in ("Trojan Source", CVE-2021-42574). The bidi marks
# U+200E, U+200F and U+061C stay allowed: they reorder nothing and right-to-left names use them.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_YAML_BOOLEAN_HINT = (
    "YAML reads an unquoted yes, no, on, off, true or false as a yes/no value; "
    'if you meant the word, put it in quotes (e.g. "yes")'
)


def shown(value: object, limit: int = 60) -> str:
    """A user-typed value as it may appear in a message: escaped and shortened."""
    text = repr(value) if isinstance(value, str) else str(value)
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slug(value: str) -> str:
    if not SLUG.match(value):
        raise ValueError(f"{shown(value)} is not a valid id; {SLUG_HELP}")
    return value


def _duration_input(value: object) -> object:
    """Non-text durations (e.g. `30`) get the duration parser's message, not a type error."""
    if not isinstance(value, str):
        try:
            durations.parse(value)
        except durations.DurationError as exc:
            raise ValueError(str(exc)) from None
    return value


def _duration(value: str) -> str:
    """The one place a duration is parsed: the value keeps the text and carries its interval."""
    try:
        return durations.Duration(value)
    except durations.DurationError as exc:
        raise ValueError(str(exc)) from None


def control_characters(text: str) -> list[str]:
    """The characters of `text` a terminal would act on, named, e.g. ['U+202E RIGHT-TO-LEFT
    OVERRIDE', 'U+009B']; empty for plain text."""
    found = dict.fromkeys(_CONTROL.findall(text))
    return [f"U+{ord(ch):04X} {unicodedata.name(ch, '')}".rstrip() for ch in found]


def _text(value: str) -> str:
    """Free text may be any length up to MAX_TEXT and hold no control characters."""
    if len(value) > MAX_TEXT:
        raise PydanticCustomError(
            "text_too_long",
            "text is {length} characters long; the limit is {limit}",
            {"length": len(value), "limit": MAX_TEXT},
        )
    if _CONTROL.search(value):  # looked for first, named only when there are some
        found = control_characters(value)
        raise PydanticCustomError(
            "control_characters",
            "text contains control characters ({names})",
            {"names": ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")},
        )
    return value


def _yes_no(value: object) -> object:
    """An unquoted yes/no/true/false/on/off reaches us as a YAML boolean: it means yes or no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _no_boolean(value: object) -> object:
    """bool is an int in Python: keep `max_retries: true` from reading as 1."""
    if isinstance(value, bool):
        raise PydanticCustomError("boolean_number", "a yes/no value is not a number")
    return value


Slug = Annotated[str, AfterValidator(_slug)]
Text = Annotated[str, AfterValidator(_text)]
# Where imported values came from: field path (deadline, retry.max_retries,
# answers.<question>) -> "file:line", with " (default ...)" when it is an upstream default.
# Short, so that a hostile file name cannot bloat every report that cites it.
SourceText = Annotated[str, Field(max_length=300), AfterValidator(_text)]
SourcePath = Annotated[str, Field(pattern=r"^[a-z0-9_][a-z0-9_.-]{0,127}$")]
Sources = Annotated[dict[SourcePath, SourceText], Field(max_length=200)]
# Written back as plain text (YAML and JSON dumpers know only `str` itself).
Duration = Annotated[
    str,
    BeforeValidator(_duration_input),
    AfterValidator(_duration),
    PlainSerializer(str),
]
Word = Annotated[str, Field(max_length=64)]
YesNo = Annotated[Literal["yes", "no", "unknown"], BeforeValidator(_yes_no)]
Count = Annotated[int, Field(ge=0, le=1000), BeforeValidator(_no_boolean)]


def _answer(value: Any) -> Any:
    """An answer to a knowledge-base question: a word, number, short text or list of words.
    Whether it fits its question is checked against the knowledge base (analysis/assess.py)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):  # a multiple-choice answer: a list of short words
        if len(value) > 100 or not all(
            isinstance(item, str) and len(item) <= 64 and not _CONTROL.search(item)
            for item in value
        ):
            raise ValueError("a multiple-choice answer must be a list of short words")
        return value
    if isinstance(value, dict):
        raise ValueError("an answer must be a single word, number or short text")
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("the answer is not a finite number")
    return value


Answer = Annotated[Any, AfterValidator(_answer)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Alternative(_Model):
    """One respondent's answer to a field they disagree about (written by `coherence merge`)."""

    by: Text
    value: Answer


# field (dotted, e.g. retry.max_retries or answers.<question>) -> what each respondent said.
# respondents.check_disputes (this package) checks the rest: the field exists and holds unknown.
Disputed = dict[
    Annotated[str, Field(max_length=100)],
    Annotated[list[Alternative], Field(min_length=2, max_length=100)],
]
_NOT_APPLICABLE_HELP = (
    "fields that do not apply to it (e.g. retry.max_retries for a loop that never retries, "
    "answers.<question> for a pattern's question): not asked again, and no finding rests on "
    "them; each is a field that may not apply, and is left unset"
)


def _check_not_applicable(item: BaseModel, kind: str) -> None:
    """Each field listed as not applying may not apply (never what a loop is or does) and
    holds no answer: a value beside "does not apply" would be two answers to one question."""
    for path in getattr(item, "not_applicable", None) or []:
        if not fields.may_not_apply(kind, path):
            raise ValueError(
                f"{path} cannot be marked as not applying to a {kind}; answer it, or say unknown"
            )
        head, _, rest = path.partition(".")
        value = getattr(item, head, None)
        if rest:
            value = value.get(rest) if isinstance(value, dict) else getattr(value, rest, None)
        if value is not None:
            raise ValueError(
                f"{path} is answered ({value}) and also listed as not applying; keep one"
            )


_DISPUTED_HELP = (
    "answers respondents gave that disagree, by field; the field itself holds unknown, so "
    "rules treat it as unknown (written by coherence merge)"
)


class System(_Model):
    name: Text
    description: Text | None = None
    respondent: Text | None = None


class Retry(_Model):
    """How a retrying loop retries; each field may be unknown."""

    max_retries: Count | Unknown | None = Field(
        None, description="retries after the first attempt (r in (r+1)^n)"
    )
    backoff: Word | None = Field(None, description="none | fixed | exponential | unknown")
    jitter: YesNo | None = None
    budget: YesNo | None = Field(None, description="is there a retry budget or ratio cap?")
    retries_on: list[Word] | Unknown | None = Field(
        None,
        description="failure classes retried: transient, timeout, rate_limited, "
        "policy_termination, disruption, overload_rejection, application_error",
    )


class Guards(_Model):
    """Guards on a loop's actuator."""

    exemptions: YesNo | None = Field(None, description="can some work be exempted?")
    rate_limited: YesNo | None = Field(None, description="is the loop's own action rate-limited?")
    give_up_after: Count | Unknown | None = Field(
        None, description="how many actions before it gives up (e.g. restart backoff limit)"
    )


class Loop(_Model):
    id: Slug
    name: Text | Unknown | None = None
    layer: Word | None = None
    owner: Text | None = None
    objective: Word | None = None
    target: Text | None = Field(None, description="the metric it watches, in words")
    timescale: Duration | None = Field(None, description="how fast it reacts")
    window: Duration | None = Field(
        None, description="the period its metric is averaged over before it acts"
    )
    triggers: list[Word] | Unknown | None = None
    actuations: list[Word] | Unknown | None = None
    acts_on: list[Slug] | Unknown | None = None
    observes: list[Word] | Unknown | None = Field(None, description="signal ids it watches")
    changes: list[Word] | Unknown | None = Field(
        None, description="signals its action changes beyond what its actuations imply"
    )
    decision_record: Word | None = None
    instances: Word | None = Field(None, description="once | per_node | per_replica | ...")
    retry: Retry | None = None
    deadline: Duration | None = Field(None, description="the timeout it enforces, if any")
    propagates_cancellation: YesNo | None = None
    guards: Guards | None = None
    controls: list[Slug] | Unknown | None = Field(
        None, description="other loops this loop gates, disables or reconfigures"
    )
    masks: list[MaskStatement] | None = Field(
        None,
        description="signals it hides, delays or averages away from loops that read them; "
        "[] says it masks nothing (expert/assessment/masking.py)",
    )
    answers: dict[Slug, Answer] = Field(default_factory=dict)
    sources: Sources | None = Field(None, description="where imported values came from")
    disputed: Disputed = Field(default_factory=dict, description=_DISPUTED_HELP)
    not_applicable: list[SourcePath] | None = Field(None, description=_NOT_APPLICABLE_HELP)

    @model_validator(mode="after")
    def _not_applicable_fields(self) -> Loop:
        _check_not_applicable(self, "loop")
        return self


class Resource(_Model):
    id: Slug
    kind: Word | None = None
    name: Text | None = None
    synchronized: YesNo | None = Field(
        None, description="must all members take part in a global step?"
    )
    calls: list[Slug] = Field(default_factory=list, description="resources this one calls")
    accelerated: YesNo | None = Field(
        None,
        description="does work on it run on accelerators (GPUs, TPUs)? Left out, its kind "
        "decides (`accelerated` in the vocabulary): a job does, a queue does not",
    )
    startup_time: Duration | None = None
    checkpoint_interval: Duration | None = None
    checkpoint_duration: Duration | None = None
    interrupted_every: Duration | None = Field(
        None,
        description="how often one run of it is interrupted from any cause (preemption, "
        "eviction, a drained or lost node), roughly: the mean time between interruptions",
    )
    sources: Sources | None = Field(None, description="where imported values came from")
    disputed: Disputed = Field(default_factory=dict, description=_DISPUTED_HELP)
    not_applicable: list[SourcePath] | None = Field(None, description=_NOT_APPLICABLE_HELP)

    @model_validator(mode="after")
    def _not_applicable_fields(self) -> Resource:
        _check_not_applicable(self, "resource")
        return self

    @property
    def shown_name(self) -> str:
        """The name its author gave it, else its id: how every report and screen names it."""
        return self.name if self.name not in (None, UNKNOWN, "") else self.id


Money = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False), BeforeValidator(_no_boolean)]


class Economics(_Model):
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    accelerator_count: (
        Annotated[int, Field(ge=0, le=10_000_000), BeforeValidator(_no_boolean)] | Unknown | None
    ) = None
    accelerator_hour_cost: Money | Unknown | None = None
    monthly_tokens: (
        Annotated[int, Field(ge=0, le=10**16), BeforeValidator(_no_boolean)] | Unknown | None
    ) = None
    cost_per_million_tokens: Money | Unknown | None = None
    engineer_hour_cost: Money | Unknown | None = None
    engineers: (
        Annotated[int, Field(ge=0, le=100_000), BeforeValidator(_no_boolean)] | Unknown | None
    ) = Field(None, description="engineers who triage platform incidents")
    disputed: Disputed = Field(default_factory=dict, description=_DISPUTED_HELP)


# A finding id (expert/engine/ids.py): rule, then :loops or @resources.
FindingKey = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[a-z0-9][^\s]*$")]


def _reason(value: str) -> str:
    if not value.strip():
        raise ValueError("a decision needs a reason: say why, in a sentence")
    return value


class Decision(_Model):
    """What a team decided about one finding, keyed by the finding's id under `decisions`."""

    state: Literal["accepted", "mitigated", "not-applicable", "false-positive"] = Field(
        description="accepted: the risk is taken knowingly; mitigated: fixed outside what the "
        "answers describe; not-applicable; false-positive"
    )
    reason: Annotated[str, AfterValidator(_text), AfterValidator(_reason)] = Field(
        description="why (required)"
    )
    by: Text | None = Field(None, description="who decided")
    date: dt.date = Field(description="when it was decided (YYYY-MM-DD)")
    expires: dt.date | None = Field(
        None,
        description="the last day it holds (YYYY-MM-DD); until then --fail-on ignores an "
        "accepted or not-applicable finding",
    )

    @model_validator(mode="after")
    def _expires_after_date(self) -> Decision:
        if self.expires is not None and self.expires < self.date:
            raise ValueError(
                f"expires ({self.expires}) is before the decision's date ({self.date})"
            )
        return self


class Assessment(_Model):
    schema_version: Literal[1]
    system: System
    loops: Annotated[list[Loop], Field(max_length=MAX_LOOPS)] = Field(default_factory=list)
    resources: list[Resource] | None = None
    economics: Economics | None = None
    decisions: dict[FindingKey, Decision] = Field(
        default_factory=dict,
        description="decisions about findings, by finding id (as reports and --format json "
        "show it)",
    )

    def origin(self) -> tuple[str, LineMap] | None:
        """The file load() read this assessment from and the line of every key, for reports
        that point at a loop's line (SARIF). Kept beside the fields, as a cached property
        is: not part of the format, and equal content is equal wherever it was read from."""
        return self.__dict__.get("_origin")

    def loop(self, loop_id: str) -> Loop | None:
        return next((lp for lp in self.loops if lp.id == loop_id), None)

    def resource(self, resource_id: str) -> Resource | None:
        return next((r for r in self.resource_list() if r.id == resource_id), None)

    def resource_ids(self) -> list[str]:
        if self.resources is not None:
            return [r.id for r in self.resources]
        seen: dict[str, None] = {}
        for lp in self.loops:
            if isinstance(lp.acts_on, list):
                seen.update(dict.fromkeys(lp.acts_on))
        return list(seen)

    def resource_list(self) -> list[Resource]:
        """Declared resources, or those implied by acts_on (of unknown kind)."""
        if self.resources is not None:
            return self.resources
        return [Resource(id=rid) for rid in self.resource_ids()]

    def to_yaml(self) -> str:
        data = self.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
        for loop in data.get("loops", []):
            if not loop.get("answers"):
                loop.pop("answers", None)
            if not loop.get("disputed"):
                loop.pop("disputed", None)
        for res in data.get("resources", []) or []:
            if not res.get("calls"):
                res.pop("calls", None)
            if not res.get("disputed"):
                res.pop("disputed", None)
        if data.get("economics") is not None and not data["economics"].get("disputed"):
            data["economics"].pop("disputed", None)
        if not data.get("decisions"):
            data.pop("decisions", None)
        return dump_yaml(data)


# ---------------------------------------------------------------- loading and checking


def loc_text(loc: tuple[Any, ...], data: Any) -> str:
    """Readable location: loops[2] (id gateway-timeout).timescale"""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            try:
                node = node[item]
                if isinstance(node, dict) and isinstance(node.get("id"), str):
                    label += f" (id {shown(node['id'])[1:-1]})"
            except (IndexError, KeyError, TypeError):
                node = None
            parts.append(label)
        else:
            parts.append(
                ("." if parts else "") + shown(item)[1:-1] if isinstance(item, str) else str(item)
            )
            try:
                node = node[item]
            except (KeyError, TypeError, IndexError):
                node = None
    return "".join(parts)


_UNION_TAGS = {
    "str",
    "int",
    "float",
    "bool",
    "list",
    "dict",
    "none",
    "function-after",
    "function-before",
    "constrained-int",
    "constrained-float",
    "constrained-str",
}

_DATE_FIX = "write the date as YYYY-MM-DD, e.g. 2026-05-02"
_FIXES = {
    "missing": "add this field",
    "extra_forbidden": "remove it or check its spelling against the format (coherence schema)",
    "literal_error": "use one of the values named in the message",
    "control_characters": "delete them, retyping the text if you cannot see them: they can "
    "change what a terminal shows, or display the text in another order than it is written",
    "boolean_number": "write a number (e.g. 3), or unknown",
    # A value of the wrong shape: say what shape is wanted, as a YAML author writes it.
    "string_type": "write it as text; put it in quotes if it reads as a number, a date or yes/no",
    "int_type": "write a whole number (e.g. 3), or unknown",
    "int_parsing": "write a whole number (e.g. 3), or unknown",
    "int_from_float": "write a whole number (e.g. 3), or unknown",
    "float_type": "write a number (e.g. 0.5), or unknown",
    "float_parsing": "write a number (e.g. 0.5), or unknown",
    "bool_type": 'write "yes" or "no" (with the quotes), or unknown',
    "bool_parsing": 'write "yes" or "no" (with the quotes), or unknown',
    "list_type": "write a list: [a, b] on one line, or one '- item' per line below it",
    "dict_type": "write its fields below it, one 'name: value' per line, indented",
    "model_type": "write its fields below it, one 'name: value' per line, indented",
    "model_attributes_type": "write its fields below it, one 'name: value' per line, indented",
    "greater_than": "use a larger number: the message names the bound",
    "greater_than_equal": "use a larger number: the message names the smallest allowed",
    "less_than": "use a smaller number: the message names the bound",
    "less_than_equal": "use a smaller number: the message names the largest allowed",
    "string_too_short": "write something here, or leave the field out",
    "string_too_long": "shorten it to the length the message names",
    "text_too_long": "shorten it to the length the message names; a long description belongs "
    "in a document the assessment links to",
    "too_short": "add entries: the message says how many are needed",
    "too_long": "remove entries: the message says how many are allowed",
    "finite_number": "write a number (e.g. 0.5), or unknown",
    "invalid_key": "name the field with a word, as the format does (coherence schema), or "
    "remove the line",
    "date_type": _DATE_FIX,
    "date_parsing": _DATE_FIX,
    "date_from_datetime_inexact": _DATE_FIX,
    "date_from_datetime_parsing": _DATE_FIX,
}


# pydantic's own wording for these names Python types ("a valid dictionary or instance of
# System"): what the file should hold there, in its author's terms.
_MESSAGES = {
    "dict_type": "fields are expected here (one 'name: value' per line), not {shape}",
    "model_type": "fields are expected here (one 'name: value' per line), not {shape}",
    "model_attributes_type": "fields are expected here (one 'name: value' per line), not {shape}",
    "finite_number": "a number is expected here, not {shape}",
    "date_type": "a date is expected here (YYYY-MM-DD), not {shape}",
    "date_parsing": "a date is expected here (YYYY-MM-DD), not {shape}",
    "date_from_datetime_inexact": "a date is expected here (YYYY-MM-DD), not a date and time",
    "date_from_datetime_parsing": "a date is expected here (YYYY-MM-DD), not {shape}",
    "invalid_key": "a field's name must be a word, not {shape}",
}


def _shape(value: Any) -> str:
    """What a value of a parsed file is, as its author would say it."""
    if isinstance(value, bool):
        return f"yes/no ({'yes' if value else 'no'})"
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "infinity"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return "a value of another kind"


def pydantic_problems(
    exc: ValidationError, source: str, data: Any, lines: LineMap, schema: str = "coherence schema"
) -> list[Problem]:
    """One problem per place pydantic found wrong, with a fix; `schema` is the command that
    prints the format the file follows (a knowledge-base file's is `coherence kb schema`)."""
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        # Drop union-branch tags pydantic appends (e.g. 'list[str]', 'literal[...]').
        clean = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in _UNION_TAGS)))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown field {clean[-1]!r}" if clean else "unknown field"
        elif err["type"] in _MESSAGES:
            msg = _MESSAGES[err["type"]].format(shape=_shape(err.get("input")))
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        problems.append(
            Problem(
                source,
                msg,
                where=loc_text(clean, data),
                line=lines.line(clean),
                fix=_YAML_BOOLEAN_HINT
                if isinstance(err.get("input"), bool) and err["type"] != "boolean_number"
                else _FIXES.get(err["type"], "").replace("(coherence schema)", f"({schema})"),
            )
        )
    # Union errors repeat per branch; keep one message per place, preferring the one that
    # explains the value over "Input should be 'unknown'" from the unknown branch.
    by_place: dict[tuple[str, int | None], Problem] = {}
    for p in problems:
        key = (p.where, p.line)
        if key not in by_place or "should be 'unknown'" in by_place[key].message:
            by_place[key] = p
    return list(by_place.values())


def check_semantics(
    data: Any,
    vocab: Vocabulary,
    source: str = "<assessment>",
    lines: LineMap | None = None,
) -> list[Problem]:
    """Vocabulary, uniqueness and reference checks that need the knowledge base.

    They read the parsed file, not the validated model, so they run even when other parts of
    the file fail validation: every problem is reported in one pass. What is not text where a
    term or an id belongs is left to validation."""
    lines = lines or LineMap()
    problems: list[Problem] = []

    def problem(loc: tuple[Any, ...], message: str, fix: str) -> None:
        problems.append(
            Problem(source, message, where=loc_text(loc, data), line=lines.line(loc), fix=fix)
        )

    # Each word list read once, as a set to look words up in (about 7,000 at 1,000 loops).
    tables: dict[str, frozenset[str]] = {}

    def term(loc: tuple[Any, ...], raw: Any, what: str, table: str) -> None:
        value = limits.word(raw)
        if table not in tables:
            tables[table] = frozenset(vocab.terms(table))
        if value is None or value == UNKNOWN or value in tables[table]:
            return
        problem(loc, f"unknown {what} {shown(value)}", suggest(value, vocab.terms(table)))

    def terms(loc: tuple[Any, ...], values: Any, what: str, table: str) -> None:
        if isinstance(values, list):
            for i, v in enumerate(values):
                term((*loc, i), v, what, table)

    loops = limits.entries(data, "loops")
    ids: dict[str, int] = {}
    for i, lp in loops:
        base = ("loops", i)
        lid = limits.word(lp.get("id"))
        if lid is not None and lid in ids:
            problem(
                (*base, "id"),
                f"loop id {shown(lid)} is used twice (also loops[{ids[lid]}])",
                "give each loop its own id",
            )
        if lid is not None:
            ids.setdefault(lid, i)
        term((*base, "layer"), lp.get("layer"), "layer", "layers")
        term((*base, "objective"), lp.get("objective"), "objective", "objectives")
        term(
            (*base, "decision_record"),
            lp.get("decision_record"),
            "decision record",
            "decision_records",
        )
        term((*base, "instances"), lp.get("instances"), "instance count", "instances")
        terms((*base, "triggers"), lp.get("triggers"), "trigger", "triggers")
        terms((*base, "actuations"), lp.get("actuations"), "actuation", "actuations")
        terms((*base, "observes"), lp.get("observes"), "signal", "signals")
        terms((*base, "changes"), lp.get("changes"), "signal", "signals")
        retry = lp.get("retry")
        if isinstance(retry, dict):
            term((*base, "retry", "backoff"), retry.get("backoff"), "backoff kind", "backoff_kinds")
            terms(
                (*base, "retry", "retries_on"),
                retry.get("retries_on"),
                "failure class",
                "failure_classes",
            )
    _references(loops, "loops", "controls", "loop", ids, problem)
    for loc, message, fix in check_masks(data, vocab):
        problem(loc, message, fix)
    if isinstance(data, dict) and isinstance(data.get("resources"), list):
        _resource_references(data, loops, problem, term)
    return problems


def _references(
    items: list[tuple[int, dict[str, Any]]],
    section: str,
    key: str,
    what: str,
    declared: dict[str, int],
    problem: Callable[[tuple[Any, ...], str, str], None],
    under: str = "",
) -> None:
    """Every name in each item's `key` list must be declared (`unknown` may stand for more)."""
    for i, item in items:
        names = item.get(key)
        for j, name in enumerate(names if isinstance(names, list) else []):
            name = limits.word(name)
            if name is None or name in declared or (under and name == UNKNOWN):
                continue
            problem(
                (section, i, key, j),
                f"{key} names {what} {shown(name)}, which is not declared"
                + (f" under {under}" if under else ""),
                (f"declare it under {under}, or " if under else "") + suggest(name, list(declared)),
            )


def _resource_references(
    data: dict[str, Any],
    loops: list[tuple[int, dict[str, Any]]],
    problem: Callable[[tuple[Any, ...], str, str], None],
    term: Callable[[tuple[Any, ...], Any, str, str], None],
) -> None:
    """Declared resources: unique ids, known kinds, every call and acts_on declared, and no
    call path that loops back on itself."""
    resources = limits.entries(data, "resources")
    rids: dict[str, int] = {}
    for i, res in resources:
        rid = limits.word(res.get("id"))
        if rid is not None and rid in rids:
            problem(
                ("resources", i, "id"),
                f"resource id {shown(rid)} is declared twice",
                "give each resource its own id",
            )
        if rid is not None:
            rids.setdefault(rid, i)
        term(("resources", i, "kind"), res.get("kind"), "resource kind", "resource_kinds")
    _references(resources, "resources", "calls", "resource", rids, problem)
    # [api, unknown] means api and maybe more.
    _references(loops, "loops", "acts_on", "resource", rids, problem, under="resources")
    calls: list[tuple[str, list[str]]] = []  # (resource, the declared resources it calls)
    for _, res in resources:
        rid = limits.word(res.get("id"))
        called = res.get("calls")
        if rid is not None:
            calls.append(
                (
                    rid,
                    [
                        callee
                        for callee in map(limits.word, called if isinstance(called, list) else [])
                        if callee in rids
                    ],
                )
            )
    # The standard library tells a call graph without cycles (the usual case) from one with
    # (edges reversed: a cycle either way); only a cycle needs networkx, to name the first
    # one in the order the resources were given.
    order: TopologicalSorter[str] = TopologicalSorter()
    for rid, callees in calls:
        order.add(rid, *callees)
    try:
        order.prepare()
        return
    except CycleError:
        pass
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()
    for rid, callees in calls:
        graph.add_node(rid)
        graph.add_edges_from((rid, callee) for callee in callees)
    cycle = nx.find_cycle(graph)
    path = " -> ".join([shown(u)[1:-1] for u, _ in cycle] + [shown(cycle[0][0])[1:-1]])
    problem(
        ("resources", rids[cycle[0][0]], "calls"),
        f"call path loops back on itself: {path}",
        "a call path must end somewhere; remove one of these calls",
    )


def _schema_version(data: dict[str, Any], source: str, lines: LineMap) -> Problem | None:
    """A problem with schema_version, if any; InputError at once for another version, whose
    files this version cannot interpret at all."""
    if "schema_version" not in data:
        return None  # reported as a missing field with the rest
    value = data["schema_version"]
    line = lines.line(("schema_version",))
    if type(value) is int and value != SCHEMA_VERSION:  # not bool: True == 1 in Python
        raise InputError(
            Problem(
                source,
                f"schema_version {value} is not supported",
                line=line,
                fix=f"this version of the tool reads schema_version: {SCHEMA_VERSION}",
            )
        )
    if type(value) is int:
        return None
    if isinstance(value, bool) or value is None:  # as YAML spells them
        written = "null" if value is None else str(value).lower()
    else:
        written = shown(value)
    return Problem(
        source,
        f"schema_version {written} is not a version number",
        line=line,
        fix=f"write schema_version: {SCHEMA_VERSION} (a plain number, without quotes)",
    )


def _results_file_problem(data: dict[str, Any], source: str, lines: LineMap) -> Problem:
    """What to say about a results file (`coherence assess --format json`) read as an
    assessment: which file it was made from, when it says so."""
    report = data.get("report")
    made_from = report.get("input") if isinstance(report, dict) else None
    named = f" ({shown(made_from, 120)})" if isinstance(made_from, str) and made_from else ""
    return Problem(
        source,
        "this is a results file written by `coherence assess`, not an assessment",
        line=lines.line(("tool",)) or lines.line(("findings",)) or 1,
        fix=f"pass the assessment it was made from{named} (or use `coherence diff` to "
        "compare two results files)",
    )


def validate(
    data: Any,
    vocab: Vocabulary,
    source: str = "<assessment>",
    lines: LineMap | None = None,
    checks: Callable[[Assessment], list[Problem]] | None = None,
) -> Assessment:
    """Validate already-parsed data; InputError listing every problem found.

    The input limits (expert/assessment/limits.py) are checked first and alone: past them even
    validating would be the work they exist to avoid. Then structure, vocabulary and
    references are all checked, and reported together in the order of the file, so fixing
    one problem never reveals another that could have been reported. `checks` adds checks of
    the validated model (e.g. answers against the knowledge base's questions)."""
    lines = lines or LineMap()
    if not isinstance(data, dict):
        raise InputError(
            Problem(
                source,
                "the file must be a mapping with schema_version, system and loops",
                line=1,
                fix="start from `coherence example llm-platform -o FILE`",
            )
        )
    if "apiVersion" in data and "kind" in data:
        # A common first try: pointing the tool at the platform's own manifests.
        raise InputError(
            Problem(
                source,
                f"this is a Kubernetes manifest (kind {str(data['kind'])[:60]}), not an assessment",
                line=lines.line(("kind",)) or 1,
                fix="turn configuration into an assessment with `coherence import PATH...`",
            )
        )
    if "findings" in data and ("tool" in data or "knowledge_base" in data):
        # The next likeliest wrong file: the tool's own JSON output, whose schema_version
        # is the results format's and would otherwise be reported as unsupported.
        raise InputError(_results_file_problem(data, source, lines))
    too_large = limits.check(data, source, lines)
    if too_large:
        raise InputError(too_large)
    problems: list[Problem] = []
    version = _schema_version(data, source, lines)
    if version is not None:
        problems.append(version)
        data = {**data, "schema_version": SCHEMA_VERSION}  # the rest is still checked
    assessment: Assessment | None = None
    try:
        assessment = Assessment.model_validate(data)
    except ValidationError as exc:
        problems += pydantic_problems(exc, source, data, lines)
    # A value validation refused (e.g. a term too long) is not also reported as unknown.
    refused = {p.where for p in problems}
    problems += [p for p in check_semantics(data, vocab, source, lines) if p.where not in refused]
    if any(disputed_sections(data)):
        from expert.assessment.respondents import check_disputes  # it imports this module

        problems += [p for p in check_disputes(data, source, lines) if p.where not in refused]
    if assessment is not None and checks is not None:
        problems += checks(assessment)
    if problems:
        raise InputError(sorted(problems, key=lambda p: (p.line is None, p.line or 0)))
    assert assessment is not None
    return assessment


# The key of a section's answers that respondents dispute (expert.assessment.respondents).
DISPUTED = "disputed"


def disputed_sections(
    data: Any,
) -> Iterator[tuple[Literal["loops", "resources", "economics"], tuple[Any, ...], dict[str, Any]]]:
    """(section, where it is, its answers) for each loop, resource or economics block of a parsed
    assessment that holds `disputed` answers. Here, not with the disputes check
    (expert.assessment.respondents): most files hold none, and a run then never loads that
    module (merging's), which costs every start where bytecode is not kept."""
    if not isinstance(data, dict):
        return
    for section in ("loops", "resources"):
        items = data.get(section)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and item.get(DISPUTED) is not None:
                yield section, (section, i), item
    econ = data.get("economics")
    if isinstance(econ, dict) and econ.get(DISPUTED) is not None:
        yield "economics", ("economics",), econ


def load(
    path: Path | str,
    vocab: Vocabulary,
    checks: Callable[[Assessment], list[Problem]] | None = None,
) -> Assessment:
    """Read, parse and validate an assessment file."""
    path = Path(path)
    data, lines = load_yaml(path, what="assessment file")
    assessment = validate(data, vocab, str(path), lines, checks)
    assessment.__dict__["_origin"] = (str(path), lines)
    return assessment


def loads(
    text: str,
    vocab: Vocabulary,
    source: str = "<text>",
    checks: Callable[[Assessment], list[Problem]] | None = None,
) -> Assessment:
    data, lines = parse_yaml_text(text, source)
    return validate(data, vocab, source, lines, checks)


def save(assessment: Assessment, path: Path | str) -> None:
    """Atomically write the assessment (readers never see a half-written file)."""
    atomic_write_text(Path(path), assessment.to_yaml())


def json_schema() -> dict[str, Any]:
    schema = Assessment.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Control-coherence assessment"
    return schema
