"""Knowledge-base models: patterns (rules as data), their example cases, and questions.

A pattern never contains code. Its `match` names facts (see fields.py) and the tests their
fields must pass; the compiler turns those into engine rules and the evaluator in
conditions.py explains every match term by term.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    model_validator,
)

Kind = Literal["incoherence", "symptom", "ghost-cost", "auditability"]
Severity = Literal["critical", "high", "medium", "low"]
SEVERITY_ORDER = ["low", "medium", "high", "critical"]
STAGE_OF_KIND = {"incoherence": 1, "auditability": 1, "symptom": 2, "ghost-cost": 3}
OPERATORS = (
    "in",
    "not_in",
    "is",
    "has",
    "has_any",
    "lacks",
    "below",
    "at_most",
    "above",
    "at_least",
    "same_as",
)


def _kebab(value: str) -> str:
    if not re.match(r"^[a-z0-9][a-z0-9-]{1,79}$", value):
        raise ValueError(f"{value!r} is not a valid id: use lower-case words joined by '-'")
    return value


PatternId = Annotated[str, AfterValidator(_kebab)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Term(_Model):
    """One test on one field of one fact. Exactly one operator is given.

    Unless `strict` is set, an unknown value passes the test as "possible": the finding is
    then marked possible and the question that would settle it is asked.
    """

    field: str
    in_: list[str] | None = Field(None, alias="in")
    not_in: list[str] | None = None
    is_: str | None = Field(None, alias="is")
    has: str | None = None
    has_any: list[str] | None = None
    lacks: str | None = None
    below: str | int | float | None = None
    at_most: str | int | float | None = None
    above: str | int | float | None = None
    at_least: str | int | float | None = None
    same_as: str | None = Field(None, description="VAR.FIELD of an earlier fact (join)")
    strict: bool = False

    # The operator is fixed once validated; rules evaluate it thousands of times per run.
    _op: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _one_operator(self) -> Term:
        given = [op for op in OPERATORS if self.value(op) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a term on {self.field!r} needs exactly one of "
                f"{', '.join(OPERATORS)} (found {len(given) or 'none'})"
            )
        self._op = given[0]
        return self

    def value(self, op: str) -> Any:
        return getattr(self, {"in": "in_", "is": "is_"}.get(op, op))

    @property
    def op(self) -> str:
        return self._op

    @property
    def operand(self) -> Any:
        return self.value(self._op)


class FactMatch(_Model):
    fact: str
    where: list[Term] = Field(default_factory=list)


class Escalation(_Model):
    to: Severity
    when: dict[str, list[Term]]
    because: str


_WEB_URL = re.compile(r"https?://[^/?#\s]+[^\s]*", re.ASCII)
# Characters no web address needs and that mean something to a terminal, a browser or a
# shell: controls, DEL, the C1 range, bidi controls and the quote/angle characters.
_URL_UNSAFE = re.compile("[\x00-\x20\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\"'<>`\\\\]")


def _web_url(value: str) -> str:
    """Sources are shown as links (SARIF helpUri, HTML, JSON): only http(s) addresses, so a
    pack cannot slip a `javascript:` or `file:` link into a report."""
    if not _WEB_URL.fullmatch(value) or _URL_UNSAFE.search(value):
        raise ValueError(
            f"{value!r} is not a web address: give the full http:// or https:// address, "
            "without spaces, quotes or control characters"
        )
    return value


class Source(_Model):
    title: str
    url: Annotated[str, AfterValidator(_web_url)] = Field(
        description="the full http:// or https:// address"
    )


class Override(_Model):
    """Why a pack's pattern replaces an earlier pattern with the same id (kept on record and
    shown in every report)."""

    reason: str = Field(min_length=1, description="why this pack replaces the earlier pattern")

    @model_validator(mode="after")
    def _said(self) -> Override:
        if not self.reason.strip():
            raise ValueError("an override needs a reason: say why the pack replaces the pattern")
        return self


class Ask(_Model):
    question: str
    about: str = Field(description="the match variable (a loop) the question is about")


# The named computations of expert/economics.py and the parameters each reads. The formulas
# are code; the numbers are knowledge, kept in the `cost` blocks of ghost-cost patterns.
COST_PARAMETERS: dict[str, dict[str, bool]] = {  # name -> {parameter: required}
    "accelerator_hours": {"low": True, "likely": True, "high": True},
    "tokens": {"low": True, "likely": True, "high": True},
    "engineer_hours": {
        "low": True,
        "likely": True,
        "high": True,
        "hours_per_engineer_month": False,
    },
}
SHARE_COMPUTATIONS = ("accelerator_hours", "tokens")  # their low/likely/high are fractions


class Assumption(_Model):
    """One stated assumption behind a cost, with where its number comes from."""

    text: str
    basis: str = Field("", description="how the number follows from the source, or why it is set")
    source: Source | None = None


def _assumption(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


class CostModel(_Model):
    """Which named computation in expert/economics.py prices this ghost cost, with its
    parameters (fractions, hours); the formulas are code, the numbers are knowledge."""

    computation: Literal["accelerator_hours", "tokens", "engineer_hours"]
    parameters: dict[str, float | int] = Field(default_factory=dict)
    assumptions: list[Annotated[Assumption, BeforeValidator(_assumption)]] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _parameters(self) -> CostModel:
        known = COST_PARAMETERS[self.computation]
        missing = [k for k, required in known.items() if required and k not in self.parameters]
        extra = [k for k in self.parameters if k not in known]
        if missing or extra:
            raise ValueError(
                f"computation {self.computation} takes parameters {', '.join(known)}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(extra)}" if extra else "")
            )
        values = self.parameters
        if any(v < 0 for v in values.values()):
            raise ValueError("cost parameters cannot be negative")
        if not values["low"] <= values["likely"] <= values["high"]:
            raise ValueError("cost parameters must satisfy low <= likely <= high")
        if self.computation in SHARE_COMPUTATIONS and values["high"] > 1:
            raise ValueError(f"{self.computation} parameters are shares between 0 and 1")
        return self


class Pattern(_Model):
    id: PatternId
    kind: Kind
    title: str
    summary: str
    mechanism: str
    layers: list[str] = Field(default_factory=list)
    severity: Severity
    escalate: list[Escalation] = Field(default_factory=list)
    match: dict[str, FactMatch] = Field(default_factory=dict)
    feeds: list[str] = Field(
        default_factory=list, description="symptoms (or costs) this finding leads to"
    )
    narrative: str
    clears: list[str] = Field(default_factory=list)
    asks: list[Ask] = Field(default_factory=list)
    unknown_is_evidence: bool = False
    cost: CostModel | None = None
    sources: list[Source] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    status: Literal["stable", "experimental"] = "stable"
    overrides: Override | None = Field(
        None,
        description="in a pack, replaces the earlier pattern with this id; the reason is "
        "required and shown in every report",
    )

    @property
    def stage(self) -> int:
        return STAGE_OF_KIND[self.kind]

    @model_validator(mode="after")
    def _shape(self) -> Pattern:
        if self.kind in ("incoherence", "auditability") and not self.match:
            article = "an" if self.kind[0] in "aeiou" else "a"  # an incoherence, an auditability
            raise ValueError(f"{article} {self.kind} pattern needs a `match`")
        if self.kind in ("symptom", "ghost-cost") and (
            len(self.match) > 1 or any(m.fact != "platform" for m in self.match.values())
        ):
            raise ValueError(
                f"a {self.kind} pattern is caused by other findings through their "
                "`feeds`; its `match` may only test the `platform` fact"
            )
        if len(self.match) > 3:
            raise ValueError("a pattern may match at most 3 facts (the engine's proven join size)")
        return self


class CaseSpec(_Model):
    name: str
    expect: Literal["fires", "quiet"]
    status: Literal["confirmed", "possible"] | None = None
    loops: list[str] | None = Field(
        None, description="the finding must involve exactly these loops"
    )
    why: str = ""
    assessment: dict[str, Any]


class CaseFile(_Model):
    pattern: str
    cases: list[CaseSpec]


class Choice(_Model):
    value: str | int
    label: str


class Question(_Model):
    """An interview question. It either sets a structured field of the assessment
    (`field`, e.g. `retry.retries_on`) or stores its answer in a loop's `answers` map
    (`answer`), where rules read it as the field `answers.<id>`."""

    id: PatternId
    about: Literal["system", "loop", "resource", "economics"]
    field: str | None = None
    answer: Literal["yesno", "category", "set", "number", "text"] | None = None
    text: str
    help: str
    example: str = ""
    choices: list[Choice] = Field(default_factory=list)
    section: str = "details"
    priority: int = Field(50, ge=0, le=100, description="lower is asked earlier")
    asked_when: list[Term] = Field(
        default_factory=list, description="tests on the loop that make the question relevant"
    )

    @model_validator(mode="after")
    def _target(self) -> Question:
        if (self.field is None) == (self.answer is None):
            raise ValueError("a question sets exactly one of `field` or `answer`")
        if self.answer in ("category", "set") and not self.choices:
            raise ValueError("a category or set answer needs `choices`")
        return self
