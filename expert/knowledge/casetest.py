"""Run a pattern's example cases (`coherence kb test`): each case is a small assessment that
must make the pattern fire (with the stated status and loops) or stay quiet. A failure says
which condition did not hold, the way a rule author needs to hear it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from expert.analysis import facts as facts_mod
from expert.analysis import graph
from expert.analysis.assess import Assessor, check_answers
from expert.analysis.explain import readable
from expert.assessment import model as assessment_mod
from expert.errors import InputError
from expert.knowledge.conditions import evaluate, resolve
from expert.knowledge.knowledgebase import KnowledgeBase, cases_path
from expert.knowledge.patterns import CaseSpec, Pattern


@dataclass
class CaseResult:
    pattern: str
    case: str
    expect: str
    passed: bool
    detail: list[str] = field(default_factory=list)


def case_assessment(case: CaseSpec, kb: KnowledgeBase, source: str) -> assessment_mod.Assessment:
    data: dict[str, Any] = {"schema_version": 1, **case.assessment}
    a = assessment_mod.validate(data, kb.vocabulary, source)
    problems = check_answers(a, kb, source)
    if problems:
        raise InputError(problems)
    return a


def diagnose(p: Pattern, a: assessment_mod.Assessment, kb: KnowledgeBase) -> list[str]:
    """Why a stage-1 pattern did not fire: for each matched fact, the closest candidate and
    the first term it failed; if every fact has candidates, the join is what failed."""
    if p.stage != 1:
        feeders = sorted(q.id for q in kb.patterns.values() if p.id in q.leads_to)
        active = [f for f in feeders if f not in kb.disabled]
        lines = [f"{p.kind} patterns fire when one of these fires: {', '.join(active) or 'none'}"]
        off = [f for f in feeders if f in kb.disabled]
        if off:
            lines.append(f"it also depends on disabled pattern(s): {', '.join(off)}")
        return lines
    structure = graph.derive(a, kb.vocabulary)
    base = facts_mod.build(a, structure, kb.vocabulary, "diag", kb.answer_fields())
    variants = p.variants()
    if len(variants) == 1:
        return _diagnose_form(p, base.facts, kb)
    return [
        f"form {form}: {line}"
        for form, v in zip(["first", *(f.name for f in p.forms)], variants, strict=True)
        for line in _diagnose_form(v, base.facts, kb)
    ]


def _diagnose_form(p: Pattern, facts: dict[str, dict[str, Any]], kb: KnowledgeBase) -> list[str]:
    """diagnose() for one form of a pattern, over the assessment's facts."""
    lines = []
    all_have = True
    for var, fm in p.match.items():
        candidates = [f for f in facts.values() if f["kind"] == fm.fact]
        best: tuple[int, str, str] | None = None
        for fact in candidates:
            passed = 0
            failed = ""
            for term in fm.where:
                if term.op == "same_as":
                    continue
                rf = resolve(fm.fact, term.field, kb.vocabulary, kb.answer_fields())
                assert rf is not None
                if evaluate(term, rf, fact, {}, {}) == "no":
                    failed = f"{term.field} {term.op.replace('_', ' ')} {term.operand}"
                    break
                passed += 1
            if best is None or passed > best[0] or (passed == best[0] and not failed):
                best = (passed, fact["id"], failed)
        if not candidates:
            all_have = False
            lines.append(
                f"{var}: no {fm.fact} fact exists in this assessment"
                + (
                    " (edges need a shared resource and a signal one loop emits and the "
                    "other reacts to)"
                    if fm.fact in ("edge", "pair")
                    else ""
                )
            )
        elif best and best[2]:
            all_have = False
            lines.append(
                f"{var}: no {fm.fact} passes every test; closest is {best[1]}, which "
                f"fails `{best[2]}`"
            )
    if all_have:
        lines.append(
            "every fact has a candidate, but no combination satisfies the joins "
            "(same_as): the loops are not connected as the pattern requires"
        )
    return lines


def run_cases(
    kb: KnowledgeBase, pattern_ids: list[str] | None = None, assessor: Assessor | None = None
) -> list[CaseResult]:
    own = assessor is None
    ax = assessor or Assessor(kb)
    results: list[CaseResult] = []
    try:
        for p in kb.active():
            if pattern_ids and p.id not in pattern_ids:
                continue
            casefile = kb.cases.get(p.id)
            for case in casefile.cases if casefile else []:
                results.append(_run_one(p, case, kb, ax))
    finally:
        if own:
            ax.close()
    return results


def _run_one(p: Pattern, case: CaseSpec, kb: KnowledgeBase, ax: Assessor) -> CaseResult:
    # The case sits in the cases file: a problem in it is reported there, as `kb lint` does.
    origin = kb.origins.get(p.id)
    source = f"{cases_path(origin.path) if origin else p.id} case {case.name!r}"
    try:
        a = case_assessment(case, kb, source)
    except InputError as exc:
        return CaseResult(
            p.id,
            case.name,
            case.expect,
            False,
            ["the case's assessment is invalid:", *map(str, exc.problems)],
        )
    results = ax.assess(a)
    mine = [f for f in results.every_finding() if f.rule == p.id]
    if case.expect == "quiet":
        if not mine:
            return CaseResult(p.id, case.name, case.expect, True)
        detail = []
        for f in mine:
            detail.append(f"fired ({f.status}) on {', '.join(f.loops) or 'the platform'} because:")
            detail += [
                f"  {b.loop + '.' if b.loop else ''}{b.field} = {b.value}" for b in f.because
            ]
        return CaseResult(p.id, case.name, case.expect, False, detail)
    if not mine:
        return CaseResult(
            p.id, case.name, case.expect, False, ["did not fire:", *diagnose(p, a, kb)]
        )
    problems = []
    if case.status and not any(f.status == case.status for f in mine):
        got = ", ".join(sorted({f.status for f in mine}))
        unknowns = [
            f"{b.loop + '.' if b.loop else ''}{b.field}"
            for f in mine
            for b in f.because
            if b.unknown
        ]
        problems.append(
            f"fired as {got}, expected {case.status}"
            + (f" (rests on unknown {', '.join(unknowns)})" if unknowns else "")
        )
    if case.loops is not None and not any(sorted(f.loops) == sorted(case.loops) for f in mine):
        problems.append(
            "fired on "
            + "; ".join(readable(f.loops) for f in mine)
            + f", expected exactly {readable(case.loops)}"
        )
    return CaseResult(p.id, case.name, case.expect, not problems, problems)
