"""Evidence and ranking: which findings headlines show, and which wait in a "to check" list.

Every finding carries an evidence score: its severity weight times the share of its pattern's
tests that rest on known answers. Headlines (the executive summary, top risks, counts, the
interview's live panel) show confirmed findings and possible findings missing a single
answer. The rest are held back: kept in the JSON output, marked `evidence.shown: false`,
and listed apart, grouped by the question that would settle them. An auditability gap is
someone saying nobody knows, so one waiting on a question not answered yet is held back
until it is answered.
"""

from __future__ import annotations

from expert.analysis.results import CheckGroup, Evidence, Finding

SEVERITY_SCORE = {"critical": 1.0, "high": 0.75, "medium": 0.5, "low": 0.25}
SHOWN_MISSING = 1  # a possible finding is shown while it misses at most this many answers


def evidence(
    severity: str,
    tests: int,
    missing: int,
    unknown_tests: int | None = None,
    waiting: bool = False,
) -> Evidence:
    """Evidence of a finding matched on `tests` tests, `missing` distinct answers unknown
    (`unknown_tests` tests rest on them; by default one each); `waiting`: a gap waiting on
    questions not answered yet, held back whatever it misses."""
    unknown = missing if unknown_tests is None else unknown_tests
    share = (tests - unknown) / tests if tests else (0.0 if missing else 1.0)
    share = max(0.0, min(1.0, share))
    return Evidence(
        score=round(SEVERITY_SCORE.get(severity, 0.25) * share, 3),
        known_share=round(share, 3),
        tests=tests,
        missing=missing,
        shown=missing <= SHOWN_MISSING and not waiting,
        waiting=waiting,
    )


def waits_on_answers(f: Finding) -> bool:
    """A gap waiting on questions nobody has answered yet: a question to ask rather than a
    finding held back (explain.py decides it; see Evidence.waiting)."""
    return f.evidence.waiting


def to_check(findings: list[Finding], settling: dict[str, list[str]]) -> list[CheckGroup]:
    """Held-back findings grouped by the question that would settle them. A finding that needs
    several answers is listed under the one that helps the most held-back findings (ties: the
    question's text), so one answer clears as much of the list as it can."""
    held = [f for f in findings if not f.evidence.shown]
    wanted: dict[str, int] = {}
    for f in held:
        for q in dict.fromkeys(settling.get(f.id, [])):
            wanted[q] = wanted.get(q, 0) + 1
    groups: dict[str, list[str]] = {}
    for f in held:
        options = list(dict.fromkeys(settling.get(f.id, [])))
        if not options:
            continue
        best = min(options, key=lambda q: (-wanted[q], q))
        groups.setdefault(best, []).append(f.id)
    return [
        CheckGroup(question=q, findings=ids)
        for q, ids in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
