"""`accuracy.py --irrelevant` lists, per case, the scored findings its relevant list omits."""

from __future__ import annotations

from types import SimpleNamespace

from tests.benchmarks import accuracy


def _incident() -> accuracy.Incident:
    return accuracy.Incident(
        slug="case-a",
        title="t",
        workload="inference",
        layers=["runtime"],
        expected=["retry-amplification"],
        relevant=["retry-amplification"],
        uncovered=[],
        assessment=accuracy.CORPUS / "case-a" / "platform.yaml",
    )


def _finding(rule: str, kind: str, status: str = "possible") -> SimpleNamespace:
    return SimpleNamespace(
        rule=rule, kind=kind, status=status, evidence=SimpleNamespace(shown=True)
    )


def test_irrelevant_findings_are_listed_per_case_only_when_asked() -> None:
    case = accuracy.score_case(
        _incident(),
        [
            _finding("retry-amplification", "symptom", "confirmed"),
            _finding("sla-drift", "symptom"),
            _finding("unknown-owner", "auditability", "confirmed"),  # counted, never scored
        ],
    )
    measured = {"incidents": [_incident()], "cases": [case], "totals": accuracy.totals([case])}
    plain = accuracy.as_text(measured, None)
    listed = accuracy.as_text(measured, None, irrelevant=True)
    assert "sla-drift" not in plain
    assert "  case-a: sla-drift (possible)" in listed.splitlines()
    assert "unknown-owner" not in listed
