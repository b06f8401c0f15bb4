"""The one-page executive summary: the top risks in plain words, the total exposure, and the
three changes that would remove the most risk.

The changes are chosen greedily from what the knowledge base says would clear each finding
(a pattern's `clears`, rendered with the user's loop names). Several findings often share a
clearing condition (one retry budget clears every shutdown-vs-retry pair), and clearing all the
causes of a symptom or ghost cost clears it too. Each finding weighs by severity, half as much
when it is only possible.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from expert.economics import STATEMENT, EconomicSummary, money

if TYPE_CHECKING:
    from expert.knowledge import KnowledgeBase
    from expert.results import Finding

SEVERITY_WEIGHT = {"critical": 8.0, "high": 4.0, "medium": 2.0, "low": 1.0}
POSSIBLE_WEIGHT = 0.5
TOP_RISKS = 5
ACTIONS = 3
KIND_NOUN = {
    "incoherence": ("conflict", "conflicts"),
    "auditability": ("auditability gap", "auditability gaps"),
    "symptom": ("symptom", "symptoms"),
    "ghost-cost": ("ghost cost", "ghost costs"),
}


class TopRisk(BaseModel):
    """One kind of conflict (one pattern) with every group of loops it was found between."""

    finding: str = Field(description="its most severe finding")
    findings: list[str]
    title: str
    severity: str
    status: str
    loops: list[list[str]] = Field(description="the loops' names, per finding")
    plain: str = Field(description="what happens, in plain words")
    leads_to: list[str] = Field(default_factory=list, description="titles of its consequences")


class Action(BaseModel):
    text: str
    clears: list[str] = Field(description="findings it would clear, derived ones included")
    summary: str
    weight: float
    exposure_removed: float | None = Field(
        None, description="likely money per month of the ghost costs it would clear"
    )


class ExecutiveSummary(BaseModel):
    verdict: str
    top_risks: list[TopRisk]
    exposure: str
    statement: str = STATEMENT
    actions: list[Action]
    actions_note: str = ""


def _weight(f: Finding) -> float:
    return SEVERITY_WEIGHT.get(f.severity, 1.0) * (POSSIBLE_WEIGHT if f.status == "possible" else 1)


def _lower_first(title: str) -> str:
    """'SLA drift ...' stays, 'Queue inflation ...' becomes 'queue inflation ...'."""
    if len(title) > 1 and title[0].isupper() and title[1].islower():
        return title[0].lower() + title[1:]
    return title


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def _order(f: Finding) -> tuple[object, ...]:
    return (f.status != "confirmed", -_weight(f), -len(f.leads_to), f.id)


def clearing_conditions(f: Finding, kb: KnowledgeBase) -> list[str]:
    """The knowledge base's own clearing conditions of a finding (not the generic ones the
    explainer appends, such as answering an unknown question)."""
    p = kb.patterns.get(f.rule)
    n = len(p.clears) if p is not None else len(f.would_clear_if)
    return f.would_clear_if[:n]


class _Clearing:
    """Which findings each condition clears, and how clearing spreads to derived findings
    (a symptom or ghost cost clears when every finding it is derived from has cleared).

    `done` holds what the conditions chosen so far clear; `pending` counts each derived
    finding's parents not yet in it, so trying a condition costs only what it adds, not a
    copy of `done` or a rescan of every parent (a ghost cost can have thousands)."""

    def __init__(self, findings: list[Finding], kb: KnowledgeBase) -> None:
        self.by_condition: dict[str, list[str]] = {}
        self.children: dict[str, list[str]] = {}
        self.pending: dict[str, int] = {}
        self.done: set[str] = set()
        for f in sorted(findings, key=_order):
            if f.derived_from:
                parents = dict.fromkeys(f.derived_from)  # a repeated parent counts once
                self.pending[f.id] = len(parents)
                for d in parents:
                    self.children.setdefault(d, []).append(f.id)
            else:
                for c in clearing_conditions(f, kb):
                    self.by_condition.setdefault(c, []).append(f.id)

    def spread(self, start: Iterable[str]) -> set[str]:
        """What clearing `start` would add to `done`, derived findings included."""
        added = set(start) - self.done
        queue = list(added)
        hits: dict[str, int] = {}  # parents of a derived finding cleared by this start
        while queue:
            for child in self.children.get(queue.pop(), []):
                if child in self.done or child in added:
                    continue
                hits[child] = hits.get(child, 0) + 1
                if hits[child] == self.pending[child]:
                    added.add(child)
                    queue.append(child)
        return added

    def commit(self, added: set[str]) -> None:
        """Make a spread's findings part of `done`."""
        self.done |= added
        for i in added:
            for child in self.children.get(i, []):
                self.pending[child] -= 1


def cleared_by(chosen: set[str], findings: list[Finding], kb: KnowledgeBase) -> set[str]:
    """Findings that would clear if the chosen conditions held."""
    clearing = _Clearing(findings, kb)
    return clearing.spread(i for c in chosen for i in clearing.by_condition.get(c, []))


def choose_actions(
    findings: list[Finding], kb: KnowledgeBase, economics: EconomicSummary | None, n: int = ACTIONS
) -> list[Action]:
    weights = {f.id: _weight(f) for f in findings}
    by_id = {f.id: f for f in findings}
    clearing = _Clearing(findings, kb)
    candidates = list(clearing.by_condition)  # most severe findings' conditions first
    # A condition clears at most its own findings and every derived one; most clear a finding
    # or two, so those that cannot beat the best so far are skipped without spreading.
    derived = sum(weights[i] for i in clearing.pending)
    bound = {
        text: derived + sum(weights[i] for i in set(ids))
        for text, ids in clearing.by_condition.items()
    }
    chosen: set[str] = set()
    actions = []
    for _ in range(n):
        best, best_gain, best_set = None, 0.0, set()
        for text in candidates:
            if text in chosen or bound[text] <= best_gain:
                continue
            now = clearing.spread(clearing.by_condition[text])
            # Weights are small multiples of 0.5, so the sum is exact in any order.
            gain = sum(weights[i] for i in now)
            if gain > best_gain:  # ties keep the earlier (more severe) candidate
                best, best_gain, best_set = text, gain, now
        if best is None:
            break
        chosen.add(best)
        clearing.commit(best_set)
        new = [f for i, f in by_id.items() if i in best_set]
        actions.append(_action(best, new, best_gain, economics))
    return actions


def _action(
    text: str, cleared: list[Finding], weight: float, economics: EconomicSummary | None
) -> Action:
    parts = []
    for kind, (one, many) in KIND_NOUN.items():
        of_kind = [f for f in cleared if f.kind == kind]
        if not of_kind:
            continue
        titles = sorted({f.title for f in of_kind})
        noun = one if len(of_kind) == 1 else many
        parts.append(f"{len(of_kind)} {noun} ({'; '.join(titles)})")
    removed = None
    if economics is not None and economics.priced:
        ids = {f.id for f in cleared}
        money_lines = [c for c in economics.costs if c.finding in ids and c.money is not None]
        if money_lines:
            removed = sum(c.money.likely for c in money_lines if c.money is not None)
            parts.append(
                f"removing about {money(removed, economics.currency)} a month of likely exposure"
            )
    return Action(
        text=text[:1].upper() + text[1:],
        clears=[f.id for f in cleared],
        summary="Clears " + "; ".join(parts) + "." if parts else "",
        weight=weight,
        exposure_removed=removed,
    )


def build(
    findings: list[Finding],
    names: dict[str, str],
    loop_count: int,
    kb: KnowledgeBase,
    economics: EconomicSummary | None,
) -> ExecutiveSummary:
    # Findings a decision set aside (accepted, not applicable, false positive) are listed
    # with their decisions, not among the risks still open.
    set_aside = sum(bool(f.decision and f.decision.sets_aside) for f in findings)
    findings = [f for f in findings if not (f.decision and f.decision.sets_aside)]
    held_back = sum(not f.evidence.shown for f in findings)
    findings = [f for f in findings if f.evidence.shown]  # headlines show the strong ones
    by_id = {f.id: f for f in findings}
    conflicts = [f for f in findings if f.kind == "incoherence"]
    gaps = [f for f in findings if f.kind == "auditability"]
    symptoms = [f for f in findings if f.kind == "symptom"]
    confirmed = sum(f.status == "confirmed" for f in conflicts)
    if conflicts:
        verdict = (
            f"{len(conflicts)} conflict{'s' if len(conflicts) != 1 else ''} between the "
            f"platform's {loop_count} control loops "
            f"({confirmed} confirmed, {len(conflicts) - confirmed} possible). Each loop can "
            "report healthy on its own terms while together they work against each other."
        )
        if symptoms:
            verdict += (
                " What this looks like in operation: "
                + "; ".join(_lower_first(f.title) for f in symptoms)
                + "."
            )
    else:
        verdict = (
            f"No conflict between the platform's {loop_count} control loops was found from "
            "the answers given."
        )
    if gaps:
        verdict += (
            f" {len(gaps)} auditability gap{'s' if len(gaps) != 1 else ''}: decisions that "
            "cannot be reconstructed afterwards."
        )
    if held_back:
        verdict += (
            f" {held_back} more possible finding{'s' if held_back != 1 else ''} "
            f"{'rest' if held_back != 1 else 'rests'} on several unknown answers and "
            f"{'are' if held_back != 1 else 'is'} held back in the list to check."
        )
    if set_aside:
        verdict += (
            f" {set_aside} finding{'s' if set_aside != 1 else ''} set aside by a recorded "
            f"decision {'are' if set_aside != 1 else 'is'} left out here and listed with "
            f"{'their decisions' if set_aside != 1 else 'its decision'}."
        )
    ranked = sorted(conflicts, key=_order) or sorted(gaps, key=_order)
    by_rule: dict[str, list[Finding]] = {}
    for f in ranked:
        by_rule.setdefault(f.rule, []).append(f)
    top = []
    for group in list(by_rule.values())[:TOP_RISKS]:
        f = group[0]
        top.append(
            TopRisk(
                finding=f.id,
                findings=[g.id for g in group],
                title=f.title,
                severity=f.severity,
                status=f.status,
                loops=[[names.get(lp, lp) for lp in g.loops] for g in group],
                plain=_first_sentence(f.summary) if f.summary else f.narrative,
                leads_to=sorted({by_id[i].title for g in group for i in g.leads_to if i in by_id}),
            )
        )
    actions = choose_actions(findings, kb, economics)
    note = ""
    if actions:
        rest = len([f for f in findings if not f.derived_from]) - len(
            [i for a in actions for i in a.clears if not by_id[i].derived_from]
        )
        note = (
            f"Together these clear {sum(len(a.clears) for a in actions)} of "
            f"{len(findings)} findings; {rest} other conflicts and gaps need their own changes "
            "(see each finding's 'would clear if')."
        )
    exposure = economics.headline if economics is not None else ""
    return ExecutiveSummary(
        verdict=verdict,
        top_risks=top,
        exposure=exposure,
        actions=actions,
        actions_note=note,
    )
