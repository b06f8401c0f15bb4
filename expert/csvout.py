"""CSV output: one row per finding, for issue trackers and spreadsheets.

A finding whose pattern an organisation pack replaced says so in `rule_override` (the pack
and its reason); disabled patterns make no rows, and the other formats list them.

Quoting follows RFC 4180 (the csv module; CRLF line ends). A cell that a spreadsheet would
read as a formula (starting with = + - @, a tab or a carriage return, even after spaces) is
prefixed with an apostrophe, so a hostile loop name cannot run anything when the file is
opened.
"""

from __future__ import annotations

import csv
import io

from expert.assessment import Assessment
from expert.results import Finding, Results

COLUMNS = (
    "id",
    "rule",
    "kind",
    "title",
    "status",
    "severity",
    "loops",
    "narrative",
    "would_clear_if",
    "sources",
    "rule_override",
    "decision",
    "decision_reason",
    "decision_by",
    "decision_date",
    "decision_expires",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Defuse spreadsheet formula injection (OWASP: CSV injection)."""
    # One test covers both cases: lstrip removes only spaces, and no start character is one.
    if cell.lstrip(" ").startswith(_FORMULA_START):
        return "'" + cell
    return cell


def _decision(f: Finding) -> list[str]:
    """The decision's cells; an expired one says so in its state."""
    d = f.decision
    if d is None:
        return ["", "", "", "", ""]
    return [f"{d.state} (expired)" if d.expired else d.state, d.reason, d.by, d.date, d.expires]


def render(results: Results, assessment: Assessment) -> str:
    names = {
        lp.id: (lp.name if lp.name not in (None, "unknown") else lp.id) for lp in assessment.loops
    }
    overrides = {
        c.pattern: f"overridden by {c.pack}: {c.reason}"
        for c in results.changed_patterns()
        if c.change == "overridden"
    }
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for f in results.findings:
        row = [
            f.id,
            f.rule,
            f.kind,
            f.title,
            f.status,
            f.severity,
            "; ".join(names.get(lp, lp) for lp in f.loops),
            f.narrative,
            " | ".join(f.would_clear_if),
            " ".join(s.url for s in f.sources),
            overrides.get(f.rule, ""),
            *_decision(f),
        ]
        writer.writerow([neutralise(str(cell)) for cell in row])
    return buf.getvalue()
