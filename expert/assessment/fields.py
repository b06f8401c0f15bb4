"""What rules can read: every fact kind, its fields, their types and how they are encoded.

This registry is the contract between the knowledge base (which names fields), the fact
builder (which encodes them) and the compiler (which tests them). Encoding rules, chosen so
that the engine only ever compares plain strings and integers (see notes on durable-rules):

- category: one attribute holding a vocabulary term or "unknown";
- set:      one attribute per vocabulary term, `<attr>__<term>` = "yes" | "no" | "unknown";
- interval: two integer attributes `<attr>_lo`, `<attr>_hi` (unknown spans 0..UNKNOWN_HI);
- yesno:    one attribute "yes" | "no" | "unknown";
- known:    free text reduced to "known" | "unknown" (rules never read what people typed);
- ident:    an id, used only to join facts (string equality).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from expert.assessment.durations import UNKNOWN_HI
from expert.assessment.vocabulary import CYCLE_KINDS

FieldType = Literal["category", "set", "interval", "yesno", "known", "ident"]
COUNT_UNKNOWN_HI = 10**9


@dataclass(frozen=True)
class FieldSpec:
    name: str  # as the knowledge base writes it, e.g. "retry.max_retries"
    type: FieldType
    attr: str  # attribute (or attribute stem) in the engine fact
    table: str = ""  # vocabulary table for category/set fields
    unit: str = ""  # "ms" for durations, "" for plain counts, "x100" for ratios
    help: str = ""
    # The values of a category fixed by the code that derives it rather than by a vocabulary
    # table (a cycle's kind follows from how graph.py classifies it).
    values: tuple[str, ...] = ()
    # How a finding's "flagged because" states a derived fact's value, in words: `{value}`
    # and the fact's ids (`{loop}`, `{resource}`, `{a}`, ...) are filled in with the user's
    # names and the vocabulary's labels. A yes/no field gives the yes and the no sentence.
    says: tuple[str, ...] = ()
    # Whether a respondent may say the field does not apply to a loop or resource (a give-up
    # count for a loop that never retries): listed under `not_applicable`, the field is not
    # asked again and no finding rests on it. Never for what a loop is and does.
    may_not_apply: bool = False
    # The short label tables show (the inventory's columns); "" where no table shows it.
    label: str = ""
    # For a derived field, the answers it is computed from, as "<id field>.<field>" of the
    # loops or resources the fact joins ("loop.deadline", "resource.startup_time").
    reads: tuple[str, ...] = ()
    # For a resource field its kind may answer: the vocabulary's word for it on the kind
    # (`accelerated`), taken while nobody has answered (`answered_or_kind_default`).
    kind_default: str = ""
    # For a loop field: the field whose answer stands for it where it is left unanswered (a
    # loop that retries gives up after its retry count, so its give-up count is not asked
    # again: LOOP_FALLBACKS).
    falls_back_to: str = ""

    @property
    def unknown_hi(self) -> int:
        return UNKNOWN_HI if self.unit == "ms" else COUNT_UNKNOWN_HI


def _f(
    name: str,
    type_: FieldType,
    attr: str | None = None,
    table: str = "",
    unit: str = "",
    help: str = "",
    says: tuple[str, ...] = (),
    may_not_apply: bool = False,
    reads: tuple[str, ...] = (),
    label: str = "",
    kind_default: str = "",
    falls_back_to: str = "",
) -> FieldSpec:
    return FieldSpec(
        name,
        type_,
        attr or name.replace(".", "_"),
        table,
        unit,
        help,
        says=says,
        may_not_apply=may_not_apply,
        label=label,
        reads=reads,
        kind_default=kind_default,
        falls_back_to=falls_back_to,
    )


# In the order a reader meets them (the inventory's), each with the short label tables use.
LOOP_FIELDS = [
    _f("id", "ident", "loop"),
    _f("name", "known", label="name"),
    _f("layer", "category", table="layers", label="layer"),
    _f("owner", "known", label="owner"),
    _f("objective", "category", table="objectives", label="objective"),
    _f("target", "known", label="optimisation target"),
    _f("timescale", "interval", unit="ms", label="reaction timescale"),
    _f(
        "window",
        "interval",
        unit="ms",
        help="the period its metric is averaged over",
        may_not_apply=True,
    ),
    _f("triggers", "set", table="triggers", label="trigger conditions"),
    _f("actuations", "set", table="actuations", label="actuation mechanisms"),
    _f(
        "acts_on",
        "known",
        help="whether the resources it acts on are known",
        label="acts on",
    ),
    _f("observes", "set", table="signals", label="also watches"),
    _f("changes", "set", table="signals", label="also changes"),
    _f("decision_record", "category", table="decision_records", label="decision record"),
    _f("instances", "category", table="instances", label="instances"),
    _f("retry.max_retries", "interval", may_not_apply=True, label="retries"),
    _f("retry.backoff", "category", table="backoff_kinds", may_not_apply=True, label="backoff"),
    _f("retry.jitter", "yesno", may_not_apply=True, label="jitter"),
    _f("retry.budget", "yesno", may_not_apply=True, label="retry budget"),
    _f(
        "retry.retries_on",
        "set",
        table="failure_classes",
        may_not_apply=True,
        label="retries on",
    ),
    _f("deadline", "interval", unit="ms", may_not_apply=True, label="deadline"),
    _f("propagates_cancellation", "yesno", may_not_apply=True, label="propagates cancellation"),
    _f("guards.exemptions", "yesno", may_not_apply=True, label="exemptions"),
    _f("guards.rate_limited", "yesno", may_not_apply=True, label="own actions rate-limited"),
    _f(
        "guards.give_up_after",
        "interval",
        may_not_apply=True,
        label="gives up after",
        falls_back_to="retry.max_retries",
    ),
    _f(
        "emits",
        "set",
        table="signals",
        help="signals its action produces: its actuations' signals plus `changes`",
    ),
    _f(
        "reacts",
        "set",
        table="signals",
        help="signals it reacts to: its triggers' signals plus `observes`",
    ),
    _f(
        "roles",
        "set",
        table="roles",
        help="what it does to work and capacity (the vocabulary's roles), derived from its "
        "actuations, triggers, instances and the resources it acts on",
    ),
    _f("disputed", "yesno", help="respondents gave different answers about this loop"),
]

RESOURCE_FIELDS = [
    _f("id", "ident", "resource"),
    _f("kind", "category", "rkind", table="resource_kinds", says=("{resource} is {value}",)),
    # A kind says what its work usually runs on; a CPU-only batch job is a `job` too.
    _f(
        "accelerated",
        "yesno",
        label="runs on accelerators",
        help="whether work on it runs on accelerators (GPUs, TPUs); unanswered, its kind's "
        "`accelerated` in the vocabulary",
        says=(
            "work on {resource} runs on accelerators",
            "work on {resource} runs without accelerators",
        ),
        kind_default="accelerated",
    ),
    _f(
        "synchronized",
        "yesno",
        says=(
            "all members of {resource} must take part in each global step",
            "members of {resource} do not wait on each other",
        ),
        may_not_apply=True,
    ),
    _f(
        "startup_time",
        "interval",
        unit="ms",
        says=("{resource} takes {value} to start",),
        may_not_apply=True,
    ),
    _f(
        "checkpoint_interval",
        "interval",
        unit="ms",
        says=("{resource} saves its progress every {value}",),
        may_not_apply=True,
    ),
    _f(
        "checkpoint_duration",
        "interval",
        unit="ms",
        says=("saving the progress of {resource} takes {value}",),
        may_not_apply=True,
    ),
    _f(
        "interrupted_every",
        "interval",
        unit="ms",
        label="time between interruptions",
        says=("{resource} is interrupted about every {value}",),
        may_not_apply=True,
    ),
    # Work that waits on calls to other services holds a worker without using its processor:
    # utilisation then falls when those calls slow down, whatever the demand.
    _f(
        "calls_others",
        "yesno",
        help="whether the resource calls (its `calls`) a resource whose kind answers calls "
        "(a service, a request path, a model server: `answers_calls` in the vocabulary) and "
        "waits on its answers",
        says=(
            "{resource} calls other services and waits on their answers",
            "{resource} calls no other service",
        ),
        reads=("resource.calls",),
    ),
]

# Every field of a loop or resource in the assessment is either a fact field above, or
# listed here with the way it reaches the analysis instead (tests/test_field_registry.py
# keeps the model and this registry in step).
NOT_FACT_FIELDS: dict[str, dict[str, str]] = {
    "loop": {
        "answers": "answers to a pattern's own questions: the loop fact's `answers.<id>`",
        "controls": "becomes control edges of the influence graph",
        "masks": "become the graph's masks, then `mask` facts (assessment/masking.py)",
        "sources": "where imported values came from: shown beside them, never reasoned on",
        "not_applicable": "fields that do not apply: no finding rests on them",
    },
    "resource": {
        "calls": "becomes the call paths of the influence graph",
        "disputed": "shown to respondents; a resource's answers are merged, not reasoned on",
        "name": "shown only",
        "sources": "where imported values came from: shown beside them, never reasoned on",
        "not_applicable": "fields that do not apply: no finding rests on them",
    },
}
# The labels tables show for those of them a reader sees beside the fact fields.
NOT_FACT_LABELS: dict[str, dict[str, str]] = {"loop": {"controls": "controls loops"}}
# Fact fields no one answers: the analysis derives them from the answers.
DERIVED_FACT_FIELDS: dict[str, frozenset[str]] = {
    "loop": frozenset({"emits", "reacts", "roles"}),
    "resource": frozenset({"calls_others"}),
}

FACT_KINDS: dict[str, list[FieldSpec]] = {
    "loop": LOOP_FIELDS,
    "resource": RESOURCE_FIELDS,
    # A loop acts on a resource (one fact per acts_on entry), with how the loop's timing
    # compares to the resource's: ratio = loop value / resource value (x100 encoded), and
    # what all loops on that resource do together (a mechanism that lives in one component
    # matches whether it was described as one loop or as several).
    "acts": [
        _f("loop", "ident"),
        _f("resource", "ident"),
        _f(
            "timescale_vs_startup",
            "interval",
            unit="x100",
            help="loop timescale / resource start-up time (below 1: acts before it has started)",
            says=("the reaction time of {loop} is {value} the start-up time of {resource}",),
            reads=("loop.timescale", "resource.startup_time"),
        ),
        _f(
            "deadline_vs_startup",
            "interval",
            unit="x100",
            help="loop deadline / resource start-up time",
            says=("the deadline of {loop} is {value} the start-up time of {resource}",),
            reads=("loop.deadline", "resource.startup_time"),
        ),
        _f(
            "timescale_vs_checkpoint_interval",
            "interval",
            unit="x100",
            help="loop timescale / resource checkpoint interval (below 1: acts more often "
            "than progress is saved)",
            says=("the reaction time of {loop} is {value} the time between saves of {resource}",),
            reads=("loop.timescale", "resource.checkpoint_interval"),
        ),
        _f(
            "deadline_vs_checkpoint_duration",
            "interval",
            unit="x100",
            help="loop deadline / resource checkpoint duration (below 1: times out a checkpoint)",
            says=(
                "the deadline of {loop} is {value} the time {resource} takes to save its progress",
            ),
            reads=("loop.deadline", "resource.checkpoint_duration"),
        ),
        _f(
            "triggers",
            "set",
            table="triggers",
            help="what this loop itself reacts to (a request timeout apart from a health "
            "check's window on the same resource)",
            says=("{loop} acts when: {value}",),
        ),
        _f(
            "instances",
            "category",
            table="instances",
            help="how many copies of this loop act",
            says=("{loop} runs as {value}",),
        ),
        _f(
            "roles_here",
            "set",
            table="roles",
            help="roles played on the resource by every loop acting on it, this one included, "
            "taken together: the same whether one loop or several are described",
            says=("what the loops on {resource} do: {value}",),
        ),
        _f(
            "actuations_here",
            "set",
            table="actuations",
            help="actuations used on the resource by every loop acting on it, this one "
            "included, taken together",
            says=("how the loops on {resource} act: {value}",),
        ),
    ],
    # Loop `source`'s action produces `signal`, which loop `target` reacts to, on `resource`.
    "edge": [
        _f("source", "ident"),
        _f("target", "ident"),
        _f("resource", "ident"),
        _f("signal", "category", table="signals"),
    ],
    # Two different loops act on one resource (both orders are facts).
    "pair": [
        _f("a", "ident"),
        _f("b", "ident"),
        _f("resource", "ident"),
        _f(
            "timescale_ratio",
            "interval",
            unit="x100",
            help="slower timescale / faster timescale",
            says=("the timescales of {a} and {b} differ by {value}",),
        ),
        _f(
            "same_layer",
            "yesno",
            says=("{a} and {b} are in the same layer", "{a} and {b} are in different layers"),
        ),
        _f(
            "a_faster",
            "yesno",
            help="loop a reacts faster than loop b",
            says=("{a} reacts faster than {b}", "{a} reacts no faster than {b}"),
        ),
        _f(
            "common",
            "set",
            table="signals",
            help="signals both loops react to",
            says=("{a} and {b} both react to: {value}",),
        ),
    ],
    # Loop `loop` has a deadline on a resource whose calls (transitively) reach `resource`,
    # further down the path: a gateway's request timeout waits on the model server below it.
    "waits": [
        _f("loop", "ident"),
        _f("resource", "ident"),
        _f(
            "deadline_vs_startup",
            "interval",
            unit="x100",
            help="loop deadline / start-up time of the resource further down its call path",
            says=(
                "the deadline of {loop} is {value} the start-up time of {resource}, which it "
                "waits on further down the call path",
            ),
            reads=("loop.deadline", "resource.startup_time"),
        ),
        _f(
            "triggers",
            "set",
            table="triggers",
            help="what the waiting loop reacts to (a request timeout, not a health check)",
            says=("{loop} acts when: {value}",),
        ),
    ],
    # Loop `outer` has a deadline on a resource that (transitively) calls the resource on
    # which loop `inner` has a deadline.
    "nesting": [
        _f("outer", "ident"),
        _f("inner", "ident"),
        _f(
            "outer_deadline",
            "interval",
            unit="ms",
            says=("the deadline of {outer}, the caller, is {value}",),
            reads=("outer.deadline",),
        ),
        _f(
            "inner_deadline",
            "interval",
            unit="ms",
            says=("the deadline of {inner}, further down the path, is {value}",),
            reads=("inner.deadline",),
        ),
        _f(
            "inverted",
            "yesno",
            help="the inner deadline is not shorter than the outer one",
            says=(
                "the deadline of {inner} is longer than that of {outer}, which waits on it",
                "the deadline of {inner} fits inside that of {outer}",
            ),
            reads=("outer.deadline", "inner.deadline"),
        ),
        _f(
            "cancels",
            "yesno",
            help="the outer loop propagates cancellation downstream",
            says=(
                "{outer} cancels the work below it when it gives up",
                "{outer} leaves the work below it running when it gives up",
            ),
            reads=("outer.propagates_cancellation",),
        ),
    ],
    # Loop `source` hides, delays or averages away `signal`, which loop `target` reads on
    # `resource` (expert/assessment/masking.py).
    "mask": [
        _f("source", "ident"),
        _f("target", "ident"),
        _f("resource", "ident"),
        _f(
            "signal",
            "category",
            table="signals",
            says=("{source} keeps “{value}” from {target}",),
        ),
        _f(
            "how",
            "category",
            table="mask_kinds",
            help="hides | delays | averages",
            says=("how {source} keeps the signal from {target}: {value}",),
        ),
        _f(
            "stated",
            "yesno",
            help="the assessment states the mask (yes); implied by structure alone (unknown: "
            "a retrier upstream of a loop reading the failure rate)",
            says=(
                "the assessment states that {source} masks it from {target}",
                "{source} masks it from {target} by retrying failures away (implied)",
            ),
        ),
    ],
    # Retrying loops stacked along one call path: up to `factor` attempts reach the bottom.
    "amplification": [
        _f("first", "ident"),
        _f("last", "ident"),
        _f(
            "layers",
            "interval",
            says=("retries at {value} layers on the path from {first} to {last}",),
        ),
        _f("factor", "interval", says=("up to {value} attempts per request on that path",)),
    ],
    # A feedback cycle in the influence graph, classified from the directions the vocabulary
    # gives its signals (graph.cycle_kind), as the risk map classifies it.
    "cycle": [
        _f("first", "ident"),
        _f("length", "interval", says=("a feedback cycle through {value} loops, from {first}",)),
        FieldSpec(
            "kind",
            "category",
            "cycle_kind",  # every fact's own `kind` attribute already names its fact kind
            values=CYCLE_KINDS,
            help="amplifying (every hop reinforces load or pressure), oscillating (some hops "
            "reinforce and some relieve), damping (every hop relieves) or unclassified (a hop "
            "carries only signals of no known direction)",
            says=("the feedback cycle from {first} is {value}",),
        ),
        _f(
            "amplifying",
            "yesno",
            help="yes only when kind is amplifying; unknown when kind is unclassified and no "
            "hop relieves (a hop of no known direction could still make it amplifying); else no",
            says=(
                "the feedback cycle from {first} amplifies what it feeds",
                "the feedback cycle from {first} does not amplify",
            ),
        ),
    ],
    # The platform as a whole (one fact): what kind of work it runs. Symptoms and ghost
    # costs may test it, e.g. token burn applies only where the platform serves inference.
    "platform": [
        _f(
            "serves_inference",
            "yesno",
            says=("the platform serves inference", "the platform serves no inference"),
        ),
        _f(
            "serves_requests",
            "yesno",
            help="some resource answers requests whose number rises and falls (a service, a "
            "request path, a model server), from the resource kinds' `takes_requests`",
            says=(
                "the platform answers requests",
                "the platform answers no requests (it runs jobs only)",
            ),
        ),
        _f(
            "trains_models",
            "yesno",
            says=("the platform trains models", "the platform trains no models"),
        ),
        _f(
            "uses_accelerators",
            "yesno",
            says=("the platform runs on accelerators", "the platform uses no accelerators"),
        ),
        _f(
            "resubmits_work",
            "yesno",
            help="some loop of the platform re-submits work (retries, restarts, requeues)",
            says=(
                "a loop of the platform re-submits work",
                "no loop of the platform re-submits work",
            ),
        ),
        _f(
            "adds_capacity",
            "yesno",
            help="some loop of the platform adds capacity (scales out, provisions nodes)",
            says=(
                "a loop of the platform adds capacity",
                "no loop of the platform adds capacity",
            ),
        ),
    ],
    # A finding from an earlier stage (incoherence or symptom).
    "finding": [_f("rule", "ident")],
}


_BY_NAME = {(kind, f.name): f for kind, specs in FACT_KINDS.items() for f in specs}
# Yes/no fields derived from comparisons that patterns declare (expert/knowledge/comparisons.py),
# registered as patterns are loaded: (kind, name) -> (spec, the fields it is computed from).
_DERIVED: dict[tuple[str, str], tuple[FieldSpec, tuple[str, ...]]] = {}


def may_not_apply(kind: str, path: str) -> bool:
    """Whether `path` of a loop or resource may be marked as not applying: a field the
    registry allows it for, or the answer to one of a pattern's own questions."""
    if kind == "loop" and path.startswith("answers.") and len(path) > len("answers."):
        return True
    found = next((f for f in FACT_KINDS[kind] if f.name == path), None)
    return found is not None and found.may_not_apply


def value_at(obj: Any, dotted: str) -> Any:
    """The value of a dotted field path (`retry.jitter`, `answers.scaler-metric`) on a loop,
    resource or other model object, or on its dict form; None where any step is missing.
    Every reader of an assessment field goes through here."""
    if "." not in dotted:  # most paths are one step: read without splitting (a hot path)
        if obj is None:
            return None
        return obj.get(dotted) if isinstance(obj, dict) else getattr(obj, dotted, None)
    for part in dotted.split("."):
        if obj is None:
            return None
        obj = obj.get(part) if isinstance(obj, dict) else getattr(obj, part, None)
    return obj


def answered_or_kind_default(res: Any, name: str, kinds: Mapping[str, Any]) -> Any:
    """A resource field as rules read it: the answer given, or, where none was, what the
    resource's kind says (FieldSpec.kind_default: the vocabulary's `accelerated` for
    `accelerated`), "yes" or "no"; "unknown" for a kind nobody named. `kinds` is the
    vocabulary's resource kinds. Every reader of such a field goes through here."""
    value = value_at(res, name)
    found = _BY_NAME.get(("resource", name))
    if value is not None or found is None or not found.kind_default:
        return value
    term = kinds.get(value_at(res, "kind") or "")
    if term is None:
        return "unknown"
    return "yes" if getattr(term, found.kind_default) else "no"


# Loop fields answered by another where left unanswered: (field, the field standing for it).
# The fact builder reads them so, and the explanation asks the other's question for them.
LOOP_FALLBACKS = tuple((f.name, f.falls_back_to) for f in FACT_KINDS["loop"] if f.falls_back_to)


def spec(kind: str, name: str) -> FieldSpec | None:
    found = _BY_NAME.get((kind, name))
    if found is None and name.startswith("compare."):
        derived = _DERIVED.get((kind, name))
        return derived[0] if derived else None
    return found


def register_derived(kind: str, field: FieldSpec, reads: tuple[str, ...]) -> None:
    """Make a declared comparison's outcome a field of `kind` facts."""
    _DERIVED[(kind, field.name)] = (field, reads)


def derived_from(kind: str, name: str) -> tuple[str, ...]:
    """The loop and resource fields a declared comparison's outcome is computed from."""
    derived = _DERIVED.get((kind, name))
    return derived[1] if derived else ()


def answer_field(question_id: str, type_: FieldType, table: str = "") -> FieldSpec:
    """Field for a knowledge-base question stored in a loop's `answers` map."""
    return FieldSpec(f"answers.{question_id}", type_, "ans_" + question_id.replace("-", "_"), table)
