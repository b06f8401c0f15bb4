"""The results of an assessment: findings with provenance, the risk map, open questions.

This is what reports render and what `--format json` prints (a stable interface: other
tools read it). Fields are only added, never renamed, within one schema_version.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from expert.auditgap import AuditGapReport
from expert.economics import EconomicSummary
from expert.execsummary import ExecutiveSummary
from expert.inventory import Inventory

RESULTS_SCHEMA_VERSION = 1


class Because(BaseModel):
    """One answer (or derived fact) a finding rests on."""

    loop: str | None = Field(None, description="the loop the value belongs to, if any")
    field: str
    value: str
    unknown: bool = Field(
        False, description="the value is unknown, so the finding is only possible"
    )


class SourceRef(BaseModel):
    title: str
    url: str


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
    summary: str = ""
    mechanism: str = ""
    sources: list[SourceRef] = Field(default_factory=list)


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
    kind: Literal["influence", "feedback", "amplification"]
    severity: str | None = Field(
        None, description="highest severity of a conflict between the two loops"
    )


class CycleOut(BaseModel):
    loops: list[str]
    amplifying: bool


class AmplificationOut(BaseModel):
    loops: list[str]
    factor_low: int
    factor_high: int


class ConflictZone(BaseModel):
    finding: str
    loops: list[str]
    severity: str
    status: str


class RiskMap(BaseModel):
    nodes: list[RiskNode]
    edges: list[RiskEdge]
    cycles: list[CycleOut]
    amplification_paths: list[AmplificationOut]
    conflict_zones: list[ConflictZone] = Field(default_factory=list)
    cycles_truncated: bool = False
    left_out: dict[str, int] = Field(
        default_factory=dict,
        description="what the analysis caps left out, counted (pairs of loops, influences, "
        "deadline nestings, amplification paths)",
    )


class OpenQuestion(BaseModel):
    id: str
    loop: str
    text: str
    help: str = ""
    field: str = ""
    settles: list[str] = Field(default_factory=list)
    answered_unknown: bool = Field(False, description="the user already said they don't know")


class PatternChange(BaseModel):
    """A pattern an organisation pack replaced (by id) or switched off, with why."""

    pattern: str
    change: Literal["overridden", "disabled"]
    reason: str
    pack: str
    replaces: str = Field("", description="for an override: the pack whose pattern it replaced")


class Results(BaseModel):
    schema_version: int = RESULTS_SCHEMA_VERSION
    tool: dict[str, str]
    # version, patterns (how many are active), packs, disabled ({pattern: "reason (pack)"})
    # and changed_patterns (a list of PatternChange: every override and switch-off).
    knowledge_base: dict[str, Any]
    system: dict[str, str]
    findings: list[Finding]
    risk_map: RiskMap
    open_questions: list[OpenQuestion]
    engine_errors: list[str] = Field(default_factory=list)
    # The four deliverables and their summary (expert/deliverables.py fills them).
    executive_summary: ExecutiveSummary | None = Field(
        None, description="top risks, total exposure and the three most useful changes"
    )
    inventory: Inventory | None = Field(None, description="the Control Plane Inventory")
    economics: EconomicSummary | None = Field(None, description="the Economic Risk Summary")
    audit_gaps: AuditGapReport | None = Field(None, description="the Auditability Gap Report")

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.kind] = out.get(f.kind, 0) + 1
        return out

    def by_id(self) -> dict[str, Finding]:
        return {f.id: f for f in self.findings}

    def changed_patterns(self) -> list[PatternChange]:
        """Patterns the knowledge base's packs overrode or switched off, as recorded."""
        return [
            PatternChange.model_validate(c) for c in self.knowledge_base.get("changed_patterns", [])
        ]
