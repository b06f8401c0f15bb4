"""Knowledge-base models: patterns (rules as data), their example cases, and questions.

A pattern never contains code. Its `match` names facts (see fields.py) and the tests their
fields must pass; the compiler turns those into engine rules and the evaluator in
conditions.py explains every match term by term.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from expert.knowledge import comparisons
from expert.knowledge.comparisons import Comparison
from expert.knowledge.costmodel import CostModel
from expert.knowledge.kbmodel import KBModel, Source

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

# A placeholder in a pattern's texts (narrative, clears, reasons): {var} or {var.field}.
ANY_PLACEHOLDER = re.compile(r"\{([^{}\s]+)\}")


class Term(KBModel):
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


class FactMatch(KBModel):
    fact: str
    where: list[Term] = Field(default_factory=list)


class Escalation(KBModel):
    to: Severity
    when: dict[str, list[Term]] = Field(default_factory=dict)
    compare: list[Comparison] = Field(
        default_factory=list, description="comparisons that must also hold (all proven)"
    )
    because: str

    @model_validator(mode="after")
    def _says_when(self) -> Escalation:
        if not self.when and not self.compare:
            raise ValueError("an escalation needs `when` terms or a `compare`")
        return self


class ConditionalFeed(KBModel):
    """A symptom or cost that a finding leads to only where its match shows the mechanism:
    a stopped request that is sent again churns nothing, a stopped job that is started again
    does."""

    to: str = Field(description="the symptom or cost pattern it leads to")
    when: dict[str, list[Term]] = Field(
        description="terms on the pattern's matched facts, by variable; a finding leads there "
        "when every term holds for one of its matches (an unknown value does not hold)"
    )

    @model_validator(mode="after")
    def _says_when(self) -> ConditionalFeed:
        if not any(self.when.values()):
            raise ValueError(
                f"a conditional feed to {self.to!r} needs `when` terms; without them, list "
                "it under `feeds`"
            )
        return self


class Override(KBModel):
    """Why a pack's pattern replaces an earlier pattern with the same id (kept on record and
    shown in every report)."""

    reason: str = Field(min_length=1, description="why this pack replaces the earlier pattern")

    @model_validator(mode="after")
    def _said(self) -> Override:
        if not self.reason.strip():
            raise ValueError("an override needs a reason: say why the pack replaces the pattern")
        return self


class Form(KBModel):
    """Another way the pattern's mechanism shows in an assessment: other facts, the same harm.
    A form has its own `match`, `compare` and `narrative`; everything else (title, severity,
    escalations, clears, asks, feeds) is the pattern's, so the variables those name must be
    bound in every form. A finding of any form is a finding of the pattern."""

    name: PatternId = Field(description="short name of the form, unique in the pattern")
    match: dict[str, FactMatch]
    compare: list[Comparison] = Field(default_factory=list)
    narrative: str


class Ask(KBModel):
    question: str
    about: str = Field(description="the match variable (a loop) the question is about")


class Pattern(KBModel):
    id: PatternId
    kind: Kind
    title: str
    summary: str
    mechanism: str
    layers: list[str] = Field(default_factory=list)
    severity: Severity
    escalate: list[Escalation] = Field(default_factory=list)
    match: dict[str, FactMatch] = Field(default_factory=dict)
    compare: list[Comparison] = Field(
        default_factory=list,
        description="comparisons between values of the matched facts, evaluated before the "
        "engine runs, e.g. {left: inner.deadline, op: '>=', right: outer.deadline}",
    )
    feeds: list[str] = Field(
        default_factory=list, description="symptoms (or costs) this finding leads to"
    )
    feeds_when: list[ConditionalFeed] = Field(
        default_factory=list,
        description="symptoms (or costs) this finding leads to only where its match also "
        "passes the given terms, e.g. churn only where the work stopped is a job or pod "
        "started again, not a request sent again",
    )
    subsumes: list[str] = Field(
        default_factory=list,
        description="incoherence patterns this one states more precisely: their finding on "
        "exactly the same loops and resources is folded into this one's when this one is at "
        "least as well supported",
    )
    narrative: str
    forms: list[Form] = Field(
        default_factory=list,
        description="further ways the same mechanism shows (other facts, same harm); the "
        "top-level match and narrative are the first form",
    )
    clears: list[str] = Field(default_factory=list)
    asks: list[Ask] = Field(default_factory=list)
    unknown_is_evidence: bool = False
    needs_confirmed_cause: bool = Field(
        False,
        description="a symptom or cost that is someone's response to a degradation seen "
        "happen (headroom bought against it, rounds of retuning): it follows only from "
        "confirmed findings, since a merely possible one has not been seen",
    )
    cost: CostModel | None = None
    sources: list[Source] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    status: Literal["stable", "experimental"] = "stable"
    overrides: Override | None = Field(
        None,
        description="in a pack, replaces the earlier pattern with this id; the reason is "
        "required and shown in every report",
    )

    # The pattern once per form, built when it is validated (see variants()).
    _variants: list[Pattern] = PrivateAttr(default_factory=list)

    @property
    def stage(self) -> int:
        return STAGE_OF_KIND[self.kind]

    def variants(self) -> list[Pattern]:
        """The pattern as each of its forms: itself first, then one pattern per entry of
        `forms`, each with that form's match, comparisons and narrative and no forms of its
        own. What matches, explains or lints a pattern's facts goes through these."""
        return [self, *self._variants]

    def intern_comparisons(self) -> None:
        """Enter the declared comparisons of every form in this process's table of derived
        fields, as validating the pattern does (see `_compare_as_terms`). A pattern
        unpickled here was validated in another process: without this, the facts of this
        one would lack the fields its rules test."""
        for form in self.variants():
            for _where, c in form._comparisons():
                comparisons.register(c, form.match)

    @staticmethod
    def form_place(k: int) -> str:
        """Where a variant's problems are, for messages: "" for the first form."""
        return f"forms[{k - 1}]." if k else ""

    @property
    def leads_to(self) -> list[str]:
        """Every pattern a finding of this one may lead to: `feeds`, then `feeds_when`."""
        return [*self.feeds, *(c.to for c in self.feeds_when if c.to not in self.feeds)]

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
        if self.subsumes and self.kind != "incoherence":
            raise ValueError("only an incoherence pattern may subsume others (`subsumes`)")
        if self.id in self.subsumes:
            raise ValueError("a pattern cannot subsume itself")
        both = sorted({c.to for c in self.feeds_when} & set(self.feeds))
        if both:
            raise ValueError(
                f"{', '.join(both)}: listed under `feeds` and `feeds_when`; keep it in one "
                "(`feeds_when` if it follows only where its terms hold)"
            )
        if self.feeds_when and self.kind not in ("incoherence", "auditability"):
            raise ValueError("`feeds_when` tests a match, so only a stage-1 pattern has it")
        if self.forms and self.kind != "incoherence":
            raise ValueError("only an incoherence pattern may have `forms`")
        names = [f.name for f in self.forms]
        if len(set(names)) != len(names):
            raise ValueError("each of a pattern's `forms` needs its own name")
        if self.needs_confirmed_cause and self.kind not in ("symptom", "ghost-cost"):
            raise ValueError(
                "`needs_confirmed_cause` is for symptoms and ghost costs, which follow from causes"
            )
        return self

    def _comparisons(self) -> list[tuple[str, Comparison]]:
        """Every declared comparison with where it was declared."""
        out = [(f"compare[{i}]", c) for i, c in enumerate(self.compare)]
        for i, esc in enumerate(self.escalate):
            out += [(f"escalate[{i}].compare[{j}]", c) for j, c in enumerate(esc.compare)]
        return out

    def _refuse(self, check: Callable[[Comparison, dict[str, str]], list[str]]) -> Pattern:
        """Raise every problem `check` finds in the declared comparisons, with its place."""
        kinds = {var: fm.fact for var, fm in self.match.items()}
        problems = [
            f"{where}: {msg}" for where, c in self._comparisons() for msg in check(c, kinds)
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _compare_fields(self) -> Pattern:
        return self._refuse(comparisons.check_fields)

    @model_validator(mode="after")
    def _compare_units(self) -> Pattern:
        return self._refuse(comparisons.check_units)

    @model_validator(mode="after")
    def _compare_joined(self) -> Pattern:
        problems = [
            f"{where}: {found}"
            for where, c in self._comparisons()
            if isinstance(found := comparisons.host(c, self.match), str)
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _compare_as_terms(self) -> Pattern:
        """Each comparison becomes a test on its derived yes/no field, so the compiler, the
        explanation and the reference evaluator treat it like any other term."""

        def add(terms: list[Term], name: str, strict: bool) -> None:
            if not any(t.field == name for t in terms):  # re-validation adds nothing
                terms.append(Term.model_validate({"field": name, "is": "yes", "strict": strict}))

        for c in self.compare:
            var, name = comparisons.register(c, self.match)
            add(self.match[var].where, name, c.strict)
        for esc in self.escalate:
            for c in esc.compare:
                var, name = comparisons.register(c, self.match)
                add(esc.when.setdefault(var, []), name, True)
        return self

    @model_validator(mode="after")
    def _build_variants(self) -> Pattern:
        """One pattern per further form, validated like any pattern (its comparisons become
        terms, its facts are checked), so every consumer of a match reads a plain pattern."""
        if not self.forms:
            self._variants = []
            return self
        base = self.model_dump(by_alias=True, exclude_none=True, exclude={"forms"})
        # The escalations' comparisons were made terms on this form's facts; each form makes
        # its own from the comparisons themselves.
        for esc in base.get("escalate", []):
            when = {
                var: [t for t in terms if not str(t.get("field", "")).startswith("compare.")]
                for var, terms in esc.get("when", {}).items()
            }
            esc["when"] = {var: terms for var, terms in when.items() if terms}
        variants = []
        for k, form in enumerate(self.forms):
            data = {
                **base,
                "match": form.model_dump(by_alias=True, exclude_none=True)["match"],
                "compare": [c.model_dump(by_alias=True, exclude_none=True) for c in form.compare],
                "narrative": form.narrative,
            }
            try:
                variants.append(Pattern.model_validate(data))
            except ValidationError as e:
                said = "; ".join(
                    str(err["msg"]).removeprefix("Value error, ") for err in e.errors()
                )
                raise ValueError(f"forms[{k}] ({form.name}): {said}") from None
        self._variants = variants
        return self


class CaseSpec(KBModel):
    name: str
    expect: Literal["fires", "quiet"]
    status: Literal["confirmed", "possible"] | None = None
    loops: list[str] | None = Field(
        None, description="the finding must involve exactly these loops"
    )
    why: str = ""
    assessment: dict[str, Any]


class CaseFile(KBModel):
    pattern: str
    cases: list[CaseSpec]


class Choice(KBModel):
    value: str | int
    label: str


# The interview's sections a question may sit in, with what its header calls them. "more"
# holds details asked only on demand ("More about this loop").
QUESTION_SECTIONS = {
    "identity": "who it is",
    "dimensions": "the five dimensions",
    "reach": "what it acts on, watches and records",
    "details": "details",
    "retries": "retries",
    "deadlines": "deadlines",
    "guards": "guards on its actions",
    "economics": "economic figures",
    "system": "the platform",
    "resources": "the resource",
    "timings": "timings",
    "more": "more about this loop",
}


class Question(KBModel):
    """An interview question. It either sets a structured field of the assessment
    (`field`, e.g. `retry.retries_on`) or stores its answer in a loop's `answers` map
    (`answer`), where rules read it as the field `answers.<id>`."""

    id: PatternId
    about: Literal["system", "loop", "resource", "economics"]
    field: str | None = None
    answer: Literal["yesno", "category", "set", "number", "text"] | None = None
    text: str
    label: str = Field(
        "",
        description="a short name for the answer in tables and lists, in lower case "
        "('sees throttles and quotas'); every `answer` question needs one, a `field` "
        "question is named by its field",
    )
    help: str
    example: str = ""
    choices: list[Choice] = Field(default_factory=list)
    section: str = Field(
        "details",
        description="where the interview asks it (more: only on demand)",
        json_schema_extra={"enum": list(QUESTION_SECTIONS)},
    )
    priority: int = Field(50, ge=0, le=100, description="lower is asked earlier")
    asked_when: list[Term] = Field(
        default_factory=list, description="tests on the loop that make the question relevant"
    )

    @field_validator("section")
    @classmethod
    def _section(cls, value: str) -> str:
        if value not in QUESTION_SECTIONS:
            raise ValueError(f"no section {value!r}; use one of {', '.join(QUESTION_SECTIONS)}")
        return value

    @model_validator(mode="after")
    def _target(self) -> Question:
        if (self.field is None) == (self.answer is None):
            raise ValueError("a question sets exactly one of `field` or `answer`")
        if self.answer in ("category", "set") and not self.choices:
            raise ValueError("a category or set answer needs `choices`")
        return self

    @property
    def short_name(self) -> str:
        """What tables and lists call this question's answer: its label, else its text (a
        pack whose questions lack labels still reads, and `kb lint` asks for them)."""
        return self.label or self.text
