"""Where knowledge becomes engine rules: patterns (data) -> durable-rules JSON rulesets.

Only constructs proven safe by tests/conformance are emitted (see expert/engine/safety.py,
which every compiled ruleset must pass):
- alpha tests on one fact: ==, !=, <, <=, >, >=, joined by $and;
- joins of up to 3 facts by string equality, every join group ending with the always-true
  sentinel `scope == <earlier>.scope` (avoids the engine's out-of-bounds read);
- no $or / any / none: a disjunction (has_any, ident in [...]) becomes one rule per branch,
  the branches disjoint (a fact passes one of them at most), and findings are deduplicated by
  id afterwards.

Stages run in order: 1 incoherence + auditability over base facts, 2 symptoms over stage-1
findings, 3 ghost costs over stage-1 and stage-2 findings. The rules of one stage are
independent of each other, so each stage is split into as many rulesets as the engine's
fixed-size structures need (see _split); the engine runs the rulesets of a stage at once in
its processes, and every later stage still sees every earlier finding.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from expert.assessment.fields import FieldSpec
from expert.engine.ids import fnv1a32
from expert.engine.safety import EngineLimits, check_ruleset, engine_usage
from expert.errors import InputError, Problem
from expert.knowledge.conditions import ResolvedField, check_pattern, number, resolve
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.knowledge.patterns import Pattern, Term

STAGES = ("stage1", "stage2", "stage3")
# Stage 1 falls into two families of rulesets: rules that read influence edges, and all the
# others. Edges and loop pairs are the two largest kinds of fact (about ten of each per
# loop), so each family asserts about half the facts and fires about half the rules, and the
# engine runs them in parallel processes. A family that outgrows the engine's limits is
# split further (stage1, stage1.2, ...; stage1-edges, stage1-edges.2, ...).
EDGES_FAMILY = "-edges"


@dataclass
class RuleMeta:
    pattern: str
    stage: int
    vars: list[str]  # pattern variable names, in match order
    engine_vars: list[str]  # the names used inside the engine (v0, v1, ...)
    form: int = 0  # which of the pattern's variants() the rule matches


@dataclass
class RulesetBudget:
    """How much of the engine's fixed-size structures one compiled ruleset uses."""

    name: str
    rules: int
    alpha_stack: int
    widest_node: int
    longest_shared_chain: int


# Question id -> the field its answer is stored in, and its choices (kb.answer_fields()).
AnswerFields = dict[str, tuple[FieldSpec, list[str] | None]]

# One test as the engine reads it: operator, operand, strict, and the field it reads
# (read off the Term once: a Term's operator is a pydantic attribute, slow to read in a loop).
Check = tuple[str, Any, bool, ResolvedField]


@dataclass(frozen=True)
class FactScope:
    """What one pattern's binding asks of a fact of its kind, enough to tell a fact that no
    rule of the pattern can ever match: the binding's own tests, and for each join to a loop
    of the pattern, that loop's tests."""

    checks: tuple[Check, ...]
    loops: tuple[tuple[str, int], ...]  # (attribute holding a loop id, index in loop_checks)


@dataclass
class Compiled:
    rulesets: dict[str, dict[str, Any]] = field(default_factory=dict)
    meta: dict[str, RuleMeta] = field(default_factory=dict)
    attrs: dict[str, set[str]] = field(default_factory=dict)  # fact kind -> attributes read
    # Stage-1 fact kinds whose every binding tests something (see FactScope): a fact of such
    # a kind that fails each of them is never asserted. Pairs of loops are the largest kind
    # and most pairs join two loops no pair pattern can bind.
    scopes: dict[str, list[FactScope]] = field(default_factory=dict)
    loop_checks: list[tuple[Check, ...]] = field(default_factory=list)
    loop_id_attr: str = "loop"  # the attribute of a loop fact that holds its id
    kinds: dict[str, set[str]] = field(default_factory=dict)  # ruleset -> fact kinds it reads
    by_stage: list[list[str]] = field(default_factory=lambda: [[], [], []])
    key: str = ""

    def stages(self) -> list[list[str]]:
        """The non-empty rulesets of each stage, in order; those of one stage are independent."""
        return [[r for r in stage if self.rulesets.get(r)] for stage in self.by_stage]

    def budget(self) -> list[list[RulesetBudget]]:
        """Each stage's rulesets with the share of the engine's limits they use."""
        return [[_budget(name, self.rulesets[name]) for name in stage] for stage in self.stages()]

    def payload(self) -> dict[str, Any]:
        """What the engine process needs, as plain JSON data."""
        return {
            "rulesets": self.rulesets,
            "meta": {
                name: {"pattern": m.pattern, "stage": m.stage, "vars": m.engine_vars}
                for name, m in self.meta.items()
            },
        }


def _alpha(term: Term, field: ResolvedField) -> list[list[dict[str, Any]]]:
    """Engine tests for one non-join term, as alternatives (each a list of $and-ed tests)."""
    spec, op, operand, strict = field.spec, term.op, term.operand, term.strict
    attr = spec.attr
    if spec.type == "interval":
        if op == "is":
            hi = spec.unknown_hi
            return (
                [[{"$gte": {f"{attr}_hi": hi}}]]
                if operand == "unknown"
                else [[{"$lt": {f"{attr}_hi": hi}}]]
            )
        x = number(field, operand)
        side = {
            "below": ("hi", "lo"),
            "at_most": ("hi", "lo"),
            "above": ("lo", "hi"),
            "at_least": ("lo", "hi"),
        }[op][0 if strict else 1]
        engine_op = {"below": "$lt", "at_most": "$lte", "above": "$gt", "at_least": "$gte"}[op]
        return [[{engine_op: {f"{attr}_{side}": x}}]]
    if spec.type == "set":
        if op == "has":
            return [
                [
                    {f"{attr}__{operand}": "yes"}
                    if strict
                    else {"$neq": {f"{attr}__{operand}": "no"}}
                ]
            ]
        if op == "lacks":
            return [
                [
                    {f"{attr}__{operand}": "no"}
                    if strict
                    else {"$neq": {f"{attr}__{operand}": "yes"}}
                ]
            ]
        # One rule per member, made disjoint: a member's rule also needs every earlier member
        # to fail. Overlapping rules fire once per member the fact holds, each firing the
        # same finding (a third of all firings at 1,000 loops).
        passes = [
            {f"{attr}__{v}": "yes"} if strict else {"$neq": {f"{attr}__{v}": "no"}} for v in operand
        ]
        fails = [
            {"$neq": {f"{attr}__{v}": "yes"}} if strict else {f"{attr}__{v}": "no"} for v in operand
        ]
        return [[*fails[:n], passes[n]] for n in range(len(operand))]
    if spec.type == "ident":  # `in` on an id: one alternative per value
        return [[{attr: v}] for v in operand]
    # category, yesno, known: exclude everything the term rejects, so an unknown value
    # passes unless the term is strict (one rule, no disjunction).
    values = list(field.values)
    if op == "is":
        if operand == "unknown" or spec.type == "known":
            return [[{attr: operand}]]
        accepted = [operand]
    elif op == "in":
        accepted = list(operand)
    else:
        accepted = [v for v in values if v not in operand]
    tests: list[dict[str, Any]] = [{"$neq": {attr: v}} for v in values if v not in accepted]
    if strict:
        tests.append({"$neq": {attr: "unknown"}})
    return [tests or [{"$ex": {attr: 1}}]]


def compile_kb(kb: KnowledgeBase) -> Compiled:
    """Compile every active pattern; InputError if a pattern's logic is invalid."""
    vocab, answer_fields = kb.vocabulary, kb.answer_fields()
    active = kb.active()
    ids = {p.id for p in active}
    problems: list[Problem] = []
    for p in active:
        origin = kb.origins.get(p.id)
        source = origin.path if origin else p.id
        problems += [
            Problem(source, p.form_place(k) + msg, where=f"pattern {p.id}")
            for k, v in enumerate(p.variants())
            for msg in check_pattern(v, vocab, answer_fields, set(kb.patterns))
        ]
        problems += [
            Problem(
                source,
                f"feeds {f!r}, a {kb.patterns[f].kind} pattern that does not come "
                f"after a {p.kind} pattern",
                where=f"pattern {p.id}",
            )
            for f in p.leads_to
            if f in kb.patterns and kb.patterns[f].stage <= p.stage
        ]
    problems += _id_collisions(active, kb)
    if problems:
        raise InputError(problems)

    out = Compiled()
    units: list[_Unit] = []
    for p in active:
        for k, v in enumerate(p.variants() if p.stage == 1 else []):
            facts = {fm.fact for fm in v.match.values()}
            family = EDGES_FAMILY if "edge" in facts else ""
            # Pair facts are the most numerous (one per pair of loops on a resource) and go
            # to every ruleset that reads them: packing their readers first keeps them in one.
            order = (family, "pair" not in facts, tuple(sorted(facts)), p.id, k)
            rules = _compile_match(v, kb, out, k, answer_fields)
            units.append(_Unit(1, order, p.id, rules, reads_pairs="pair" in facts))
    for p in active:  # producers -> the symptoms and costs they feed
        for fed in p.leads_to:
            if fed in ids:
                target = kb.patterns[fed]
                rules = _compile_fed(p, target, kb, out, answer_fields)
                units.append(_Unit(target.stage, ("", (), fed, p.id), fed, rules))
    out.attrs.setdefault("finding", set()).add("rule")
    _scope_facts([v for p in active if p.stage == 1 for v in p.variants()], kb, out)
    too_big = _split(units, out)
    if too_big:
        raise InputError(
            [
                Problem(
                    kb.origins[pid].path if pid in kb.origins else pid,
                    f"its engine rules exceed the rule engine's fixed limits: {why}",
                    where=f"pattern {pid}",
                    fix="test fewer alternatives at once (shorter `in`/`has_any` lists), or "
                    "split the pattern into several patterns",
                )
                for pid, why in too_big
            ]
        )
    for name, ruleset in out.rulesets.items():
        out.kinds[name] = {
            next(iter(test.values()))
            for rule in ruleset.values()
            for condition in rule["all"]
            for expr in condition.values()
            for test in expr["$and"]
            if next(iter(test)) == "kind"
        }
    for stage, ruleset in out.rulesets.items():
        violations = check_ruleset(stage, ruleset)
        if violations:  # a compiler bug, never a user error: fail loudly
            raise AssertionError(
                "compiled ruleset uses unproven constructs:\n" + "\n".join(violations)
            )
    out.key = hashlib.sha256(json.dumps(out.payload(), sort_keys=True).encode()).hexdigest()[:16]
    return out


# The kinds filtered by scope: the join targets (loops, resources, the platform) stay whole.
SCOPED_KINDS = ("pair", "edge", "acts", "waits", "mask", "nesting", "amplification", "cycle")


def _scope_facts(stage1: list[Pattern], kb: KnowledgeBase, out: Compiled) -> None:
    """Fill out.scopes: per scoped kind, what each binding of that kind asks of its fact and
    of the loops it joins. A kind with a binding that asks nothing keeps every fact."""
    vocab, answer_fields = kb.vocabulary, kb.answer_fields()
    loop_id = resolve("loop", "id", vocab, answer_fields)
    assert loop_id is not None
    out.loop_id_attr = loop_id.spec.attr
    scopes: dict[str, list[FactScope] | None] = {}
    loop_index: dict[tuple[int, str], int] = {}

    def checks_of(kind: str, terms: list[Term]) -> tuple[Check, ...]:
        found = []
        for term in terms:
            if term.op == "same_as":
                continue
            resolved = resolve(kind, term.field, vocab, answer_fields)
            if resolved is not None:  # a derived field: it rules nothing out here
                found.append((term.op, term.operand, term.strict, resolved))
        return tuple(found)

    def loop_of(n: int, p: Pattern, var: str) -> int:
        key = (n, var)
        if key not in loop_index:
            loop_index[key] = len(out.loop_checks)
            out.loop_checks.append(checks_of("loop", p.match[var].where))
        return loop_index[key]

    for n, p in enumerate(stage1):  # each form of a pattern on its own
        for var, fm in p.match.items():
            if fm.fact not in SCOPED_KINDS or scopes.get(fm.fact, []) is None:
                continue
            loops = []
            # Joins in either direction between this fact and a loop's id.
            for term in fm.where:
                if term.op != "same_as":
                    continue
                other, other_field = term.operand.split(".", 1)
                if p.match[other].fact == "loop" and other_field == "id":
                    mine = resolve(fm.fact, term.field, vocab, answer_fields)
                    if mine is not None:
                        loops.append((mine.spec.attr, loop_of(n, p, other)))
            for other, om in p.match.items():
                if om.fact != "loop":
                    continue
                for term in om.where:
                    if term.op == "same_as" and term.field == "id":
                        there, there_field = term.operand.split(".", 1)
                        mine = resolve(fm.fact, there_field, vocab, answer_fields)
                        if there == var and mine is not None:
                            loops.append((mine.spec.attr, loop_of(n, p, other)))
            checks = checks_of(fm.fact, fm.where)
            found = scopes.setdefault(fm.fact, [])
            if not checks and not loops:
                scopes[fm.fact] = None
            elif found is not None:
                found.append(FactScope(checks, tuple(loops)))
    out.scopes = {kind: found for kind, found in scopes.items() if found is not None}


def _id_collisions(active: list[Pattern], kb: KnowledgeBase) -> list[Problem]:
    """Stages 2 and 3 assert one fact per pattern, `rule:<pattern id>`, beside the `platform`
    fact. The engine tells facts apart by a 32-bit hash of their id and silently drops a
    second fact whose id hashes the same, so two such ids must not collide."""
    seen: dict[int, str] = {fnv1a32("platform"): "platform"}
    problems = []
    for p in active:
        h = fnv1a32(f"rule:{p.id}")
        if h in seen:
            origin = kb.origins.get(p.id)
            problems.append(
                Problem(
                    origin.path if origin else p.id,
                    f"pattern id {p.id!r} and {seen[h]!r} have the same 32-bit hash in the "
                    "rule engine, which would drop one of them",
                    where=f"pattern {p.id}",
                    fix="rename one of the two patterns (any change to the id will do)",
                )
            )
        seen.setdefault(h, p.id)
    return problems


def _join_order(p: Pattern) -> list[str]:
    """The order in which the engine matches p's facts: the pattern's own order, except that
    a fact joined to those already placed comes before one that is not. Matching two loops
    before the pair or edge that links them makes the engine hold every pair of loops:
    quadratic memory, and out of memory at 5,000 loops."""
    variables = list(p.match)
    links: dict[str, set[str]] = {v: set() for v in variables}
    for var, fm in p.match.items():
        for term in fm.where:
            if term.op == "same_as":
                other = term.operand.split(".", 1)[0]
                links[var].add(other)
                links[other].add(var)
    order = variables[:1]
    while len(order) < len(variables):
        rest = [v for v in variables if v not in order]
        order.append(next((v for v in rest if links[v] & set(order)), rest[0]))
    return order


def _compile_match(
    p: Pattern, kb: KnowledgeBase, out: Compiled, form: int, answer_fields: AnswerFields
) -> dict[str, Any]:
    """The engine rules of one stage-1 pattern's form (a variant, see Pattern.variants): one
    per combination of alternatives. `answer_fields` is kb.answer_fields(), made once."""
    vocab = kb.vocabulary
    variables = _join_order(p)
    engine = {var: f"v{i}" for i, var in enumerate(variables)}
    # Every same_as as (var, attr, other var, other attr); emitted on whichever comes later.
    links: list[tuple[str, str, str, str]] = []
    for var, fm in p.match.items():
        for term in fm.where:
            if term.op == "same_as":
                other_var, other_field = term.operand.split(".", 1)
                mine = resolve(fm.fact, term.field, vocab, answer_fields)
                other = resolve(p.match[other_var].fact, other_field, vocab, answer_fields)
                assert mine is not None and other is not None  # checked by check_pattern
                links.append((var, mine.spec.attr, other_var, other.spec.attr))
                out.attrs.setdefault(fm.fact, set()).add(mine.spec.attr)
                out.attrs.setdefault(p.match[other_var].fact, set()).add(other.spec.attr)
    per_var_alternatives: list[list[list[dict[str, Any]]]] = []
    for k, var in enumerate(variables):
        fm = p.match[var]
        attrs = out.attrs.setdefault(fm.fact, set())
        base: list[dict[str, Any]] = [{"kind": fm.fact}]
        placed = set(variables[:k])
        joins = [{a: {engine[o]: oa}} for v, a, o, oa in links if v == var and o in placed]
        joins += [{oa: {engine[v]: a}} for v, a, o, oa in links if o == var and v in placed]
        choices: list[list[list[dict[str, Any]]]] = []
        for term in fm.where:
            if term.op == "same_as":
                continue
            field = resolve(fm.fact, term.field, vocab, answer_fields)
            assert field is not None  # checked by check_pattern
            alternatives = _alpha(term, field)
            for alt in alternatives:
                for test in alt:
                    attrs.update(_attrs_of(test))
            choices.append(alternatives)
        sentinel = [{"scope": {engine[variables[0]]: "scope"}}] if joins else []
        combos = []
        for picked in itertools.product(*choices) if choices else [()]:
            tests = base + [t for alt in picked for t in alt] + joins + sentinel
            combos.append(tests)
        per_var_alternatives.append(combos)
    rules: dict[str, Any] = {}
    prefix = f"{p.id}~{form}" if form else p.id
    for n, combo in enumerate(itertools.product(*per_var_alternatives)):
        name = f"{prefix}#{n}"
        rules[name] = {
            "all": [
                {engine[var]: {"$and": tests}} for var, tests in zip(variables, combo, strict=True)
            ],
            "run": name,
        }
        out.meta[name] = RuleMeta(p.id, 1, variables, [engine[v] for v in variables], form)
    return rules


def _compile_fed(
    producer: Pattern,
    target: Pattern,
    kb: KnowledgeBase,
    out: Compiled,
    answer_fields: AnswerFields,
) -> dict[str, Any]:
    """Rules `finding(rule=producer) [and platform(...)] -> target` for one stage-2/3 pattern."""
    rules: dict[str, Any] = {}
    cause = {"v0": {"$and": [{"kind": "finding"}, {"rule": producer.id}]}}
    variables = ["cause"]
    alternatives: list[list[dict[str, Any]]] = [[]]
    for var, fm in target.match.items():  # only the platform fact (checked by Pattern)
        variables.append(var)
        choices = []
        for term in fm.where:
            field = resolve(fm.fact, term.field, kb.vocabulary, answer_fields)
            assert field is not None
            choices.append(_alpha(term, field))
            out.attrs.setdefault(fm.fact, set()).add(field.spec.attr)
        alternatives = [
            [{"kind": fm.fact}, *[t for alt in picked for t in alt], {"scope": {"v0": "scope"}}]
            for picked in itertools.product(*choices)
        ]
    for n, tests in enumerate(alternatives):
        name = f"{target.id}#from:{producer.id}#{n}"
        conditions = [cause] + ([{"v1": {"$and": tests}}] if tests else [])
        rules[name] = {"all": conditions, "run": name}
        out.meta[name] = RuleMeta(
            target.id, target.stage, variables[: len(conditions)], ["v0", "v1"][: len(conditions)]
        )
    return rules


@dataclass
class _Unit:
    """Rules that go into one ruleset together when they fit: one stage-1 pattern's, or the
    rules by which one producer causes one symptom or cost."""

    stage: int
    order: tuple[Any, ...]  # family first; then what keeps like facts in one ruleset
    pattern: str  # named when the rules cannot fit any ruleset
    rules: dict[str, Any]
    reads_pairs: bool = False

    @property
    def family(self) -> str:
        return str(self.order[0])


def _split(units: list[_Unit], out: Compiled) -> list[tuple[str, str]]:
    """Pack each stage's rules into as few rulesets as the engine's limits allow.

    Greedy in a fixed order (family, loop-pair readers first, fact kinds, pattern id), so
    one knowledge base always gives the same split; the pair readers share no ruleset with
    other rules. A unit goes whole into the current ruleset when the result is
    within the limits, else it starts the next ruleset; a unit too large even for a ruleset
    of its own is spread rule by rule. Every limit only grows as rules are added, so a
    ruleset that passed stays within the limits, and the units that go into the current
    ruleset are the longest run of the next ones that fits with it. Returns (pattern, why)
    for a single rule that no ruleset can hold.
    """
    problems: list[tuple[str, str]] = []
    for stage in (1, 2, 3):
        base = STAGES[stage - 1]
        families = sorted({u.family for u in units if u.stage == stage})
        for family in families:
            mine = sorted(
                (u for u in units if u.stage == stage and u.family == family),
                key=lambda u: u.order,
            )
            packer = _Packer()
            # The pair readers' ruleset takes nothing else: its pairs make it the largest
            # by far, and the other rules then balance the other process's share.
            for _reads_pairs, run in itertools.groupby(mine, key=lambda u: u.reads_pairs):
                packer.close()
                pending = list(run)
                while pending:
                    pending = pending[packer.fit_run([u.rules for u in pending]) :]
                    if not pending:
                        break
                    unit = pending.pop(0)
                    packer.close()
                    if packer.fits(unit.rules):
                        continue
                    for name, rule in unit.rules.items():
                        if packer.fits({name: rule}):
                            continue
                        packer.close()
                        if not packer.fits({name: rule}):
                            why = (w.removeprefix("ruleset: ") for w in packer.why)
                            problems.append((unit.pattern, "; ".join(why)))
            packer.close()
            for n, chunk in enumerate(packer.chunks):
                name = f"{base}{family}" + (f".{n + 1}" if n else "")
                out.rulesets[name] = chunk
                out.by_stage[stage - 1].append(name)
    return problems


class _Packer:
    """Rulesets filled one after another, each up to the engine's limits."""

    def __init__(self) -> None:
        self.chunks: list[dict[str, Any]] = []
        self.current: dict[str, Any] = {}
        self.why: list[str] = []

    def _within(self, batch: list[dict[str, Any]]) -> bool:
        """Whether the current ruleset with the batch's rules stays within the limits (why
        not, in self.why)."""
        limits = EngineLimits("ruleset")
        limits.add(self.current)
        for rules in batch:
            limits.add(rules)
        self.why = limits.violations()
        return not self.why

    def fits(self, rules: dict[str, Any]) -> bool:
        """Add the rules to the current ruleset if it stays within the limits."""
        return self.fit_run([rules]) == 1

    def fit_run(self, batch: list[dict[str, Any]]) -> int:
        """Add the longest run of the batch, from its start, that keeps the current ruleset
        within the limits; how many it took. As limits only grow with rules, it is found by
        halving (a few checks of the whole network, not one per unit: most runs fit whole)."""
        if self._within(batch):
            took = len(batch)
        else:
            took, too_many = 0, len(batch)
            while too_many - took > 1:
                mid = (took + too_many) // 2
                if self._within(batch[:mid]):
                    took = mid
                else:
                    too_many = mid
            self._within(batch[: took + 1])  # why the next one does not fit
        for rules in batch[:took]:
            self.current.update(rules)
        return took

    def close(self) -> None:
        """End the current ruleset (kept if it holds rules) and start an empty one."""
        if self.current:
            self.chunks.append(self.current)
        self.current = {}


def _budget(name: str, ruleset: dict[str, Any]) -> RulesetBudget:
    stack, widest, chain = engine_usage(ruleset)
    return RulesetBudget(name, len(ruleset), stack, widest, chain)


def _attrs_of(test: dict[str, Any]) -> set[str]:
    key, value = next(iter(test.items()))
    if key.startswith("$"):
        return set(value)
    return {key}
