"""SARIF 2.1.0 output, so CI tools and code-scanning dashboards show findings per rule.

Each knowledge-base pattern is its own rule (ruleId = pattern id). There are no source files,
so a finding's locations are logical locations: the control loops it involves, named
layer/loop-id, or the system itself for findings about the whole platform. Patterns that an
organisation pack replaced or switched off are listed, with the reasons on record, in the
driver's `changedPatterns` property; a replaced pattern's rule also names its `override`.
"""

from __future__ import annotations

import json
from typing import Any

from expert.assessment import Assessment
from expert.results import Finding, Results

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
# GitHub code scanning ranks results by a CVSS-like number in `security-severity`.
SECURITY_SEVERITY = {"critical": "9.0", "high": "7.0", "medium": "5.0", "low": "3.0"}


def _rule(f: Finding) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": f.rule,
        "name": "".join(w.capitalize() for w in f.rule.split("-")),
        "shortDescription": {"text": f.title},
        "fullDescription": {"text": f.summary or f.title},
        "defaultConfiguration": {"level": LEVEL[f.severity]},
        "properties": {"kind": f.kind, "tags": ["control-coherence", f.kind]},
    }
    if f.mechanism:
        rule["help"] = {"text": f.mechanism}
    web = [s.url for s in f.sources if s.url.startswith(("https://", "http://"))]
    if web:
        rule["helpUri"] = web[0]
    return rule


def _locations(f: Finding, layers: dict[str, str], system: str) -> list[dict[str, Any]]:
    if not f.loops:
        return [{"logicalLocations": [{"name": system, "kind": "module"}]}]
    return [
        {
            "logicalLocations": [
                {
                    "name": loop,
                    "fullyQualifiedName": f"{layers.get(loop, 'unknown')}/{loop}",
                    "kind": "module",
                }
            ]
        }
        for loop in f.loops
    ]


# Decisions that hide a result in code-scanning UIs: SARIF suppressions, status accepted.
_SUPPRESSING = ("accepted", "not-applicable", "false-positive")


def _decision(f: Finding) -> dict[str, Any]:
    """A decided finding's suppression (accepted, not applicable or a false positive, and not
    expired), merged into its result; every decision is also in properties.decision."""
    d = f.decision
    if d is None:
        return {}
    out: dict[str, Any] = {}
    if d.state in _SUPPRESSING and not d.expired:
        out["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": d.reason}
        ]
    return out


def build(results: Results, assessment: Assessment) -> dict[str, Any]:
    layers = {lp.id: lp.layer or "unknown" for lp in assessment.loops}
    changes = results.changed_patterns()
    overrides = {c.pattern: c for c in changes if c.change == "overridden"}
    rules: dict[str, dict[str, Any]] = {}
    for f in results.findings:
        if f.rule not in rules:
            rules[f.rule] = _rule(f)
            if f.rule in overrides:
                c = overrides[f.rule]
                rules[f.rule]["properties"]["override"] = {
                    "pack": c.pack,
                    "reason": c.reason,
                    "replaces": c.replaces,
                }
    index = {rid: i for i, rid in enumerate(rules)}
    out = []
    for f in results.findings:
        message = f.narrative if f.status == "confirmed" else f"Possible: {f.narrative}"
        out.append(
            {
                "ruleId": f.rule,
                "ruleIndex": index[f.rule],
                "level": LEVEL[f.severity],
                "message": {"text": message},
                "locations": _locations(f, layers, results.system.get("name", "system")),
                "partialFingerprints": {"findingId/v1": f.id},
                "properties": {
                    "findingId": f.id,
                    "kind": f.kind,
                    "status": f.status,
                    "severity": f.severity,
                    "security-severity": SECURITY_SEVERITY[f.severity],
                    "because": [
                        {"loop": b.loop, "field": b.field, "value": b.value, "unknown": b.unknown}
                        for b in f.because
                    ],
                    "wouldClearIf": f.would_clear_if,
                    "derivedFrom": f.derived_from,
                    "leadsTo": f.leads_to,
                    **({"decision": f.decision.model_dump()} if f.decision else {}),
                },
                **_decision(f),
            }
        )
    driver: dict[str, Any] = {
        "name": results.tool.get("name", "control-coherence"),
        "version": results.tool.get("version", ""),
        "rules": list(rules.values()),
        "properties": {
            "knowledgeBase": str(results.knowledge_base.get("version", "")),
            "changedPatterns": [c.model_dump() for c in changes],
        },
    }
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "automationDetails": {"id": f"control-coherence/{results.system.get('name')}"},
                "results": out,
                "properties": {"system": results.system.get("name", "")},
            }
        ],
    }


def render(results: Results, assessment: Assessment) -> str:
    return json.dumps(build(results, assessment), indent=2, ensure_ascii=False) + "\n"
