"""The seed's four deliverables and the executive summary, computed from the findings.

`complete` adds them to a Results; it needs the knowledge base (cost models, vocabulary
labels, question texts), so the assessor calls it. Reports never compute anything themselves.
"""

from __future__ import annotations

from expert import auditgap, decisions, economics, execsummary, inventory
from expert.assessment import Assessment
from expert.knowledge import KnowledgeBase
from expert.results import Results


def complete(results: Results, assessment: Assessment, kb: KnowledgeBase) -> Results:
    """Results with executive_summary, inventory, economics and audit_gaps filled in."""
    # Findings carry their decisions first, so the summary can leave decided ones out.
    results = decisions.apply(results, assessment, kb.patterns)
    models = {pid: p.cost for pid, p in kb.patterns.items() if p.cost is not None}
    money = economics.summarise(results.findings, assessment.economics, models)
    names = {node.id: node.name for node in results.risk_map.nodes}
    completed = results.model_copy(
        update={
            "economics": money,
            "inventory": inventory.build(assessment, kb, results.findings),
            "audit_gaps": auditgap.build(
                assessment, kb, results.findings, results.open_questions, money
            ),
            "executive_summary": execsummary.build(
                results.findings, names, len(assessment.loops), kb, money
            ),
        }
    )
    # Again, now that there is an exposure to state before and after decisions. Every
    # caller (the command line, the interview's export, diff) sees them.
    return decisions.apply(completed, assessment, kb.patterns)


def ensure(results: Results, assessment: Assessment) -> Results:
    """Results as reports need them. Results from an assessor that did not complete them get
    the deliverables computed against the built-in knowledge base."""
    if None not in (
        results.executive_summary,
        results.inventory,
        results.economics,
        results.audit_gaps,
    ):
        return results
    from expert import knowledge

    return complete(results, assessment, knowledge.load())
