"""CSV for trackers: one row per finding, RFC 4180 quoting, no formula injection."""

from __future__ import annotations

import csv
import io
import re

import pytest

from expert.render.csvout import COLUMNS, neutralise
from expert.render.reports import HEDGE, render
from tests.test_reports_golden import assessed


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2", "'-2"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("  =hidden", "'  =hidden"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
    ],
)
def test_neutralise(cell: str, expected: str) -> None:
    assert neutralise(cell) == expected


def test_one_row_per_finding_with_every_column() -> None:
    results, a = assessed("llm-platform")
    text = render("csv", results, a)
    assert text.endswith("\r\n")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert tuple(rows[0].keys()) == COLUMNS
    assert [r["id"] for r in rows] == [f.id for f in results.findings]
    first, f = rows[0], results.findings[0]
    assert (first["severity"], first["status"], first["kind"]) == (f.severity, f.status, f.kind)
    assert first["narrative"] == f.narrative
    assert first["sources"] == " ".join(s.url for s in f.sources)


def test_held_back_rows_say_so_and_name_their_settling_question() -> None:
    # llm-platform holds back one possible finding (two answers missing) under "To check".
    results, a = assessed("llm-platform")
    rows = list(csv.DictReader(io.StringIO(render("csv", results, a), newline="")))
    header = list(rows[0].keys())
    assert header.index("held_back") == header.index("status") + 1
    assert header.index("settling_question") == header.index("held_back") + 1
    questions = {fid: g.question for g in results.to_check for fid in g.findings}
    held = [f.id for f in results.findings if not f.evidence.shown]
    assert held, "the example should hold a finding back"
    for row, f in zip(rows, results.findings, strict=True):
        if f.evidence.shown:
            assert (row["held_back"], row["settling_question"]) == ("no", "")
        else:
            assert row["held_back"] == "yes"
            assert row["settling_question"] == questions[f.id]
            assert row["settling_question"]
    assert {r["id"] for r in rows if r["held_back"] == "yes"} == set(held)


def test_a_held_back_row_without_a_settling_question_leaves_the_cell_empty() -> None:
    results, a = assessed("llm-platform")
    bare = results.model_copy(update={"to_check": []})
    rows = list(csv.DictReader(io.StringIO(render("csv", bare, a), newline="")))
    held = [r for r in rows if r["held_back"] == "yes"]
    assert held and all(r["settling_question"] == "" for r in held)


@pytest.mark.parametrize("name", ["llm-platform", "training-cluster"])
def test_conflict_and_gap_rows_add_up_to_the_exposure(name: str) -> None:
    """Each conflict's or gap's money is what the Economic Risk Summary charges it, after the
    overlap between direct budgets is taken off: together they are the central total."""
    results, a = assessed(name)
    assert results.economics is not None and results.economics.total is not None
    rows = list(csv.DictReader(io.StringIO(render("csv", results, a))))
    causes = [r for r in rows if r["kind"] in ("incoherence", "auditability")]
    charged = sum(float(r["central_per_month"]) for r in causes if r["central_per_month"])
    # each cell is rounded to a whole unit
    assert abs(charged - results.economics.total.likely) <= len(causes)


def test_a_possible_findings_narrative_is_hedged_and_a_confirmed_ones_is_not() -> None:
    """A possible finding's narrative states what the pattern assumes; the report says so
    before it (the answers it assumes are the ones marked unknown under it)."""
    results, a = assessed("llm-platform")
    md = render("markdown", results, a)
    possible = [f for f in results.findings if f.status == "possible" and f.evidence.shown]
    confirmed = [f for f in results.findings if f.status == "confirmed"]
    assert possible and confirmed
    for f in [*possible, *confirmed]:
        # the finding's own entry in the appendix: its id, then its narrative
        at = re.search(rf"\({f.status}\) `?{re.escape(f.id)}`?\n", md)
        assert at is not None, f.id
        entry = md[at.start() :].split("Flagged because", 1)[0]
        assert (HEDGE in entry) == (f in possible), f.id


def test_a_blank_amount_says_why() -> None:
    results, a = assessed("llm-platform")
    rows = list(csv.DictReader(io.StringIO(render("csv", results, a), newline="")))
    # Earlier columns keep their places: consumers reading by position still work.
    header = next(csv.reader(io.StringIO(render("csv", results, a), newline="")))
    assert header[:-1] == list(COLUMNS[:-1]) and header[-1] == "no_amount_because"
    assert header.index("central_per_month") == 21
    reasons = {}
    for r in rows:
        if r["central_per_month"]:
            assert r["no_amount_because"] == ""
        else:
            assert r["no_amount_because"], r["rule"]
            reasons.setdefault(r["no_amount_because"].split(":")[0], r["status"])
    # The meanings of a blank amount the example has, told apart.
    assert reasons["possible"] == "possible"
    assert reasons["not priced"] == "confirmed"


def test_a_finding_whose_cost_is_charged_elsewhere_says_so() -> None:
    """A confirmed finding whose every share of a cost is charged under another finding (the
    overlap of two budgets, say) has no amount of its own, and the row says why."""
    results, a = assessed("llm-platform")
    econ = results.economics
    assert econ is not None
    confirmed = {f.id for f in results.findings if f.status == "confirmed"}
    fid = next(
        c.finding for line in econ.costs for c in line.contributions if c.finding in confirmed
    )
    costs = [
        line.model_copy(
            update={
                "contributions": [
                    c.model_copy(update={"charged": False}) if c.finding == fid else c
                    for c in line.contributions
                ]
            }
        )
        for line in econ.costs
    ]
    moved = results.model_copy(update={"economics": econ.model_copy(update={"costs": costs})})
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(render("csv", moved, a), newline=""))}
    assert rows[fid]["central_per_month"] == ""
    assert rows[fid]["no_amount_because"] == "already counted under another finding"


def test_an_unpriced_assessment_says_so_on_every_row() -> None:
    results, a = assessed("llm-platform")
    assert results.economics is not None
    unpriced = results.economics.model_copy(update={"priced": False})
    bare = results.model_copy(update={"economics": unpriced})
    rows = list(csv.DictReader(io.StringIO(render("csv", bare, a), newline="")))
    assert {r["central_per_month"] for r in rows} == {""}
    assert {r["no_amount_because"] for r in rows} == {
        "not priced: the assessment gives no cost figures"
    }
