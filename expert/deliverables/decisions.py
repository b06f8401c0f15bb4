"""Decisions about findings: accepted, mitigated, not applicable or false positive.

They live in the assessment file under `decisions`, keyed by the finding id reports show
(expert/engine/ids.py), so they outlive re-runs, reordered loops and unrelated edits:

    decisions:
      shutdown-vs-retry@inference-api:
        state: accepted
        reason: the gateway deadline is being raised in Q3
        by: Platform SRE
        date: 2024-05-02
        expires: 2024-09-30

`apply` records each decision on its finding and says what became of every decision:
applied, expired (its `expires` date has passed: the decision is reported and no longer
waives anything), stale (a finding of a known pattern that no longer fires) or unknown (the
id names no pattern: a typo, perhaps; it is reported and kept in the file, never dropped).

Only an unexpired `accepted` or `not-applicable` decision waives a finding for `--fail-on`.
A `mitigated` finding still fires, so the answers do not yet show the mitigation, and a
`false-positive` one is a finding the rules still make: both keep failing a CI gate until
the answers change, and both are shown apart with their decision.

Exposure is reported before and after decisions: the "after" total leaves out each priced
ghost cost whose root causes (the incoherence and auditability findings it traces back to)
all carry an unexpired accepted, not-applicable or false-positive decision, or that carries
one itself. A cost with any undecided or mitigated cause stays in whole: its share cannot be
split between causes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Literal

from expert.analysis.results import DecisionEntry, DecisionReport, Finding, FindingDecision, Results
from expert.assessment.model import Assessment, Decision
from expert.deliverables import economics
from expert.knowledge.patterns import SEVERITY_ORDER

WAIVING = ("accepted", "not-applicable")  # --fail-on ignores these until they expire
SET_ASIDE = ("accepted", "not-applicable", "false-positive")  # left out of exposure after
_RULE = re.compile(r"^[a-z0-9][a-z0-9_-]*")


def rule_of(finding_id: str) -> str:
    """The pattern a finding id names: the id up to its loops (:) or resources (@)."""
    match = _RULE.match(finding_id)
    return match.group(0) if match else finding_id


def _view(d: Decision, today: dt.date) -> FindingDecision:
    expired = d.expires is not None and d.expires < today
    return FindingDecision(
        state=d.state,
        reason=d.reason,
        by=d.by or "",
        date=d.date.isoformat(),
        expires=d.expires.isoformat() if d.expires else "",
        expired=expired,
        waives=d.state in WAIVING and not expired,
        sets_aside=d.state in SET_ASIDE and not expired,
    )


def holds(f: Finding, states: Iterable[str]) -> bool:
    """The finding carries an unexpired decision in one of `states`."""
    return f.decision is not None and not f.decision.expired and f.decision.state in states


def waived(f: Finding) -> bool:
    """`--fail-on` ignores this finding: accepted or not applicable, and not expired."""
    return f.decision is not None and f.decision.waives


def apply(
    results: Results,
    assessment: Assessment,
    patterns: Iterable[str],
    today: dt.date | None = None,
) -> Results:
    """Results with each decided finding carrying its decision, and `decisions` saying what
    became of every decision. `patterns` are the knowledge base's pattern ids (to tell a
    stale decision from a mistyped id). Results are returned unchanged when the assessment
    records no decision."""
    if not assessment.decisions:
        return results
    today = today or dt.date.today()
    known = set(patterns)
    by_id = results.by_id()
    views = {fid: _view(d, today) for fid, d in assessment.decisions.items()}

    def decide(found: list[Finding]) -> list[Finding]:
        return [
            f.model_copy(update={"decision": views[f.id]}) if f.id in views else f for f in found
        ]

    entries, warnings = [], []
    for fid, view in views.items():
        f = by_id.get(fid)
        if f is not None:
            standing: Literal["applied", "expired", "stale", "unknown"] = (
                "expired" if view.expired else "applied"
            )
            if view.expired:
                warnings.append(
                    f"decision on {fid} ({view.state}) expired on {view.expires}: the finding "
                    "counts again; review it and set a new date, or remove the decision"
                )
        elif rule_of(fid) in known:
            standing = "stale"
            warnings.append(
                f"decision on {fid} is stale: that finding no longer fires; remove the "
                "decision if the change that cleared it is meant to stay"
            )
        else:
            standing = "unknown"
            warnings.append(
                f"decision on {fid}: no pattern {rule_of(fid)!r} in the knowledge base, so it "
                "applies to nothing; check the id against the report (it is kept in the file)"
            )
        entries.append(
            DecisionEntry(finding=fid, title=f.title if f else "", decision=view, standing=standing)
        )
    report = DecisionReport(today=today.isoformat(), entries=entries, warnings=warnings)
    decided = results.model_copy(
        update={"findings": decide(results.findings), "effects": decide(results.effects)}
    )
    _exposure(decided, report)
    return decided.model_copy(update={"decisions": report})


def _exposure(results: Results, report: DecisionReport) -> None:
    """Fill the exposure before and after set-aside decisions (see the module's note)."""
    econ = results.economics
    if econ is None or econ.total is None:
        return
    by_id = results.by_id()
    kept, aside = [], []
    for line in econ.costs:
        cost = by_id.get(line.finding)
        roots = [by_id[r] for r in line.root_causes if r in by_id]
        own = cost is not None and holds(cost, SET_ASIDE)
        if own or (roots and all(holds(r, SET_ASIDE) for r in roots)):
            aside.append(line.finding)
        else:
            kept.append(line)
    report.exposure_before = econ.total
    report.exposure_after = economics.total(kept, econ.figures) or economics.Range(
        low=0, likely=0, high=0
    )
    report.set_aside = aside


def fail_on_hits(results: Results, level: str) -> list[Finding]:
    """Confirmed findings and effects at or above `level` that no decision waives. Effects
    count: a symptom can be more severe than the conflict it follows from, and a gate never
    loosens because of how findings are grouped."""
    floor = SEVERITY_ORDER.index(level)
    return [
        f
        for f in results.every_finding()
        if f.status == "confirmed" and SEVERITY_ORDER.index(f.severity) >= floor and not waived(f)
    ]
