"""CSV output: one row per finding, for issue trackers and spreadsheets.

A finding whose pattern an organisation pack replaced says so in `rule_override` (the pack
and its reason); disabled patterns make no rows, and the other formats list them.

A possible finding resting on several unknown answers is held back: the Markdown and HTML
reports leave it out of the summary and counts and list it under "To check". Its row says so
in `held_back` (yes or no), and `settling_question` names the question whose answer would
settle it (empty for a shown finding, or when no one question would).

Each row also carries the owners and layers of its loops, its evidence score, the central
estimate of the money per month it accounts for (a ghost cost's own amount; for a conflict or
gap, the parts of the ghost costs charged to it) and, so a row pasted into a tracker keeps its
provenance, the report's date and the SHA-256 of the assessment it came from. A blank amount
means one of three things, so the last column, `no_amount_because`, says which in words: the
finding is possible (it counts towards the high end of the range only), its cost is already
counted under another finding, or no priced cost traces to it (or nothing is priced). New
columns go at the end, so readers that take columns by position keep working. The one-sentence
verdict the other formats open with is not in the file: RFC 4180 has no comment lines, and a
row above the header would shift every reader that takes the first row as the header.

Quoting follows RFC 4180 (the csv module; CRLF line ends). A cell that a spreadsheet would
read as a formula (starting with = + - @, a tab or a carriage return, even after spaces) is
prefixed with an apostrophe, so a hostile loop name cannot run anything when the file is
opened.
"""

from __future__ import annotations

import csv
import io

from expert.analysis.results import Finding, Results
from expert.assessment.model import Assessment
from expert.deliverables import economics

COLUMNS = (
    "id",
    "rule",
    "kind",
    "title",
    "status",
    "held_back",
    "settling_question",
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
    "owner",
    "layer",
    "evidence_score",
    "central_per_month",
    "currency",
    "report_date",
    "input_sha256",
    "no_amount_because",
)
NOT_PRICED = "not priced: the assessment gives no cost figures"
NO_COST = "not priced: no priced cost traces to it"
POSSIBLE = "possible: it counts towards the high end of the cost range only"
ELSEWHERE = "already counted under another finding"
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


def _central(r: economics.Range | None) -> str:
    """A money range's central estimate, in whole units ("" when not priced)."""
    if r is None:
        return ""
    value = float(r.central)
    return str(round(value))


def _money(results: Results) -> dict[str, str]:
    """Each priced finding's central money per month: a ghost cost's own amount, and for a
    conflict or gap the parts of the ghost costs charged to it. One pass over the charged
    parts: pricing each finding by recomputing the economics without it grows with findings
    times parts, minutes at a thousand loops."""
    econ = results.economics
    if econ is None or not econ.priced:
        return {}
    out = {c.finding: _central(c.money) for c in econ.costs if c.money is not None}
    # As the Economic Risk Summary charges them: direct parts less the budgets' overlap.
    for fid, value in economics.charged_central(econ).items():
        if fid not in out and round(value) > 0:
            out[fid] = str(round(value))
    return out


def _unpriced(results: Results, priced: dict[str, str]) -> dict[str, str]:
    """Why each finding without an amount has none, in words."""
    econ = results.economics
    if econ is None or not econ.priced:
        return {f.id: NOT_PRICED for f in results.findings}
    charged: dict[str, list[bool]] = {}
    for line in econ.costs:
        for c in line.contributions:
            charged.setdefault(c.finding, []).append(c.charged)
    out = {}
    for f in results.findings:
        if f.id in priced:
            continue
        if f.id not in charged:
            out[f.id] = NO_COST
        elif f.status == "possible":
            out[f.id] = POSSIBLE
        elif not any(charged[f.id]):
            out[f.id] = ELSEWHERE
        else:
            out[f.id] = NO_COST
    return out


def _joined(values: list[str]) -> str:
    return "; ".join(dict.fromkeys(v for v in values if v))


def render(results: Results, assessment: Assessment) -> str:
    names = {
        lp.id: (lp.name if lp.name not in (None, "unknown") else lp.id) for lp in assessment.loops
    }
    overrides = {
        c.pattern: f"overridden by {c.pack}: {c.reason}"
        for c in results.changed_patterns()
        if c.change == "overridden"
    }
    owners = {lp.id: lp.owner if isinstance(lp.owner, str) else "" for lp in assessment.loops}
    layers = {lp.id: lp.layer if isinstance(lp.layer, str) else "" for lp in assessment.loops}
    priced = _money(results)
    unpriced = _unpriced(results, priced)
    questions = results.settling_questions()
    currency = results.economics.currency if results.economics is not None else ""
    info = results.report
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
            "no" if f.evidence.shown else "yes",
            "" if f.evidence.shown else questions.get(f.id, ""),
            f.severity,
            "; ".join(names.get(lp, lp) for lp in f.loops),
            f.narrative,
            " | ".join(f.would_clear_if),
            " ".join(s.url for s in f.sources),
            overrides.get(f.rule, ""),
            *_decision(f),
            _joined([owners.get(lp, "") for lp in f.loops]),
            _joined([layers.get(lp, "") for lp in f.loops]),
            f"{f.evidence.score:.2f}",
            priced.get(f.id, ""),
            currency if f.id in priced else "",
            info.date if info is not None else "",
            info.input_sha256 if info is not None else "",
            unpriced.get(f.id, ""),
        ]
        writer.writerow([neutralise(str(cell)) for cell in row])
    return buf.getvalue()
