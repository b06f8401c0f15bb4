"""Where a rule firing becomes an explained finding.

The engine reports only which facts each rule matched. Everything a reader needs is
reconstructed here from the knowledge base and the user's own answers: which term of the
pattern each answer satisfied (with its value), whether any was unknown (then the finding is
possible), the chain from findings to symptoms to costs, the narrative with the user's loop
names, what would clear it, and the questions that would settle it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from expert import durations
from expert.assessment import UNKNOWN, Assessment
from expert.compiler import Compiled
from expert.conditions import ResolvedField, evaluate, evaluate_op, resolve
from expert.facts import FactBase, loop_values
from expert.fields import spec as field_spec
from expert.graph import Structure
from expert.ids import finding_id
from expert.knowledge import KnowledgeBase
from expert.patterns import SEVERITY_ORDER, Pattern, Question, Term
from expert.results import Because, Finding, OpenQuestion, SourceRef

_PLACEHOLDER = re.compile(r"\{(\w+)(?:\.([\w.-]+))?\}")


def readable(value: Any) -> str:
    """An answer as a person would read it."""
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
            return f"{lo / 100:g}x" if lo == hi else f"{lo / 100:g}x-{hi / 100:g}x"
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
        self.values = {lp.id: loop_values(lp, structure) for lp in assessment.loops}
        self.answer_fields = kb.answer_fields()
        self.questions: dict[tuple[str, str], OpenQuestion] = {}
        self.platform_because: dict[str, list[Because]] = {}
        self._plans: dict[str, _Plan] = {}
        self._loop_fields: dict[tuple[str, str], str] = {}  # (loop, field) -> readable value
        self._question_for: dict[str, Question | None] = {}

    def _plan(self, p: Pattern) -> _Plan:
        """What explaining any firing of p needs from the knowledge base, worked out once."""
        plan = self._plans.get(p.id)
        if plan is None:

            def check(var: str, term: Term) -> _Check:
                fact = p.match[var].fact
                field = resolve(fact, term.field, self.kb.vocabulary, self.answer_fields)
                assert field is not None  # checked when the pattern was compiled
                return _Check(var, term, field, term.op, term.operand, term.strict)

            plan = _Plan(
                checks=[check(var, t) for var, fm in p.match.items() for t in fm.where],
                escalations=[
                    [check(var, t) for var, terms in esc.when.items() for t in terms]
                    for esc in p.escalate
                ],
                attr_of=_AttrOf(p, self),
                sources=[SourceRef(**s.model_dump()) for s in p.sources],
            )
            self._plans[p.id] = plan
        return plan

    # -- naming
    def name(self, loop_id: str) -> str:
        lp = self.loops.get(loop_id)
        if lp is None or lp.name in (None, UNKNOWN):
            return loop_id
        return lp.name

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
        def sub(m: re.Match[str]) -> str:
            var, field = m.group(1), m.group(2)
            fact = bound.get(var)
            if fact is None:
                return m.group(0)
            kind = pattern.match[var].fact
            if kind == "loop":
                return self._loop_field(fact["loop"], field or "name")
            spec = field_spec(kind, field or "id")
            if spec is None:
                return m.group(0)
            if spec.type == "ident":
                value = fact[spec.attr]
                return self.name(value) if value in self.loops else value
            return _fact_value(fact, spec.name, kind)

        return _PLACEHOLDER.sub(sub, template)

    # -- stage 1
    def _terms(self, p: Pattern, bound: dict[str, dict[str, Any]]) -> list[tuple[str, Term, str]]:
        """(variable, term, three-valued result) for every non-join term of the match."""
        plan = self._plan(p)
        out = []
        for c in plan.checks:
            if c.op != "same_as":
                result = evaluate_op(
                    c.op, c.operand, c.strict, c.field, bound[c.var], bound, plan.attr_of
                )
                out.append((c.var, c.term, result))
        return out

    def _because(
        self, p: Pattern, var: str, term: Term, fact: dict[str, Any], result: str
    ) -> Because:
        kind = p.match[var].fact
        if kind == "loop":
            loop_id = fact["loop"]
            value = self._loop_field(loop_id, term.field)
            return Because(loop=loop_id, field=term.field, value=value, unknown=result == "unknown")
        loops = self.facts.loops_of.get(fact["id"], [])
        field = term.field
        value = _fact_value(fact, field, kind)
        if kind == "edge":
            value = (
                f"{self.name(fact['source'])} -> {self.name(fact['target'])}: "
                f"{fact['signal']} on {fact['resource']}"
            )
            field = "influence"
        return Because(
            loop=loops[0] if len(loops) == 1 else None,
            field=f"{kind}.{field}",
            value=value,
            unknown=result == "unknown",
        )

    def _severity(self, p: Pattern, bound: dict[str, dict[str, Any]]) -> tuple[str, str]:
        severity, reason = p.severity, ""
        plan = self._plan(p)
        for esc, checks in zip(p.escalate, plan.escalations, strict=True):
            ok = all(
                evaluate_op(c.op, c.operand, c.strict, c.field, bound[c.var], bound, plan.attr_of)
                == "yes"
                for c in checks
            )
            if ok and SEVERITY_ORDER.index(esc.to) > SEVERITY_ORDER.index(severity):
                severity, reason = esc.to, self.render(esc.because, bound, p)
        return severity, reason

    def _clears(
        self, p: Pattern, bound: dict[str, dict[str, Any]], terms: list[tuple[str, Term, str]]
    ) -> list[str]:
        out = [self.render(c, bound, p) for c in p.clears]
        for var, term, result in terms:
            if result == "unknown" and p.match[var].fact == "loop":
                loop = self.name(bound[var]["loop"])
                out.append(
                    f"{loop}: answering {term.field} (now unknown) with a value that does "
                    f"not satisfy `{_describe(term)}`"
                )
        return out

    def _ask(self, question_id: str, loop_id: str, finding: str) -> None:
        """Ask a question about a loop, unless the loop already answers it."""
        q = self.kb.questions.get(question_id)
        if q is None or q.about != "loop":
            return
        field = q.field or f"answers.{q.id}"
        raw = (
            self.loops[loop_id].answers.get(q.id)
            if q.answer
            else _get_path(self.loops[loop_id], field)
        )
        if raw not in (None, UNKNOWN) and not (isinstance(raw, list) and UNKNOWN in raw):
            return  # known: nothing to settle
        key = (question_id, loop_id)
        if key not in self.questions:
            self.questions[key] = OpenQuestion(
                id=q.id,
                loop=loop_id,
                text=q.text,
                help=q.help,
                field=field,
                answered_unknown=raw is not None,
            )
        if finding not in self.questions[key].settles:
            self.questions[key].settles.append(finding)

    def stage1(self, firings: list[dict[str, Any]]) -> dict[str, Finding]:
        out: dict[str, Finding] = {}
        for firing in firings:
            p = self.kb.patterns[firing["pattern"]]
            meta = self.compiled.meta[firing["rule"]]
            bound = {
                var: self.facts.facts[firing["bound"][ev]]
                for var, ev in zip(meta.vars, meta.engine_vars, strict=True)
            }
            terms = self._terms(p, bound)
            unknown = any(r == "unknown" for _, _, r in terms)
            status = "possible" if unknown and not p.unknown_is_evidence else "confirmed"
            because = [self._because(p, var, term, bound[var], r) for var, term, r in terms]
            loops = sorted(
                {lp for f in bound.values() for lp in self.facts.loops_of.get(f["id"], [])}
            )
            fid = firing["finding"]
            severity, reason = self._severity(p, bound)
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
                narrative=self.render(p.narrative, bound, p),
                would_clear_if=self._clears(p, bound, terms),
                summary=p.summary,
                mechanism=p.mechanism,
                sources=list(self._plan(p).sources),
            )
            if status == "possible":
                for var, term, r in terms:
                    if r == "unknown" and p.match[var].fact == "loop":
                        if term.field not in self._question_for:
                            self._question_for[term.field] = self.kb.question_for_field(term.field)
                        q = self._question_for[term.field]
                        if q:
                            self._ask(q.id, bound[var]["loop"], fid)
            for ask in p.asks:
                self._ask(ask.question, bound[ask.about]["loop"], fid)
            previous = out.get(fid)
            out[fid] = _merge(previous, finding) if previous else finding
        return out

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
            parents = [known[c] for c in cause_ids if c in known]
            loops = sorted({lp for f in parents for lp in f.loops})
            fid = finding_id(pid, loops)
            platform_unknown = any(b.unknown for b in self.platform_because.get(pid, []))
            confirmed = any(f.status == "confirmed" for f in parents) and not platform_unknown
            status = "confirmed" if confirmed else "possible"
            names = ", ".join(self.name(lp) for lp in loops) or "the platform"
            titles = "; ".join(sorted({f.title for f in parents}))
            narrative = p.narrative.replace("{loops}", names).replace("{causes}", titles)
            out[fid] = Finding(
                id=fid,
                rule=pid,
                kind=p.kind,
                title=p.title,
                status=status,
                severity=p.severity,
                loops=loops,
                because=[
                    *(Because(field="caused by", value=f"{f.title} ({f.id})") for f in parents),
                    *self.platform_because.get(pid, []),
                ],
                derived_from=[f.id for f in parents],
                narrative=narrative,
                would_clear_if=[*p.clears, "clearing every finding it is derived from"],
                summary=p.summary,
                mechanism=p.mechanism,
                sources=[SourceRef(**s.model_dump()) for s in p.sources],
            )
            for f in parents:
                if fid not in f.leads_to:  # a few items: symptoms and costs per finding
                    f.leads_to.append(fid)
        return out


@dataclass(frozen=True)
class _Check:
    """One term of a pattern with its field resolved and its parts read once."""

    var: str
    term: Term
    field: ResolvedField
    op: str
    operand: Any
    strict: bool


@dataclass
class _Plan:
    checks: list[_Check]
    escalations: list[list[_Check]]  # the terms of each of p.escalate
    attr_of: _AttrOf
    sources: list[SourceRef]


class _AttrOf(dict):  # type: ignore[type-arg]
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


def _get_path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _describe(term: Term) -> str:
    operand = term.operand
    if isinstance(operand, list):
        operand = "[" + ", ".join(map(str, operand)) + "]"
    return f"{term.field} {term.op.replace('_', ' ')} {operand}"


def _merge(a: Finding, b: Finding) -> Finding:
    """Two matches of one rule on the same loops: one finding, confirmed if either is."""
    keep, other = (a, b) if (a.status == "confirmed" or b.status == "possible") else (b, a)
    because = list(keep.because) + [x for x in other.because if x not in keep.because]
    severity = max(a.severity, b.severity, key=SEVERITY_ORDER.index)
    reason = a.severity_reason if a.severity == severity else b.severity_reason
    return keep.model_copy(
        update={"because": because, "severity": severity, "severity_reason": reason}
    )
