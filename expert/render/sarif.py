"""SARIF 2.1.0 output, so CI tools and code-scanning dashboards show findings per rule.

Each knowledge-base pattern is its own rule (ruleId = pattern id). A finding's locations are
the control loops it involves (the system itself for findings about the whole platform): each
the loop's line in the assessment file, and logically layer/loop-id. Values imported from
configuration add related locations at the configuration lines they came from. Patterns that an
organisation pack replaced or switched off are listed, with the reasons on record, in the
driver's `changedPatterns` property; a replaced pattern's rule also names its `override`.

A finding whose clearing conditions all name one of its loops (the autoscaler, say, not the
batcher whose metric it reads) has that loop as its one location, the loop to edit; its other
loops are related locations. A finding whose fixes change several loops, or none by name, has
every loop as a location.

A result's level follows its severity and whether it is confirmed, as SARIF 2.1.0 defines the
levels (error: a serious problem was found; warning: a problem was found; note: a minor
problem): a confirmed critical or high finding is an error; a confirmed medium one, or a
possible critical or high one (it rests on answers not known yet), a warning; the rest notes.
A held-back finding, a possible finding resting on several unknown answers which the Markdown
and HTML reports list under "To check" rather than in the summary, is a note whatever its
severity; its properties say `heldBack: true` and name the `settlingQuestion` whose answer
would settle it. `--fail-on` is separate and unchanged: it counts confirmed findings (and the
symptoms and costs they lead to), so every error is one that `--fail-on high` fails on, and no
warning from a possible finding fails a build.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from expert.analysis.results import Finding, Results
from expert.assessment import provenance
from expert.assessment.model import Assessment
from expert.yamlio import LineMap

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
# A possible finding is one step lower: not proven, so not an error in code scanning.
POSSIBLE_LEVEL = {"critical": "warning", "high": "warning", "medium": "note", "low": "note"}
HELD_BACK_LEVEL = "note"  # a finding held back under "To check", whatever its severity
# GitHub code scanning ranks results by a CVSS-like number in `security-severity`.
SECURITY_SEVERITY = {"critical": "9.0", "high": "7.0", "medium": "5.0", "low": "3.0"}
_RANK = ("low", "medium", "high", "critical")
# The assessment file's artifactLocation, its line map, and each loop's index in it. The
# location is worked out once per report, not once per loop of each result: resolving a path
# against the repository cost a third of a large report's time.
_Place = tuple[dict[str, str], LineMap, dict[str, int]]


def _rule(f: Finding) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": f.rule,
        "name": "".join(w.capitalize() for w in f.rule.split("-")),
        "shortDescription": {"text": f.title},
        "fullDescription": {"text": f.summary or f.title},
        "defaultConfiguration": {"level": LEVEL[f.severity]},
        "properties": {"kind": f.kind, "tags": ["control-coherence", f.kind]},
    }
    rule["help"] = {"text": f.mechanism or f.summary or f.title}
    web = [s.url for s in f.sources if s.url.startswith(("https://", "http://"))]
    if web:
        rule["helpUri"] = web[0]
    return rule


@functools.lru_cache(maxsize=64)
def _root(directory: Path) -> Path | None:
    """The repository a file is in (code scanning resolves a relative uri against it)."""
    for parent in (directory, *directory.parents):
        if (parent / ".git").exists():
            return parent
    return None


def artifact(file: str) -> dict[str, str]:
    """An artifactLocation: relative to the repository root when the file is in one, else to
    the working directory, else an absolute file: URI."""
    path = Path(file).absolute()
    for base in (_root(path.parent), Path.cwd()):
        if base is not None and path.is_relative_to(base):
            return {"uri": quote(path.relative_to(base).as_posix())}
    return {"uri": path.as_uri()}


def _physical(where: dict[str, str], line: int | None) -> dict[str, Any]:
    """A physicalLocation: the file's artifactLocation (shared, never changed) and a line."""
    return {"artifactLocation": where, "region": {"startLine": line or 1}}


def level(f: Finding) -> str:
    """The result's level: by severity, one step lower for a possible finding, a note when
    held back."""
    if not f.evidence.shown:
        return HELD_BACK_LEVEL
    return (LEVEL if f.status == "confirmed" else POSSIBLE_LEVEL)[f.severity]


def located(f: Finding) -> tuple[list[str], list[str]]:
    """The loops a result is located at, and its other loops: the loop its fix changes alone
    when the finding names one, else every loop."""
    if f.changes in f.loops and len(f.loops) > 1:
        return [f.changes], [lp for lp in f.loops if lp != f.changes]
    return list(f.loops), []


def _locations(
    loops: list[str], layers: dict[str, str], system: str, place: _Place | None
) -> list[dict[str, Any]]:
    """One location per loop (the system's for a platform-wide finding): the loop's line in
    the assessment file when it was read from one, and its layer/id as a logical location."""
    named: list[tuple[str, str | None]] = [
        (loop, f"{layers.get(loop, 'unknown')}/{loop}") for loop in loops
    ] or [(system, None)]
    out = []
    for name, qualified in named:
        logical: dict[str, Any] = {"name": name}
        if qualified is not None:
            logical["fullyQualifiedName"] = qualified
        logical["kind"] = "module"
        location: dict[str, Any] = {"logicalLocations": [logical]}
        if place is not None:
            where, lines, index = place
            at = ("loops", index[name], "id") if name in index and qualified else ("system",)
            location["physicalLocation"] = _physical(where, lines.line(at))
        out.append(location)
    return out


def _related(
    f: Finding, others: list[str], layers: dict[str, str], place: _Place | None
) -> list[dict[str, Any]]:
    """The finding's other loops, then the configuration lines its imported values came
    from, numbered as SARIF asks of related locations."""
    out = [
        {**loc, "message": {"text": "Also involved; the fix changes another loop."}}
        for loc in (_locations(others, layers, "", place) if others else [])
    ]
    return [{**loc, "id": i} for i, loc in enumerate(out + _configuration(f))]


def _configuration(f: Finding) -> list[dict[str, Any]]:
    """The configuration lines the finding's imported values came from."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, int | None]] = set()
    for b in f.because:
        for part in (b.source or "").split(", ") if b.source else []:
            cited = provenance.parse(part)
            if (cited.file, cited.line) in seen or not cited.file or len(out) >= 20:
                continue
            seen.add((cited.file, cited.line))
            what = f"{b.loop}: {b.field}" if b.loop else b.field
            out.append(
                {
                    "id": len(out),
                    "physicalLocation": _physical(artifact(cited.file), cited.line),
                    "message": {"text": f"{what} = {b.value}, from {part}"},
                }
            )
    return out


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
    # Code scanning reads security-severity from the rule: the rule's most severe finding.
    worst: dict[str, str] = {}
    for f in results.findings:
        if _RANK.index(f.severity) >= _RANK.index(worst.get(f.rule, "low")):
            worst[f.rule] = f.severity
    for rid, rule in rules.items():
        rule["properties"]["security-severity"] = SECURITY_SEVERITY[worst[rid]]
    origin = assessment.origin()
    place: _Place | None = None
    if origin is not None:
        place = (
            artifact(origin[0]),
            origin[1],
            {lp.id: i for i, lp in enumerate(assessment.loops)},
        )
    index = {rid: i for i, rid in enumerate(rules)}
    questions = results.settling_questions()
    out = []
    for f in results.findings:
        message = f.narrative if f.status == "confirmed" else f"Possible: {f.narrative}"
        held = not f.evidence.shown
        question = questions.get(f.id, "") if held else ""
        at, others = located(f)
        out.append(
            {
                "ruleId": f.rule,
                "ruleIndex": index[f.rule],
                "level": level(f),
                "message": {"text": message},
                "locations": _locations(at, layers, results.system.get("name", "system"), place),
                **(
                    {"relatedLocations": related}
                    if (related := _related(f, others, layers, place))
                    else {}
                ),
                "partialFingerprints": {"findingId/v1": f.id},
                "properties": {
                    "findingId": f.id,
                    "kind": f.kind,
                    "status": f.status,
                    "severity": f.severity,
                    "security-severity": SECURITY_SEVERITY[f.severity],
                    "heldBack": held,
                    **({"settlingQuestion": question} if question else {}),
                    "because": [
                        b.model_dump(include={"loop", "field", "value", "unknown", "source"})
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
                # The category code scanning keeps apart: the assessment file, not the
                # system's name, so renaming the system keeps its alerts' history.
                "automationDetails": {
                    "id": "control-coherence/"
                    + (artifact(origin[0])["uri"] + "/" if origin is not None else "")
                },
                "results": out,
                "properties": _run_properties(results),
            }
        ],
    }


def _run_properties(results: Results) -> dict[str, Any]:
    """The run's verdict, date, input digest, scope and degree of coherence, as every report
    format opens with them."""
    out: dict[str, Any] = {"system": results.system.get("name", "")}
    info = results.report
    if info is not None:
        out.update(
            verdict=info.verdict,
            date=info.date,
            inputSha256=info.input_sha256,
            scope=info.scope,
        )
    summary = results.executive_summary
    if summary is not None and summary.coherence is not None:
        out["degreeOfCoherence"] = {
            "value": summary.coherence.value,
            "definition": summary.coherence.definition,
        }
    return out


def render(results: Results, assessment: Assessment) -> str:
    return json.dumps(build(results, assessment), indent=2, ensure_ascii=False) + "\n"
