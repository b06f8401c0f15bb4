"""Diffs between two runs, and the stability of the finding ids they match on.

Variants of the LLM-platform example are generated here: loops reordered, a loop renamed,
an unrelated loop added, answers changed. Each is assessed for real, so a change to how
ids are made that breaks matching fails these tests.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from expert.analysis import diff
from expert.analysis.assess import Assessor
from expert.assessment import model as assessment
from expert.errors import InputError
from expert.render.reports import render
from tests.helpers import builtin_kb

EXAMPLE = Path(__file__).resolve().parent.parent / "expert" / "examples" / "llm-platform.yaml"
PLATFORM_KINDS = {"symptom", "ghost-cost"}


@pytest.fixture(scope="module")
def ax() -> Iterator[Assessor]:
    with Assessor(builtin_kb()) as assessor:
        yield assessor


@pytest.fixture(scope="module")
def base_data() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def base(ax: Assessor, base_data: dict[str, Any]) -> diff.Run:
    return _run(ax, base_data, "base")


def _run(ax: Assessor, data: dict[str, Any], label: str) -> diff.Run:
    a = assessment.validate(data, builtin_kb().vocabulary, label)
    return diff.Run(label, ax.assess(a), a)


def _loop(data: dict[str, Any], loop_id: str) -> dict[str, Any]:
    return next(lp for lp in data["loops"] if lp["id"] == loop_id)


def _ids(run: diff.Run) -> set[str]:
    return {f.id for f in run.results.every_finding()}


# An isolated loop on a resource nothing else touches.
CACHE_REFRESH = {
    "id": "cache-refresh",
    "name": "Feature cache refresh",
    "layer": "runtime",
    "owner": "Data team",
    "objective": "latency",
    "target": "cache hit rate",
    "timescale": "10m",
    "triggers": ["schedule"],
    "actuations": ["throttle"],
    "acts_on": ["feature-store"],
    "decision_record": "reasoned",
}


def _with_cache_refresh(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    out["resources"].append({"id": "feature-store", "kind": "service"})
    out["loops"].append({**CACHE_REFRESH, **changes})
    return out


# ---------------------------------------------------------------- id stability


def test_reordering_loops_and_resources_keeps_every_finding_id(
    ax: Assessor, base: diff.Run, base_data: dict[str, Any]
) -> None:
    reordered = copy.deepcopy(base_data)
    reordered["loops"].reverse()
    reordered["resources"].reverse()
    reordered["loops"].insert(0, reordered["loops"].pop(4))
    other = _run(ax, reordered, "reordered")
    assert _ids(other) == _ids(base)
    d = diff.diff_runs(base, other, builtin_kb())
    assert d.empty(), diff.to_text(d)
    assert d.findings_unchanged == len(base.results.every_finding())
    assert f"{d.findings_unchanged} unchanged findings and effects" in diff.to_text(d)


def test_renaming_a_loop_changes_the_loop_but_no_finding(
    ax: Assessor, base: diff.Run, base_data: dict[str, Any]
) -> None:
    renamed = copy.deepcopy(base_data)
    _loop(renamed, "sdk-retries")["name"] = "Mobile | SDK retries"
    other = _run(ax, renamed, "renamed")
    assert _ids(other) == _ids(base)
    d = diff.diff_runs(base, other, builtin_kb())
    assert not (d.findings_new or d.findings_resolved or d.findings_changed)
    assert [(c.id, c.name) for c in d.loops_changed] == [("sdk-retries", "Mobile | SDK retries")]
    assert [(ch.field, ch.old, ch.new) for ch in d.loops_changed[0].changes] == [
        ("name", "Client SDK retries", "Mobile | SDK retries")
    ]
    # The user's text is escaped in a Markdown table cell.
    assert "Mobile \\| SDK retries" in diff.to_markdown(d)


def test_an_unrelated_loop_without_findings_changes_no_finding_id(
    ax: Assessor, base: diff.Run, base_data: dict[str, Any]
) -> None:
    other = _run(ax, _with_cache_refresh(base_data), "added")
    assert _ids(other) == _ids(base)
    d = diff.diff_runs(base, other, builtin_kb())
    assert [lp.id for lp in d.loops_added] == ["cache-refresh"]
    assert not (d.findings_new or d.findings_resolved or d.findings_changed)
    assert d.exposure.central == 0


def test_a_loop_joining_a_gap_keeps_every_finding_id(
    ax: Assessor, base: diff.Run, base_data: dict[str, Any]
) -> None:
    """A new loop that records no decisions joins the existing gap of that kind: its id, and
    the ids of the platform-wide symptoms and costs, stay; the gap changes its loops."""
    other = _run(ax, _with_cache_refresh(base_data, decision_record="none"), "added")
    assert _ids(other) == _ids(base)
    d = diff.diff_runs(base, other, builtin_kb())
    assert d.findings_new == [] and d.findings_resolved == []
    (change,) = d.findings_changed
    assert change.id == "decisions-without-reason"
    assert [ch.field for ch in change.changes] == ["loops"]
    assert "cache-refresh" in change.new.loops and "cache-refresh" not in change.old.loops
    # Rendered as the loop that joined, not two lists of ten loops.
    assert "loops: +cache-refresh\n" in diff.to_text(d)
    assert "loops: +cache-refresh |" in diff.to_markdown(d)


# ---------------------------------------------------------------- what a diff reports


@pytest.fixture(scope="module")
def edited(ax: Assessor, base_data: dict[str, Any]) -> diff.Run:
    data = copy.deepcopy(base_data)
    _loop(data, "gateway-timeout")["propagates_cancellation"] = "unknown"
    _loop(data, "sdk-retries")["retry"]["jitter"] = "yes"
    _loop(data, "liveness-probe")["owner"] = "Platform team"
    return _run(ax, data, "edited")


def test_changed_answers_resolve_and_change_findings(base: diff.Run, edited: diff.Run) -> None:
    d = diff.diff_runs(base, edited, builtin_kb())
    assert [f.id for f in d.findings_resolved] == [
        "synchronised-backoff-without-jitter:sdk-retries",
        "unknown-owner",
        "decision-reconstruction-time",
    ]
    status = {c.id: [(ch.field, ch.old, ch.new) for ch in c.changes] for c in d.findings_changed}
    assert status["cancellation-not-propagated:gateway-timeout"] == [
        ("status", "confirmed", "possible")
    ]
    loops = {c.id: {ch.field: (ch.old, ch.new) for ch in c.changes} for c in d.loops_changed}
    assert loops == {
        "sdk-retries": {"retry.jitter": ("no", "yes")},
        "gateway-timeout": {"propagates_cancellation": ("no", "unknown")},
        "liveness-probe": {"owner": ("unknown", "Platform team")},
    }
    assert d.loop_values == "answers"
    old, new = base.results.economics.total, edited.results.economics.total  # type: ignore[union-attr]
    assert d.exposure.low == pytest.approx(new.low - old.low)
    assert d.exposure.central == pytest.approx(new.likely - old.likely)
    assert d.exposure.high == pytest.approx(new.high - old.high)
    assert d.exposure.central < 0


def test_new_at_or_above_counts_new_findings_and_those_that_crossed_the_level(
    base: diff.Run, edited: diff.Run
) -> None:
    # Going back from the edited run to the example: two findings are new, one confirmed again.
    d = diff.diff_runs(edited, base, builtin_kb())
    high = {f.id for f in diff.new_at_or_above(d, "high")}
    assert high == {
        "synchronised-backoff-without-jitter:sdk-retries",
        "cancellation-not-propagated:gateway-timeout",
        "work-for-departed-callers",
    }
    medium = {f.id for f in diff.new_at_or_above(d, "medium")}
    assert medium == high | {"unknown-owner"}
    assert diff.new_at_or_above(d, "critical") == []
    # Findings that went away or fell below the level never count.
    assert diff.new_at_or_above(diff.diff_runs(base, edited, builtin_kb()), "low") == []
    assert diff.new_at_or_above(diff.diff_runs(base, base, builtin_kb()), "low") == []
    with pytest.raises(ValueError):
        diff.new_at_or_above(d, "new-high")


def test_possible_findings_count_only_when_asked(ax: Assessor, base_data: dict[str, Any]) -> None:
    data = copy.deepcopy(base_data)
    del data["loops"][1]  # gateway-timeout: its possible findings go with it
    without = _run(ax, data, "without")
    d = diff.diff_runs(without, _run(ax, base_data, "with"), builtin_kb())
    possible = [f for f in d.findings_new if f.status == "possible"]
    assert possible, "premise: the loop brings possible findings back"
    assert not {f.id for f in possible} & {f.id for f in diff.new_at_or_above(d, "low")}
    assert {f.id for f in possible} <= {
        f.id for f in diff.new_at_or_above(d, "low", confirmed_only=False)
    }
    assert [lp.id for lp in d.loops_added] == ["gateway-timeout"]


def test_a_run_without_cost_figures_has_no_exposure_delta(
    ax: Assessor, base: diff.Run, base_data: dict[str, Any]
) -> None:
    data = copy.deepcopy(base_data)
    del data["economics"]
    d = diff.diff_runs(base, _run(ax, data, "unpriced"), builtin_kb())
    assert d.exposure.old is not None and d.exposure.new is None
    assert d.exposure.central is None and "new" in d.exposure.note
    assert "not priced" in diff.to_text(d) and "not priced" in diff.to_markdown(d)


# ---------------------------------------------------------------- files


def test_results_files_and_assessments_compare_alike(
    tmp_path: Path, ax: Assessor, base: diff.Run, edited: diff.Run
) -> None:
    """A results file from `assess --format json` reads back; loops then compare on the
    inventory, which both sides have."""
    old = tmp_path / "old.json"
    assert base.assessment is not None
    old.write_text(render("json", base.results, base.assessment), encoding="utf-8")
    new = tmp_path / "new.yaml"
    assert edited.assessment is not None
    new.write_text(edited.assessment.to_yaml(), encoding="utf-8")
    kb = builtin_kb()
    d = diff.diff_runs(diff.load_run(old, kb), diff.load_run(new, kb, ax), kb)
    assert (d.old.kind, d.new.kind, d.loop_values) == ("results", "assessment", "inventory")
    reference = diff.diff_runs(base, edited, kb)
    for name in ("findings_new", "findings_resolved", "findings_changed", "exposure"):
        assert getattr(d, name) == getattr(reference, name), name
    assert {c.id for c in d.loops_changed} == {c.id for c in reference.loops_changed}
    same = diff.diff_runs(diff.load_run(old, kb), diff.load_run(old, kb), kb)
    assert same.empty() and same.exposure.central == 0


def test_diff_files_assesses_both_sides(tmp_path: Path, edited: diff.Run) -> None:
    new = tmp_path / "new.yaml"
    assert edited.assessment is not None
    new.write_text(edited.assessment.to_yaml(), encoding="utf-8")
    d = diff.diff_files(EXAMPLE, new, builtin_kb())
    assert len(d.findings_resolved) == 3 and d.loop_values == "answers"
    assert d.old.label == str(EXAMPLE) and d.new.kind == "assessment"


def test_renderings_carry_the_same_diff(base: diff.Run, edited: diff.Run) -> None:
    d = diff.diff_runs(base, edited, builtin_kb())
    back = diff.Diff.model_validate(json.loads(diff.to_json(d)))
    assert back == d
    md, text = diff.to_markdown(d), diff.to_text(d)
    for f in d.findings_resolved:
        assert f"`{f.id}`" in md and f"({f.id})" in text
    assert "## Resolved findings" in md and "## New findings" in md
    assert "status: confirmed → possible" in md
    assert "status: confirmed -> possible" in text
    assert "jitter: no -> yes" in text
    assert "central -USD" in text
    assert set(diff.RENDERERS) == {"markdown", "json", "text"}


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_bad_results_files_are_refused_with_the_file_named(tmp_path: Path, base: diff.Run) -> None:
    kb = builtin_kb()
    good = json.loads(base.results.model_dump_json())
    broken = copy.deepcopy(good)
    broken["findings"][0]["severity"] = "dire"
    with pytest.raises(InputError) as err:
        diff.load_run(_write(tmp_path / "broken.json", broken), kb)
    text = str(err.value)
    assert "broken.json" in text and "findings.0.severity" in text and "--format json" in text
    future = {**good, "schema_version": 3}
    with pytest.raises(InputError, match="schema_version 3 is not supported"):
        diff.load_run(_write(tmp_path / "future.json", future), kb)
    with pytest.raises(InputError, match="standard input"):
        diff.diff_files("-", "-", kb)
    empty = tmp_path / "empty.json"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        diff.load_run(empty, kb)


def _decided(data: dict[str, Any], finding: str, **decision: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    entry = {"state": "accepted", "reason": "the gateway deadline is raised in Q3"}
    out["decisions"] = {finding: {**entry, "by": "Platform SRE", "date": "2024-05-02", **decision}}
    return out


def test_a_decision_recorded_or_expired_since_the_old_run_changes_its_finding(
    ax: Assessor, base: diff.Run, base_data: dict[str, Any]
) -> None:
    target = "cancellation-not-propagated:gateway-timeout"
    decided = _run(ax, _decided(base_data, target), "decided")
    d = diff.diff_runs(base, decided, builtin_kb())
    assert not d.findings_new and not d.findings_resolved
    assert [
        (c.id, [(ch.field, ch.old, ch.new) for ch in c.changes]) for c in d.findings_changed
    ] == [
        (
            target,
            [
                (
                    "decision",
                    None,
                    "accepted by Platform SRE on 2024-05-02: the gateway deadline is raised in Q3",
                )
            ],
        )
    ]
    change = d.findings_changed[0]
    assert change.old.decision is None
    assert change.new.decision is not None and change.new.decision.state == "accepted"
    assert not d.empty()
    # A decision changes nothing that could fail a baseline gate by itself.
    assert diff.new_at_or_above(d, "low") == []

    text, md = diff.to_text(d), diff.to_markdown(d)
    assert f"  ~ {change.title}  ({target})" in text
    assert "decision: none -> accepted by Platform SRE on 2024-05-02: the gateway" in text
    assert "decision: none → accepted by Platform SRE on 2024-05-02: the gateway" in md
    doc = json.loads(diff.to_json(d))
    assert doc["findings_changed"][0]["new"]["decision"]["by"] == "Platform SRE"
    assert diff.Diff.model_validate(doc) == d

    # The same decision, now past its date: it no longer waives the finding, and says so.
    expired = _run(ax, _decided(base_data, target, expires="2024-06-30"), "expired")
    d = diff.diff_runs(decided, expired, builtin_kb())
    assert [(c.id, [ch.new for ch in c.changes]) for c in d.findings_changed] == [
        (
            target,
            [
                "accepted by Platform SRE on 2024-05-02, expired 2024-06-30: the gateway "
                "deadline is raised in Q3"
            ],
        )
    ]
    # Removing the decision is a change too, and a decided finding that is new or
    # resolved shows its decision beside it.
    d = diff.diff_runs(decided, base, builtin_kb())
    assert [ch.new for ch in d.findings_changed[0].changes] == [None]
    assert "-> none" in diff.to_text(d)
    d = diff.diff_runs(decided, _run(ax, _edited_away(base_data), "cleared"), builtin_kb())
    (resolved,) = [f for f in d.findings_resolved if f.id == target]
    assert resolved.decision is not None
    assert f"({target})\n      decision: accepted by Platform SRE" in diff.to_text(d)
    assert "| accepted by Platform SRE on 2024-05-02: the gateway" in diff.to_markdown(d)


def _edited_away(data: dict[str, Any]) -> dict[str, Any]:
    """The example with the gateway passing cancellation on: that finding clears."""
    out = copy.deepcopy(data)
    _loop(out, "gateway-timeout")["propagates_cancellation"] = "yes"
    return out


def test_a_version_1_results_file_reads_with_its_effects_apart(
    tmp_path: Path, base: diff.Run
) -> None:
    """Version 1 listed symptoms and ghost costs among the findings; a saved run of it still
    diffs against a new one, with nothing reported as changed."""
    kb = builtin_kb()
    new = json.loads(base.results.model_dump_json())
    old = {**new, "schema_version": 1, "findings": [*new["findings"], *new.pop("effects")]}
    old.pop("effects", None)
    run = diff.load_run(_write(tmp_path / "v1.json", old), kb)
    assert [f.id for f in run.results.findings] == [f.id for f in base.results.findings]
    assert [f.id for f in run.results.effects] == [f.id for f in base.results.effects]
    assert diff.diff_runs(run, base, kb).empty()
