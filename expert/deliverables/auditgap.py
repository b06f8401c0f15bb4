"""The Auditability Gap Report: which control decisions cannot be reconstructed and why, the
governance exposure that follows, and the questions to put to each owning team.

A decision can be followed back when the loop records it at all, as events (each names the
object acted on) or with its reason: the test the economics uses for untraceable loops. It can
be reconstructed in full only if the loop records it with its reason and a correlation id
(decision_record: reasoned), has an owner to ask, and a known reaction timescale (to order its
actions against its neighbours'). A conflict between loops can be traced only if every loop in
it records its reasons.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from expert.analysis.plainwords import series
from expert.assessment.model import UNKNOWN, Assessment, Loop
from expert.deliverables.economics import Cited, EconomicSummary, followed_back
from expert.deliverables.inventory import CORE, LABELS, Inventory, loop_answers
from expert.knowledge.patterns import SEVERITY_ORDER

if TYPE_CHECKING:
    from expert.analysis.results import Finding, OpenQuestion
    from expert.knowledge.knowledgebase import KnowledgeBase

REASONED = "reasoned"
NO_OWNER = "No known owner"

STATEMENT = (
    "Logs show what each control loop did, not why, and not which other loop's decision "
    "made it act. Where that is missing, a cost anomaly or a degradation cannot be traced "
    "back to the decisions that caused it."
)


class LoopGap(BaseModel):
    loop: str
    name: str
    layer: str
    owner: str
    record: str = Field(description="how its decisions are recorded, as answered")
    reasons: list[str] = Field(description="why its decisions cannot be reconstructed")
    unknown: list[str] = Field(default_factory=list, description="answers nobody could give")
    findings: list[str] = Field(default_factory=list, description="auditability findings")


class ChainGap(BaseModel):
    """Conflicts of one kind that cannot be traced in the record, merged."""

    rule: str
    title: str
    severity: str = Field(description="the worst of the merged conflicts")
    status: str = Field(description="confirmed if any of them is")
    findings: list[str]
    loops: list[str]
    names: list[str]
    gaps: list[str] = Field(description="where the chains break, loop by loop")


class Exposure(BaseModel):
    area: str
    severity: str
    text: str
    loops: list[str] = Field(default_factory=list)
    sources: list[Cited] = Field(default_factory=list)


class TeamQuestion(BaseModel):
    loop: str
    name: str
    text: str
    why: str


class TeamQuestions(BaseModel):
    owner: str
    known: bool = Field(description="false for loops nobody could name an owner for")
    loops: list[str]
    questions: list[TeamQuestion]


class AuditGapReport(BaseModel):
    statement: str = STATEMENT
    loops_total: int
    reconstructable: int = Field(description="loops whose decisions can be reconstructed")
    followed_back: int = Field(
        0, description="loops whose decisions can be followed back (events or reasons recorded)"
    )
    counts: str = Field("", description="what the counts above say, in one sentence")
    loops: list[LoopGap]
    chains: list[ChainGap]
    chains_traceable: int = Field(0, description="conflicts every loop of which is recorded")
    conflicts_total: int = Field(0, description="incoherence findings in all")
    exposure: list[Exposure]
    teams: list[TeamQuestions]


def _name(lp: Loop) -> str:
    return lp.name if lp.name not in (None, UNKNOWN) else lp.id


def _record_reason(record: str | None) -> str | None:
    if record == REASONED:
        return None
    if record is None:
        return "how it records its decisions was not answered"
    if record == UNKNOWN:
        return "nobody could say how its decisions are recorded"
    if record == "none":
        return "its decisions are not recorded at all"
    if record == "events":
        return (
            "it logs what it did but not why, and no correlation id links an entry to the "
            "decision that caused it"
        )
    return f"it records decisions as {record}, without the reason and a correlation id"


def _short_record(record: str | None) -> str:
    return {
        None: "record keeping not answered",
        UNKNOWN: "record keeping unknown",
        "none": "records nothing",
        "events": "logs events without reason or correlation id",
    }.get(record, f"records {record}")


def _owner_reason(owner: str | None) -> str | None:
    if owner is None:
        return "its owner was not given, so nobody can be asked why it acted"
    if owner == UNKNOWN:
        return "nobody could name the team that owns it, so nobody can be asked why it acted"
    return None


def _timescale_reason(timescale: str | None) -> str | None:
    if timescale in (None, UNKNOWN):
        return (
            "how fast it reacts is not known, so the order in which loops acted cannot be "
            "worked out"
        )
    return None


def _worst(severities: list[str]) -> str:
    return max(severities, key=SEVERITY_ORDER.index) if severities else "low"


def _sources(findings: list[Finding]) -> list[Cited]:
    seen: dict[str, Cited] = {}
    for f in findings:
        for s in f.sources:
            if s.url not in seen:  # not setdefault: that would build a Cited for every source
                seen[s.url] = Cited(title=s.title, url=s.url)
    return list(seen.values())


def _about(findings: list[Finding], loops: set[str], field: str) -> list[Finding]:
    """Findings about these loops that rest on this answer (their sources are relevant)."""
    return [
        f
        for f in findings
        if not loops.isdisjoint(f.loops) and any(b.field == field for b in f.because)
    ]


# A question put to a team names a few loops and counts the rest: on a large platform a
# loop can be in conflict with hundreds of others, and a question listing them all is
# unreadable (and made the audit section grow with the square of the loop count).
MAX_NAMED = 6


def _some(items: list[str], sep: str, rest: str, count: int | None = None) -> str:
    """The items, or the first few and how many more; `count`, if given, is how many there
    are, of which `items` holds the first MAX_NAMED or more."""
    count = len(items) if count is None else count
    if count <= MAX_NAMED:
        return series(items) if sep == ", " else sep.join(items)
    return sep.join(items[: MAX_NAMED - 1]) + f"{sep}and {count - MAX_NAMED + 1} {rest}"


# A loop's partners in the chains it is in, for the question put to its team: the other
# loops' names (a chain lists a loop once), less those named by earlier chains but not
# deduplicated within one, as two loops of a chain may share a name. The question names the
# first few and counts the rest; a chain can span hundreds of loops, and each of them is
# asked, so neither helper lists every name.


def _first_partners(loop: str, chains: list[tuple[ChainGap, _Chain]]) -> list[str]:
    """The first MAX_NAMED partners of `loop`, in order (all of them, if fewer)."""
    partners: list[str] = []
    named: set[str] = set()  # partners so far, for constant-time checks
    for c, read in chains:
        k = read.at[loop]
        own = c.names[k]
        others = (x for j, x in enumerate(c.names) if j != k and x not in named)
        partners += islice(others, MAX_NAMED - len(partners))
        if len(partners) == MAX_NAMED:
            break
        fresh = own not in named
        named |= read.names
        if fresh and own not in read.repeated:
            named.discard(own)  # only this loop has the name: no partner gave it
    return partners


def _partner_count(chains: list[_Chain]) -> tuple[int, dict[str, int]]:
    """How many partners a loop has in `chains`, as (the count, what to add for a loop
    whose own name is one of these): every name in them but its own, each as often as the
    first chain holding it has it (its own name as often as the first chain where another
    loop shares it has it, less one). Counted by set sizes, the largest chain's names only
    looked up. The same for every loop in the same chains but for its own name, so worked
    out once for them all."""
    largest = max(chains, key=lambda read: len(read.names))
    rest: set[str] = set()
    for read in chains:
        if read is not largest:
            rest |= read.names
    count = len(largest.names) + len(rest - largest.names) - 1
    own: dict[str, int] = {}
    for x in {x for read in chains for x in read.repeated}:
        other = next(read for read in chains if x in read.names).repeated.get(x, 1) - 1
        count += other
        own[x] = next(read for read in chains if x in read.repeated).repeated[x] - 1 - other
    return count, own


@dataclass(slots=True)
class _Chain:
    """A chain's loops as `_teams` reads them for each loop in it: a chain can span hundreds
    of loops, and each of them is asked about the others."""

    at: dict[str, int]  # loop id -> its place in the chain
    names: set[str]  # the loops' names
    repeated: dict[str, int]  # how often a name occurs, for those that occur more than once

    @classmethod
    def of(cls, c: ChainGap) -> _Chain:
        counts = Counter(c.names)
        return cls(
            at={lp: i for i, lp in enumerate(c.loops)},
            names=set(counts),
            repeated={name: n for name, n in counts.items() if n > 1},
        )


def build(
    assessment: Assessment,
    kb: KnowledgeBase,
    findings: list[Finding],
    questions: list[OpenQuestion],
    economics: EconomicSummary | None = None,
    inventory: Inventory | None = None,
) -> AuditGapReport:
    """The audit gaps. `inventory`, the run's own, gives each loop's answers with their
    states as read already (else they are read again)."""
    loops = {lp.id: lp for lp in assessment.loops}
    unknown_listed = {
        # il.unknown lists the labels of its unknown answers: most loops have none to find
        il.id: [(f.field, f.label) for f in il.fields if f.state == "unknown"] if il.unknown else []
        for group in (inventory.layers if inventory is not None else [])
        for il in group.loops
    }
    findings = [f for f in findings if f.evidence.shown]
    audit = [f for f in findings if f.kind == "auditability"]
    gaps: list[LoopGap] = []
    unknown_of: dict[str, list[str]] = {}
    audit_of: dict[str, list[str]] = {}
    for f in audit:
        for lp_id in f.loops:
            audit_of.setdefault(lp_id, []).append(f.id)
    for lp in assessment.loops:
        unknown = unknown_listed.get(lp.id)
        if unknown is None:
            unknown = [
                (field, label)
                for field, label, _, state in loop_answers(lp, kb)
                if state == "unknown"
            ]
        unknown_of[lp.id] = [label for _, label in unknown]
        reasons = [
            r
            for r in (
                _record_reason(lp.decision_record),
                _owner_reason(lp.owner),
                _timescale_reason(lp.timescale),
            )
            if r
        ]
        others = [
            label
            for field, label in unknown
            if field not in ("decision_record", "owner", "timescale")
        ]
        if others:
            reasons.append(
                f"{len(others)} more answer{'s' if len(others) != 1 else ''} nobody could "
                f"give: {', '.join(others)}"
            )
        if not reasons:
            continue
        gaps.append(
            LoopGap(
                loop=lp.id,
                name=_name(lp),
                layer=lp.layer or UNKNOWN,
                owner=lp.owner or "not answered",
                record=lp.decision_record or "not answered",
                reasons=reasons,
                unknown=unknown_of[lp.id],
                findings=audit_of.get(lp.id, []),
            )
        )

    merged: dict[str, ChainGap] = {}
    # The loops and gaps each merged chain lists, for constant-time checks (a chain can span
    # hundreds of loops).
    listed: dict[str, tuple[set[str], set[str]]] = {}
    # Each loop's entry in a chain's gaps, once per loop rather than once per conflict.
    gap_of = {lp.id: f"{_name(lp)}: {_short_record(lp.decision_record)}" for lp in loops.values()}
    traceable = 0
    for f in findings:
        if f.kind != "incoherence":
            continue
        members = [loops[i] for i in f.loops if i in loops]
        broken = [lp for lp in members if lp.decision_record != REASONED]
        if not broken:
            traceable += 1
            continue
        c = merged.get(f.rule)
        if c is None:  # not setdefault: that would build a ChainGap for every finding
            c = merged[f.rule] = ChainGap(
                rule=f.rule,
                title=f.title,
                severity=f.severity,
                status=f.status,
                findings=[],
                loops=[],
                names=[],
                gaps=[],
            )
        has_loop, has_gap = listed.setdefault(f.rule, (set(), set()))
        c.findings.append(f.id)
        # Assigning a model's field is not free, and most conflicts change neither.
        worst = _worst([c.severity, f.severity])
        if worst != c.severity:
            c.severity = worst
        if f.status == "confirmed" and c.status != "confirmed":
            c.status = "confirmed"
        for lp in members:
            if lp.id not in has_loop:
                has_loop.add(lp.id)
                c.loops.append(lp.id)
                c.names.append(_name(lp))
        for lp in broken:
            gap = gap_of[lp.id]
            if gap not in has_gap:
                has_gap.add(gap)
                c.gaps.append(gap)
    chains = sorted(
        merged.values(),
        key=lambda c: (c.status != "confirmed", -SEVERITY_ORDER.index(c.severity), c.rule),
    )

    total = len(assessment.loops)
    followed = len(followed_back(assessment.loops))
    conflicts = sum(f.kind == "incoherence" for f in findings)
    # Two tests, both said: following a decision back needs a record of it; reconstructing
    # it needs its reason, an owner and a timescale, which no loop may have.
    counts = (
        f"{followed} of {total} control loop{'s' if total != 1 else ''} "
        f"{'records its' if followed == 1 else 'record their'} decisions so that they can be "
        "followed back (as events naming what was acted on, or with the reason); the decisions "
        f"of {total - len(gaps)} of {total} can be reconstructed in full (recorded with the "
        "reason and a correlation id, with an owner to ask and a known timescale); "
        f"{traceable} of {conflicts} conflict{'s' if conflicts != 1 else ''} between loops "
        f"{'is' if conflicts == 1 else 'are'} recorded with the reason for every decision in "
        f"{'it' if conflicts == 1 else 'them'}."
    )
    return AuditGapReport(
        loops_total=total,
        reconstructable=total - len(gaps),
        followed_back=followed,
        counts=counts,
        loops=gaps,
        chains=chains,
        chains_traceable=traceable,
        conflicts_total=conflicts,
        exposure=_exposure(assessment, findings, chains, economics),
        teams=_teams(assessment, kb, questions, chains),
    )


def _exposure(
    assessment: Assessment,
    findings: list[Finding],
    chains: list[ChainGap],
    economics: EconomicSummary | None,
) -> list[Exposure]:
    out = []
    audit = [f for f in findings if f.kind == "auditability"]
    safety = [
        lp for lp in assessment.loops if lp.layer == "safety" and lp.decision_record != REASONED
    ]
    if safety:
        related = _about(audit, {lp.id for lp in safety}, "decision_record")
        out.append(
            Exposure(
                area="Compliance: policy enforcement without a reason on record",
                # It matters where record-keeping rules apply, which no answer says: rated
                # medium, whatever the gaps' own rating (they are reported as findings).
                severity="medium",
                text=(
                    f"{series([_name(lp) for lp in safety])} enforce"
                    f"{'s' if len(safety) == 1 else ''} limits, timeouts or gates without "
                    "recording why. Asked why a request was refused, a job stopped or a tenant "
                    "throttled, the record cannot answer; where record-keeping rules that "
                    "require automatic logging of events apply to the platform (the EU AI "
                    "Act's, for a high-risk AI system), compliance cannot be shown for these "
                    "controls."
                ),
                loops=[lp.id for lp in safety],
                sources=_sources(related),
            )
        )
    # Only a don't know: an owner not asked about yet is a question, not an exposure.
    ownerless = [lp for lp in assessment.loops if lp.owner == UNKNOWN]
    if ownerless:
        related = _about(audit, {lp.id for lp in ownerless}, "owner")
        out.append(
            Exposure(
                area="Accountability: controls without an owner",
                severity=_worst([f.severity for f in related]) if related else "medium",
                text=(
                    f"Nobody is accountable for {series([_name(lp) for lp in ownerless])}: "
                    "its objective and settings stay as they were set, and incidents involving "
                    "it have no team to go to."
                ),
                loops=[lp.id for lp in ownerless],
                sources=_sources(related),
            )
        )
    if chains:
        conflicts = sum(f.kind == "incoherence" for f in findings)
        untraced = sum(len(c.findings) for c in chains)
        out.append(
            Exposure(
                area="Incident review: conflicts that leave no trail",
                severity=_worst([c.severity for c in chains]),
                text=(
                    f"{untraced} of {conflicts} conflicts between control loops cannot be "
                    "traced in the record. When one causes an incident, the review sees "
                    "unrelated log lines, not the conflict, and the fix goes to a symptom."
                ),
                loops=sorted({lp for c in chains for lp in c.loops}),
            )
        )
    if economics is not None and economics.costs and chains:
        out.append(
            Exposure(
                area="Cost attribution: spending without a root cause",
                severity="medium",
                text=(
                    f"{economics.headline} None of it can be attributed to a decision in the "
                    "record, so it is absorbed as operational overhead instead of being charged "
                    "to the loops that cause it."
                ),
                loops=sorted({lp for c in chains for lp in c.loops}),
            )
        )
    blind = [lp for lp in assessment.loops if lp.timescale in (None, UNKNOWN)]
    if blind:
        out.append(
            Exposure(
                area="Change control: loops whose speed nobody knows",
                severity="low",
                text=(
                    "Whether changing a neighbouring loop is safe cannot be judged while "
                    f"nobody knows how fast {series([_name(lp) for lp in blind])} react"
                    f"{'s' if len(blind) == 1 else ''}."
                ),
                loops=[lp.id for lp in blind],
            )
        )
    return out


def _teams(
    assessment: Assessment,
    kb: KnowledgeBase,
    questions: list[OpenQuestion],
    chains: list[ChainGap],
) -> list[TeamQuestions]:
    teams: dict[str, TeamQuestions] = {}
    open_of: dict[str, list[OpenQuestion]] = {}
    about_resource: dict[str, list[OpenQuestion]] = {}
    for q in questions:
        if q.resource:
            about_resource.setdefault(q.resource, []).append(q)
        else:
            open_of.setdefault(q.loop, []).append(q)
    resource_names = {r.id: r.shown_name for r in assessment.resource_list()}
    asked_of_team: dict[str, set[tuple[str, str]]] = {}
    field_question = {field: kb.question_for_field(field) for field in CORE}
    chains_of: dict[str, list[tuple[ChainGap, _Chain]]] = {}  # in the chains' order
    # Partner counts by the chains a loop is in (by identity, alive while this runs).
    partner_counts: dict[tuple[int, ...], tuple[int, dict[str, int]]] = {}
    for c in chains:
        read = _Chain.of(c)
        for lp_id in c.loops:  # listed once each
            chains_of.setdefault(lp_id, []).append((c, read))
    for lp in assessment.loops:
        known = lp.owner not in (None, UNKNOWN)
        owner = lp.owner if known and lp.owner else NO_OWNER
        team = teams.get(owner)
        if team is None:  # not setdefault: that would build a team for every loop
            team = teams[owner] = TeamQuestions(owner=owner, known=known, loops=[], questions=[])
        team.loops.append(lp.id)
        name = _name(lp)
        asked: set[str] = set()

        def ask(
            text: str,
            why: str,
            lp: Loop = lp,
            name: str = name,
            team: TeamQuestions = team,
            asked: set[str] = asked,
        ) -> None:
            if text not in asked:
                asked.add(text)
                team.questions.append(TeamQuestion(loop=lp.id, name=name, text=text, why=why))

        if not known:
            # The knowledge base's own owner question, so the open question for the same
            # answer is not asked a second time in other words.
            owner_question = field_question.get("owner")
            ask(
                owner_question.text if owner_question else "Which team owns this loop?",
                "nobody could name its owner" if lp.owner == UNKNOWN else "not answered yet",
            )
        for q in open_of.get(lp.id, []):
            n = len(q.settles)
            ask(q.text, f"settles {n} finding{'s' if n != 1 else ''}")
        # A resource's question goes to each team whose loops act on the resource, once.
        for rid in lp.acts_on if isinstance(lp.acts_on, list) else []:
            for q in about_resource.get(rid, []):
                seen = asked_of_team.setdefault(owner, set())
                if (q.id, rid) in seen:
                    continue
                seen.add((q.id, rid))
                n = len(q.settles)
                team.questions.append(
                    TeamQuestion(
                        loop=lp.id,
                        name=resource_names.get(rid, rid),
                        text=q.text,
                        why=f"settles {n} finding{'s' if n != 1 else ''}",
                    )
                )
        for field in CORE:
            value = getattr(lp, field)
            unknown = value == UNKNOWN or (isinstance(value, list) and UNKNOWN in value)
            if value is not None and not unknown:
                continue
            question = field_question[field]
            if question is not None and field != "owner":
                why = "nobody could say" if unknown else "not answered yet"
                ask(question.text, f"{LABELS[field]}: {why}")
        if lp.decision_record != REASONED:
            ask(
                "Can it record the reason for each decision, with a correlation id that links "
                "the decision to the one that triggered it?",
                "its decisions cannot be reconstructed",
            )
        mine = chains_of.get(lp.id, [])
        kinds = [c.title for c, _ in mine]
        partners = _first_partners(lp.id, mine)
        count = 0
        if mine:
            key = tuple(id(read) for _, read in mine)
            counted = partner_counts.get(key)
            if counted is None:
                counted = partner_counts[key] = _partner_count([read for _, read in mine])
            count = counted[0] + counted[1].get(name, 0)
        if count:
            ask(
                # A conflict may run either way (this loop may set the others off, or they it),
                # so the question does not presume a direction.
                "When this loop and "
                + ("" if count == 1 else "one of ")
                + f"{_some(partners, ', ', 'other loops', count)} act close together, how "
                "would you find which decision set off which?",
                "its conflicts cannot be traced: " + _some(kinds, "; ", "more"),
            )
    return sorted(teams.values(), key=lambda t: (not t.known, t.owner.lower()))
