"""Where a rule firing becomes an explained finding.

The engine reports only which facts each rule matched. Everything a reader needs is
reconstructed here from the knowledge base and the user's own answers: which term of the
pattern each answer satisfied (with its value), whether any was unknown (then the finding is
possible), the chain from findings to symptoms to costs, the narrative with the user's loop
names, what would clear it, and the questions that would settle it.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Literal, NamedTuple

from pydantic import TypeAdapter

from expert.analysis import ranking
from expert.analysis.applicability import can_hold
from expert.analysis.facts import FactBase, loop_values, without_accelerators
from expert.analysis.graph import Structure
from expert.analysis.plainwords import (
    because_words,
    category_words,
    clearing_answer,
    fact_says,
    label,
    series,
    value_words,
)
from expert.analysis.results import Because, Finding, Member, OpenQuestion, SourceRef
from expert.assessment import durations
from expert.assessment.fields import FACT_KINDS, LOOP_FALLBACKS, FieldSpec, value_at
from expert.assessment.fields import spec as field_spec
from expert.assessment.model import UNKNOWN, Assessment
from expert.assessment.provenance import source_of
from expert.engine.compiler import Compiled
from expert.engine.ids import group_id
from expert.knowledge import comparisons
from expert.knowledge.conditions import CORE_FIELDS, ResolvedField, evaluate, evaluate_op, resolve
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.knowledge.patterns import SEVERITY_ORDER, Pattern, Question, Severity, Term

Status = Literal["confirmed", "possible"]

# A grouped finding's members are validated as one list: a gap lists thousands of matches,
# and a model built one at a time spends most of its time outside validation.
_MEMBERS = TypeAdapter(list[Member])
_RANK = {severity: n for n, severity in enumerate(SEVERITY_ORDER)}  # higher is more severe
_PLACEHOLDER = re.compile(r"\{(\w+)(?:\.([\w.-]+))?\}")

# The knowledge-base question behind each structural dimension, and how it is put about one
# loop (see CORE_FIELDS in conditions.py).
STRUCTURE_QUESTIONS = {
    "acts": ("loop-actuations", "What does {loop} do when it acts?"),
    "reacts": ("loop-triggers", "What makes {loop} act, and which signals does it watch?"),
    "reach": ("loop-acts-on", "Which resources or work units does {loop} act on?"),
}
# Which attribute of a matched fact names the resource it concerns (for grouping matches).
_RESOURCE_ATTR = {
    "pair": "resource",
    "edge": "resource",
    "acts": "resource",
    "waits": "resource",
    "resource": "resource",
}
_NAMED_ATTRS = ("loop", "resource", "a", "b", "outer", "inner", "first", "last")
_NAMED_MEMBERS = 8  # matches named in a grouped finding's narrative; every one is in `members`
# Plain-words questions for unknown values of derived facts, with the user's names.
_PLAIN_FACT = {
    ("acts", "timescale_vs_startup"): "How fast does {loop} react, and how long does {resource} "
    "take to start?",
    ("acts", "deadline_vs_startup"): "What is the timeout of {loop}, and how long does "
    "{resource} take to start?",
    ("acts", "timescale_vs_checkpoint_interval"): "How often does {loop} act, and how often "
    "does {resource} save its progress?",
    ("acts", "deadline_vs_checkpoint_duration"): "What is the timeout of {loop}, and how long "
    "does {resource} take to write one checkpoint?",
    ("acts", "*"): "What else do {loop} and the loops beside it do to {resource}?",
    ("waits", "deadline_vs_startup"): "What is the timeout of {loop}, and how long does "
    "{resource}, which it waits on further down, take to start?",
    ("waits", "*"): "What makes {loop} act?",
    ("resource", "*"): "What kind of resource is {resource}?",
    ("pair", "same_layer"): "Which layers do {a} and {b} belong to?",
    ("pair", "*"): "How fast do {a} and {b} react?",
    ("nesting", "*"): "What are the timeouts of {outer} and {inner}, and does {outer} cancel "
    "the work below it when it gives up?",
    ("amplification", "*"): "How many times does each retrying loop from {first} to {last} retry?",
    ("cycle", "*"): "How fast do the loops in the cycle starting at {first} react?",
}
_PLAIN_PLATFORM = "What does the platform run: inference, training or both?"
_PLAIN_OTHER = "Which answers about these loops are still unknown?"
_PLAIN_LOOP_FALLBACK = "a detail of how it acts is not yet known"
# A loop field asked no more where another answer stands for it (the give-up count of a loop
# that retries is its retry count): the other is asked instead.
_FALLBACKS = dict(LOOP_FALLBACKS)


def _on_accelerators(p: Pattern) -> bool:
    """A symptom or cost of accelerators: it holds only where the platform uses them."""
    return any(t.field == "uses_accelerators" for m in p.match.values() for t in m.where)


def readable(value: Any) -> str:
    """An answer as a person would read it."""
    if type(value) is str:  # most answers, read as they are
        return value
    if value is None:
        return "not answered"
    if isinstance(value, dict):  # three-valued set (emits/reacts)
        yes = [k for k, v in value.items() if v == "yes"]
        maybe = [k for k, v in value.items() if v == "unknown"]
        if not yes and maybe:
            return UNKNOWN
        return ", ".join(yes) + (" (and possibly more)" if maybe else "") if yes else "none"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "none"
    if hasattr(value, "model_dump"):
        return ", ".join(f"{k}={v}" for k, v in value.model_dump(exclude_none=True).items())
    return str(value)


# How a narrative says a value nobody has given, by the field's type: a phrase that takes the
# value's place in the sentence ("gives up after an unknown time", "retries up to an unknown
# number of times"), so a pattern puts a count before its noun and a duration where a length
# of time reads. A partly known value ("1-121") is shown as it is.
_UNKNOWN_DURATION = "an unknown time"
_UNKNOWN_RATIO = "an unknown factor"
_UNKNOWN_COUNT = "an unknown number of"
_UNKNOWN_WORDS = "not stated"
_NOT_GIVEN = (UNKNOWN, "not answered")
_TWO_UNKNOWN_DURATIONS = f"{_UNKNOWN_DURATION} and {_UNKNOWN_DURATION}"
_BOTH_UNKNOWN = f"{_UNKNOWN_DURATION} each"


def unknown_words(spec: FieldSpec | None) -> str | None:
    """The phrase a narrative shows for an unknown value of this field, or None where the
    type has none (the value is then shown as it reads elsewhere)."""
    if spec is None:
        return None
    if spec.type == "interval":
        return {"ms": _UNKNOWN_DURATION, "x100": _UNKNOWN_RATIO}.get(spec.unit, _UNKNOWN_COUNT)
    if spec.type == "category":
        return _UNKNOWN_WORDS
    return None


def _fact_value(fact: dict[str, Any], field: str, kind: str) -> str:
    """Readable value of a derived fact's field (through the field registry's encoding)."""
    spec = field_spec(kind, field)
    if spec is None:
        return "?"
    if spec.type == "interval":
        lo, hi = fact[f"{spec.attr}_lo"], fact[f"{spec.attr}_hi"]
        if hi >= spec.unknown_hi:
            return UNKNOWN
        if spec.unit == "ms":
            return durations.describe(durations.Interval(lo, hi))
        if spec.unit == "x100":
            if lo == 0 < hi:  # below what two decimals show: "0x-0.01x" reads as nonsense
                return f"at most {hi / 100:g}x"
            if hi - lo <= 1:  # one ratio, encoded between the hundredths around it
                return f"{(lo + hi) / 200:g}x"  # 90s over 4m: "0.375x", not "0.37x-0.38x"
            return f"{lo / 100:g}x-{hi / 100:g}x"
        return str(lo) if lo == hi else f"{lo}-{hi}"
    if spec.type == "set":
        return readable(
            {k.split("__", 1)[1]: v for k, v in fact.items() if k.startswith(f"{spec.attr}__")}
        )
    return str(fact.get(spec.attr, "?"))


class Explainer:
    def __init__(
        self,
        assessment: Assessment,
        kb: KnowledgeBase,
        compiled: Compiled,
        structure: Structure,
        facts: FactBase,
    ) -> None:
        self.a, self.kb, self.compiled, self.structure, self.facts = (
            assessment,
            kb,
            compiled,
            structure,
            facts,
        )
        self.loops = {lp.id: lp for lp in assessment.loops}
        # Each loop by the name its owners gave it (its id where it has none).
        self._names = {lp.id: lp.name for lp in assessment.loops if lp.name not in (None, UNKNOWN)}
        # The values the facts were built from (made again only for a base without them).
        self.values = facts.values or {lp.id: loop_values(lp, structure) for lp in assessment.loops}
        self.answer_fields = kb.answer_fields()
        self.questions: dict[tuple[str, str], OpenQuestion] = {}
        self.platform_because: dict[str, list[Because]] = {}
        self._plans: dict[int, _Plan] = {}
        self._loop_fields: dict[tuple[str, str], str] = {}  # (loop, field) -> readable value
        self._question_for: dict[tuple[str, str], Question | None] = {}
        self._asking_memo: dict[str, list[Question]] = {}  # field -> questions asking it
        self._ops: dict[int, tuple[str, Any]] = {}  # id of a pattern's term -> op, operand
        self._causes: dict[str, Because] = {}  # finding id -> it cited as a cause
        self._pattern_sources: dict[str, list[SourceRef]] = {}  # effect pattern -> sources
        # (fact kind, field) -> how to find the answers it reads (see _reads)
        self._read_recipes: dict[tuple[str, str], tuple[bool, tuple[Any, ...]]] = {}
        self._answers: dict[tuple[str, str, str], Any] = {}  # (kind, id, field) -> answer
        # (form, template) -> where the template names loops (see _naming)
        self._namings: dict[tuple[int, str], list[tuple[str, str, bool]]] = {}
        # id of an `asked_when` term (held by the knowledge base) -> it resolved, or None
        self._asked_when: dict[int, _Check | None] = {}
        self._settle_cache: dict[tuple[str, str, str], str] = {}
        # finding id -> the conditional feeds (`feeds_when`) one of its matches passes
        self._feeds_ok: dict[str, set[str]] = {}
        self._said_memo: dict[tuple[str, str], str] = {}
        # (form, feed's index) -> its terms and the variables they read (see _feeds)
        self._feed_reads: dict[tuple[int, int], tuple[list[_Check], tuple[str, ...]]] = {}
        # (fact kind, field, fact id) -> a placeholder's words for it (see _words)
        self._field_words: dict[tuple[str, str | None, str], str] = {}
        # (form, template) -> the template read (see _template)
        self._templates: dict[tuple[int, str], tuple[list[str], list[_Slot], str]] = {}
        # (question, loop) -> what _unsettled_by says of it
        self._unsettled: dict[tuple[str, str], tuple[str, bool] | None] = {}
        self._settles: set[tuple[tuple[str, str], str]] = set()  # (question key, finding) asked
        # (question key, pattern title) already put by _ask_structure
        self._structure_asked: set[tuple[tuple[str, str], str]] = set()
        self._fitting_memo: dict[tuple[str, str], str] = {}  # (question, loop) -> question
        # (fact kind, field, fact id, result) -> what the test read, as findings cite it
        self._because_memo: dict[tuple[str, str, str, str], Because] = {}
        # finding id -> the questions (plain words) that would settle what it rests on
        self.settling: dict[str, list[str]] = {}
        self._resources = {r.id: r for r in assessment.resource_list()}
        self._without_accelerators = without_accelerators(assessment, kb.vocabulary)
        # What respondents said does not apply, per loop and per resource.
        self._not_applicable: dict[tuple[str, str], frozenset[str]] = {
            **{
                ("loop", lp.id): frozenset(lp.not_applicable)
                for lp in assessment.loops
                if lp.not_applicable
            },
            **{
                ("resource", r.id): frozenset(r.not_applicable)
                for r in self._resources.values()
                if r.not_applicable
            },
        }
        self._acting_on: dict[str, list[str]] = {}
        for lp in assessment.loops:
            if isinstance(lp.acts_on, list):
                for rid in lp.acts_on:
                    self._acting_on.setdefault(rid, []).append(lp.id)

    def _plan(self, p: Pattern) -> _Plan:
        """What explaining any firing of p needs from the knowledge base, worked out once."""
        # Keyed by the pattern object: each form is its own object, held by the knowledge base
        # for the explainer's life (its form number is a private attribute, slow to read).
        plan = self._plans.get(id(p))
        if plan is None:
            numbered = itertools.count()

            def check(var: str, term: Term) -> _Check:
                fact = p.match[var].fact
                field = resolve(fact, term.field, self.kb.vocabulary, self.answer_fields)
                assert field is not None  # checked when the pattern was compiled
                return _Check(var, term, field, term.op, term.operand, term.strict, next(numbered))

            plan = _Plan(
                checks=[check(var, t) for var, fm in p.match.items() for t in fm.where],
                escalations=[
                    (
                        _RANK[esc.to],
                        [check(var, t) for var, terms in esc.when.items() for t in terms],
                    )
                    for esc in p.escalate
                ],
                feeds=[
                    (feed.to, [check(var, t) for var, terms in feed.when.items() for t in terms])
                    for feed in p.feeds_when
                ],
                attr_of=_AttrOf(p, self),
                sources=[SourceRef(**s.model_dump()) for s in p.sources],
            )
            # Each variable's own (non-join) checks, in the order of plan.checks, which lists
            # them variable by variable.
            plan.own = [
                _Own.of(
                    var, fm.fact, [c for c in plan.checks if c.var == var and c.op != "same_as"]
                )
                for var, fm in p.match.items()
            ]
            self._plans[id(p)] = plan
        return plan

    # -- naming
    def name(self, loop_id: str) -> str:
        return self._names.get(loop_id, loop_id)

    def _loop_field(self, loop_id: str, field: str) -> str:
        key = (loop_id, field)
        text = self._loop_fields.get(key)
        if text is None:
            if field == "name":
                text = self.name(loop_id)
            elif field.startswith("answers."):
                text = readable(self.loops[loop_id].answers.get(field.split(".", 1)[1]))
            else:
                text = readable(self.values[loop_id].get(field))
            self._loop_fields[key] = text
        return text

    def render(self, template: str, bound: dict[str, dict[str, Any]], pattern: Pattern) -> str:
        literals, slots, tail = self._template(template, pattern)
        out = []
        for literal, slot in zip(literals, slots, strict=True):
            out.append(literal)
            out.append(self._fill(slot, bound))
        out.append(tail)
        # Two unknown durations side by side ("within {a.timescale} and {b.timescale}") read
        # as one phrase rather than the same words twice.
        return "".join(out).replace(_TWO_UNKNOWN_DURATIONS, _BOTH_UNKNOWN)

    def _template(self, template: str, p: Pattern) -> tuple[list[str], list[_Slot], str]:
        """A template of a form, read once: the text before each placeholder, the
        placeholders, and the text after the last."""
        key = (id(p), template)  # the form is held by the knowledge base, as in _plan
        read = self._templates.get(key)
        if read is None:
            literals, slots, pos = [], [], 0
            for m in _PLACEHOLDER.finditer(template):
                var, field = m.group(1), m.group(2)
                kind = p.match[var].fact if var in p.match else ""
                spec = field_spec(kind, field) if kind == "loop" and field else None
                if kind != "loop":
                    spec = field_spec(kind, field or "id")
                literals.append(template[pos : m.start()])
                following = _following(template[m.end() :])
                slots.append(_Slot(m.group(0), var, field, kind, spec, following, {}))
                pos = m.end()
            read = self._templates[key] = (literals, slots, template[pos:])
        return read

    def _fill(self, slot: _Slot, bound: dict[str, dict[str, Any]]) -> str:
        """A placeholder's words for the fact its variable is bound to: they read only that
        fact, which recurs in many matches, so they are made once per fact."""
        fact = bound.get(slot.var)
        if fact is None:
            return slot.text
        text = slot.filled.get(fact["id"])
        if text is None:
            text = slot.filled[fact["id"]] = self._words(slot, fact)
        return text

    def _words(self, slot: _Slot, fact: dict[str, Any]) -> str:
        kind, field, spec = slot.kind, slot.field, slot.spec
        if kind == "loop" and field in (None, "name"):
            return _set_off_before(self._loop_field(fact["loop"], "name"), slot.following)
        if kind != "loop" and spec is None:
            return slot.text
        # Other words read only the field of the fact, which placeholders of many templates
        # and forms share (a loop's timeout in a dozen patterns): each is made once.
        key = (kind, field, fact["id"])
        words = self._field_words.get(key)
        if words is None:
            words = self._field_words[key] = self._fact_words(kind, field, spec, fact)
        return words

    def _fact_words(
        self, kind: str, field: str | None, spec: FieldSpec | None, fact: dict[str, Any]
    ) -> str:
        if kind == "loop":
            text = self._loop_field(fact["loop"], field or "name")
        else:
            assert spec is not None
            if spec.type == "ident":
                # The user's own names: a resource's `name` where it has one, as loops'.
                value = fact[spec.attr]
                if spec.attr == "resource":
                    return self._resource_name(value)
                return self.name(value) if value in self.loops else value
            text = _fact_value(fact, spec.name, kind)
            if kind == "resource" and spec.type == "interval":
                # The resource's duration as its author wrote it ("320s-12m"), as a
                # loop's is, not the interval written back ("5.3m-12m").
                own = getattr(self._resources.get(str(fact["resource"])), spec.name, None)
                if isinstance(own, str) and own not in _NOT_GIVEN:
                    text = own
        if text in _NOT_GIVEN:
            words = unknown_words(spec)
            if words is not None:
                return words
        # Vocabulary values read as words: a list as its labels ("terminate work, retry
        # work"); one word as itself unless it is an id ("throughput" stays, since the
        # objective labels are imperatives, but "per_client" reads as its label).
        if spec is not None and spec.type == "set":
            return value_words(self.kb, text)
        if spec is not None and spec.type == "category":
            return category_words(self.kb, spec.table, text)
        return text

    def _render_over(self, template: str, members: list[_Match], p: Pattern) -> str:
        """A template rendered for several matches at once: a placeholder the matches fill
        differently names each value once ("A, B and C", the lead's first), and more than
        a few as "A, B and 5 more"."""
        literals, slots, tail = self._template(template, p)
        forms = {id(mm.p): mm.p for mm in members}
        out: list[str] = []
        for literal, slot in zip(literals, slots, strict=True):
            # Each match reads the placeholder alone, in its own form, as render() would
            # read it (with nothing after it).
            alone = {k: self._template(slot.text, form)[1][0] for k, form in forms.items()}
            # The words depend only on the form and the fact the placeholder reads, which
            # many matches share: each pair is filled once, in the order of the matches.
            fills: dict[tuple[int, Any], str] = {}
            for mm in members:
                fact = mm.bound.get(slot.var)
                key = (id(mm.p), None if fact is None else fact["id"])
                if key not in fills:
                    fills[key] = self._fill(alone[key[0]], mm.bound).replace(
                        _TWO_UNKNOWN_DURATIONS, _BOTH_UNKNOWN
                    )
            values = list(dict.fromkeys(fills.values()))
            if len(values) > _NAMED_MEMBERS:
                shown = values[: _NAMED_MEMBERS - 1]
                filled = f"{', '.join(shown)} and {len(values) - len(shown)} more"
            else:
                # The last name is the one the sentence goes on from.
                values[-1] = _set_off_before(values[-1], slot.following)
                filled = series(values)
            out += (literal, filled)
        out.append(tail)
        return "".join(out)

    # -- stage 1
    def _part(
        self, p: Pattern, own: _Own, fact: dict[str, Any], bound: dict[str, dict[str, Any]]
    ) -> _Part:
        """What one bound fact brings to a match of p: each of its variable's tests reads only
        that fact, and a fact (a loop, say) is in many matches of a pattern."""
        var, kind = own.var, own.kind
        # Thousands of facts (influences, pairs) show a few dozen distinct values to the tests.
        values = own.read(fact)
        found = own.results.get(values)
        if found is None:
            attr_of = self._plan(p).attr_of
            terms = tuple(
                [
                    (
                        var,
                        c.term,
                        evaluate_op(c.op, c.operand, c.strict, c.field, fact, bound, attr_of),
                    )
                    for c in own.checks
                ]
            )
            found = own.results[values] = (terms, any(t[2] == "unknown" for t in terms))
        terms, unsure = found
        # Nothing depends on the fact but the values its tests read where none of them is
        # unknown, or, for a gap, where its tests read no answer (none can be missing).
        if not self._not_applicable and (
            all(self._read_recipe(kind, c.term.field) == (False, ()) for c in own.checks)
            if p.unknown_is_evidence
            else not unsure
        ):
            part = own.shared[values] = _Part(terms, (), (), (), False)
            return part
        not_applicable = bool(self._not_applicable) and self._rests_on_not_applicable(
            p, {var: fact}, terms
        )
        if p.unknown_is_evidence:
            # "Nobody knows" is a gap's evidence only once somebody said so: a question
            # not yet answered makes no gap, only a question to ask.
            unknown = [t for t in terms if self._unanswered(kind, fact, t[1].field)]
        else:
            unknown = [t for t in terms if t[2] == "unknown"]
        details = []
        for _var, term, _r in unknown:
            key = (fact["id"], term.field)
            text = self._settle_cache.get((kind, *key))
            if text is None:
                text = self._settle_cache[(kind, *key)] = self._settle_text(p, var, term, fact)
            details.append((key, text))
        return _Part(
            terms,
            tuple(self._unknown_structure(p, {var: fact}, terms)),
            tuple(details),
            tuple(a for t in unknown for a in self._missing_of(kind, fact, t[1].field)),
            not_applicable,
        )

    def _fact_names(self, kind: str, fact: dict[str, Any]) -> dict[str, str]:
        """The loops and resources a derived fact joins, by the names their owners gave them,
        keyed as the registry's sentences name them ({loop}, {resource}, {a}, ...)."""
        names: dict[str, str] = {}
        for spec in FACT_KINDS.get(kind, []):
            if spec.type == "ident" and spec.attr in fact:
                ident = str(fact[spec.attr])
                names[spec.attr] = (
                    self.name(ident) if ident in self.loops else self._resource_name(ident)
                )
        return names

    def _because(
        self, p: Pattern, var: str, term: Term, fact: dict[str, Any], result: str
    ) -> Because:
        """What one test read, as a finding cites it. It depends only on the fact, the field
        and the result, which recur across the findings of a pattern: each is made once."""
        key = (p.match[var].fact, term.field, str(fact["id"]), result)
        because = self._because_memo.get(key)
        if because is None:
            because = self._because_memo[key] = self._because_of(p, var, term, fact, result)
        return because

    def _because_of(
        self, p: Pattern, var: str, term: Term, fact: dict[str, Any], result: str
    ) -> Because:
        kind = p.match[var].fact
        if kind == "loop":
            loop_id = fact["loop"]
            value = self._loop_field(loop_id, term.field)
            said = self._said(term.field, value)
            if len(self._asking(term.field)) > 1:
                # A field asked in other words of other loops (a disruptor's grace period,
                # a timeout's deadline) reads as the question this loop was asked.
                q = self._loop_question(term.field, fact)
                if q is not None:
                    said = f"{q.text}: {value_words(self.kb, value)}"
            return Because(
                loop=loop_id,
                field=term.field,
                value=value,
                unknown=result == "unknown",
                source=source_of(self.loops[loop_id], term.field),
                said=said,
            )
        loops = self.facts.loops_of.get(fact["id"], [])
        field = term.field
        compared = comparisons.sentence(
            kind,
            field,
            fact,
            lambda i: self.name(i) if i in self.loops else self._resource_name(i),
        )
        if compared is not None:
            return Because(
                loop=loops[0] if len(loops) == 1 else None,
                field="comparison",
                value=compared,
                unknown=result == "unknown",
                said=compared,
            )
        source = self._fact_source(kind, fact, field)
        value = _fact_value(fact, field, kind)
        spec = field_spec(kind, field)
        names = self._fact_names(kind, fact)
        said = (fact_says(self.kb, spec, value, names) if spec else None) or self._said(
            f"{kind}.{field}", value
        )
        if kind == "edge":
            value = (
                f"{self.name(fact['source'])} -> {self.name(fact['target'])}: "
                f"{fact['signal']} on {fact['resource']}"
            )
            field = "influence"
            said = (
                f"what {self.name(fact['source'])} does leads to "
                f"“{label(self.kb, str(fact['signal']))}” on "
                f"{self._resource_name(str(fact['resource']))}, and "
                f"{self.name(fact['target'])} reacts to it"
            )
        return Because(
            loop=loops[0] if len(loops) == 1 else None,
            field=f"{kind}.{field}",
            value=value,
            unknown=result == "unknown",
            source=source,
            said=said,
        )

    def _said(self, field: str, value: str) -> str:
        """because_words, once per field and value: the same few answers recur in thousands
        of matches, and finding a field's question sorts every question each time."""
        key = (field, value)
        said = self._said_memo.get(key)
        if said is None:
            said = self._said_memo[key] = because_words(self.kb, field, value)
        return said

    def _fact_source(self, kind: str, fact: dict[str, Any], field: str) -> str | None:
        """Where a resource's value, or both sides of a loop-to-resource ratio, came from
        when they were imported (a ratio cites each side it has a source for)."""
        if kind == "resource":
            return source_of(self._resources.get(fact["id"].split(":", 1)[1]), field)
        if kind in ("acts", "waits") and "_vs_" in field:
            mine, theirs = field.split("_vs_", 1)
            cited = [
                source_of(self.loops.get(fact.get("loop", "")), mine),
                source_of(self._resources.get(fact.get("resource", "")), theirs),
            ]
            return ", ".join(c for c in cited if c) or None
        return None

    def _holds(self, p: Pattern, checks: list[_Check], bound: dict[str, dict[str, Any]]) -> bool:
        """Whether every check holds on the bound facts (an unknown value does not). A
        non-join term reads only its own fact, and one fact (a loop, say) is in many matches
        of a pattern: each such term is evaluated once per fact."""
        plan = self._plan(p)
        for c in checks:
            result: str | None
            if c.op == "same_as":
                result = evaluate_op(
                    c.op, c.operand, c.strict, c.field, bound[c.var], bound, plan.attr_of
                )
            else:
                fact = bound[c.var]
                key = (c.n, fact["id"])
                result = plan.results.get(key)
                if result is None:
                    result = plan.results[key] = evaluate_op(
                        c.op, c.operand, c.strict, c.field, fact, bound, plan.attr_of
                    )
            if result != "yes":
                return False
        return True

    def _leads(self, cause: Finding, target: str) -> bool:
        """Whether a finding leads to a symptom or cost: always where its pattern `feeds` it,
        and where the pattern feeds it only `when` some terms hold, only if one of the
        finding's matches passed them."""
        p = self.kb.patterns.get(cause.rule)
        if p is None or not any(feed.to == target for feed in p.feeds_when):
            return True
        return target in self._feeds_ok.get(cause.id, ())

    def _escalation(self, p: Pattern, bound: dict[str, dict[str, Any]]) -> int | None:
        """Which of p.escalate sets the match's severity (the first to reach the highest),
        or None where none raises it."""
        rank, chosen = _RANK[p.severity], None
        for n, (to, checks) in enumerate(self._plan(p).escalations):
            if to > rank and self._holds(p, checks, bound):
                rank, chosen = to, n
        return chosen

    def _severity(self, p: Pattern, members: list[_Match]) -> tuple[Severity, str]:
        """The highest severity any match reaches (the lead's first, then the first match
        above it), with its reason; only that one reason is rendered."""
        severity: Severity = p.severity
        if not p.escalate:
            return severity, ""
        rank, highest = _RANK[severity], max(_RANK[esc.to] for esc in p.escalate)
        reason_of: tuple[int, _Match] | None = None
        for m in members:
            if rank >= highest:
                break  # no match can rise above it
            n = self._escalation(m.p, m.bound)  # each match in its own form
            if n is not None and _RANK[p.escalate[n].to] > rank:
                severity, rank, reason_of = p.escalate[n].to, _RANK[p.escalate[n].to], (n, m)
        if reason_of is None:
            return severity, ""
        n, m = reason_of
        return severity, self.render(p.escalate[n].because, m.bound, m.p)

    def _clears(
        self,
        p: Pattern,
        bound: dict[str, dict[str, Any]],
        terms: list[tuple[str, Term, str]],
        rendered: bool = True,
    ) -> list[str]:
        """What would clear a match: the pattern's conditions (left as written, to be
        replaced, unless `rendered`), then an answer for each unknown test of a loop."""
        out = [self.render(c, bound, p) for c in p.clears] if rendered else list(p.clears)
        for var, term, result in terms:
            if result == "unknown" and p.match[var].fact == "loop":
                loop = self.name(bound[var]["loop"])
                op, operand = self._op_of(term)
                out.append(clearing_answer(self.kb, loop, term.field, op, operand))
        return out

    def _op_of(self, term: Term) -> tuple[str, Any]:
        """A term's operator and operand, read once per term (each is a lookup through the
        model's private attributes)."""
        found = self._ops.get(id(term))
        if found is None:
            found = self._ops[id(term)] = (term.op, term.operand)
        return found

    def _named_loops(self, template: str, bound: dict[str, dict[str, Any]], p: Pattern) -> set[str]:
        """The loops a template names by name (a loop's own name, or a fact's loop)."""
        out: set[str] = set()
        for var, attr, ident in self._naming(template, p):
            fact = bound.get(var)
            if fact is None:
                continue
            if not ident or fact.get(attr) in self.loops:
                out.add(str(fact[attr]))
        return out

    def _naming(self, template: str, p: Pattern) -> list[tuple[str, str, bool]]:
        """Where a template may name a loop, read once per form and template: (variable, the
        attribute holding the loop, whether that attribute is an id that may name another
        thing than a loop) for each placeholder."""
        key = (id(p), template)  # the form is held by the knowledge base, as in _plan
        found = self._namings.get(key)
        if found is None:
            found = []
            for m in _PLACEHOLDER.finditer(template):
                var, field = m.group(1), m.group(2)
                if var not in p.match:
                    continue
                kind = p.match[var].fact
                if kind == "loop":
                    if field in (None, "name"):
                        found.append((var, "loop", False))
                    continue
                spec = field_spec(kind, field or "id")
                if spec is not None and spec.type == "ident":
                    found.append((var, spec.attr, True))
            self._namings[key] = found
        return found

    def _changed_loop(self, p: Pattern, members: list[_Match], loops: list[str]) -> str:
        """The loop a fix changes, where the pattern's clearing conditions agree on one: code
        scanning points at the loop to edit, not merely the first loop involved."""
        named: set[str] = set()
        involved = set(loops)
        for template in p.clears:
            here: set[str] = set()
            for m in members:
                here |= self._named_loops(template, m.bound, m.p) & involved
                if len(here) > 1:  # more matches only name more loops
                    return ""
            named |= here
        return next(iter(named)) if len(named) == 1 else ""

    def _ask(self, question_id: str, loop_id: str, finding: str) -> None:
        """Ask a question about a loop, unless the loop already answers it."""
        key = (question_id, loop_id)
        # Thousands of matches ask the same few questions of the same loops: whether the loop
        # answers one is worked out once.
        if key not in self._unsettled:
            self._unsettled[key] = self._unsettled_by(question_id, loop_id)
        unsettled = self._unsettled[key]
        if unsettled is None:
            return
        oq = self.questions.get(key)
        if oq is None:
            q, field = self.kb.questions[question_id], unsettled[0]
            oq = self.questions[key] = OpenQuestion(
                id=q.id,
                loop=loop_id,
                text=q.text,
                help=q.help,
                field=field,
                answered_unknown=unsettled[1],
            )
        # A question may settle hundreds of findings: a set answers whether it settles this.
        if (key, finding) not in self._settles:
            self._settles.add((key, finding))
            if finding not in oq.settles:
                oq.settles.append(finding)

    def _unsettled_by(self, question_id: str, loop_id: str) -> tuple[str, bool] | None:
        """(field, whether it was answered "unknown") where a loop leaves a question open;
        None where the loop answers it, it does not apply, or it is no loop question."""
        q = self.kb.questions.get(question_id)
        if q is None or q.about != "loop":
            return None
        field = q.field or f"answers.{q.id}"
        if field in self._not_applicable.get(("loop", loop_id), ()):
            return None  # the respondent said it does not apply: nothing to settle
        raw = (
            self.loops[loop_id].answers.get(q.id)
            if q.answer
            else value_at(self.loops[loop_id], field)
        )
        if raw not in (None, UNKNOWN) and not (isinstance(raw, list) and UNKNOWN in raw):
            return None  # known: nothing to settle
        return field, raw is not None

    # -- structure (cause of open questions, never of findings)
    def _unknown_structure(
        self, p: Pattern, bound: dict[str, dict[str, Any]], terms: Sequence[tuple[str, Term, str]]
    ) -> list[tuple[str, str]]:
        """(loop, dimension) of each unknown core answer a match would rest on; empty when it
        rests only on known structure (or when unknown is the pattern's evidence)."""
        if p.unknown_is_evidence:
            return []
        out: list[tuple[str, str]] = []
        for var, term, result in terms:
            if result != "unknown":
                continue
            kind = p.match[var].fact
            dim = CORE_FIELDS.get((kind, term.field))
            if dim is None:
                continue
            fact = bound[var]
            if kind == "loop":
                loop = fact["loop"]
                if term.field == "roles":  # a role may be unknown only for want of a detail
                    dim = self._structure_gap(loop) or ""
                if dim:
                    out.append((loop, dim))
            elif kind == "pair":
                signals = term.operand if isinstance(term.operand, list) else [term.operand]
                for loop in (fact["a"], fact["b"]):
                    reacts = self.values[loop].get("reacts") or {}
                    if any(reacts.get(sig) == "unknown" for sig in signals):
                        out.append((loop, dim))
            elif kind == "acts":
                for loop in self._acting_on.get(fact["resource"], []):
                    if self._structure_gap(loop) == "acts":
                        out.append((loop, dim))
            else:
                out += [(loop, dim) for loop in self.facts.loops_of.get(fact["id"], [])]
        return out

    def _structure_gap(self, loop_id: str) -> str | None:
        """Which structural answer of a loop is unknown or partial, if any."""
        for dim, field in (("acts", "actuations"), ("reacts", "triggers")):
            value = self.values[loop_id].get(field)
            if value in (None, UNKNOWN) or (isinstance(value, list) and UNKNOWN in value):
                return dim
        return None

    def _ask_structure(self, loop_id: str, dim: str, p: Pattern) -> None:
        """One open question per loop and dimension, naming the patterns it could settle."""
        qid, wording = STRUCTURE_QUESTIONS[dim]
        key = (qid, loop_id)
        if (key, p.title) in self._structure_asked:
            return  # thousands of matches ask the same: it changes nothing more
        self._structure_asked.add((key, p.title))
        q = self.kb.questions.get(qid)
        oq = self.questions.get(key)
        if oq is None:
            raw = value_at(self.loops[loop_id], q.field) if q and q.field else None
            oq = self.questions[key] = OpenQuestion(
                id=qid,
                loop=loop_id,
                text=wording.format(loop=self.name(loop_id)),
                help=q.help if q else "",
                field=q.field or "" if q else "",
                answered_unknown=raw is not None,
            )
        oq.text = wording.format(loop=self.name(loop_id))
        oq.dimension = dim
        if p.title not in oq.could_settle:
            oq.could_settle.append(p.title)

    # -- stage 1
    def stage1(self, firings: list[dict[str, Any]]) -> dict[str, Finding]:
        """Findings from stage-1 firings. A match resting on an unknown structure becomes an
        open question instead. Matches of one auditability pattern make one finding, and
        matches of one incoherence pattern between pairs of loops on one resource make one
        finding that names every pair."""
        groups: dict[tuple[Any, ...], list[_Match]] = {}
        # rule -> the pattern's form it matches, per variable of the form (in the order of its
        # checks) the engine's variable and the variable's own tests, and what grouping reads
        forms: dict[str, tuple[Pattern, list[tuple[str, _Own]], str, bool, bool]] = {}
        facts, loops_of = self.facts.facts, self.facts.loops_of
        for firing in firings:
            form = forms.get(firing["rule"])
            if form is None:
                meta = self.compiled.meta[firing["rule"]]
                p = self.kb.patterns[meta.pattern].variants()[meta.form]
                engine_of = dict(zip(meta.vars, meta.engine_vars, strict=True))
                form = forms[firing["rule"]] = (
                    p,
                    [(engine_of[own.var], own) for own in self._plan(p).own],
                    p.id,
                    p.kind == "auditability",
                    p.unknown_is_evidence,
                )
            p, form_parts, pid, gap, evidence = form
            ids = firing["bound"]
            bound: dict[str, dict[str, Any]] = {}
            terms: list[tuple[str, Term, str]] = []
            waiting: list[_Part] = []  # the parts that may leave something unknown
            loops: set[str] = set()
            resources: set[str] = set()
            for engine_var, own in form_parts:
                fid = ids[engine_var]  # the fact base holds each fact under its id
                fact = bound[own.var] = facts[fid]
                # Most facts leave nothing unknown: their part is that of every fact showing
                # their tests the same values.
                part = own.shared.get(own.read(fact))
                if part is None:
                    part = own.parts.get(fid)
                    if part is None:
                        part = own.parts[fid] = self._part(p, own, fact, bound)
                    waiting.append(part)
                terms += part.terms
                loops.update(loops_of.get(fid, ()))
                if own.resource_attr is not None:
                    resources.add(fact[own.resource_attr])
            details: dict[tuple[str, str], str] = {}
            missing = 0
            if waiting:
                if self._not_applicable and any(x.not_applicable for x in waiting):
                    continue  # what it needs to know does not apply: it can never be settled
                structure = [s for x in waiting if x.structure for s in x.structure]
                if structure:
                    for loop_id, dim in structure:
                        self._ask_structure(loop_id, dim, p)
                    continue
                for x in waiting:
                    if x.details:
                        details.update(x.details)
                if details:  # how many distinct answers the unknown tests wait for
                    missing = len({a for x in waiting for a in x.answers})
            ordered = sorted(loops)
            named = tuple(sorted(resources)) if len(resources) > 1 else tuple(resources)
            m = _Match(
                p,
                bound,
                terms,
                ordered,
                firing["finding"],
                details,
                missing,
                named,
            )
            # One finding per pattern and gap, pair of loops on the same resources, or loop.
            key: tuple[str, ...]
            if gap:
                key = (pid, "gap", "unanswered") if details and evidence else (pid, "gap")
            elif len(ordered) >= 2 and named:
                key = (pid, "pairs", *named)
            else:
                key = (pid, "one", *ordered)
            group = groups.get(key)
            if group is None:
                groups[key] = [m]
            else:
                group.append(m)
        also_on = self._count_pairs_once(groups)
        out: dict[str, Finding] = {}
        spans: dict[str, set[tuple[tuple[str, ...], str]]] = {}
        for key, members in groups.items():
            finding = self._grouped(members, tuple(key[1:]))
            if key in also_on:
                places = series([self._resource_name(r) for r in sorted(also_on[key])])
                finding.narrative += (
                    f" The same conflict between these loops is also seen on {places}; "
                    "it is counted once, here."
                )
            previous = out.get(finding.id)
            out[finding.id] = _merge(previous, finding) if previous else finding
            spans.setdefault(finding.id, set()).update(map(_span, members))
        found = self._fold_subsumed(out, spans)
        for f in found.values():
            # The test reads each resource alone: a pair's resource, named by every member,
            # is read once.
            f.without_accelerators = self._without_accelerators(
                f.loops, dict.fromkeys([m.resource for m in f.members])
            )
        return found

    def _count_pairs_once(
        self, groups: dict[tuple[Any, ...], list[_Match]]
    ) -> dict[tuple[Any, ...], set[str]]:
        """One pattern between the same loops is one conflict, however many resources it is
        seen on (a restart a client sees on the servers it calls, and again through the
        gateway in front of them): it stays on the resources most of its loops act on
        themselves (then the first by name) and leaves the others, so it is counted, and
        priced, once. A group left with no match is dropped. Returns, per group that kept
        such a conflict, the other resources it was seen on."""
        seen_on: dict[tuple[str, tuple[str, ...]], set[tuple[str, ...]]] = {}
        for key, members in groups.items():
            if key[1] == "pairs":
                for m in members:
                    seen_on.setdefault((key[0], tuple(m.loops)), set()).add(m.resources)
        kept = {
            pair: min(places, key=lambda res: (-self._acting_count(pair[1], res), res))
            for pair, places in seen_on.items()
            if len(places) > 1
        }
        also_on: dict[tuple[Any, ...], set[str]] = {}
        if not kept:
            return also_on
        for key in [k for k in groups if k[1] == "pairs"]:
            members = []
            for m in groups[key]:
                pair = (key[0], tuple(m.loops))
                if pair not in kept:
                    members.append(m)
                elif kept[pair] == m.resources:
                    members.append(m)
                    also_on.setdefault(key, set()).update(
                        r for place in seen_on[pair] for r in place if r not in m.resources
                    )
            if members:
                groups[key] = members
            else:
                del groups[key]
        return also_on

    def _acting_count(self, loops: tuple[str, ...], resources: tuple[str, ...]) -> int:
        """How many of the loops act on every one of the resources themselves."""
        return sum(all(lp in self._acting_on.get(r, ()) for r in resources) for lp in loops)

    def _rests_on_not_applicable(
        self, p: Pattern, bound: dict[str, dict[str, Any]], terms: Sequence[tuple[str, Term, str]]
    ) -> bool:
        """Whether a term the match could only pass as unknown reads an answer a respondent
        said does not apply: the mechanism needs that property, and the loop or resource
        does not have it, so the match is no finding, not even a possible one. A gap (where
        not knowing is the evidence) rests on every answer it reads: one that does not
        apply is not missing."""
        for var, term, result in terms:
            if result != "unknown" and not p.unknown_is_evidence:
                continue
            reads = self._reads(p.match[var].fact, bound[var], term.field)
            if any(name in self._not_applicable.get((k, i), ()) for k, i, name in reads):
                return True
        return False

    def _reads(self, kind: str, fact: dict[str, Any], field: str) -> list[tuple[str, str, str]]:
        """The answers (loop or resource, its id, field) a fact field is read from: the field
        itself on a loop or resource, the registry's `reads` for a derived one."""
        own, rows = self._read_recipe(kind, field)
        if own:
            return [(kind, str(fact[kind]), name) for name in rows]
        return [(k, str(fact[id_attr]), name) for id_attr, k, name in rows if id_attr in fact]

    def _read_recipe(self, kind: str, field: str) -> tuple[bool, tuple[Any, ...]]:
        recipe = self._read_recipes.get((kind, field))
        if recipe is None:
            recipe = self._read_recipes[(kind, field)] = _read_recipe(kind, field)
        return recipe

    def _answer(self, kind: str, ident: str, field: str) -> Any:
        """What a loop or resource answered for a field (None where nobody did), read once."""
        key = (kind, ident, field)
        if key not in self._answers:
            item = self.loops.get(ident) if kind == "loop" else self._resources.get(ident)
            self._answers[key] = value_at(item, field)
        return self._answers[key]

    def _unanswered(self, kind: str, fact: dict[str, Any], field: str) -> bool:
        """Whether every answer a test reads was left unanswered (not "don't know")."""
        reads = self._reads(kind, fact, field)
        return bool(reads) and all(self._answer(*read) is None for read in reads)

    def _missing_of(self, kind: str, fact: dict[str, Any], field: str) -> list[tuple[str, ...]]:
        """The answers an unknown test waits for (a match counts them, distinct, over its
        unknown tests). A comparison derived from two answers (a deadline against a start-up
        time) waits for each of them that is unknown: with both unknown it is two details
        away from settled, not one."""
        behind: list[tuple[str, ...]] = [
            (k, i, name)
            for k, i, name in self._reads(kind, fact, field)
            if (k, i) != (kind, str(fact.get(kind)))
            and self._answer(k, i, name) in (None, UNKNOWN, "")
        ]
        return behind or [(str(fact["id"]), field)]

    def _fold_subsumed(
        self, found: dict[str, Finding], spans: dict[str, set[tuple[tuple[str, ...], str]]]
    ) -> dict[str, Finding]:
        """Drop a general finding when a pattern that `subsumes` it found the same mechanism
        on exactly the same loops and resources, at least as well supported: the specific
        finding says all the general one says, and more precisely. A weaker specific finding
        (more unknown answers) leaves the general one standing."""
        by_rule: dict[str, list[Finding]] = {}
        for f in found.values():
            by_rule.setdefault(f.rule, []).append(f)
        dropped: dict[str, str] = {}
        for f in found.values():
            for general in self.kb.patterns[f.rule].subsumes:
                for g in by_rule.get(general, []):
                    if g.id in dropped or spans[g.id] != spans[f.id]:
                        continue
                    if f.status == "confirmed" or (
                        g.status == "possible" and f.evidence.missing <= g.evidence.missing
                    ):
                        dropped[g.id] = f.id
        # Two forms of one pattern may find its mechanism on the same loop and resource (a
        # scaler misled both by an engine's batching and by waiting on calls): one finding.
        for rule, fs in by_rule.items():
            if not self.kb.patterns[rule].forms or len(fs) < 2:
                continue
            for g in fs:
                for f in fs:
                    if f.id == g.id or f.id in dropped or g.id in dropped:
                        continue
                    if _within(spans[g.id], spans[f.id]) and (
                        f.status == "confirmed"
                        or (g.status == "possible" and f.evidence.missing <= g.evidence.missing)
                    ):
                        dropped[g.id] = f.id
        if not dropped:
            return found
        for key, q in list(self.questions.items()):
            if any(fid in dropped for fid in q.settles):
                q.settles = [fid for fid in q.settles if fid not in dropped]
                if not q.settles:  # it was asked only for a finding folded away
                    del self.questions[key]
        for gid, fid in dropped.items():
            self.settling.pop(gid, None)
            f = found[fid]
            if f.rule != found[gid].rule:
                f.narrative += f" It is a precise case of: {found[gid].title}."
        return {fid: f for fid, f in found.items() if fid not in dropped}

    def _grouped(self, members: list[_Match], grouped_by: tuple[str, ...]) -> Finding:
        """One finding for matches of one pattern (`grouped_by`, what they share, names it):
        the best-supported match explains it and every match is listed."""
        members.sort(key=lambda m: (bool(m.details), m.missing, m.fid))
        lead, p = members[0], members[0].p
        loops = sorted({lp for m in members for lp in m.loops})
        fid = group_id(p.id, grouped_by, loops)
        status: Status = "possible" if lead.details else "confirmed"
        # A test waiting on an answer reads as unknown (for a gap, one not answered yet).
        because = [
            self._because(
                p, var, term, lead.bound[var], "unknown" if (bid, term.field) in lead.details else r
            )
            for var, term, r in lead.terms
            for bid in [lead.bound[var]["id"]]
        ]
        severity, reason = self._severity(p, members)
        narrative = self.render(p.narrative, lead.bound, p)
        distinct = list({tuple(m.loops): m for m in members}.values())
        clears = self._clears(p, lead.bound, lead.terms, rendered=len(distinct) == 1)
        if len(distinct) > 1:
            # A change clears a grouped finding only if it clears every match, so each of the
            # pattern's own conditions names every loop or resource its matches put there.
            clears[: len(p.clears)] = [self._render_over(c, distinct, p) for c in p.clears]
            # Only the first few are named: the others are counted.
            others = [m.loops for m in distinct if m.loops != lead.loops]
            shown = "; ".join(
                series([self.name(lp) for lp in loops]) for loops in others[:_NAMED_MEMBERS]
            )
            more = len(others) - _NAMED_MEMBERS
            also = "between" if p.kind == "incoherence" else "for"
            narrative += f" The same holds {also}: {shown}" + (
                f", and {more} more." if more > 0 else "."
            )
        tests = len(lead.terms)
        finding = Finding(
            id=fid,
            rule=p.id,
            kind=p.kind,
            title=p.title,
            status=status,
            severity=severity,
            severity_reason=reason,
            loops=loops,
            because=because,
            narrative=narrative,
            would_clear_if=clears,
            changes=self._changed_loop(p, distinct, loops),
            summary=p.summary,
            mechanism=p.mechanism,
            sources=list(self._plan(p).sources),
            evidence=ranking.evidence(
                severity,
                tests,
                lead.missing,
                sum(
                    r == "unknown" or (lead.bound[var]["id"], term.field) in lead.details
                    for var, term, r in lead.terms
                )
                if lead.details
                else 0,
                waiting=p.unknown_is_evidence and bool(lead.details),
            ),
            members=(
                _MEMBERS.validate_python(
                    [
                        {
                            "loops": m.loops,
                            "status": "possible" if m.details else "confirmed",
                            "resource": ", ".join(m.resources),
                        }
                        for m in sorted(distinct, key=lambda m: m.loops)
                    ]
                )
                if len(distinct) > 1
                else []
            ),
        )
        # A gap waiting on answers is settled loop by loop: each loop's question counts.
        waiting = p.unknown_is_evidence and bool(lead.details)
        self.settling[fid] = list(
            dict.fromkeys(t for m in (members if waiting else [lead]) for t in m.details.values())
        )
        # Each match is read in its own form (its variables are that form's); the forms
        # share the pattern's conditional feeds, in one order.
        for k, (target, _checks) in enumerate(self._plan(p).feeds):
            if self._feeds(members, k):
                self._feeds_ok.setdefault(fid, set()).add(target)
        # Asking is idempotent, and a question's findings keep the order findings are made
        # in, so the order of the asks below does not matter. What is asked depends only on
        # the fact and the field waited for, which many matches share (a loop in many pairs):
        # each is asked once.
        asked: set[tuple[str, str]] = set()
        for m in members:
            if m.details:
                for var, term, r in m.terms:
                    waited = (m.bound[var]["id"], term.field)
                    if waited in asked or not (r == "unknown" or waited in m.details):
                        continue
                    asked.add(waited)
                    kind = m.p.match[var].fact
                    if kind == "loop":
                        q = self._loop_question(term.field, m.bound[var])
                        if q:
                            self._ask(q.id, m.bound[var]["loop"], fid)
                    elif kind == "resource":
                        rid = m.bound[var]["id"].split(":", 1)[1]
                        for rq in self._resource_questions(term.field, rid):
                            self._ask_resource(rq, rid, fid)
        for ask in p.asks:
            # A loop is in many matches of one finding: it is asked each question once.
            var, question = ask.about, ask.question
            abouts = {(fact := m.bound[var])["loop"]: fact for m in members}
            for loop_id, about in abouts.items():
                self._ask(self._fitting(question, about), loop_id, fid)
        return finding

    def _feeds(self, members: list[_Match], k: int) -> bool:
        """Whether some match passes the k-th conditional feed of its pattern. Its terms
        read one or two of a match's facts (the retrying loop), which many matches share
        (a loop in many pairs): each form and combination of those facts is tried once."""
        tried: set[tuple[Any, ...]] = set()
        for m in members:
            feed = self._feed_reads.get((id(m.p), k))
            if feed is None:
                checks = self._plan(m.p).feeds[k][1]
                # A join reads the fact it names too: there every bound fact counts.
                joins = any(c.op == "same_as" for c in checks)
                feed = self._feed_reads[(id(m.p), k)] = (
                    checks,
                    tuple(m.p.match) if joins else tuple(dict.fromkeys(c.var for c in checks)),
                )
            checks, read = feed
            key = (id(m.p), *[m.bound[var]["id"] for var in read])
            if key not in tried:
                tried.add(key)
                if self._holds(m.p, checks, m.bound):
                    return True
        return False

    def _fitting(self, question: str, about: dict[str, Any]) -> str:
        """The question to ask a loop for what `question` asks: a field asked in other words
        of other loops is asked in the words that fit this one (once per question and loop)."""
        key = (question, str(about.get("loop")))
        fitting = self._fitting_memo.get(key)
        if fitting is None:
            fitting = question
            q = self.kb.questions.get(question)
            if q is not None and q.field:
                chosen = self._loop_question(q.field, about)
                fitting = chosen.id if chosen is not None else question
            self._fitting_memo[key] = fitting
        return fitting

    def _loop_question(self, field: str, fact: dict[str, Any]) -> Question | None:
        """The question that asks a loop for `field`: of those asking it, the first whose
        `asked_when` can hold for this loop (an interrupting loop is asked its grace period,
        a timeout its deadline)."""
        key = (field, str(fact.get("loop")))
        if key not in self._question_for:
            asking = self._asking(field)
            chosen = asking
            fallback = _FALLBACKS.get(field)
            if len(asking) > 1 or fallback:  # (one question is asked whether or not it fits)
                fits = [q for q in asking if all(self._can_hold(t, fact) for t in q.asked_when)]
                chosen = fits or asking
                if not fits and fallback:
                    # not asked of this loop: the answer standing for it settles it
                    self._question_for[key] = self._loop_question(fallback, fact)
                    return self._question_for[key]
            self._question_for[key] = chosen[0] if chosen else None
        return self._question_for[key]

    def _asking(self, field: str) -> list[Question]:
        """The questions about a loop asking for `field`, read once per field (the knowledge
        base looks at every question to tell whether its index is still current)."""
        asking = self._asking_memo.get(field)
        if asking is None:
            asking = self._asking_memo[field] = self.kb.questions_for_field(field)
        return asking

    def _can_hold(self, term: Term, fact: dict[str, Any]) -> bool:
        """applicability.can_hold on a loop's fact, with the term's field resolved and its
        parts read once per term rather than once per loop."""
        if id(term) not in self._asked_when:
            field = resolve("loop", term.field, self.kb.vocabulary, self.answer_fields)
            self._asked_when[id(term)] = (
                None
                if field is None
                else _Check("", term, field, term.op, term.operand, term.strict, 0)
            )
        check = self._asked_when[id(term)]
        if check is None:  # a field the registry does not know rules nothing out
            return True
        try:
            return (
                evaluate_op(check.op, check.operand, check.strict, check.field, fact, {}, {})
                != "no"
            )
        except KeyError:  # a field the fact does not carry rules nothing out
            return True

    def _settle_text(self, p: Pattern, var: str, term: Term, fact: dict[str, Any]) -> str:
        """The question that would settle one unknown test, in plain words."""
        kind = p.match[var].fact
        if kind == "loop":
            q = self._loop_question(term.field, fact)
            if q is not None:
                return f"{self.name(fact['loop'])}: {q.text}"
            return f"{self.name(fact['loop'])}: {_PLAIN_LOOP_FALLBACK}"
        if kind == "resource":
            rid = fact["id"].split(":", 1)[1]
            texts = [rq.text for rq in self._resource_questions(term.field, rid)]
            if texts:
                return f"{self._resource_name(rid)}: {' '.join(texts)}"
        wording = _PLAIN_FACT.get((kind, term.field)) or _PLAIN_FACT.get((kind, "*"), "")
        if not wording:
            return _PLAIN_OTHER
        names = {
            k: (self.name(v) if v in self.loops else self._resource_name(v))
            for k in _NAMED_ATTRS
            for v in [fact.get(k)]
            if isinstance(v, str)
        }
        try:
            return wording.format(**names)
        except KeyError:
            return _PLAIN_OTHER

    def _resource_questions(self, field: str, rid: str) -> list[Question]:
        """A resource's questions that would settle a test of `field`, as the interview asks
        them: for a comparison of the resource's own values, the question of each value it
        compares that is not known yet."""
        d = comparisons.derivation("resource", field)
        fields = [field]
        if d is not None and not d.links:
            res = self._resources.get(rid)
            fields = [
                name
                for _var, name, _bound in d.comparison.refs()
                if getattr(res, name, None) in (None, UNKNOWN)
            ]
        fact = self.facts.facts.get(f"res:{rid}", {})
        out = []
        for f in dict.fromkeys(fields):
            # Of the questions asking it, the one whose `asked_when` can hold for this
            # resource: a pool of accelerators is asked of the work it runs.
            asking = self.kb.questions_for_field(f, about="resource")
            fits = [
                q
                for q in asking
                if all(can_hold(self.kb, "resource", t, fact) for t in q.asked_when)
            ]
            out += (fits or asking)[:1]
        return out

    def _ask_resource(self, q: Question, rid: str, finding: str) -> None:
        """Ask a question about a resource on behalf of a finding waiting on it."""
        if q.field and q.field in self._not_applicable.get(("resource", rid), ()):
            return
        key = (q.id, f"resource:{rid}")
        if key not in self.questions:
            res = self._resources.get(rid)
            raw = getattr(res, q.field, None) if res is not None and q.field else None
            self.questions[key] = OpenQuestion(
                id=q.id,
                loop="",
                resource=rid,
                text=q.text,
                help=q.help,
                field=q.field or "",
                answered_unknown=raw is not None,
            )
        if finding not in self.questions[key].settles:
            self.questions[key].settles.append(finding)

    def _resource_name(self, rid: str) -> str:
        r = self._resources.get(rid)
        return r.shown_name if r is not None else rid

    # -- stages 2 and 3
    def _platform_terms(self, pid: str, fact_id: str) -> None:
        """What a symptom's or cost's platform test read, and whether it rested on unknown."""
        if pid in self.platform_because:
            return
        p, fact = self.kb.patterns[pid], self.facts.facts[fact_id]
        out = []
        for var, fm in p.match.items():
            for term in fm.where:
                field = resolve(fm.fact, term.field, self.kb.vocabulary, self.answer_fields)
                assert field is not None
                result = evaluate(term, field, fact, {var: fact}, _AttrOf(p, self))
                out.append(
                    Because(
                        field=f"platform.{term.field}",
                        value=_fact_value(fact, term.field, fm.fact),
                        unknown=result == "unknown",
                    )
                )
        self.platform_because[pid] = out

    def derived(
        self, firings: list[dict[str, Any]], stage: int, known: dict[str, Finding]
    ) -> dict[str, Finding]:
        """Symptoms (stage 2) or costs (stage 3), each with every earlier finding it follows
        from. A firing's cause is `rule:<pattern>`, standing for all findings of that pattern;
        causes keep the order in which the findings were found."""
        targets: dict[str, list[str]] = {}  # cause pattern -> the patterns it leads to here
        for firing in firings:
            if firing["stage"] != stage:
                continue
            rule = firing["bound"]["v0"].removeprefix("rule:")
            if firing["pattern"] not in targets.setdefault(rule, []):
                targets[rule].append(firing["pattern"])
            if "v1" in firing["bound"]:
                self._platform_terms(firing["pattern"], firing["bound"]["v1"])
        causes: dict[str, list[str]] = {}
        for fid, f in known.items():
            for pid in targets.get(f.rule, []):
                causes.setdefault(pid, []).append(fid)
        out: dict[str, Finding] = {}
        for pid, cause_ids in causes.items():
            p = self.kb.patterns[pid]
            parents = [known[c] for c in cause_ids if c in known and self._leads(known[c], pid)]
            if _on_accelerators(p):
                parents = [f for f in parents if self._reaches_accelerators(f, known)]
            parents = self._crossing(parents, known)
            if p.needs_confirmed_cause:  # a response to what was seen, not to what may happen
                parents = [f for f in parents if f.status == "confirmed"]
            if not parents:
                continue
            # A cause held back (waiting on answers) is not named beside causes the report
            # shows, or a confirmed symptom would read as resting on it. It still counts
            # toward the high end of the costs, as every possible finding does.
            named = [f for f in parents if f.evidence.shown] or parents
            loops = sorted({lp for f in named for lp in f.loops})
            fid = pid  # one per pattern for the whole platform: stable as its causes change
            platform = self.platform_because.get(pid, [])
            platform_unknown = any(b.unknown for b in platform)
            confirmed = any(f.status == "confirmed" for f in parents) and not platform_unknown
            status: Status = "confirmed" if confirmed else "possible"
            names = series([self.name(lp) for lp in loops]) or "the platform"
            titles = "; ".join(sorted({f.title for f in named}))
            narrative = p.narrative.replace("{loops}", names).replace("{causes}", titles)
            # It follows from its best-supported cause, plus what its platform test read.
            best = min(parents, key=lambda f: (f.evidence.missing, -f.evidence.known_share, f.id))
            missing = (0 if best.status == "confirmed" else best.evidence.missing) + int(
                platform_unknown
            )
            known_tests = best.evidence.known_share * best.evidence.tests
            tests = best.evidence.tests + len(platform)
            known_tests += sum(not b.unknown for b in platform)
            evidence = ranking.evidence(
                p.severity, tests, missing, round(tests - known_tests) if missing else 0
            )
            out[fid] = Finding(
                id=fid,
                rule=pid,
                kind=p.kind,
                title=p.title,
                status=status,
                severity=p.severity,
                loops=loops,
                because=[*(self._caused_by(f) for f in named), *platform],
                derived_from=[f.id for f in parents],
                narrative=narrative,
                would_clear_if=[*p.clears, "clearing every finding it is derived from"],
                summary=p.summary,
                mechanism=p.mechanism,
                sources=list(self._sources(p)),
                evidence=evidence,
            )
            settle = [q for f in parents if not f.evidence.shown for q in self.settling[f.id]]
            if platform_unknown:
                settle.append(_PLAIN_PLATFORM)
            self.settling[fid] = list(dict.fromkeys(settle))
            for f in parents:
                if fid not in f.leads_to:  # a few items: symptoms and costs per finding
                    f.leads_to.append(fid)
        return out

    def _caused_by(self, f: Finding) -> Because:
        """A cause as its effects cite it (a finding causes several symptoms and costs)."""
        because = self._causes.get(f.id)
        if because is None:
            because = self._causes[f.id] = Because(field="caused by", value=f"{f.title} ({f.id})")
        return because

    def _sources(self, p: Pattern) -> list[SourceRef]:
        """A symptom's or cost's sources, made once per pattern."""
        sources = self._pattern_sources.get(p.id)
        if sources is None:
            sources = self._pattern_sources[p.id] = [SourceRef(**s.model_dump()) for s in p.sources]
        return sources

    @staticmethod
    def _reaches_accelerators(f: Finding, known: dict[str, Finding]) -> bool:
        """Whether a cause may hold accelerators: a symptom where one of its causes may, a
        conflict or gap unless its work is known to run without them (a CPU batch job)."""
        if f.derived_from:
            return any(
                c in known and Explainer._reaches_accelerators(known[c], known)
                for c in f.derived_from
            )
        return not f.without_accelerators

    @staticmethod
    def _crossing(parents: list[Finding], known: dict[str, Finding]) -> list[Finding]:
        """An auditability gap leads to a cost only where it crosses a conflict: a confirmed
        incoherence finding involving every loop of one of the gap's matches (the loop it is
        about, or both loops of an unrecorded influence). Such gaps count, with the
        conflicts they cross; a gap on loops in no confirmed conflict costs nothing to
        investigate, so it leads nowhere. Other causes (symptoms) count as they are."""
        # A gap still waiting on an answer is nobody's "don't know" yet: it costs nothing.
        gaps = [f for f in parents if f.kind == "auditability" and f.status == "confirmed"]
        if not gaps:
            return [f for f in parents if f.kind != "auditability"]
        conflicts = [
            f for f in known.values() if f.kind == "incoherence" and f.status == "confirmed"
        ]
        # A span can only lie within a conflict that involves its first loop: index the
        # conflicts by loop once, instead of testing every span against every conflict.
        loop_sets = [set(c.loops) for c in conflicts]
        by_loop: dict[str, list[int]] = {}
        for n, c in enumerate(conflicts):
            for lp in c.loops:
                by_loop.setdefault(lp, []).append(n)
        kept, crossed = [], []
        for gap in gaps:
            # Each match of the gap (one loop, or the two loops of an unrecorded influence)
            # crosses a conflict when all its loops take part in it.
            spans = [set(m.loops) for m in gap.members] or [set(gap.loops)]
            hit_at: set[int] = set()
            for span in spans:
                if not span:  # an empty span lies within every conflict
                    hit_at.update(range(len(conflicts)))
                    continue
                first = next(iter(span))
                hit_at.update(n for n in by_loop.get(first, []) if span <= loop_sets[n])
            hit = [conflicts[n] for n in sorted(hit_at)]
            if hit:
                kept.append(gap)
                crossed += hit
        others = [f for f in parents if f.kind != "auditability"]
        if not kept:
            return others
        return list({f.id: f for f in [*others, *crossed, *kept]}.values())


def _following(after: str) -> str:
    """The word a sentence goes on with after a placeholder, as _set_off_before compares it
    (lower case; empty where no space separates it, so it cannot repeat the name's)."""
    return after.split(None, 1)[0].lower() if after.strip() and after[:1].isspace() else ""


def _set_off_before(name: str, following: str) -> str:
    """A loop's name, in quotes where the sentence goes on with the word the name ends
    with (`following`, read by _following): a loop named "Liveness probe restarts" that
    restarts servers reads "“Liveness probe restarts” restarts vLLM model servers", not
    "Liveness probe restarts restarts"."""
    if following and name.strip() and name.rsplit(None, 1)[-1].lower() == following:
        return f"\u201c{name}\u201d"
    return name


@dataclass(frozen=True, slots=True)
class _Slot:
    """One placeholder of a template of a form, read once."""

    text: str  # as written: "{a.timescale}"
    var: str
    field: str | None
    kind: str  # the fact kind the form binds the variable to ("" where it binds none)
    spec: FieldSpec | None  # the field (for a loop, only where it names no name)
    following: str  # the word it goes on with (see _following)
    filled: dict[str, str]  # fact id -> its words for that fact


@dataclass(slots=True)
class _Match:
    """One firing of a stage-1 rule, evaluated term by term."""

    p: Pattern
    bound: dict[str, dict[str, Any]]
    terms: list[tuple[str, Term, str]]
    loops: list[str]
    fid: str
    details: dict[tuple[str, str], str]  # unknown (fact, field) -> the question settling it
    missing: int  # distinct unknown answers behind those tests
    resources: tuple[str, ...]  # the resources its facts concern, sorted


@dataclass(slots=True)
class _Own:
    """A variable of a form with its own tests (all but joins), which read only its fact."""

    var: str
    kind: str  # of the fact it binds
    resource_attr: str | None  # the attribute naming the resource a fact concerns, if any
    checks: list[_Check]
    read: Callable[[dict[str, Any]], Any]  # the values its tests read from a fact
    # those values -> (variable, term, three-valued result) of each test, and whether one
    # of those results is unknown
    results: dict[Any, tuple[tuple[tuple[str, Term, str], ...], bool]]
    # those values -> what every fact showing them brings to a match, where that does not
    # depend on the fact (nothing is unknown)
    shared: dict[Any, _Part]
    parts: dict[str, _Part]  # fact id -> what the fact brings to a match, for the others

    @staticmethod
    def of(var: str, kind: str, checks: list[_Check]) -> _Own:
        attrs = tuple(dict.fromkeys(a for c in checks for a in _attrs_read(c)))
        read = itemgetter(*attrs) if attrs else lambda fact: ()
        return _Own(var, kind, _RESOURCE_ATTR.get(kind), checks, read, {}, {}, {})


def _attrs_read(c: _Check) -> tuple[str, ...]:
    """The fact attributes a test reads (conditions.evaluate_op reads no others)."""
    spec = c.field.spec
    if spec.type == "interval":
        return (f"{spec.attr}_lo", f"{spec.attr}_hi")
    if spec.type == "set":
        terms = [c.operand] if c.op in ("has", "lacks") else c.operand
        return tuple(f"{spec.attr}__{t}" for t in terms)
    return (spec.attr,)


class _Part(NamedTuple):
    """What one bound fact brings to a match of a pattern's form, worked out once per fact."""

    terms: tuple[tuple[str, Term, str], ...]  # (variable, term, result) of its own tests
    structure: tuple[tuple[str, str], ...]  # (loop, dimension) of unknown core answers
    details: tuple[tuple[tuple[str, str], str], ...]  # unknown (fact, field) -> question
    answers: tuple[tuple[str, ...], ...]  # the answers its unknown tests wait for
    not_applicable: bool  # a test rests on an answer said not to apply


@dataclass(frozen=True)
class _Check:
    """One term of a pattern with its field resolved and its parts read once."""

    var: str
    term: Term
    field: ResolvedField
    op: str
    operand: Any
    strict: bool
    n: int  # unique among its pattern's checks: results are memoised under it


@dataclass
class _Plan:
    checks: list[_Check]
    escalations: list[tuple[int, list[_Check]]]  # of each of p.escalate: its rank, its terms
    feeds: list[tuple[str, list[_Check]]]  # each of p.feeds_when: its target and its terms
    attr_of: _AttrOf
    sources: list[SourceRef]
    # (check's n, fact id) -> three-valued result of that non-join term on that fact
    results: dict[tuple[int, str], str] = dataclasses.field(default_factory=dict)
    # per variable of p.match, in order: its own checks, and fact id -> what the fact brings
    own: list[_Own] = dataclasses.field(default_factory=list)  # per variable of p.match


class _AttrOf(dict):
    """(variable, field) -> engine attribute, resolved lazily for same_as joins."""

    def __init__(self, p: Pattern, ex: Explainer) -> None:
        super().__init__()
        self.p, self.ex = p, ex

    def __missing__(self, key: tuple[str, str]) -> str:
        var, field = key
        resolved = resolve(
            self.p.match[var].fact, field, self.ex.kb.vocabulary, self.ex.answer_fields
        )
        assert resolved is not None
        return resolved.spec.attr


def _within(
    inner: set[tuple[tuple[str, ...], str]], outer: set[tuple[tuple[str, ...], str]]
) -> bool:
    """Whether every match of one finding (its loops and resources) lies within some match of
    another: its loops among that match's loops, on the same resources."""
    return all(
        any(set(loops) <= set(big) and res == big_res for big, big_res in outer)
        for loops, res in inner
    )


def _span(m: _Match) -> tuple[tuple[str, ...], str]:
    """The loops and resources one match names: what two patterns must share for one to
    subsume the other."""
    return tuple(m.loops), ",".join(m.resources)


def _read_recipe(kind: str, field: str) -> tuple[bool, tuple[Any, ...]]:
    """How to find the answers a fact field is read from (see Explainer._reads): (True, the
    fields of the fact's own loop or resource) or (False, (id attribute, loop or resource,
    field) of each answer of another)."""
    if kind in ("loop", "resource"):
        d = comparisons.derivation(kind, field)
        if d is not None and not d.links:
            # a comparison of the fact's own answers reads each answer it compares
            return True, tuple(name for _var, name, _bound in d.comparison.refs())
        if kind == "loop" and field in _FALLBACKS:  # read from the other where unanswered
            return True, (field, _FALLBACKS[field])
        return True, (field,)
    spec = field_spec(kind, field)
    return False, tuple(
        (id_attr, "resource" if id_attr == "resource" else "loop", name)
        for id_attr, _, name in (r.partition(".") for r in (spec.reads if spec else ()))
    )


def _merge(a: Finding, b: Finding) -> Finding:
    """Two matches of one rule on the same loops: one finding, confirmed if either is."""
    keep, other = (a, b) if (a.status == "confirmed" or b.status == "possible") else (b, a)
    because = list(keep.because) + [x for x in other.because if x not in keep.because]
    severity = max(a.severity, b.severity, key=SEVERITY_ORDER.index)
    reason = a.severity_reason if a.severity == severity else b.severity_reason
    return keep.model_copy(
        update={"because": because, "severity": severity, "severity_reason": reason}
    )
