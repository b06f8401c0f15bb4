"""CSV for trackers: one row per finding, RFC 4180 quoting, no formula injection."""

from __future__ import annotations

import csv
import io

import pytest

from expert.render.csvout import COLUMNS, neutralise
from expert.render.reports import render
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
