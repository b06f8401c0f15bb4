"""What changed between two runs: findings new, resolved and changed, loops added, removed
and changed, the exposure delta and the degree of coherence on each side.

A finding's decision (deliverables/decisions.py) travels with it: a decision recorded, removed,
changed or expired since the old run changes the finding, so a reviewer sees risks being
accepted as plainly as risks appearing.

Either side may be an assessment file (assessed here) or a results file written by
`coherence assess --format json`. Findings are matched by their id (expert/engine/ids.py: the rule
plus the sorted ids of its loops), which does not depend on the order of loops or on their
display names. A symptom or ghost cost is one finding for the whole platform, but its id
names every loop below it, so a new finding anywhere underneath changes that id: such
findings are matched by their rule when the id does not match, and reported as changed
(loops), not as one resolved and one new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from expert import __version__
from expert.analysis.results import (
    EFFECT_KINDS,
    RESULTS_SCHEMA_VERSION,
    Finding,
    FindingDecision,
    Results,
)
from expert.assessment.model import Assessment
from expert.deliverables import execsummary, inventory
from expert.deliverables.economics import money
from expert.errors import EngineError, InputError, Problem
from expert.knowledge.patterns import SEVERITY_ORDER
from expert.yamlio import MAX_BYTES, read_text

if TYPE_CHECKING:
    from expert.analysis.assess import Assessor
    from expert.engine.compiler import Compiled
    from expert.knowledge.knowledgebase import KnowledgeBase

DIFF_SCHEMA_VERSION = 1
# A results file grows with findings (about 20 MB at 1,000 loops); an assessment keeps
# its own, smaller limit (expert/yamlio.py).
RESULTS_MAX_BYTES = 512 * 1024 * 1024
# Kinds that are one finding per rule for the whole platform (expert/analysis/explain.py, derived).
PLATFORM_KINDS = ("symptom", "ghost-cost")
FINDING_FIELDS = ("status", "severity", "loops", "decision")
LoopValues = Literal["answers", "inventory", "risk map"]


class FindingRef(BaseModel):
    id: str
    rule: str
    kind: str
    title: str
    status: str
    severity: str
    loops: list[str]
    decision: FindingDecision | None = Field(
        None, description="the decision recorded against it in that run, if any"
    )


class FieldChange(BaseModel):
    field: str
    label: str = ""
    old: str | None = Field(description="None: not answered (or absent) before")
    new: str | None = Field(description="None: not answered (or absent) now")


class FindingChange(BaseModel):
    id: str = Field(description="the finding's id in the new run")
    old_id: str = Field(description="its id in the old run (differs only for loops changes)")
    rule: str
    kind: str
    title: str
    changes: list[FieldChange] = Field(
        description="status, severity, loops and decision, as changed"
    )
    old: FindingRef
    new: FindingRef


class LoopRef(BaseModel):
    id: str
    name: str


class LoopChange(BaseModel):
    id: str
    name: str = Field(description="the loop's name in the new run")
    changes: list[FieldChange]


class Exposure(BaseModel):
    """The monthly exposure of one run (economics.total: overlaps removed)."""

    currency: str
    low: float
    central: float
    high: float
    partial: bool = Field(False, description="some costs could not be priced")


class ExposureDelta(BaseModel):
    old: Exposure | None
    new: Exposure | None
    currency: str | None = None
    low: float | None = Field(None, description="new minus old; None if not comparable")
    central: float | None = None
    high: float | None = None
    note: str = ""


class CoherenceDelta(BaseModel):
    """The degree of coherence of each run (expert/deliverables/execsummary.py), recomputed from its
    findings and risk map so results files written before it existed compare too."""

    old: float
    new: float
    change: float = Field(description="new minus old: positive is more coherent")
    definition: str = execsummary.DEFINITION


class DiffSide(BaseModel):
    label: str = Field(description="the file compared")
    kind: Literal["assessment", "results"]
    system: str
    tool_version: str = ""
    kb_version: str = ""


class Diff(BaseModel):
    # Names the tool, as results do: a diff written to a file is then recognised as this
    # tool's output and replaced by the next run (expert/output.py).
    tool: dict[str, str] = Field(
        default_factory=lambda: {"name": "control-coherence", "version": __version__}
    )
    schema_version: int = DIFF_SCHEMA_VERSION
    old: DiffSide
    new: DiffSide
    loop_values: LoopValues = Field(
        description="what loops are compared on: the answers in both assessment files, the "
        "inventory of a results file, or only the risk map's summary of each loop"
    )
    # Findings and their effects (symptoms, ghost costs) alike: either may come or go.
    findings_new: list[FindingRef] = Field(default_factory=list)
    findings_resolved: list[FindingRef] = Field(default_factory=list)
    findings_changed: list[FindingChange] = Field(default_factory=list)
    findings_unchanged: int = 0
    loops_added: list[LoopRef] = Field(default_factory=list)
    loops_removed: list[LoopRef] = Field(default_factory=list)
    loops_changed: list[LoopChange] = Field(default_factory=list)
    exposure: ExposureDelta
    coherence: CoherenceDelta | None = None
    notes: list[str] = Field(default_factory=list)

    def empty(self) -> bool:
        """Nothing changed in findings or loops (the exposure follows from them)."""
        return not (
            self.findings_new
            or self.findings_resolved
            or self.findings_changed
            or self.loops_added
            or self.loops_removed
            or self.loops_changed
        )


@dataclass(frozen=True)
class Run:
    """One side of a diff: its results, and its assessment when it was an assessment file."""

    label: str
    results: Results
    assessment: Assessment | None = None


# ---------------------------------------------------------------- loading


def _is_effect(finding: Any) -> bool:
    return isinstance(finding, dict) and finding.get("kind") in EFFECT_KINDS


def results_from_json(data: Any, source: str) -> Results:
    """A results file as written by `assess --format json`; InputError if it is not one."""
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version == 1 and isinstance(data.get("findings"), list):
        # Version 1 listed symptoms and ghost costs among the findings: move them to effects.
        every = data["findings"]
        data = {
            **data,
            "schema_version": RESULTS_SCHEMA_VERSION,
            "findings": [f for f in every if not _is_effect(f)],
            "effects": [f for f in every if _is_effect(f)],
        }
        version = RESULTS_SCHEMA_VERSION
    if type(version) is int and version != RESULTS_SCHEMA_VERSION:
        raise InputError(
            Problem(
                source,
                f"results schema_version {version} is not supported",
                fix=f"this version reads results schema_version {RESULTS_SCHEMA_VERSION}; "
                "re-run `coherence assess FILE --format json` with it",
            )
        )
    try:
        return Results.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(
            Problem(
                source,
                f"is not a results file coherence wrote ({exc.error_count()} problem(s); "
                f"first: {first['msg']})",
                where=where,
                fix="write it with `coherence assess FILE --format json -o RESULTS.json`, "
                "or give the assessment file itself",
            )
        ) from None


def _is_results(data: Any) -> bool:
    return isinstance(data, dict) and "findings" in data and "tool" in data


def load_run(path: Path | str, kb: KnowledgeBase, assessor: Assessor | None = None) -> Run:
    """Read a results JSON file, or read and assess an assessment file (YAML, or JSON in
    the assessment's shape). `assessor` is needed only for an assessment file."""
    from expert.analysis.assess import check_answers
    from expert.assessment import model as assessment_mod

    source = str(path)
    text = read_text(Path(path), max_bytes=RESULTS_MAX_BYTES, what="assessment or results file")
    data: Any = None
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None  # a YAML flow mapping, perhaps: the YAML reader says what is wrong
    if _is_results(data):
        return Run(source, results_from_json(data, source))
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise InputError(
            Problem(
                source,
                f"is not a results file, and an assessment file may be at most "
                f"{MAX_BYTES // (1024 * 1024)} MB",
                fix="give an assessment file or a results file from `assess --format json`",
            )
        )
    a = assessment_mod.loads(
        text, kb.vocabulary, source, checks=lambda a: check_answers(a, kb, source)
    )
    if assessor is None:
        raise ValueError("an assessment file needs an Assessor to be assessed")
    results = assessor.assess(a)
    if results.engine_errors:
        raise EngineError("a rule action failed: " + "; ".join(results.engine_errors))
    return Run(source, results, a)


def diff_files(
    old: Path | str, new: Path | str, kb: KnowledgeBase, compiled: Compiled | None = None
) -> Diff:
    """Compare two files, each an assessment or a results JSON file (`compiled`: the
    knowledge base's rules, if already compiled)."""
    from expert.analysis.assess import Assessor

    if str(old) == "-" and str(new) == "-":
        raise InputError(
            Problem("-", "only one of OLD and NEW can be standard input", fix="name a file")
        )
    with Assessor(kb, compiled=compiled) as ax:
        return diff_runs(load_run(old, kb, ax), load_run(new, kb, ax), kb)


# ---------------------------------------------------------------- comparing


def _ref(f: Finding) -> FindingRef:
    return FindingRef(
        id=f.id,
        rule=f.rule,
        kind=f.kind,
        title=f.title,
        status=f.status,
        severity=f.severity,
        loops=list(f.loops),
        decision=f.decision,
    )


def decision_text(d: FindingDecision | None) -> str | None:
    """A decision in one line (None: no decision), e.g. `accepted by SRE on 2024-05-02,
    until 2024-09-30: the deadline is raised in Q3`."""
    if d is None:
        return None
    text = d.state + (f" by {d.by}" if d.by else "") + f" on {d.date}"
    if d.expires:
        text += f", expired {d.expires}" if d.expired else f", until {d.expires}"
    return f"{text}: {d.reason}"


def _finding_changes(old: Finding, new: Finding) -> list[FieldChange]:
    out = []
    for name in FINDING_FIELDS:
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            if name == "decision":
                out.append(FieldChange(field=name, old=decision_text(a), new=decision_text(b)))
                continue
            text = (lambda v: ", ".join(v)) if name == "loops" else str
            out.append(FieldChange(field=name, old=text(a), new=text(b)))
    return out


def _match_findings(old: Results, new: Results, diff: Diff) -> None:
    before, after = old.by_id(), new.by_id()
    pairs = [(before[i], after[i]) for i in after if i in before]
    gone = [f for f in old.every_finding() if f.id not in after]
    came = [f for f in new.every_finding() if f.id not in before]
    # A platform-wide finding whose loops grew or shrank is the same finding: one per rule.
    by_rule_old = _single_per_rule(gone)
    by_rule_new = _single_per_rule(came)
    for rule, f_new in by_rule_new.items():
        f_old = by_rule_old.get(rule)
        if f_old is not None:
            pairs.append((f_old, f_new))
            gone.remove(f_old)
            came.remove(f_new)
    order = {f.id: i for i, f in enumerate(new.every_finding())}
    for f_old, f_new in sorted(pairs, key=lambda p: order[p[1].id]):
        changes = _finding_changes(f_old, f_new)
        if not changes:
            diff.findings_unchanged += 1
            continue
        diff.findings_changed.append(
            FindingChange(
                id=f_new.id,
                old_id=f_old.id,
                rule=f_new.rule,
                kind=f_new.kind,
                title=f_new.title,
                changes=changes,
                old=_ref(f_old),
                new=_ref(f_new),
            )
        )
    diff.findings_new = [_ref(f) for f in came]
    diff.findings_resolved = [_ref(f) for f in gone]


def _single_per_rule(findings: list[Finding]) -> dict[str, Finding]:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.rule] = counts.get(f.rule, 0) + 1
    return {f.rule: f for f in findings if f.kind in PLATFORM_KINDS and counts[f.rule] == 1}


def _text(value: Any) -> str | None:
    """An answer as the user wrote it; None when it was not given."""
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "none"
    return str(value)


# (loop id) -> (name, {field: (label, value)})
LoopTable = dict[str, tuple[str, dict[str, tuple[str, str | None]]]]


def _loops_from_answers(a: Assessment, kb: KnowledgeBase) -> LoopTable:
    out: LoopTable = {}
    for lp in a.loops:
        fields = {
            field: (label, _text(value))
            for field, label, value, _state in inventory.loop_answers(lp, kb)
        }
        out[lp.id] = (_text(lp.name) or lp.id, fields)
    return out


def _loops_from_inventory(inv: inventory.Inventory) -> LoopTable:
    out: LoopTable = {}
    for group in inv.layers:
        for lp in group.loops:
            fields = {
                f.field: (f.label, None if f.state == "unanswered" else f.value) for f in lp.fields
            }
            out[lp.id] = (lp.name, fields)
    return out


def _loops_from_risk_map(r: Results) -> LoopTable:
    out: LoopTable = {}
    for node in r.risk_map.nodes:
        fields = {
            name: (name, getattr(node, name)) for name in ("name", "layer", "owner", "timescale")
        }
        out[node.id] = (node.name, fields)
    return out


def _loop_tables(
    old: Run, new: Run, kb: KnowledgeBase | None
) -> tuple[LoopValues, LoopTable, LoopTable]:
    """Both sides on the same footing: the user's own answers when both are assessments,
    else the inventory (computed for an assessment side the way a results file holds it)."""
    if old.assessment is not None and new.assessment is not None and kb is not None:
        return (
            "answers",
            _loops_from_answers(old.assessment, kb),
            _loops_from_answers(new.assessment, kb),
        )
    tables: list[LoopTable | None] = []
    for run in (old, new):
        if run.results.inventory is not None:
            tables.append(_loops_from_inventory(run.results.inventory))
        elif run.assessment is not None and kb is not None:
            inv = inventory.build(run.assessment, kb, run.results.every_finding())
            tables.append(_loops_from_inventory(inv))
        else:
            tables.append(None)
    if tables[0] is not None and tables[1] is not None:
        return "inventory", tables[0], tables[1]
    return "risk map", _loops_from_risk_map(old.results), _loops_from_risk_map(new.results)


def _match_loops(old: LoopTable, new: LoopTable, diff: Diff) -> None:
    diff.loops_added = [LoopRef(id=i, name=new[i][0]) for i in new if i not in old]
    diff.loops_removed = [LoopRef(id=i, name=old[i][0]) for i in old if i not in new]
    for loop_id, (name, fields) in new.items():
        if loop_id not in old:
            continue
        before = old[loop_id][1]
        changes = []
        for field in [*before, *(f for f in fields if f not in before)]:
            label = fields.get(field, before.get(field, (field, None)))[0]
            was = before.get(field, (label, None))[1]
            now = fields.get(field, (label, None))[1]
            if was != now:
                changes.append(FieldChange(field=field, label=label, old=was, new=now))
        if changes:
            diff.loops_changed.append(LoopChange(id=loop_id, name=name, changes=changes))


def _exposure(r: Results) -> Exposure | None:
    econ = r.economics
    if econ is None or econ.total is None:
        return None
    t = econ.total
    return Exposure(
        currency=econ.currency, low=t.low, central=t.likely, high=t.high, partial=econ.total_partial
    )


def _exposure_delta(old: Results, new: Results) -> ExposureDelta:
    a, b = _exposure(old), _exposure(new)
    if a is None or b is None:
        missing = [side for side, e in (("old", a), ("new", b)) if e is None]
        either = a or b
        return ExposureDelta(
            old=a,
            new=b,
            currency=either.currency if either else None,
            note=f"no priced exposure in the {' and '.join(missing)} run "
            "(cost figures missing under economics)",
        )
    if a.currency != b.currency:
        return ExposureDelta(
            old=a, new=b, note=f"currencies differ ({a.currency}, {b.currency}): not compared"
        )
    note = "one side is partial: some costs could not be priced" if a.partial or b.partial else ""
    return ExposureDelta(
        old=a,
        new=b,
        currency=a.currency,
        low=b.low - a.low,
        central=b.central - a.central,
        high=b.high - a.high,
        note=note,
    )


def _coherence(r: Results) -> float:
    return execsummary.degree(r.findings, [(e.source, e.target) for e in r.risk_map.edges]).value


def _coherence_delta(old: Results, new: Results) -> CoherenceDelta:
    a, b = _coherence(old), _coherence(new)
    return CoherenceDelta(old=a, new=b, change=round(b - a, 3))


def _coherence_line(c: CoherenceDelta, arrow: str) -> str:
    line = f"Degree of coherence: {round(c.old * 100)}% {arrow} {round(c.new * 100)}%"
    step = round(c.change * 100)
    line += " (unchanged)" if step == 0 else f" ({step:+d} points)"
    return line + ": the share of interacting pairs of loops that do not conflict."


def _side(run: Run) -> DiffSide:
    r = run.results
    return DiffSide(
        label=run.label,
        kind="assessment" if run.assessment is not None else "results",
        system=r.system.get("name", ""),
        tool_version=r.tool.get("version", ""),
        kb_version=str(r.knowledge_base.get("version", "")),
    )


def diff_runs(old: Run, new: Run, kb: KnowledgeBase | None = None) -> Diff:
    """Compare two runs. `kb` lets loops be compared on the user's own answers (both sides
    assessments) or an assessment side be put in inventory form."""
    kind, old_loops, new_loops = _loop_tables(old, new, kb)
    diff = Diff(
        old=_side(old),
        new=_side(new),
        loop_values=kind,
        exposure=_exposure_delta(old.results, new.results),
        coherence=_coherence_delta(old.results, new.results),
    )
    if diff.old.system != diff.new.system:
        diff.notes.append(
            f"the runs describe different systems ({diff.old.system!r}, {diff.new.system!r})"
        )
    if diff.old.kb_version != diff.new.kb_version:
        diff.notes.append(
            f"knowledge base {diff.old.kb_version} then {diff.new.kb_version}: some changes "
            "may come from the rules, not the platform"
        )
    _match_findings(old.results, new.results, diff)
    _match_loops(old_loops, new_loops, diff)
    return diff


def diff_results(
    old: Results,
    new: Results,
    old_assessment: Assessment | None = None,
    new_assessment: Assessment | None = None,
    kb: KnowledgeBase | None = None,
) -> Diff:
    """Compare two results already in memory (e.g. a baseline file and this run)."""
    return diff_runs(Run("old", old, old_assessment), Run("new", new, new_assessment), kb)


def new_at_or_above(diff: Diff, level: str, confirmed_only: bool = True) -> list[FindingRef]:
    """Findings that reach `level` now and did not before: new findings, and changed ones
    that crossed it (possible to confirmed, or a severity raised to it). Like `--fail-on`,
    only confirmed findings count unless `confirmed_only` is False."""
    if level not in SEVERITY_ORDER:
        raise ValueError(f"level must be one of {', '.join(SEVERITY_ORDER)}")
    floor = SEVERITY_ORDER.index(level)

    def reaches(f: FindingRef) -> bool:
        status_ok = f.status == "confirmed" or not confirmed_only
        return status_ok and SEVERITY_ORDER.index(f.severity) >= floor

    out = [f for f in diff.findings_new if reaches(f)]
    out += [c.new for c in diff.findings_changed if reaches(c.new) and not reaches(c.old)]
    return out


# ---------------------------------------------------------------- rendering


def _money_delta(value: float, currency: str) -> str:
    sign = "+" if value > 0 else "-" if value < 0 else "±"
    return f"{sign}{money(abs(value), currency)}"


def _exposure_lines(e: ExposureDelta) -> list[str]:
    def one(x: Exposure) -> str:
        return (
            f"{money(x.low, x.currency)} to {money(x.high, x.currency)} a month "
            f"(central {money(x.central, x.currency)})" + (", partial" if x.partial else "")
        )

    lines = [
        f"old: {one(e.old) if e.old else 'not priced'}",
        f"new: {one(e.new) if e.new else 'not priced'}",
    ]
    if e.currency and e.low is not None and e.central is not None and e.high is not None:
        lines.append(
            f"change: low {_money_delta(e.low, e.currency)}, central "
            f"{_money_delta(e.central, e.currency)}, high {_money_delta(e.high, e.currency)}"
        )
    if e.note:
        lines.append(e.note)
    return lines


def _counts(diff: Diff) -> str:
    return (
        f"{len(diff.findings_new)} new, {len(diff.findings_resolved)} resolved, "
        f"{len(diff.findings_changed)} changed, {diff.findings_unchanged} unchanged findings "
        "and effects; "
        f"{len(diff.loops_added)} loops added, {len(diff.loops_removed)} removed, "
        f"{len(diff.loops_changed)} changed"
    )


def _shown(value: str | None) -> str:
    return "not answered" if value is None else value


def _finding_change_text(ch: FieldChange, arrow: str) -> str:
    """A loops change as the loops that joined and left (the full lists are in the JSON)."""
    if ch.field == "loops":
        old, new = (set(filter(None, (v or "").split(", "))) for v in (ch.old, ch.new))
        moved = [f"+{lp}" for lp in sorted(new - old)] + [f"-{lp}" for lp in sorted(old - new)]
        return f"loops: {', '.join(moved)}"
    if ch.field == "decision":
        return f"decision: {ch.old or 'none'} {arrow} {ch.new or 'none'}"
    return f"{ch.field}: {ch.old} {arrow} {ch.new}"


# The first line of a diff in Markdown, and the start of one in text: the marks by which
# expert/output.py knows a diff file as this tool's own.
DIFF_TITLE = "# Control-coherence diff"
DIFF_HEAD = "Control-coherence diff: "


def to_json(diff: Diff) -> str:
    """The diff as JSON (stable: fields are only added within one schema_version)."""
    return diff.model_dump_json(indent=2) + "\n"


def to_markdown(diff: Diff) -> str:
    from expert.render.reports import md_code, md_escape

    def finding_row(f: FindingRef) -> str:
        return (
            f"| {f.severity} | {f.status} | {md_escape(f.title)} | {md_code(f.id)} | "
            f"{md_escape(', '.join(f.loops)) or '-'} | "
            f"{md_escape(decision_text(f.decision) or '-')} |"
        )

    head = "| severity | status | finding | id | loops | decision |\n|---|---|---|---|---|---|"
    out = [
        DIFF_TITLE,
        "",
        f"Old: {md_escape(diff.old.label)} ({diff.old.kind}, {md_escape(diff.old.system)})  ",
        f"New: {md_escape(diff.new.label)} ({diff.new.kind}, {md_escape(diff.new.system)})",
        "",
        _counts(diff) + ".",
        "",
    ]
    out += [f"> {md_escape(n)}" for n in diff.notes] + ([""] if diff.notes else [])
    for title, refs in (
        ("New findings", diff.findings_new),
        ("Resolved findings", diff.findings_resolved),
    ):
        out += [f"## {title}", ""]
        out += [head, *map(finding_row, refs)] if refs else ["None."]
        out.append("")
    out += ["## Changed findings", ""]
    if diff.findings_changed:
        out += ["| finding | id | what changed |", "|---|---|---|"]
        for c in diff.findings_changed:
            what = "; ".join(md_escape(_finding_change_text(ch, "→")) for ch in c.changes)
            ident = md_code(c.id) + (f" (was {md_code(c.old_id)})" if c.old_id != c.id else "")
            out.append(f"| {md_escape(c.title)} | {ident} | {what} |")
    else:
        out.append("None.")
    out += ["", f"## Loops (compared on their {diff.loop_values})", ""]
    for word, loops in (("Added", diff.loops_added), ("Removed", diff.loops_removed)):
        if loops:
            names = ", ".join(f"{md_escape(lp.name)} ({md_code(lp.id)})" for lp in loops)
            out.append(f"{word}: {names}.")
            out.append("")
    for lc in diff.loops_changed:
        out += [f"### {md_escape(lc.name)} ({md_code(lc.id)})", "", "| answer | old | new |"]
        out.append("|---|---|---|")
        for ch in lc.changes:
            out.append(
                f"| {md_escape(ch.label or ch.field)} | {md_escape(_shown(ch.old))} | "
                f"{md_escape(_shown(ch.new))} |"
            )
        out.append("")
    if not (diff.loops_added or diff.loops_removed or diff.loops_changed):
        out += ["No loop changed.", ""]
    out += ["## Exposure (per month)", ""]
    out += [f"- {md_escape(line)}" for line in _exposure_lines(diff.exposure)]
    if diff.coherence is not None:
        out += ["", "## Degree of coherence", "", md_escape(_coherence_line(diff.coherence, "→"))]
    return "\n".join(out) + "\n"


def to_text(diff: Diff) -> str:
    """For a terminal: plain lines (the caller's echo makes control characters visible)."""

    def finding_line(sign: str, f: FindingRef) -> str:
        line = f"  {sign} [{f.severity}, {f.status}] {f.title}  ({f.id})"
        return line + (f"\n      decision: {decision_text(f.decision)}" if f.decision else "")

    out = [f"{DIFF_HEAD}{diff.old.label} -> {diff.new.label}", _counts(diff)]
    out += [f"note: {n}" for n in diff.notes]
    if diff.findings_new or diff.findings_resolved or diff.findings_changed:
        out += ["", "Findings:"]
        out += [finding_line("+", f) for f in diff.findings_new]
        out += [finding_line("-", f) for f in diff.findings_resolved]
        for c in diff.findings_changed:
            out.append(f"  ~ {c.title}  ({c.id})")
            if c.old_id != c.id:
                out.append(f"      was {c.old_id}")
            out += [f"      {_finding_change_text(ch, '->')}" for ch in c.changes]
    if diff.loops_added or diff.loops_removed or diff.loops_changed:
        out += ["", f"Loops (compared on their {diff.loop_values}):"]
        out += [f"  + {lp.name}  ({lp.id})" for lp in diff.loops_added]
        out += [f"  - {lp.name}  ({lp.id})" for lp in diff.loops_removed]
        for lc in diff.loops_changed:
            out.append(f"  ~ {lc.name}  ({lc.id})")
            out += [
                f"      {ch.label or ch.field}: {_shown(ch.old)} -> {_shown(ch.new)}"
                for ch in lc.changes
            ]
    out += ["", "Exposure per month:"] + [f"  {line}" for line in _exposure_lines(diff.exposure)]
    if diff.coherence is not None:
        out += ["", _coherence_line(diff.coherence, "->")]
    return "\n".join(out) + "\n"


RENDERERS = {"markdown": to_markdown, "json": to_json, "text": to_text}
