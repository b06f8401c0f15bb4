"""The results of an assessment: findings with provenance, the risk map, open questions.

This is what reports render and what `--format json` prints (a stable interface: other
tools read it). Fields are only added, never renamed, within one schema_version.

A finding is something to act on: a conflict between loops (incoherence) or an auditability
gap. What those findings lead to, soft-degradation symptoms and the ghost costs they create,
are its effects: each names the findings it follows from (`derived_from`), is cleared by
clearing them, and is listed apart, so the count of findings is the count of things to fix.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from expert.assessment.vocabulary import CycleKind
from expert.deliverables.auditgap import AuditGapReport
from expert.deliverables.economics import EconomicSummary, Range
from expert.deliverables.execsummary import ExecutiveSummary
from expert.deliverables.inventory import Inventory

# 2: symptoms and ghost costs moved from `findings` to `effects`.
RESULTS_SCHEMA_VERSION = 2
# The kinds of finding that are effects of others, not findings of their own.
EFFECT_KINDS = ("symptom", "ghost-cost")


class Because(BaseModel):
    """One answer (or derived fact) a finding rests on."""

    loop: str | None = Field(None, description="the loop the value belongs to, if any")
    field: str
    value: str
    unknown: bool = Field(
        False, description="the value is unknown, so the finding is only possible"
    )
    source: str | None = Field(
        None,
        description="where an imported value came from, as the assessment's sources cite it "
        "(hpa.yaml:14); absent for a value someone answered",
        exclude_if=lambda v: v is None,
    )
    said: str = Field(
        "",
        description="the answer in plain words, as reports show it: what it is about (its "
        "question) and its value in the vocabulary's words",
    )


class SourceRef(BaseModel):
    title: str
    url: str


class Evidence(BaseModel):
    """How strongly a finding is supported, and whether headlines show it."""

    score: float = Field(
        1.0,
        description="severity weight (critical 1, high 0.75, medium 0.5, low 0.25) x known "
        "share: 0 to 1, higher is stronger and more severe",
    )
    known_share: float = Field(
        1.0,
        description="share of the pattern's tests that rest on known answers (for an "
        "auditability gap, 'nobody knows' is itself the evidence, so it counts as known; a "
        "question not answered yet does not)",
    )
    tests: int = Field(0, description="tests of the pattern this finding was matched on")
    missing: int = Field(
        0, description="distinct answers still unknown that the finding rests on (0: confirmed)"
    )
    waiting: bool = Field(
        False,
        description="an auditability gap resting on questions not answered yet (not on a "
        "don't know): held back until they are answered, and it leads to no cost",
    )
    shown: bool = Field(
        True,
        description="shown in the summary, top risks and counts: confirmed, or possible and "
        "missing a single answer; otherwise held back in the 'to check' list",
    )


class Member(BaseModel):
    """One match of a grouped finding: a pair of loops (or one loop) it was found for."""

    loops: list[str]
    status: Literal["confirmed", "possible"]
    resource: str = ""


class FindingDecision(BaseModel):
    """The decision recorded against a finding in the assessment's `decisions`."""

    state: Literal["accepted", "mitigated", "not-applicable", "false-positive"]
    reason: str
    by: str = ""
    date: str = Field(description="YYYY-MM-DD")
    expires: str = Field("", description="YYYY-MM-DD, or empty: it does not expire")
    expired: bool = Field(False, description="expires is past: the decision no longer holds")
    waives: bool = Field(
        False,
        description="--fail-on ignores the finding: accepted or not-applicable, and not expired",
    )
    sets_aside: bool = Field(
        False,
        description="accepted, not-applicable or false-positive, and not expired: left out of "
        "the summary's risks and of the exposure after decisions",
    )


class Finding(BaseModel):
    id: str
    rule: str
    kind: Literal["incoherence", "symptom", "ghost-cost", "auditability"]
    title: str
    status: Literal["confirmed", "possible"]
    severity: Literal["critical", "high", "medium", "low"]
    severity_reason: str = ""
    loops: list[str]
    because: list[Because]
    derived_from: list[str] = Field(default_factory=list)
    leads_to: list[str] = Field(default_factory=list)
    narrative: str
    would_clear_if: list[str] = Field(default_factory=list)
    changes: str = Field(
        "",
        description="the loop a fix changes: the one loop of its own that every clearing "
        "condition naming a loop names; empty when they name several, or none",
    )
    summary: str = ""
    mechanism: str = ""
    sources: list[SourceRef] = Field(default_factory=list)
    evidence: Evidence = Field(default_factory=Evidence)
    members: list[Member] = Field(
        default_factory=list,
        description="every match grouped into this finding: each pair of loops of one pattern "
        "on one resource, or each loop with one kind of auditability gap",
    )
    decision: FindingDecision | None = Field(
        None, description="what the team decided about it, if anything (assessment decisions)"
    )
    without_accelerators: bool = Field(
        False,
        description="its work is known to run without accelerators (a batch job said to run "
        "on processors alone): no accelerator time or tokens are charged to it",
        exclude_if=lambda v: not v,
    )


class RiskNode(BaseModel):
    id: str
    name: str
    layer: str
    owner: str
    timescale: str


class RiskEdge(BaseModel):
    source: str
    target: str
    signal: str
    resource: str
    kind: Literal["influence", "feedback", "amplification", "masks"]
    severity: str | None = Field(
        None, description="highest severity of a conflict between the two loops"
    )
    how: str | None = Field(
        None,
        description="for a masks edge: how the source keeps the signal from the target "
        "(hides, delays or averages)",
        exclude_if=lambda v: v is None,
    )


class CycleOut(BaseModel):
    """One feedback cycle: the loops in order, each reacting to the one before. Orderings of
    the same loops are one cycle, counted in `variants`."""

    loops: list[str]
    amplifying: bool = Field(description="kind is amplifying")
    kind: CycleKind = Field(
        "unclassified",
        description="amplifying: every hop reinforces load or pressure; oscillating: some hops "
        "reinforce and some relieve, so the loops pull the resource back and forth; damping: "
        "every hop relieves; unclassified: a hop carries only signals of no known direction",
    )
    signals: list[str] = Field(
        default_factory=list,
        description="the signal each hop carries (hop i runs from loops[i] to the next loop)",
    )
    variants: int = Field(1, description="orderings of these same loops found, this one included")


class AmplificationOut(BaseModel):
    loops: list[str]
    factor_low: int
    factor_high: int


class ConflictZone(BaseModel):
    finding: str
    loops: list[str]
    severity: str
    status: str
    title: str = Field("", description="the pattern's short name")
    pairs: list[list[str]] = Field(
        default_factory=list,
        description="the pairs of loops the conflict was found between (a grouped finding "
        "lists several; its loops are their union)",
    )


class RiskMap(BaseModel):
    nodes: list[RiskNode]
    edges: list[RiskEdge]
    cycles: list[CycleOut]
    amplification_paths: list[AmplificationOut]
    conflict_zones: list[ConflictZone] = Field(default_factory=list)
    cycles_truncated: bool = False
    cycles_found: int = Field(
        0, description="cycles the analysis found, counting each ordering of the same loops"
    )
    left_out: dict[str, int] = Field(
        default_factory=dict,
        description="what the analysis caps left out, counted (pairs of loops, influences, "
        "deadline nestings, amplification paths)",
    )
    signal_labels: dict[str, str] = Field(
        default_factory=dict,
        description="the vocabulary's words for each signal the map shows, so every picture "
        "and table names signals in words without loading the knowledge base",
    )


class OpenQuestion(BaseModel):
    id: str
    loop: str = Field(description="the loop asked; empty for a question about a resource")
    resource: str = Field("", description="the resource asked, for a question about a resource")
    text: str
    help: str = ""
    field: str = ""
    settles: list[str] = Field(default_factory=list)
    answered_unknown: bool = Field(False, description="the user already said they don't know")
    dimension: str = Field(
        "",
        description="for a question about the loop's structure: acts (what it does), reacts "
        "(what makes it act) or reach (what it acts on); such answers are never left to a "
        "possible finding",
    )
    could_settle: list[str] = Field(
        default_factory=list,
        description="titles of the patterns the answer could settle (structure questions)",
    )

    @property
    def scope(self) -> Literal["loop", "resource"]:
        """What the question is about, as the interview's steps name it."""
        return "resource" if self.resource else "loop"

    @property
    def target(self) -> str:
        """The id of the loop or resource asked."""
        return self.resource or self.loop


class CheckGroup(BaseModel):
    """Held-back findings that one answer would help settle."""

    question: str = Field(description="the question, in plain words with the user's names")
    findings: list[str]


class PatternChange(BaseModel):
    """A pattern an organisation pack replaced (by id) or switched off, with why."""

    pattern: str
    change: Literal["overridden", "disabled"]
    reason: str
    pack: str
    replaces: str = Field("", description="for an override: the pack whose pattern it replaced")


class DecisionEntry(BaseModel):
    """A decision in the assessment file, with what became of it in this run."""

    finding: str = Field(description="the finding id it is keyed by")
    title: str = Field("", description="the finding's title, if it fired")
    decision: FindingDecision
    standing: Literal["applied", "expired", "stale", "unknown"] = Field(
        description="applied: its finding fired; expired: it fired but the decision expired; "
        "stale: a finding of a known pattern that no longer fires; unknown: the id names no "
        "pattern of the knowledge base (a typo?), kept in the file"
    )


class DecisionReport(BaseModel):
    """The assessment's decisions, and the exposure before and after accepted risks."""

    today: str = Field(description="the date expiries were checked against (YYYY-MM-DD)")
    entries: list[DecisionEntry] = Field(default_factory=list)
    exposure_before: Range | None = Field(
        None, description="economics.total: the monthly money exposure, if priced"
    )
    exposure_after: Range | None = Field(
        None,
        description="the same total leaving out each priced cost whose root causes all carry "
        "an unexpired accepted, not-applicable or false-positive decision",
    )
    set_aside: list[str] = Field(
        default_factory=list, description="the ghost costs left out of exposure_after"
    )
    warnings: list[str] = Field(default_factory=list, description="expired, stale and unknown")

    def of(self, standing: str) -> list[DecisionEntry]:
        return [e for e in self.entries if e.standing == standing]


SCOPE = (
    "This assessment covers how the platform's control loops interact; interconnect and "
    "hardware faults are out of its scope: the conflicts it finds arise even when the "
    "interconnect and the hardware work within specification."
)


class ReportInfo(BaseModel):
    """What every report states at its top: when, from what input, the verdict, the scope."""

    date: str = Field(description="the day the report was made (YYYY-MM-DD)")
    input: str = Field("", description="the assessment file's name, if read from a file")
    input_sha256: str = Field(
        description="SHA-256 of the assessment file's bytes, or of the assessment's canonical "
        "JSON when it was not read from a file"
    )
    verdict: str = Field(description="the verdict in one sentence")
    scope: str = SCOPE


class Results(BaseModel):
    schema_version: int = RESULTS_SCHEMA_VERSION
    tool: dict[str, str]
    # version, patterns (how many are active), packs, disabled ({pattern: "reason (pack)"})
    # and changed_patterns (a list of PatternChange: every override and switch-off).
    knowledge_base: dict[str, Any]
    system: dict[str, str]
    report: ReportInfo | None = Field(
        None, description="date, input digest, one-sentence verdict and scope (deliverables)"
    )
    findings: list[Finding] = Field(
        description="what to act on: conflicts between loops (incoherence) and auditability gaps"
    )
    effects: list[Finding] = Field(
        default_factory=list,
        description="what the findings lead to: soft-degradation symptoms and the ghost costs "
        "they create, each naming the findings it follows from (derived_from)",
    )
    risk_map: RiskMap
    open_questions: list[OpenQuestion]
    engine_errors: list[str] = Field(default_factory=list)
    held_back: int = Field(
        0,
        description="findings and effects held back from the headlines (evidence.shown is "
        "false); an effect waits with the findings it follows from",
    )
    to_check: list[CheckGroup] = Field(
        default_factory=list,
        description="the held-back findings, grouped by the question that would settle them",
    )
    # The four deliverables and their summary (expert/deliverables/complete.py fills them).
    executive_summary: ExecutiveSummary | None = Field(
        None, description="top risks, total exposure and the three most useful changes"
    )
    inventory: Inventory | None = Field(None, description="the Control Plane Inventory")
    economics: EconomicSummary | None = Field(None, description="the Economic Risk Summary")
    audit_gaps: AuditGapReport | None = Field(None, description="the Auditability Gap Report")
    decisions: DecisionReport | None = Field(
        None, description="decisions recorded in the assessment, and what became of them"
    )

    def every_finding(self) -> list[Finding]:
        """The findings and their effects, in that order."""
        return [*self.findings, *self.effects]

    def shown(self) -> list[Finding]:
        """The findings and effects headlines show: confirmed, or possible and missing one
        answer."""
        return [f for f in self.every_finding() if f.evidence.shown]

    def counts(self) -> dict[str, int]:
        """Shown findings and effects by kind (held-back ones are counted in `held_back`)."""
        out: dict[str, int] = {}
        for f in self.shown():
            out[f.kind] = out.get(f.kind, 0) + 1
        return out

    def held_back_counts(self) -> tuple[int, int]:
        """Findings and effects held back under "To check", counted apart."""
        held = [f for f in self.every_finding() if not f.evidence.shown]
        effects = sum(f.kind in EFFECT_KINDS for f in held)
        return len(held) - effects, effects

    def by_id(self) -> dict[str, Finding]:
        return {f.id: f for f in self.every_finding()}

    def settling_questions(self) -> dict[str, str]:
        """Each held-back finding's question, as "To check" groups it, by finding id."""
        return {fid: g.question for g in self.to_check for fid in g.findings}

    def decided(self) -> dict[str, FindingDecision]:
        """Each decided finding's decision, by finding id."""
        return {f.id: f.decision for f in self.every_finding() if f.decision is not None}

    def changed_patterns(self) -> list[PatternChange]:
        """Patterns the knowledge base's packs overrode or switched off, as recorded."""
        return [
            PatternChange.model_validate(c) for c in self.knowledge_base.get("changed_patterns", [])
        ]


# How a severity reason opens when nothing raised or lowered the knowledge base's rating.
BASE_REASON = "that is the knowledge base's rating of this"


def ensure_deliverables(results: Results) -> Results:
    """Results as reports need them: with their deliverables, made against the knowledge base
    of the run (an organisation's pack included). Rendering never loads a knowledge base of
    its own, so a caller that skipped the deliverables is told, not given the built-in's."""
    missing = [
        name
        for name in ("report", "executive_summary", "inventory", "economics", "audit_gaps")
        if getattr(results, name) is None
    ]
    if missing:
        raise ValueError(
            "these results lack their deliverables (" + ", ".join(missing) + "): make them "
            "with deliverables.complete(results, assessment, kb), using the run's knowledge base"
        )
    return results
