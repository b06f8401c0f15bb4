"""Where an answer becomes a fact: the assessment and its derived structure, encoded as flat
engine facts (strings and integers only; see fields.py for the encoding of each type).

Each fact also records which loops it concerns, so a rule firing can be traced back to the
loops and answers behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from typing import Any, Protocol

from expert.analysis.graph import Structure, membership, quotient_x100, tri_or
from expert.assessment import durations
from expert.assessment.fields import (
    COUNT_UNKNOWN_HI,
    DERIVED_FACT_FIELDS,
    FACT_KINDS,
    LOOP_FALLBACKS,
    FieldSpec,
    answered_or_kind_default,
    value_at,
)
from expert.assessment.model import UNKNOWN, Assessment, Loop, Resource
from expert.assessment.vocabulary import Vocabulary
from expert.engine.ids import make_unique
from expert.knowledge import comparisons

Fact = dict[str, Any]


class FactFilter(Protocol):
    """Whether a fact could match some rule; `joins` asks it of a fact's loop ids alone, so a
    fact between loops no rule could join is never encoded, and `reads` of its kind alone,
    so a kind no rule binds is never built."""

    def __call__(self, fact: Fact) -> bool: ...

    def joins(self, fact: Fact) -> bool: ...

    def reads(self, kind: str) -> bool: ...


# Given the loop facts, the test of whether a fact could match some rule (assess.narrowing).
Narrowing = Callable[[list[Fact]], FactFilter]


@dataclass
class FactBase:
    """All base facts of one assessment, by id, with the loops each concerns."""

    facts: dict[str, Fact] = field(default_factory=dict)
    loops_of: dict[str, list[str]] = field(default_factory=dict)
    # loop id -> its values as rules see them (loop_values), kept for the explanations
    values: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, fact: Fact, loops: list[str]) -> None:
        self.facts[fact["id"]] = fact
        self.loops_of[fact["id"]] = loops


def encode_field(
    spec: FieldSpec, value: Any, vocab: Vocabulary, out: Fact, choices: list[str] | None = None
) -> None:
    """Write the engine attributes of one field value into `out`."""
    _encoder(spec, vocab, choices)(value, out)


def _encoder(
    spec: FieldSpec, vocab: Vocabulary, choices: list[str] | None = None
) -> Callable[[Any, Fact], None]:
    """encode_field for one field, with its type's branch and names chosen once (a build
    encodes about 190,000 field values at 1,000 loops)."""
    attr = spec.attr
    if spec.type == "ident":

        def ident(value: Any, out: Fact) -> None:
            out[attr] = str(value)

        return ident
    if spec.type == "known":

        def known(value: Any, out: Fact) -> None:
            is_known = value not in (None, UNKNOWN, "") and not (
                isinstance(value, list) and not value
            )
            out[attr] = "known" if is_known else "unknown"

        return known
    if spec.type in ("category", "yesno"):

        def category(value: Any, out: Fact) -> None:
            out[attr] = str(value) if value not in (None, "") else "unknown"

        return category
    if spec.type == "set":
        universe = choices or vocab.terms(spec.table)
        term_attrs = [term_attr for _term, term_attr in _set_attrs(attr, tuple(universe))]
        no = repeat("no")
        # Each value met, encoded: loops made from one template give the same few lists and
        # derived sets (about 11,000 set encodings at 1,000 loops, a few hundred different).
        answered: dict[Any, Fact] = {}
        derived: dict[Any, Fact] = {}

        def attrs(tri: dict[str, str]) -> Fact:
            return dict(zip(term_attrs, map(tri.get, universe, no), strict=True))

        def members(value: Any, out: Fact) -> None:
            try:
                if isinstance(value, dict):  # derived (emits, reacts, common): three-valued
                    # Its terms and their values say all it holds.
                    whole = (tuple(value), tuple(value.values()))
                    if whole not in derived:
                        derived[whole] = attrs(value)
                    out.update(derived[whole])
                    return
                # A tuple equals another only where the lists hold equal items, the same
                # members.
                key = tuple(value) if isinstance(value, list) else value
                if key not in answered:
                    answered[key] = attrs(membership(value, universe))
                out.update(answered[key])
            except TypeError:  # no key can hold it: encoded each time
                out.update(attrs(value if isinstance(value, dict) else membership(value, universe)))

        return members
    if spec.type == "interval":
        lo_attr, hi_attr = f"{attr}_lo", f"{attr}_hi"

        def interval(value: Any, out: Fact) -> None:
            out[lo_attr], out[hi_attr] = interval_of(spec, value)

        return interval

    def nothing(value: Any, out: Fact) -> None:
        return None

    return nothing


@lru_cache(maxsize=1024)
def _set_attrs(attr: str, universe: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(term, engine attribute) of a set field: named once, not for each of ~140,000
    encodings at 1,000 loops."""
    return tuple((term, f"{attr}__{term}") for term in universe)


def interval_of(spec: FieldSpec, value: Any) -> tuple[int, int]:
    if isinstance(value, tuple):
        return int(value[0]), int(value[1])
    if isinstance(value, durations.Interval):
        return value.lo, value.hi
    if spec.unit == "ms":
        iv = durations.interval_of(value)
        return iv.lo, iv.hi
    if value is None or value == UNKNOWN:
        return 0, COUNT_UNKNOWN_HI
    return int(value), int(value)


class _Terms(dict[str, list[str]]):
    """Word list -> its terms, read from the vocabulary once per build (a set field is
    encoded about 140,000 times at 1,000 loops)."""

    def __init__(self, vocab: Vocabulary) -> None:
        super().__init__()
        self.vocab = vocab
        self._encoders: dict[str, list[tuple[str, Callable[[Any, Fact], None]]]] = {}

    def of(self, spec: FieldSpec) -> list[str] | None:
        if spec.type != "set":
            return None
        if spec.table not in self:
            self[spec.table] = self.vocab.terms(spec.table)
        return self[spec.table]

    def encoders(self, kind: str) -> list[tuple[str, Callable[[Any, Fact], None]]]:
        """(field name, its encoder) for every registry field of `kind`, made once a build."""
        if kind not in self._encoders:
            self._encoders[kind] = [
                (spec.name, _encoder(spec, self.vocab, self.of(spec))) for spec in FACT_KINDS[kind]
            ]
        return self._encoders[kind]


def _encoded(kind: str, fid: str, values: dict[str, Any], terms: _Terms, scope: str) -> Fact:
    """A derived fact of `kind`: every registry field of the kind encoded from `values`."""
    fact: Fact = {"id": fid, "kind": kind, "scope": scope}
    for name, encode in terms.encoders(kind):
        encode(values[name], fact)
    return fact


def _answers_encoder(
    answer_fields: dict[str, tuple[FieldSpec, list[str] | None]], vocab: Vocabulary
) -> Callable[[dict[str, Any], Fact], None]:
    """Writes a loop's answers to the knowledge base's questions into its fact. Most
    questions are unanswered for most loops: those attributes are encoded once, and only
    the answers a loop gives are encoded for it."""
    encoders = {
        qid: _encoder(spec, vocab, choices) for qid, (spec, choices) in answer_fields.items()
    }
    blank: Fact = {}
    written = 0
    for encode_one in encoders.values():
        part: Fact = {}
        encode_one(None, part)
        written += len(part)
        blank.update(part)
    # Each question writes the same attributes whatever its answer; where two questions
    # share one (ids differing only in - and _), the later's is kept: encoded in order.
    disjoint = written == len(blank)

    def encode(answers: dict[str, Any], out: Fact) -> None:
        if disjoint:
            out.update(blank)
            for qid, value in answers.items():
                if qid in encoders:
                    encoders[qid](value, out)
        else:
            for qid, encode_one in encoders.items():
                encode_one(answers.get(qid), out)

    return encode


def _any_loop(structure: Structure, role: str) -> str:
    """Whether some loop of the platform plays the role; unknown where a caller built the
    structure without roles."""
    if not structure.roles:
        return "unknown"
    return tri_or(r.get(role, "unknown") for r in structure.roles.values())


def platform_fact(
    assessment: Assessment, vocab: Vocabulary, scope: str, structure: Structure
) -> Fact:
    """What the platform runs, judged from its resources' kinds and its economic figures,
    and whether any of its loops re-submits work or adds capacity (from the loops' roles)."""
    kinds = [r.kind for r in assessment.resource_list()]
    workloads = {vocab.resource_kinds[k].workload for k in kinds if k in vocab.resource_kinds}
    all_known = bool(kinds) and all(k in vocab.resource_kinds for k in kinds)
    econ = assessment.economics
    tokens = econ.monthly_tokens if econ is not None else None
    has_tokens = isinstance(tokens, int) and tokens > 0

    def judge(workload: str, extra: bool) -> str:
        if workload in workloads or extra:
            return "yes"
        return "no" if all_known else "unknown"

    accelerators = econ.accelerator_count if econ is not None else None
    known_kinds = [vocab.resource_kinds[k] for k in kinds if k in vocab.resource_kinds]
    # Each resource's answer, or its kind's default where nobody answered.
    accelerated = {
        answered_or_kind_default(r, "accelerated", vocab.resource_kinds)
        for r in assessment.resource_list()
    }
    if isinstance(accelerators, int):
        # The count the user gave wins over what the resources imply.
        uses_accelerators = "yes" if accelerators > 0 else "no"
    elif "yes" in accelerated:
        uses_accelerators = "yes"
    else:
        uses_accelerators = "no" if accelerated == {"no"} else "unknown"

    if has_tokens or any(kind.takes_requests for kind in known_kinds):
        serves_requests = "yes"
    else:
        serves_requests = "no" if all_known else "unknown"

    return {
        "id": "platform",
        "kind": "platform",
        "scope": scope,
        "serves_inference": judge("inference", has_tokens),
        "serves_requests": serves_requests,
        "trains_models": judge("training", False),
        "uses_accelerators": uses_accelerators,
        # Unknown where a caller built the structure without roles.
        "resubmits_work": _any_loop(structure, "resubmits_work"),
        "adds_capacity": _any_loop(structure, "adds_capacity"),
    }


def without_accelerators(
    assessment: Assessment, vocab: Vocabulary
) -> Callable[[Iterable[str], Iterable[str]], bool]:
    """A test of whether a finding's work is known to run without accelerators, given its
    loops and the resources of its matches (where none is named, those its loops act on):
    some of those resources was answered so, and none of them runs on accelerators or may,
    by answer or kind. Accelerator time and tokens are not charged to such a finding, even
    where other work of the platform runs on accelerators. A queue or a node, whose kind
    says nothing of the work it holds, does not decide it alone."""
    resources = {r.id: r for r in assessment.resource_list()}
    acts_on = {lp.id: lp.acts_on for lp in assessment.loops if isinstance(lp.acts_on, list)}

    def test(loops: Iterable[str], matched: Iterable[str]) -> bool:
        rids = [r for r in matched if r] or [r for lp in loops for r in acts_on.get(lp, ())]
        said_no = False
        for rid in rids:
            res = resources.get(rid)
            if res is None:  # not described: it could be anything
                return False
            if answered_or_kind_default(res, "accelerated", vocab.resource_kinds) != "no":
                return False
            said_no = said_no or value_at(res, "accelerated") == "no"
        return said_no

    return test


def loop_values(loop: Loop, structure: Structure) -> dict[str, Any]:
    """Field name -> value for one loop, as rules see it (including emits/reacts)."""
    values = _field_values(loop, structure)
    own = _OwnComparisons()
    if own.derivations:
        fact: Fact = {}
        for spec in FACT_KINDS["loop"]:
            if spec.type == "interval":
                fact[f"{spec.attr}_lo"], fact[f"{spec.attr}_hi"] = interval_of(
                    spec, values[spec.name]
                )
        own.add(values, fact)
    return values


def _field_values(loop: Loop, structure: Structure) -> dict[str, Any]:
    """Every loop fact field's value, in the registry's order."""
    lid = loop.id
    derived = {
        "emits": structure.emits[lid],
        "reacts": structure.reacts[lid],
        # None (every role unknown) where a caller built the structure without roles.
        "roles": structure.roles.get(lid),
        "disputed": "yes" if loop.disputed else "no",
    }
    values: dict[str, Any] = {}
    for name, first, rest in _LOOP_READS:
        if name in derived:
            values[name] = derived[name]
        else:  # value_at, unrolled: a build reads about 25,000 of these at 1,000 loops
            value = getattr(loop, first, None)
            values[name] = value_at(value, rest) if rest and value is not None else value
    for name, fallback in LOOP_FALLBACKS:  # unanswered, and not said not to apply
        if values[name] is None and name not in (loop.not_applicable or ()):
            values[name] = values[fallback]
    return values


# Each loop fact field: its name, and the path to it split at its first step.
_LOOP_READS = [(spec.name, *spec.name.partition(".")[::2]) for spec in FACT_KINDS["loop"]]


class _OwnComparisons:
    """Comparisons a pattern declares between a loop's own values (the outcome the fact
    carries, for explanations: expert/knowledge/comparisons.py), worked out once for each
    different set of a loop's intervals, which is all they read (a few dozen at 1,000 loops)."""

    def __init__(self) -> None:
        self.derivations = [d for d in comparisons.derivations("loop") if not d.links]
        self.attrs = [
            f"{spec.attr}_{end}"
            for spec in FACT_KINDS["loop"]
            if spec.type == "interval"
            for end in ("lo", "hi")
        ]
        self.outcomes: dict[tuple[Any, ...], list[tuple[str, str]]] = {}

    def add(self, values: dict[str, Any], fact: Fact) -> None:
        """Add each comparison's outcome to a loop's values, from the intervals in its fact."""
        if not self.derivations:
            return
        key = tuple(fact[attr] for attr in self.attrs)
        if key not in self.outcomes:
            intervals = dict(zip(self.attrs, key, strict=True))
            self.outcomes[key] = [
                (d.field, comparisons.evaluate(d, {d.hostvar: intervals})) for d in self.derivations
            ]
        values.update(self.outcomes[key])


def resource_values(
    res: Resource, kinds: dict[str, str | None], vocab: Vocabulary
) -> dict[str, Any]:
    """The value of every resource fact field, its derived ones included; `kinds` gives each
    resource's kind by id (what its calls reach)."""
    values = {
        spec.name: answered_or_kind_default(res, spec.name, vocab.resource_kinds)
        for spec in FACT_KINDS["resource"]
        if spec.name not in DERIVED_FACT_FIELDS["resource"]
    }
    values["calls_others"] = _calls_others(res, kinds, vocab)
    return values


def _calls_others(res: Resource, kinds: dict[str, str | None], vocab: Vocabulary) -> str:
    """Whether the resource's work waits on answers from others: "yes" when it calls a
    resource of a kind that answers calls (a service, a model server), "unknown" when it
    calls one of unknown kind, "no" otherwise (what it runs on or holds, a GPU pool or its
    own KV cache, is part of it)."""
    found = "no"
    for callee in res.calls:
        kind = vocab.resource_kinds.get(kinds.get(callee) or UNKNOWN)
        if kind is None:
            found = "unknown"
        elif kind.answers_calls:
            return "yes"
    return found


def build(
    assessment: Assessment,
    structure: Structure,
    vocab: Vocabulary,
    scope: str,
    answer_fields: dict[str, tuple[FieldSpec, list[str] | None]] | None = None,
    narrow: Narrowing | None = None,
) -> FactBase:
    """Encode everything the rules may read. `answer_fields` maps question ids to their field;
    `narrow` leaves out the facts no rule could match (every fact is kept without it)."""
    base = FactBase()
    answer_fields = answer_fields or {}
    raw: list[tuple[Fact, list[str]]] = []
    terms = _Terms(vocab)
    answered = _answers_encoder(answer_fields, vocab)

    loop_encoders = terms.encoders("loop")
    own = _OwnComparisons()
    for loop in assessment.loops:
        fact: Fact = {"id": f"loop:{loop.id}", "kind": "loop", "scope": scope}
        values = base.values[loop.id] = _field_values(loop, structure)
        for name, encode in loop_encoders:
            encode(values[name], fact)
        answered(loop.answers, fact)
        # As loop_values does, from the intervals just encoded rather than again.
        own.add(values, fact)
        raw.append((fact, [loop.id]))
    could_match = narrow([f for f, _ in raw]) if narrow is not None else None

    def joins(fact: Fact) -> bool:
        """Whether some rule could bind the loops the fact names (`fact` holds its kind and
        every id it holds): a fact failing it is left out before it is encoded (four pairs
        of loops in five at 1,000 loops, every mask)."""
        return could_match is None or could_match.joins(fact)

    resources: list[Resource] = assessment.resource_list()
    kinds = {r.id: r.kind for r in resources}
    for res in resources:
        values = resource_values(res, kinds, vocab)
        raw.append((_encoded("resource", f"res:{res.id}", values, terms, scope), []))

    by_resource = {r.id: r for r in resources}
    # A resource's start-up and checkpoint times, read once for all the loops acting on it.
    timings: dict[str, tuple[durations.Interval, ...]] = {}
    for loop in assessment.loops:
        if not isinstance(loop.acts_on, list):
            continue
        timescale, deadline = (
            durations.interval_of(loop.timescale),
            durations.interval_of(loop.deadline),
        )
        triggers, instances = value_at(loop, "triggers"), value_at(loop, "instances")
        for rid in loop.acts_on:
            if rid == UNKNOWN:
                continue
            if rid not in timings:
                res = by_resource.get(rid) or Resource(id=rid)
                timings[rid] = tuple(
                    map(
                        durations.interval_of,
                        (res.startup_time, res.checkpoint_interval, res.checkpoint_duration),
                    )
                )
            if not joins({"kind": "acts", "loop": loop.id, "resource": rid}):
                continue
            startup, checkpoint_interval, checkpoint_duration = timings[rid]
            vals: dict[str, Any] = {
                "loop": loop.id,
                "resource": rid,
                "timescale_vs_startup": quotient_x100(timescale, startup),
                "deadline_vs_startup": quotient_x100(deadline, startup),
                "timescale_vs_checkpoint_interval": quotient_x100(timescale, checkpoint_interval),
                "deadline_vs_checkpoint_duration": quotient_x100(deadline, checkpoint_duration),
                "triggers": triggers,
                "instances": instances,
                "roles_here": structure.roles_here[rid],
                "actuations_here": structure.actuations_here[rid],
            }
            fid = f"acts:{loop.id}@{rid}"
            raw.append((_encoded("acts", fid, vals, terms, scope), [loop.id]))

    by_id = {lp.id: lp for lp in assessment.loops}
    for loop_id, rid in structure.waits:
        if not joins({"kind": "waits", "loop": loop_id, "resource": rid}):
            continue
        loop = by_id[loop_id]
        res = by_resource.get(rid) or Resource(id=rid)
        vals = {
            "loop": loop_id,
            "resource": rid,
            "deadline_vs_startup": quotient_x100(
                durations.interval_of(loop.deadline), durations.interval_of(res.startup_time)
            ),
            "triggers": value_at(loop, "triggers"),
        }
        fid = f"waits:{loop_id}@{rid}"
        raw.append((_encoded("waits", fid, vals, terms, scope), [loop_id]))

    for e in structure.edges:
        raw.append(
            (
                {
                    "id": f"edge:{e.source}>{e.target}@{e.resource}#{e.signal}",
                    "kind": "edge",
                    "scope": scope,
                    "source": e.source,
                    "target": e.target,
                    "resource": e.resource,
                    "signal": e.signal,
                },
                [e.source, e.target],
            )
        )
    for p in structure.pairs:
        # Most pairs join loops no rule could bind together (four in five at 1,000 loops).
        if not joins({"kind": "pair", "a": p.a, "b": p.b, "resource": p.resource}):
            continue
        vals = {
            "a": p.a,
            "b": p.b,
            "resource": p.resource,
            "timescale_ratio": p.ratio,
            "same_layer": p.same_layer,
            "a_faster": p.a_faster,
            "common": p.common,
        }
        fid = f"pair:{p.a}~{p.b}@{p.resource}"
        raw.append((_encoded("pair", fid, vals, terms, scope), [p.a, p.b]))
    for n in structure.nestings:
        if not joins({"kind": "nesting", "outer": n.outer, "inner": n.inner}):
            continue
        vals = {
            "outer": n.outer,
            "inner": n.inner,
            "outer_deadline": n.outer_deadline,
            "inner_deadline": n.inner_deadline,
            "inverted": n.inverted,
            "cancels": n.cancels,
        }
        fid = f"nest:{n.outer}>{n.inner}"
        raw.append((_encoded("nesting", fid, vals, terms, scope), [n.outer, n.inner]))
    for amp in structure.amplifications:
        if not joins({"kind": "amplification", "first": amp.loops[0], "last": amp.loops[-1]}):
            continue
        vals = {
            "first": amp.loops[0],
            "last": amp.loops[-1],
            "layers": (len(amp.loops), len(amp.loops)),
            "factor": amp.factor,
        }
        fid = f"amp:{'>'.join(amp.loops)}"
        raw.append((_encoded("amplification", fid, vals, terms, scope), list(amp.loops)))
    # Feedback cycles are drawn on the risk map whether or not a rule reads them (the built-in
    # patterns do not): 500 facts built for nothing at 30 loops, a third of the facts' time.
    for cyc in structure.cycles if could_match is None or could_match.reads("cycle") else ():
        vals = {
            "first": cyc.loops[0],
            "length": (len(cyc.loops), len(cyc.loops)),
            "kind": cyc.kind,
            "amplifying": cyc.amplifying,
        }
        fid = f"cycle:{'>'.join(cyc.loops)}"
        raw.append((_encoded("cycle", fid, vals, terms, scope), list(cyc.loops)))

    for m in structure.masks:
        if not joins(
            {"kind": "mask", "source": m.source, "target": m.target, "resource": m.resource}
        ):
            continue
        fid = f"mask:{m.source}>{m.target}@{m.resource}#{m.signal}"
        values = {spec.name: getattr(m, spec.name) for spec in FACT_KINDS["mask"]}
        raw.append((_encoded("mask", fid, values, terms, scope), [m.source, m.target]))
    raw.append((platform_fact(assessment, vocab, scope, structure), []))

    if could_match is not None:
        raw = [(f, loops) for f, loops in raw if could_match(f)]
    # Declared comparisons over the facts just built, before the engine sees them.
    comparisons.annotate([f for f, _ in raw])
    ids = [f["id"] for f, _ in raw]
    renamed = make_unique(ids)
    facts, loops_of = base.facts, base.loops_of  # FactBase.add, inline for ~10,000 facts
    for (fact, loops), original in zip(raw, ids, strict=True):
        fid = fact["id"] = renamed[original]
        facts[fid] = fact
        loops_of[fid] = loops
    return base
