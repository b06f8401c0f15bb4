"""The assessment file: the interchange format between the interview and the engine.

A YAML file describing a platform's control loops. Every field except a loop's `id` may be
`unknown`, which is a value of its own: the engine treats it as "could be either", findings
resting on it are marked possible, and the auditability report counts it as evidence.
A field that is absent has simply not been answered yet and reads as unknown too.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from expert import durations
from expert.errors import InputError, Problem
from expert.vocabulary import Vocabulary, suggest
from expert.yamlio import LineMap, atomic_write_text, dump_yaml, load_yaml, parse_yaml_text

SCHEMA_VERSION = 1
UNKNOWN = "unknown"
Unknown = Literal["unknown"]
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SLUG_HELP = (
    "use lower-case letters, digits, '-' and '_' (at most 64), starting with a letter or digit"
)
MAX_TEXT = 2000
MAX_LOOPS = 20000


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
    try:
        durations.parse(value)
    except durations.DurationError as exc:
        raise ValueError(str(exc)) from None
    return value


def _text(value: str) -> str:
    if len(value) > MAX_TEXT:
        raise ValueError(f"text is {len(value)} characters long; the limit is {MAX_TEXT}")
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValueError("text contains control characters")
    return value


Slug = Annotated[str, AfterValidator(_slug)]
Text = Annotated[str, AfterValidator(_text)]
Duration = Annotated[str, BeforeValidator(_duration_input), AfterValidator(_duration)]
Word = Annotated[str, Field(max_length=64)]
YesNo = Literal["yes", "no", "unknown"]
Count = Annotated[int, Field(ge=0, le=1000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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
    answers: dict[Slug, Any] = Field(default_factory=dict)

    @field_validator("answers")
    @classmethod
    def _answers_plain(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, answer in value.items():
            if isinstance(answer, list):  # a multiple-choice answer: a list of short words
                if len(answer) > 100 or not all(
                    isinstance(item, str) and len(item) <= 64 for item in answer
                ):
                    raise ValueError(f"answer {key!r} must be a list of short words")
                continue
            if isinstance(answer, dict) or (isinstance(answer, str) and len(answer) > MAX_TEXT):
                raise ValueError(f"answer {key!r} must be a single word, number or short text")
            if isinstance(answer, float) and not math.isfinite(answer):
                raise ValueError(f"answer {key!r} is not a finite number")
        return value


class Resource(_Model):
    id: Slug
    kind: Word | None = None
    name: Text | None = None
    synchronized: YesNo | None = Field(
        None, description="must all members take part in a global step?"
    )
    calls: list[Slug] = Field(default_factory=list, description="resources this one calls")
    startup_time: Duration | None = None
    checkpoint_interval: Duration | None = None
    checkpoint_duration: Duration | None = None


Money = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]


class Economics(_Model):
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    accelerator_count: Annotated[int, Field(ge=0, le=10_000_000)] | Unknown | None = None
    accelerator_hour_cost: Money | Unknown | None = None
    monthly_tokens: Annotated[int, Field(ge=0, le=10**16)] | Unknown | None = None
    cost_per_million_tokens: Money | Unknown | None = None
    engineer_hour_cost: Money | Unknown | None = None
    engineers: Annotated[int, Field(ge=0, le=100_000)] | Unknown | None = Field(
        None, description="engineers who triage platform incidents"
    )


class Assessment(_Model):
    schema_version: Literal[1]
    system: System
    loops: Annotated[list[Loop], Field(max_length=MAX_LOOPS)] = Field(default_factory=list)
    resources: list[Resource] | None = None
    economics: Economics | None = None

    def loop(self, loop_id: str) -> Loop | None:
        return next((lp for lp in self.loops if lp.id == loop_id), None)

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
        for res in data.get("resources", []) or []:
            if not res.get("calls"):
                res.pop("calls", None)
        return dump_yaml(data)


# ---------------------------------------------------------------- loading and checking


def _loc_text(loc: tuple[Any, ...], data: Any) -> str:
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

_FIXES = {
    "missing": "add this field",
    "extra_forbidden": "remove it or check its spelling against the format (coherence schema)",
    "literal_error": "use one of the values named in the message",
}


def _pydantic_problems(
    exc: ValidationError, source: str, data: Any, lines: LineMap
) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        # Drop union-branch tags pydantic appends (e.g. 'list[str]', 'literal[...]').
        clean = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in _UNION_TAGS)))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown field {clean[-1]!r}" if clean else "unknown field"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        problems.append(
            Problem(
                source,
                msg,
                where=_loc_text(clean, data),
                line=lines.line(clean),
                fix=_FIXES.get(err["type"], ""),
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


def _vocab_problem(
    source: str,
    lines: LineMap,
    data: Any,
    loc: tuple[Any, ...],
    value: str,
    what: str,
    known: list[str],
) -> Problem:
    return Problem(
        source,
        f"unknown {what} {value!r}",
        where=_loc_text(loc, data),
        line=lines.line(loc),
        fix=suggest(value, known),
    )


def check_semantics(
    a: Assessment,
    vocab: Vocabulary,
    source: str = "<assessment>",
    lines: LineMap | None = None,
    data: Any = None,
) -> list[Problem]:
    """Vocabulary, uniqueness and reference checks that need the knowledge base."""
    lines = lines or LineMap()
    data = data if data is not None else a.model_dump(mode="json")
    problems: list[Problem] = []

    def term(loc: tuple[Any, ...], value: Any, what: str, table: str) -> None:
        known = vocab.terms(table)
        if value is None or value == UNKNOWN or value in known:
            return
        problems.append(_vocab_problem(source, lines, data, loc, value, what, known))

    def vocab_list(loc: tuple[Any, ...], values: Any, what: str, table: str) -> None:
        if isinstance(values, list):
            for i, v in enumerate(values):
                term((*loc, i), v, what, table)

    ids: dict[str, int] = {}
    for i, lp in enumerate(a.loops):
        base = ("loops", i)
        if lp.id in ids:
            problems.append(
                Problem(
                    source,
                    f"loop id {lp.id!r} is used twice (also loops[{ids[lp.id]}])",
                    where=_loc_text((*base, "id"), data),
                    line=lines.line((*base, "id")),
                    fix="give each loop its own id",
                )
            )
        ids.setdefault(lp.id, i)
        term((*base, "layer"), lp.layer, "layer", "layers")
        term((*base, "objective"), lp.objective, "objective", "objectives")
        term((*base, "decision_record"), lp.decision_record, "decision record", "decision_records")
        term((*base, "instances"), lp.instances, "instance count", "instances")
        vocab_list((*base, "triggers"), lp.triggers, "trigger", "triggers")
        vocab_list((*base, "actuations"), lp.actuations, "actuation", "actuations")
        vocab_list((*base, "observes"), lp.observes, "signal", "signals")
        vocab_list((*base, "changes"), lp.changes, "signal", "signals")
        if lp.retry is not None:
            term((*base, "retry", "backoff"), lp.retry.backoff, "backoff kind", "backoff_kinds")
            vocab_list(
                (*base, "retry", "retries_on"),
                lp.retry.retries_on,
                "failure class",
                "failure_classes",
            )
    for i, lp in enumerate(a.loops):
        if isinstance(lp.controls, list):
            for j, other in enumerate(lp.controls):
                if other not in ids:
                    loc = ("loops", i, "controls", j)
                    problems.append(
                        Problem(
                            source,
                            f"controls names loop {other!r}, which is not declared",
                            where=_loc_text(loc, data),
                            line=lines.line(loc),
                            fix=suggest(other, list(ids)),
                        )
                    )
    if a.resources is not None:
        rids: dict[str, int] = {}
        for i, res in enumerate(a.resources):
            loc = ("resources", i)
            if res.id in rids:
                problems.append(
                    Problem(
                        source,
                        f"resource id {res.id!r} is declared twice",
                        where=_loc_text((*loc, "id"), data),
                        line=lines.line((*loc, "id")),
                        fix="give each resource its own id",
                    )
                )
            rids.setdefault(res.id, i)
            term((*loc, "kind"), res.kind, "resource kind", "resource_kinds")
        for i, res in enumerate(a.resources):
            for j, callee in enumerate(res.calls):
                if callee not in rids:
                    loc = ("resources", i, "calls", j)
                    problems.append(
                        Problem(
                            source,
                            f"calls names resource {callee!r}, which is not declared",
                            where=_loc_text(loc, data),
                            line=lines.line(loc),
                            fix=suggest(callee, list(rids)),
                        )
                    )
        for i, lp in enumerate(a.loops):
            if isinstance(lp.acts_on, list):
                for j, rid in enumerate(lp.acts_on):
                    if rid not in rids and rid != UNKNOWN:  # [api, unknown]: api and maybe more
                        loc = ("loops", i, "acts_on", j)
                        problems.append(
                            Problem(
                                source,
                                f"acts_on names resource {rid!r}, which is not declared "
                                "under resources",
                                where=_loc_text(loc, data),
                                line=lines.line(loc),
                                fix="declare it under resources, or " + suggest(rid, list(rids)),
                            )
                        )
        problems += _call_cycles(a, source, lines, data)
    return problems


def _call_cycles(a: Assessment, source: str, lines: LineMap, data: Any) -> list[Problem]:
    import networkx as nx

    graph = nx.DiGraph()
    for res in a.resources or []:
        graph.add_node(res.id)
        graph.add_edges_from((res.id, callee) for callee in res.calls)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return []
    path = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
    first = next(i for i, r in enumerate(a.resources or []) if r.id == cycle[0][0])
    loc = ("resources", first, "calls")
    return [
        Problem(
            source,
            f"call path loops back on itself: {path}",
            where=_loc_text(loc, data),
            line=lines.line(loc),
            fix="a call path must end somewhere; remove one of these calls",
        )
    ]


def validate(
    data: Any, vocab: Vocabulary, source: str = "<assessment>", lines: LineMap | None = None
) -> Assessment:
    """Validate already-parsed data; InputError listing every problem found."""
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
    if data.get("schema_version") not in (None, SCHEMA_VERSION) and "schema_version" in data:
        raise InputError(
            Problem(
                source,
                f"schema_version {data['schema_version']!r} is not supported",
                line=lines.line(("schema_version",)),
                fix=f"this version of the tool reads schema_version: {SCHEMA_VERSION}",
            )
        )
    try:
        assessment = Assessment.model_validate(data)
    except ValidationError as exc:
        raise InputError(_pydantic_problems(exc, source, data, lines)) from None
    problems = check_semantics(assessment, vocab, source, lines, data)
    if problems:
        raise InputError(problems)
    return assessment


def load(path: Path | str, vocab: Vocabulary) -> Assessment:
    """Read, parse and validate an assessment file."""
    path = Path(path)
    data, lines = load_yaml(path, what="assessment file")
    return validate(data, vocab, str(path), lines)


def loads(text: str, vocab: Vocabulary, source: str = "<text>") -> Assessment:
    data, lines = parse_yaml_text(text, source)
    return validate(data, vocab, source, lines)


def save(assessment: Assessment, path: Path | str) -> None:
    """Atomically write the assessment (readers never see a half-written file)."""
    atomic_write_text(Path(path), assessment.to_yaml())


def json_schema() -> dict[str, Any]:
    schema = Assessment.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Control-coherence assessment"
    return schema
