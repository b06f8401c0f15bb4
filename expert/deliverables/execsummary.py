"""The one-page executive summary: the top risks in plain words, the total exposure, and the
three changes that would remove the most risk.

The changes are chosen greedily from what the knowledge base says would clear each finding
(a pattern's `clears`, rendered with the user's loop names). Several findings often share a
clearing condition (one retry budget clears every shutdown-vs-retry pair), and clearing all the
causes of a symptom or ghost cost clears it too. Each finding weighs by severity, half as much
when it is only possible; a change that clears a confirmed conflict or gap comes before one
resting only on possible findings. The ranking is by risk, not money, and the headline says
so. Each change is stated as an instruction (knowledge/imperative.py), with the teams that own
the loops it changes (or that no owner is named) and the exposure it removes.

The degree of coherence is one figure for the whole assessment: the share of interacting pairs
of loops that do not work against each other, each conflicting pair counting by its evidence
score (severity weight times the share of its tests resting on known answers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from expert.analysis.plainwords import held_back_subject, series
from expert.deliverables import economics as econ
from expert.deliverables.economics import STATEMENT, EconomicSummary, Range, money
from expert.knowledge.imperative import instruction
from expert.knowledge.patterns import ANY_PLACEHOLDER

if TYPE_CHECKING:
    from expert.analysis.results import Finding
    from expert.knowledge.knowledgebase import KnowledgeBase

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
    status_text: str = Field(
        "", description='status over its findings: "confirmed", or "1 confirmed, 1 possible"'
    )
    loops: list[list[str]] = Field(description="the loops' names, per finding")
    plain: str = Field(description="what happens, in plain words")
    leads_to: list[str] = Field(default_factory=list, description="titles of its consequences")


class Action(BaseModel):
    text: str = Field(description="what to do, as an instruction")
    condition: str = Field("", description="the clearing condition it comes from, as stated")
    clears: list[str] = Field(description="findings it would clear, derived ones included")
    summary: str
    weight: float
    owners: list[str] = Field(
        default_factory=list, description="the teams owning the loops the change touches"
    )
    no_owner: str = Field(
        "", description="what to do when no team is named for a change a loop's owner makes"
    )
    firm: bool = Field(True, description="whether it clears a confirmed conflict or gap")
    exposure_removed: float | None = Field(
        None, description="central estimate of the money per month the change removes"
    )
    removes: Range | None = Field(None, description="the money per month it removes")
    share: float | None = Field(None, description="the share of the central exposure removed")
    not_priced: str = Field("", description="why no money is given, when none is")


class Coherence(BaseModel):
    """The degree of coherence: one figure for the whole assessment, with its definition."""

    value: float = Field(description="0 (every interacting pair conflicts) to 1 (none does)")
    pairs: int = Field(description="pairs of loops that interact or conflict")
    conflicting: int = Field(description="of those, pairs with at least one conflict")
    definition: str
    text: str = Field(description="the figure in one sentence")


DEFINITION = (
    "the share of the pairs of control loops that interact (one's action reaches what the "
    "other reacts to, or they conflict) that do not work against each other; a conflicting "
    "pair counts by its strongest conflict's evidence (a confirmed critical conflict counts "
    "fully, a confirmed high one three quarters, medium half, low a quarter, less when it "
    "rests on unknown answers), and conflicts set aside by a recorded decision do not count. "
    "A conflict found on one loop alone (a per-node loop against a job whose members run in "
    "step, say) is no pair and is not in this figure; it is in the findings and the exposure"
)


class ExecutiveSummary(BaseModel):
    headline: str = Field(
        "",
        description="one sentence: confirmed conflicts, the central monthly exposure and the "
        "change that would remove the most risk, with the money it removes when priced",
    )
    verdict: str
    top_risks: list[TopRisk]
    exposure: str
    statement: str = STATEMENT
    actions: list[Action]
    actions_note: str = ""
    coherence: Coherence | None = Field(None, description="the degree of coherence")


def _weight(f: Finding) -> float:
    return SEVERITY_WEIGHT.get(f.severity, 1.0) * (POSSIBLE_WEIGHT if f.status == "possible" else 1)


def _lower_first(title: str) -> str:
    """'SLA drift ...' stays, 'Queue inflation ...' becomes 'queue inflation ...'."""
    if len(title) > 1 and title[0].isupper() and title[1].islower():
        return title[0].lower() + title[1:]
    return title


def _statuses(group: list[Finding]) -> str:
    """ "confirmed" or "possible" when every finding is so; otherwise how many of each."""
    confirmed = sum(f.status == "confirmed" for f in group)
    if confirmed in (0, len(group)):
        return group[0].status
    return f"{confirmed} confirmed, {len(group) - confirmed} possible"


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
        self.template: dict[str, str] = {}  # each condition's text in the knowledge base
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
                p = kb.patterns.get(f.rule)
                for i, c in enumerate(clearing_conditions(f, kb)):
                    self.by_condition.setdefault(c, []).append(f.id)
                    if p is not None and i < len(p.clears):
                        self.template.setdefault(c, p.clears[i])

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
    findings: list[Finding],
    kb: KnowledgeBase,
    economics: EconomicSummary | None,
    n: int = ACTIONS,
    names: dict[str, str] | None = None,
    owners: dict[str, str] | None = None,
    places: Mapping[str, Sequence[str]] | None = None,
) -> list[Action]:
    """The changes that clear the most, best first; `names` and `owners` are the loops' names
    and owning teams by id, `places` the names of the resources each loop acts on (a change
    may be to one of them)."""
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
    # A change that clears a confirmed conflict or gap comes before one resting only on
    # possible findings, whatever their weights: an answer still missing may clear the latter.
    confirmed = {f.id for f in findings if not f.derived_from and f.status == "confirmed"}
    chosen: set[str] = set()
    actions = []
    # What clearing a set of findings saves, by the set: what a change and those before it
    # clear together is what the next change is counted after.
    saved: dict[frozenset[str], Range | None] = {}
    for _ in range(n):
        best, best_key, best_set = None, (False, 0.0), set()
        for text in candidates:
            firm = any(i in confirmed for i in clearing.by_condition[text])
            if text in chosen or (firm, bound[text]) <= best_key:
                continue
            now = clearing.spread(clearing.by_condition[text])
            # Weights are small multiples of 0.5, so the sum is exact in any order.
            key = (bool(now & confirmed), sum(weights[i] for i in now))
            if key > best_key:  # ties keep the earlier (more severe) candidate
                best, best_key, best_set = text, key, now
        if best is None:
            break
        chosen.add(best)
        earlier = set(clearing.done)
        clearing.commit(best_set)
        new = [f for i, f in by_id.items() if i in best_set]
        template = clearing.template.get(best, best)
        text = instruction(template, best)
        # A change to a resource says so in the knowledge base's own words: its clearing
        # condition names the resource, not a loop.
        where = _resources_changed(template, best, new, kb, places or {})
        actions.append(
            _action(
                best,
                text,
                new,
                earlier,
                best_key[1],
                economics,
                names or {},
                owners or {},
                where,
                saved,
            )
        )
    return actions


def _central(r: Range) -> float:
    """A range's central estimate (the middle of the three figures)."""
    return float(r.central)


def _resources_changed(
    template: str,
    text: str,
    cleared: list[Finding],
    kb: KnowledgeBase,
    places: Mapping[str, Sequence[str]],
) -> list[str]:
    """The resources a change is made to, when its condition names resources and no loop
    (faster checkpoints of a job): whoever runs them makes it, not necessarily a loop of the
    conflict (the scheduler that preempts the job does not). Empty for any other change."""
    if not places or "{" not in template:  # no resources known, or a condition with no names
        return []
    roots = [f for f in cleared if not f.derived_from]
    named = [text.partition(".") for text in ANY_PLACEHOLDER.findall(template)]
    kinds = {
        (var, field): v.match[var].fact
        for f in roots
        for v in (kb.patterns[f.rule].variants() if f.rule in kb.patterns else [])
        for var, _, field in named
        if var in v.match
    }
    if not kinds or any(kind == "loop" for kind in kinds.values()):
        return []
    if not any(
        field == "resource" or (kind == "resource" and field in ("", "id"))
        for (_var, field), kind in kinds.items()
    ):
        return []
    theirs = dict.fromkeys(r for f in roots for lp in f.loops for r in places.get(lp, ()))
    return [r for r in theirs if re.search(rf"(?<!\w){re.escape(r)}(?!\w)", text)]


def _owners_of(
    text: str,
    cleared: list[Finding],
    names: dict[str, str],
    owners: dict[str, str],
    where: Sequence[str] = (),
) -> tuple[list[str], list[str]]:
    """The teams that own the loops a change touches (the loops it names, or, for a change
    that names none, such as a shared retry budget, every loop of the conflicts it clears),
    and the names of those loops nobody owns; none for a change made to resources (`where`),
    which whoever runs them makes."""
    if where:
        return [], []
    roots = [lp for f in cleared if not f.derived_from for lp in f.loops]
    named = [lp for lp in dict.fromkeys(roots) if names.get(lp, lp) and names.get(lp, lp) in text]
    loops = named or list(dict.fromkeys(roots))
    teams = sorted({owners[lp] for lp in loops if owners.get(lp)})
    return teams, [names.get(lp, lp) for lp in loops if not owners.get(lp)]


def _removed(
    cleared: list[Finding],
    earlier: set[str],
    economics: EconomicSummary | None,
    saved: dict[frozenset[str], Range | None] | None = None,
) -> tuple[Range | None, float | None, str]:
    """The money a change removes once the changes listed before it are made (`earlier`:
    what they clear), its share of the central exposure, or why not priced. Counted after
    the earlier ones, the changes' amounts add up to what they remove together: a cost the
    change finishes clearing, or that an earlier change had already lowered, is counted
    once. `saved` holds the savings worked out so far, by the findings cleared."""
    if economics is None or not economics.priced or economics.total is None:
        return None, None, "not priced: the assessment gives no cost figures"
    saved = {} if saved is None else saved

    def savings(ids: set[str]) -> Range | None:
        key = frozenset(ids)
        if key not in saved:
            saved[key] = econ.savings(economics, ids)
        return saved[key]

    after = savings(earlier | {f.id for f in cleared})
    before = savings(earlier) if earlier else econ.ZERO
    if after is None or before is None:
        return None, None, "not priced: nothing in the assessment is priced"
    removed = econ.Range(
        **{p: max(0.0, getattr(after, p) - getattr(before, p)) for p in econ.POINTS}
    )
    if _central(removed) <= 0:
        why = (
            "not priced: what it clears is priced in the changes above it, or also rests on "
            "other findings"
            if earlier
            else "not priced: no priced cost goes with this change alone "
            "(each also rests on other findings)"
        )
        return None, None, why
    total = _central(economics.total)
    return removed, (_central(removed) / total if total > 0 else None), ""


def _action(
    condition: str,
    text: str,
    cleared: list[Finding],
    earlier: set[str],
    weight: float,
    economics: EconomicSummary | None,
    names: dict[str, str],
    owners: dict[str, str],
    where: Sequence[str] = (),
    saved: dict[frozenset[str], Range | None] | None = None,
) -> Action:
    parts = []
    for kind, (one, many) in KIND_NOUN.items():
        of_kind = [f for f in cleared if f.kind == kind]
        if not of_kind:
            continue
        titles = sorted({f.title for f in of_kind})
        noun = one if len(of_kind) == 1 else many
        parts.append(f"{len(of_kind)} {noun} ({'; '.join(titles)})")
    removed, share, why = _removed(cleared, earlier, economics, saved)
    summary = "Clears " + "; ".join(parts) + "." if parts else ""
    if removed is not None and economics is not None:
        amount = money(_central(removed), economics.currency)
        summary += f" Removes about {amount} a month (central estimate)"
        summary += f", {round(share * 100)}% of the exposure." if share is not None else "."
    else:
        summary += " " + why[:1].upper() + why[1:] + "."
    team, unowned = _owners_of(condition, cleared, names, owners, where)
    no_owner = "" if team or where else "no owner named: assign one"
    if where:
        summary += f" Made by whoever runs {series(list(where))}, not by a loop of the conflict."
    if team:
        summary += f" Owned by {series(team)}."
    if no_owner:
        summary += " No owner named: assign one"
        if unowned:
            whose = "has" if len(unowned) == 1 else "have"
            summary += f" ({series(unowned)} {whose} no known owner)"
        summary += "."
    elif unowned:
        # Someone has to make the change: naming the owner comes first.
        whose = "has" if len(unowned) == 1 else "have"
        summary += (
            f" {series(unowned)} {whose} no known owner: "
            f"name {'one' if len(unowned) == 1 else 'them'} first."
        )
    return Action(
        text=text,
        condition=condition,
        clears=[f.id for f in cleared],
        summary=summary.strip(),
        weight=weight,
        owners=team,
        no_owner=no_owner,
        firm=any(f.status == "confirmed" for f in cleared if not f.derived_from),
        exposure_removed=_central(removed) if removed is not None else None,
        removes=removed,
        share=share,
        not_priced=why,
    )


def _pairs(f: Finding) -> list[tuple[str, str]]:
    """The pairs of loops a conflict was found between."""
    groups = [m.loops for m in f.members] or [f.loops]
    out = []
    for loops in groups:
        if len(loops) == 2:  # most matches: their one pair, sorted without a set
            a, b = loops
            if a != b:
                out.append((a, b) if a < b else (b, a))
            continue
        ids = sorted(set(loops))
        out += [(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]]
    return out


def degree(findings: list[Finding], edges: Iterable[tuple[str, str]]) -> Coherence:
    """The degree of coherence of an assessment: its findings and the influence edges between
    its loops (source, target)."""
    strength: dict[tuple[str, str], float] = {}
    for a, b in edges:  # ten thousand at 1,000 loops: the pair sorted without min and max
        if a != b:
            strength.setdefault((a, b) if a < b else (b, a), 0.0)
    for f in findings:
        if f.kind != "incoherence" or (f.decision and f.decision.sets_aside):
            continue
        score = f.evidence.score
        for pair in _pairs(f):
            strength[pair] = max(strength.get(pair, 0.0), score)
    pairs = len(strength)
    conflicting = sum(v > 0 for v in strength.values())
    value = 1.0 - sum(strength.values()) / pairs if pairs else 1.0
    if pairs:
        text = (
            f"Degree of coherence: {round(value * 100)}%. Of {pairs} "
            f"{'pair' if pairs == 1 else 'pairs'} of control loops that interact, {conflicting} "
            f"{'works' if conflicting == 1 else 'work'} against each other"
            + (", weighted by severity and evidence." if conflicting else ".")
        )
    else:
        text = "Degree of coherence: 100%. No two control loops interact."
    return Coherence(
        value=round(value, 3),
        pairs=pairs,
        conflicting=conflicting,
        definition=DEFINITION,
        text=text,
    )


def _headline(
    conflicts: list[Finding], actions: list[Action], economics: EconomicSummary | None
) -> str:
    """The verdict in one sentence: confirmed conflicts, central exposure, the first change."""
    confirmed = sum(f.status == "confirmed" for f in conflicts)
    if not conflicts:
        out = "No conflict between the control loops was found"
    else:
        out = (
            f"{confirmed} of {len(conflicts)} conflict{'s' if len(conflicts) != 1 else ''} "
            f"between the control loops {'is' if confirmed == 1 else 'are'} confirmed"
        )
    if economics is not None and economics.total is not None:
        out += (
            f"; the central estimate of the exposure is "
            f"{money(_central(economics.total), economics.currency)} a month"
        )
    elif economics is None:
        out += "; the exposure is not priced (no cost figures were given)"
    else:
        out += "; the exposure is not priced (no finding carries a cost)"
    if actions:
        # The changes are ranked by the risk they clear, not by money, and the headline is read
        # in formats that list no changes: it names the first and says why it is first.
        first = actions[0]
        change = first.text[:1].lower() + first.text[1:]
        if first.firm:
            out += (
                "; of the changes that clear a confirmed finding, the one that would remove the "
                f"most risk: {change}"
            )
        else:
            out += (
                f"; the change that would remove the most risk: {change} (every finding it "
                "clears is only possible)"
            )
        if first.exposure_removed and economics is not None:
            out += f" (about {money(first.exposure_removed, economics.currency)} a month)"
    return out + "."


def build(
    findings: list[Finding],
    names: dict[str, str],
    loop_count: int,
    kb: KnowledgeBase,
    economics: EconomicSummary | None,
    owners: dict[str, str] | None = None,
    edges: Iterable[tuple[str, str]] = (),
    places: Mapping[str, Sequence[str]] | None = None,
) -> ExecutiveSummary:
    coherence = degree(findings, edges)
    # Findings a decision set aside (accepted, not applicable, false positive) are listed
    # with their decisions, not among the risks still open.
    set_aside = sum(bool(f.decision and f.decision.sets_aside) for f in findings)
    findings = [f for f in findings if not (f.decision and f.decision.sets_aside)]
    held = [f for f in findings if not f.evidence.shown]
    held_back = len(held)
    held_effects = sum(bool(f.derived_from) for f in held)
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
            "No conflict was found from the answers given to the platform's only control loop."
            if loop_count == 1
            else f"No conflict between the platform's {loop_count} control loops was found "
            "from the answers given."
        )
    if gaps:
        verdict += (
            f" {len(gaps)} auditability gap{'s' if len(gaps) != 1 else ''}: decisions that "
            "cannot be reconstructed afterwards."
        )
    if held_back:
        subject, plural = held_back_subject(held_back - held_effects, held_effects)
        verdict += (
            f" {subject} {'wait' if plural else 'waits'} on answers still missing and "
            f"{'are' if plural else 'is'} held back in the list to check."
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
                status_text=_statuses(group),
                loops=[[names.get(lp, lp) for lp in g.loops] for g in group],
                plain=_first_sentence(f.summary) if f.summary else f.narrative,
                leads_to=sorted({by_id[i].title for g in group for i in g.leads_to if i in by_id}),
            )
        )
    actions = choose_actions(findings, kb, economics, names=names, owners=owners, places=places)
    note = ""
    if actions:
        # Findings are the conflicts and gaps; the symptoms and costs they clear come along.
        causes = [f for f in findings if not f.derived_from]
        cleared = {i for a in actions for i in a.clears if not by_id[i].derived_from}
        note = (
            "The changes are ranked by the risk they clear (each finding by its severity, "
            "half when only possible), those that clear a confirmed conflict or gap first, "
            "not by the money they remove. "
            f"Together these clear {len(cleared)} of {len(causes)} findings, with the symptoms "
            f"and costs that follow from them; {len(causes) - len(cleared)} other conflicts "
            "and gaps need their own changes (see each finding's 'would clear if')."
        )
        if any(a.removes is not None for a in actions):
            # The economic summary charges each cost to the findings it traces to; what a
            # change removes is counted after the changes above it, under the same caps.
            note += (
                " Each change's amount is what it removes once the changes above it are made, "
                "so the amounts add up. It can differ from what the Economic Risk Summary "
                "charges its findings: the costs of one budget are capped together, so "
                "clearing some findings leaves the rest more of the cap; and clearing a "
                "conflict also removes the engineering time spent on the untraceable loops in "
                "it, which the Economic Risk Summary charges to their gaps."
            )
    exposure = economics.headline if economics is not None else ""
    return ExecutiveSummary(
        headline=_headline(conflicts, actions, economics),
        coherence=coherence,
        verdict=verdict,
        top_risks=top,
        exposure=exposure,
        actions=actions,
        actions_note=note,
    )
