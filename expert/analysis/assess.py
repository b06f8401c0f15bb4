"""The assessment pipeline, end to end:

assessment -> graph.derive (influence structure) -> facts.build (engine facts)
-> engine (child process, compiled knowledge base) -> explain (findings with provenance)
-> results (what reports render)
"""

from __future__ import annotations

from itertools import compress, repeat
from pathlib import Path
from typing import Any

from expert import __version__, collector
from expert.analysis import facts as facts_mod
from expert.analysis import graph, ranking
from expert.analysis.explain import Explainer
from expert.analysis.results import Results
from expert.assessment import model as assessment_mod
from expert.assessment.model import UNKNOWN, Assessment
from expert.deliverables import riskmap
from expert.deliverables.complete import complete as complete_deliverables
from expert.engine.compiler import Check, Compiled, compile_kb
from expert.engine.process import EngineProcess
from expert.errors import Problem
from expert.knowledge.conditions import evaluate_op
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.knowledge.patterns import SEVERITY_ORDER

KIND_ORDER = ["incoherence", "auditability", "symptom", "ghost-cost"]


def check_answers(a: Assessment, kb: KnowledgeBase, source: str = "<assessment>") -> list[Problem]:
    """Answers must belong to known loop questions and fit their choices."""
    problems = []
    # Each question's choices, as words, made once (15,000 answers at 1,000 loops).
    choices_of: dict[str, list[str]] = {}
    for i, lp in enumerate(a.loops):
        for path in lp.not_applicable or ():
            qid = path.removeprefix("answers.")
            q = kb.questions.get(qid)
            if path.startswith("answers.") and (q is None or q.answer is None or q.about != "loop"):
                problems.append(
                    Problem(
                        source,
                        f"no knowledge-base question {qid!r} is asked about a loop, so it "
                        "cannot be marked as not applying",
                        where=f"loops[{i}] (id {lp.id}).not_applicable",
                        fix="remove it, or load the pack that defines it (--kb)",
                    )
                )
        for qid, value in lp.answers.items():
            q = kb.questions.get(qid)
            where = f"loops[{i}] (id {lp.id}).answers.{qid}"
            if q is None or q.answer is None or q.about != "loop":
                problems.append(
                    Problem(
                        source,
                        f"no knowledge-base question {qid!r} stores an answer here",
                        where=where,
                        fix="remove it, or load the pack that defines it (--kb)",
                    )
                )
                continue
            if value == UNKNOWN or value is None:
                continue
            choices = choices_of.get(qid)
            if choices is None:
                choices = choices_of[qid] = [str(c.value) for c in q.choices]
            if q.answer == "yesno" and value not in ("yes", "no"):
                problems.append(
                    Problem(source, f"answer {value!r} is not yes, no or unknown", where=where)
                )
            elif q.answer == "category" and str(value) not in choices:
                problems.append(
                    Problem(
                        source, f"answer {value!r} is not one of {', '.join(choices)}", where=where
                    )
                )
            elif q.answer == "set" and (
                not isinstance(value, list) or any(str(v) not in choices for v in value)
            ):
                problems.append(
                    Problem(
                        source,
                        f"answer must be a list drawn from {', '.join(choices)}",
                        where=where,
                    )
                )
            elif q.answer == "number" and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                problems.append(
                    Problem(source, f"answer {value!r} is not a whole number", where=where)
                )
    return problems


def load_assessment(path: Path | str, kb: KnowledgeBase) -> Assessment:
    """Read and validate an assessment file against the knowledge base."""
    # Answer checks join the loader's one-pass report, so fixing one problem never reveals
    # the next. Parsing and validation allocate like assessing does (expert/collector.py):
    # at 1,000 loops, collections during them were 0.1 s.
    with collector.paused():
        return assessment_mod.load(
            path, kb.vocabulary, checks=lambda a: check_answers(a, kb, str(path))
        )


def engine_facts(base: facts_mod.FactBase, compiled: Compiled) -> list[dict[str, Any]]:
    """Only what some rule reads crosses into the engine (smaller, faster): the attributes
    rules read. (The facts no rule could match are not built: see `narrowing`.) The scope
    is left out: the engine puts each run in a session of its own (expert/engine/process.py)."""
    out = []
    keep_of: dict[str, tuple[str, ...] | None] = {}
    for fact in base.facts.values():
        kind = fact["kind"]
        if kind not in keep_of:
            wanted = compiled.attrs.get(kind)
            keep_of[kind] = None if wanted is None else ("id", "kind", *sorted(wanted))
        keep = keep_of[kind]
        if keep is not None:
            # Reading the few attributes rules use, not every one a fact carries.
            out.append({k: fact[k] for k in keep if k in fact})
    return out


def _holds(checks: tuple[Check, ...], fact: dict[str, Any]) -> bool:
    """Whether every test could still hold on the fact: unknown counts as holding, as in the
    engine, where it makes a finding possible."""
    return all(_holds_once(check, fact) for check in checks)


def _holds_once(check: Check, fact: dict[str, Any]) -> bool:
    op, operand, strict, field = check
    try:
        return evaluate_op(op, operand, strict, field, fact, {}, {}) != "no"
    except KeyError:  # a value derived from other facts, not here yet: it rules nothing out
        return True


def narrowing(compiled: Compiled) -> facts_mod.Narrowing:
    """For facts.build: given the loop facts, a test of whether some stage-1 rule could match
    a fact, from what each pattern asks of a fact of its kind and of the loops the fact names
    (Compiled.scopes). A fact no rule can match is never built into the engine's facts, which
    changes no finding; at 1,000 loops that leaves out four pairs of loops in five, and two
    thirds of all facts, before their declared comparisons are computed."""
    return lambda loops: _could_match(loops, compiled)


class _Everything:
    """No rule is scoped: every fact could match."""

    def __call__(self, fact: dict[str, Any]) -> bool:
        return True

    def joins(self, fact: dict[str, Any]) -> bool:
        return True

    def reads(self, kind: str) -> bool:
        return True


# A scope: its joins to loops (attribute, the loops its tests let in there) and its own tests.
_Scope = tuple[tuple[tuple[str, frozenset[str]], ...], tuple[Check, ...]]

# What a fact lacks (a value derived from other facts, not there yet), told apart from None.
_ABSENT = object()


class _KindScopes:
    """The scopes of one fact kind as bits of an integer (scope n is bit n), so a fact is
    tried against them all at once: per attribute the scopes join on, each loop's bits are
    the scopes letting it in there. A fact's scopes are those every attribute lets it in."""

    def __init__(self, scopes: list[_Scope], everyone: frozenset[str]) -> None:
        self.checks = [checks for _, checks in scopes]
        self.all = (1 << len(scopes)) - 1
        # Scopes testing nothing of the fact itself: one letting its loops in is enough.
        self.free = sum(1 << n for n, checks in enumerate(self.checks) if not checks)
        # Per attribute some scope joins on: loop id -> the scopes letting it in there, and
        # the scopes letting in a value that is no loop (those not joining on it).
        self.joins: list[tuple[str, dict[Any, int], int]] = []
        for attr in sorted({attr for ends, _ in scopes for attr, _ in ends}):
            allowed = [[ids for a, ids in ends if a == attr] or None for ends, _checks in scopes]
            elsewhere = sum(1 << n for n, sets in enumerate(allowed) if sets is None)
            to_bits: dict[Any, int] = dict.fromkeys(everyone, elsewhere)
            for n, sets in enumerate(allowed):
                if sets is not None:
                    bit = 1 << n
                    for i in frozenset.intersection(*sets):
                        to_bits[i] |= bit
            self.joins.append((attr, to_bits, elsewhere))
        # The attributes the kind's tests read: a fact's scopes and its values there decide
        # whether it could match, so each distinct combination is tested once.
        self.reads = sorted(
            {a for checks in self.checks for check in checks for a in _attrs_read(check)}
        )
        self.outcomes: dict[tuple[Any, ...], bool] = {}

    def bits(self, fact: dict[str, Any]) -> int:
        """The scopes that could bind the loops the fact names."""
        bits = self.all
        for attr, to_bits, elsewhere in self.joins:
            bits &= to_bits.get(fact.get(attr), elsewhere)
        return bits

    def could_match(self, fact: dict[str, Any]) -> bool:
        bits = self.bits(fact)
        if bits & self.free:
            return True
        if not bits:
            return False
        key = (bits, *map(fact.get, self.reads, repeat(_ABSENT)))
        if key not in self.outcomes:
            self.outcomes[key] = any(
                _holds(checks, fact) for n, checks in enumerate(self.checks) if bits >> n & 1
            )
        return self.outcomes[key]


class _Scoped:
    """Per fact kind, whether some scope could bind a fact's loops and pass its own tests."""

    def __init__(
        self, scoped: dict[str, list[_Scope]], everyone: frozenset[str], read: frozenset[str]
    ) -> None:
        self.kinds = {kind: _KindScopes(scopes, everyone) for kind, scopes in scoped.items()}
        self.read = read  # the kinds some rule binds

    def reads(self, kind: str) -> bool:
        """Whether some rule binds facts of this kind at all."""
        return kind in self.read

    def joins(self, fact: dict[str, Any]) -> bool:
        """Whether some scope of the fact's kind could bind the loops it names."""
        scopes = self.kinds.get(fact["kind"])
        return scopes is None or scopes.bits(fact) != 0

    def __call__(self, fact: dict[str, Any]) -> bool:
        scopes = self.kinds.get(fact["kind"])
        return scopes is None or scopes.could_match(fact)


def _attrs_read(check: Check) -> tuple[str, ...]:
    """The fact attributes a test reads (conditions.evaluate_op reads no others)."""
    op, operand, _strict, field = check
    spec = field.spec
    if spec.type == "interval":
        return (f"{spec.attr}_lo", f"{spec.attr}_hi")
    if spec.type == "set":
        terms = [operand] if op in ("has", "lacks") else operand
        return tuple(f"{spec.attr}__{t}" for t in terms)
    return (spec.attr,)


def _shown(attrs: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    """A fact holding just these values of these attributes (what a test reads of it)."""
    return {a: v for a, v in zip(attrs, values, strict=True) if v is not _ABSENT}


def _could_match(loops: list[dict[str, Any]], compiled: Compiled) -> facts_mod.FactFilter:
    if not compiled.scopes:
        return _Everything()
    id_attr = compiled.loop_id_attr
    ids_in_order = [f[id_attr] for f in loops]
    everyone = frozenset(ids_in_order)
    # Each attribute's value, loop by loop (read in C, not a loop of Python per loop).
    columns: dict[str, list[Any]] = {}

    def column(attr: str) -> list[Any]:
        if attr not in columns:
            columns[attr] = list(map(dict.get, loops, repeat(attr), repeat(_ABSENT)))
        return columns[attr]

    # Patterns share many tests of a loop (what it does, what it reacts to), and loops share
    # the few values one test reads: each test runs once per distinct value it reads, on a
    # fact holding just that.
    by_test: dict[tuple[Any, ...], frozenset[str]] = {}
    passing = []
    for checks in compiled.loop_checks:
        ids = everyone
        for check in checks:
            key = (check[0], repr(check[1]), check[2], check[3].spec.attr)
            if key not in by_test:
                attrs = _attrs_read(check)
                # One attribute's values as they are, several as tuples.
                one = len(attrs) == 1
                seen = column(attrs[0]) if one else list(zip(*map(column, attrs), strict=True))
                distinct = set(seen)
                holding = {
                    v for v in distinct if _holds_once(check, _shown(attrs, (v,) if one else v))
                }
                by_test[key] = (
                    everyone
                    if len(holding) == len(distinct)
                    else frozenset(compress(ids_in_order, map(holding.__contains__, seen)))
                )
            ids &= by_test[key]
        passing.append(ids)
    return _Scoped(
        {
            kind: [
                (tuple((attr, passing[n]) for attr, n in scope.loops), scope.checks)
                for scope in scopes
            ]
            for kind, scopes in compiled.scopes.items()
        },
        everyone,
        frozenset(compiled.attrs),
    )


class Assessor:
    """Holds the compiled knowledge base and a contained engine across runs."""

    def __init__(
        self,
        kb: KnowledgeBase,
        engine: EngineProcess | None = None,
        compiled: Compiled | None = None,
    ) -> None:
        """`compiled`: the rules compiled from this very knowledge base (as
        expert.engine.kbcache keeps them), else they are compiled here."""
        self.kb = kb
        self.compiled = compiled if compiled is not None else compile_kb(kb)
        self.engine = engine or EngineProcess()

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Assessor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def assess(self, a: Assessment, deliverables: bool = True) -> Results:
        """Findings, risk map and open questions; with `deliverables`, also the inventory,
        economics, audit gaps and summary (the interview leaves those to its export, so a
        re-run after each answer does only what the screen shows)."""
        with collector.paused():  # see expert/collector.py
            results = self._assess(a)
            # This run's knowledge base, so an organisation pack's cost models are honoured.
            return complete_deliverables(results, a, self.kb) if deliverables else results

    def _assess(self, a: Assessment) -> Results:
        kb = self.kb
        # The engine's children start and load the rules while the facts are built.
        self.engine.prepare(self.compiled)
        structure = graph.derive(a, kb.vocabulary)
        base = facts_mod.build(
            a,
            structure,
            kb.vocabulary,
            scope="a",
            answer_fields=kb.answer_fields(),
            narrow=narrowing(self.compiled),
        )
        firings, errors = self.engine.run(
            self.compiled, engine_facts(base, self.compiled), base.loops_of
        )
        ex = Explainer(a, kb, self.compiled, structure, base)
        found = ex.stage1([f for f in firings if f["stage"] == 1])
        symptoms = ex.derived(firings, 2, found)
        costs = ex.derived(firings, 3, {**found, **symptoms})
        # Stage 1 finds what to act on; stages 2 and 3 what it leads to.
        findings = sorted(found.values(), key=_order)
        effects = sorted([*symptoms.values(), *costs.values()], key=_order)
        questions = sorted(
            ex.questions.values(),
            key=lambda q: (
                q.answered_unknown,
                -len(q.settles) - len(q.could_settle),
                kb.questions[q.id].priority,
                q.loop,
                q.resource,
                q.id,
            ),
        )
        results = Results(
            tool={"name": "control-coherence", "version": __version__},
            knowledge_base=kb.record(),
            system={"name": a.system.name},
            findings=findings,
            effects=effects,
            risk_map=riskmap.build(
                a, structure, [f for f in findings if f.evidence.shown], kb.vocabulary
            ),
            open_questions=questions,
            engine_errors=errors,
            # Effects of a held-back finding wait with it, under the same question.
            held_back=sum(not f.evidence.shown for f in [*findings, *effects]),
            to_check=ranking.to_check([*findings, *effects], ex.settling),
        )
        return results


def _order(f: Any) -> tuple[Any, ...]:
    return (
        KIND_ORDER.index(f.kind),
        not f.evidence.shown,
        f.status != "confirmed",
        -SEVERITY_ORDER.index(f.severity),
        f.id,
    )
