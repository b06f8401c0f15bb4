"""Accuracy on the incident corpus may not fall below the committed floors.

The floors (tests/incidents/floors.yaml) are the measured figures rounded down: a regression
floor, not a goal. The corpus itself is checked too, so a malformed incident fails with a
message that names the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from expert.errors import InputError
from expert.knowledge import knowledgebase as knowledge
from tests.benchmarks import accuracy

CORPUS = accuracy.CORPUS


@pytest.fixture(scope="module")
def known() -> dict[str, str]:
    return {p.id: p.kind for p in knowledge.load().active()}


@pytest.fixture(scope="module")
def measured() -> dict[str, Any]:
    return accuracy.measure()  # one engine for every case


@pytest.mark.parametrize("metric", accuracy.METRICS)
def test_accuracy_stays_above_its_floor(measured: dict[str, Any], metric: str) -> None:
    floors = accuracy.load_floors()
    value = measured["totals"][metric]
    assert value is not None
    assert value >= floors[metric], (
        f"{metric} fell to {value:.3f}, below the floor {floors[metric]:.2f}; "
        "run tests/benchmarks/accuracy.py to see which cases changed"
    )


def test_corpus_covers_both_workloads_and_every_layer(known: dict[str, str]) -> None:
    incidents = accuracy.load_corpus(CORPUS, known)
    assert len(incidents) >= 20
    assert {i.workload for i in incidents} == set(accuracy.WORKLOADS)
    assert {layer for i in incidents for layer in i.layers} == set(accuracy.LAYERS)


def _incident(tmp_path: Path, **overrides: Any) -> Path:
    folder = tmp_path / "case"
    folder.mkdir()
    fields = {
        "title": "t",
        "workload": "inference",
        "layers": "[safety]",
        "sources": "[{url: 'https://example.org/postmortem'}]",
        "facts": "[a fact]",
        "assessment_note": "written before reading the pattern conditions",
        "expected": "[shutdown-vs-retry]",
        "relevant": "[shutdown-vs-retry]",
        **overrides,
    }
    text = "".join(f"{k}: {v}\n" for k, v in fields.items() if v is not None)
    (folder / "incident.yaml").write_text(text)
    (folder / "platform.yaml").write_text("schema_version: 1\nsystem: {name: x}\n")
    return folder


def test_a_well_formed_incident_loads(tmp_path: Path, known: dict[str, str]) -> None:
    incident = accuracy.load_incident(_incident(tmp_path), known)
    assert incident.expected == ["shutdown-vs-retry"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"relevant": "[]"}, "expected ids missing from relevant"),
        ({"expected": "[no-such-pattern]", "relevant": "[no-such-pattern]"}, "not a pattern id"),
        ({"expected": "[unknown-owner]", "relevant": "[unknown-owner]"}, "auditability"),
        ({"assessment_note": "from the sources"}, "before reading"),
        ({"facts": None}, "missing field 'facts'"),
        ({"facts": "[a fact, Root cause: a colon]"}, "fact 2 is not a sentence"),
        ({"facts": "[]"}, "facts must be a list of sentences"),
        ({"workload": "batch"}, "workload must be one of"),
        ({"sources": "[{title: no url}]"}, "every source needs a url"),
    ],
)
def test_a_malformed_incident_is_refused_with_its_reason(
    tmp_path: Path, known: dict[str, str], overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message) as err:
        accuracy.load_incident(_incident(tmp_path, **overrides), known)
    assert "incident.yaml" in str(err.value)


def _scored_incident(expected: list[str], relevant: list[str]) -> accuracy.Incident:
    return accuracy.Incident(
        slug="s",
        title="t",
        workload="inference",
        layers=["safety"],
        expected=expected,
        relevant=relevant,
        uncovered=[],
        assessment=Path("x"),
    )


def test_scoring_counts_relevant_findings_and_confirmed_recall() -> None:
    class F:
        def __init__(self, rule: str, kind: str, status: str, shown: bool = True) -> None:
            self.rule, self.kind, self.status = rule, kind, status
            self.evidence = SimpleNamespace(shown=shown)

    incident = _scored_incident(["a", "b"], ["a", "b", "c"])
    case = accuracy.score_case(
        incident,
        [
            F("a", "incoherence", "confirmed"),
            F("b", "symptom", "possible"),
            F("d", "ghost-cost", "possible"),
            F("c", "symptom", "possible", shown=False),
            F("e", "auditability", "confirmed"),
        ],
    )
    assert case.found == ["a", "b"] and case.found_confirmed == ["a"]
    assert (case.scored, case.scored_relevant) == (4, 3)
    assert case.counts["auditability"] == {"confirmed": 1, "possible": 0}
    t = accuracy.totals([case])
    assert (t["recall"], t["recall_confirmed"]) == (1.0, 0.5)
    assert t["precision"] == pytest.approx(3 / 4)


def test_shown_figures_leave_out_what_the_report_holds_back() -> None:
    class F:
        def __init__(self, rule: str, kind: str, shown: bool) -> None:
            self.rule, self.kind, self.status = rule, kind, "possible"
            self.evidence = SimpleNamespace(shown=shown)

    incident = _scored_incident(["a", "b"], ["a", "b"])
    case = accuracy.score_case(
        incident,
        [
            F("a", "incoherence", True),
            F("b", "symptom", False),  # relevant but held back: counts only in all-findings
            F("d", "ghost-cost", True),
            F("x", "ghost-cost", False),
            F("e", "auditability", False),  # held back, counted but not scored
        ],
    )
    assert case.found_shown == ["a"] and case.held_back == 3
    assert (case.scored_shown, case.scored_shown_relevant) == (2, 1)
    t = accuracy.totals([case])
    assert (t["recall"], t["recall_shown"]) == (1.0, 0.5)
    assert t["precision"] == pytest.approx(2 / 4)
    assert t["precision_shown"] == pytest.approx(1 / 2)
    assert t["held_back"] == 3
    assert "x (possible, held back)" in case.irrelevant
