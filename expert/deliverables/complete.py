"""The seed's four deliverables and the executive summary, computed from the findings.

`complete` adds them to a Results; it needs the knowledge base (cost models, vocabulary
labels, question texts), so the assessor calls it. Reports never compute anything themselves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard

from expert.analysis.applicability import applies, resource_fact
from expert.analysis.results import BASE_REASON, Finding, OpenQuestion, ReportInfo, Results
from expert.assessment.fields import value_at
from expert.assessment.model import Assessment
from expert.deliverables import auditgap, decisions, economics, execsummary, inventory
from expert.knowledge.imperative import instruction

if TYPE_CHECKING:
    from expert.knowledge.knowledgebase import KnowledgeBase
    from expert.knowledge.patterns import Question


def complete(results: Results, assessment: Assessment, kb: KnowledgeBase) -> Results:
    """Results with executive_summary, inventory, economics and audit_gaps filled in."""
    # Findings carry their decisions first, so the summary can leave decided ones out.
    results = decisions.apply(results, assessment, kb.patterns)
    results = results.model_copy(
        update={
            "findings": [_with_severity_reason(f, kb) for f in results.findings],
            "effects": [_with_severity_reason(f, kb) for f in results.effects],
        }
    )
    # The deliverables read findings and their effects together: costs trace to causes.
    every = results.every_finding()
    models = {pid: p.cost for pid, p in kb.patterns.items() if p.cost is not None}
    money = economics.summarise(
        every, assessment.economics, models, economics.followed_back(assessment.loops)
    )
    money = _as_instructions(money, kb)
    names = {node.id: node.name for node in results.risk_map.nodes}
    inventoried = inventory.build(assessment, kb, every, unasked=_unasked(assessment, kb))
    completed = results.model_copy(
        update={
            "economics": money,
            "inventory": inventoried,
            "audit_gaps": auditgap.build(
                assessment, kb, every, results.open_questions, money, inventory=inventoried
            ),
            "executive_summary": execsummary.build(
                every,
                names,
                len(assessment.loops),
                kb,
                money,
                owners={lp.id: lp.owner for lp in assessment.loops if _known(lp.owner)},
                edges=[(e.source, e.target) for e in results.risk_map.edges],
                places=_places(assessment),
            ),
        }
    )
    inv = completed.inventory
    assert inv is not None and completed.executive_summary is not None
    asked = {q.id for q in completed.open_questions}  # completing twice asks once
    completed = completed.model_copy(
        update={
            "open_questions": [
                *completed.open_questions,
                *(
                    OpenQuestion(
                        id=f"layer-described:{e.layer}", loop="", text=e.question, field="layer"
                    )
                    for e in inv.empty_layers
                    if f"layer-described:{e.layer}" not in asked
                ),
            ],
            "report": ReportInfo(
                date=report_date().isoformat(),
                input=_input_name(assessment),
                input_sha256=input_digest(assessment),
                verdict=completed.executive_summary.headline,
            ),
        }
    )
    # Again, now that there is an exposure to state before and after decisions. Every
    # caller (the command line, the interview's export, diff) sees them.
    return decisions.apply(completed, assessment, kb.patterns)


def _as_instructions(
    money: economics.EconomicSummary, kb: KnowledgeBase
) -> economics.EconomicSummary:
    """What removes each pattern's exposure, said as an instruction, as the executive summary
    says its changes (the economics states the clearing condition as the pattern words it)."""
    rows = []
    for row in money.by_pattern:
        p = kb.patterns.get(row.pattern)
        if p is not None and p.clears and row.action:
            row = row.model_copy(update={"action": instruction(p.clears[0], row.action)})
        rows.append(row)
    return money.model_copy(update={"by_pattern": rows})


def report_date() -> dt.date:
    """Today, or the day SOURCE_DATE_EPOCH names, so a rebuilt report can be byte-identical
    (the reproducible-builds convention)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC).date()
    return dt.date.today()


def input_digest(assessment: Assessment) -> str:
    """SHA-256 of the file the assessment was read from, so a reader can check which input a
    report describes (`sha256sum platform.yaml`); of its canonical JSON if it has no file."""
    origin = assessment.origin()
    if origin is not None:
        try:
            return hashlib.sha256(Path(origin[0]).read_bytes()).hexdigest()
        except OSError:
            pass  # gone or unreadable since it was loaded: the content still identifies it
    return hashlib.sha256(assessment.model_dump_json().encode("utf-8")).hexdigest()


def _input_name(assessment: Assessment) -> str:
    origin = assessment.origin()
    return Path(origin[0]).name if origin is not None else ""


def _unasked(assessment: Assessment, kb: KnowledgeBase) -> dict[str, set[str]]:
    """Per resource, the fields the inventory would say are not answered whose question does
    not apply to it (a service is not asked whether its members run in lockstep), so the
    inventory says so instead. Only the fields it shows that way, left unanswered: working
    out whether a question applies reads the whole assessment."""
    conditional: list[tuple[Question, str]] = []  # each question with its field
    for q in kb.questions.values():
        if q.about == "resource" and q.asked_when and q.field in inventory.SAYS_NOT_ASKED:
            conditional.append((q, q.field))
    out: dict[str, set[str]] = {}
    resources = assessment.resource_list()
    kinds = {r.id: r.kind for r in resources}
    for res in resources:
        unanswered = [(q, field) for q, field in conditional if value_at(res, field) is None]
        # The resource's fact, encoded once for all of its questions, and only when one of
        # them is unanswered; the resource and the kinds are passed, not looked up among all
        # resources for each (which made this quadratic: 0.16 s at 1,000 resources).
        fact = resource_fact(kb, res, kinds) if unanswered else None
        out[res.id] = {
            field for q, field in unanswered if not applies(q, kb, assessment, res.id, fact, res)
        }
    return out


def _with_severity_reason(f: Finding, kb: KnowledgeBase) -> Finding:
    """A finding whose severity was not raised gets the base rating's reason, so every
    finding says why it has its severity."""
    if f.severity_reason:
        return f
    p = kb.patterns.get(f.rule)
    reason = f"{BASE_REASON} {_KIND_WORD.get(f.kind, 'finding')}"
    if p is not None and p.escalate:
        reason += ", and none of the conditions that would raise it holds"
    return f.model_copy(update={"severity_reason": reason})


# How a severity reason that only restates the pattern's own rating begins (reports show the
# reason only when a condition raised the severity).
_KIND_WORD = {
    "incoherence": "conflict",
    "symptom": "symptom",
    "ghost-cost": "ghost cost",
    "auditability": "auditability gap",
}


def _known(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value not in ("", "unknown")


def _places(assessment: Assessment) -> dict[str, list[str]]:
    """The names of the resources each loop acts on, by loop id."""
    shown = {r.id: r.shown_name for r in assessment.resource_list()}
    return {
        lp.id: [shown.get(r, r) for r in lp.acts_on]
        for lp in assessment.loops
        if isinstance(lp.acts_on, list)
    }
