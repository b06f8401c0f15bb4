"""Reports a reader acts on: changes stated as instructions with owners and money, a verdict
sentence, date and input digest at the top of every format, the degree of coherence, layers
nobody described, and the smaller wording fixes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path

import pytest
import yaml

from expert.analysis.diff import diff_results, to_text
from expert.analysis.results import Evidence, Finding, Member
from expert.deliverables import complete as deliverables
from expert.deliverables import economics as econ
from expert.deliverables import execsummary
from expert.knowledge.imperative import base_form, instruction
from expert.knowledge.lint import lint
from expert.render.reports import md_escape, render, times
from tests.helpers import builtin_kb
from tests.test_reports_golden import EXAMPLES, NAMES, assessed


def _placeholders(template: str) -> str:
    return re.sub(r"\{([^{}]+)\}", lambda m: "Loop " + m.group(1).split(".")[0].title(), template)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "a start-up probe sized to the worst-case load time held {prober.name} off for the "
            "whole model load of {res.id}",
            "Add a start-up probe sized to the worst-case load time that holds Loop Prober off "
            "for the whole model load of Loop Res",
        ),
        # Clauses joined to the first are commands too.
        (
            "the loops in these conflicts recorded each decision with its reason, or the "
            "conflicts were removed",
            "Make the loops in these conflicts record each decision with its reason, or remove "
            "the conflicts",
        ),
        (
            "{router.name} counted errors in its choice (or failed responses were slowed to "
            "match success latency)",
            "Make Loop Router count errors in its choice (or slow failed responses to match "
            "success latency)",
        ),
        (
            "{replacer.name} waited longer than a planned restart takes (or was told of planned "
            "restarts) before replacing an instance",
            "Make Loop Replacer wait longer than a planned restart takes (or be told of planned "
            "restarts) before replacing an instance",
        ),
        (
            "{agent.name} counted failures and scaling events separately (or had a larger limit)",
            "Make Loop Agent count failures and scaling events separately (or have a larger limit)",
        ),
        (
            "allocated capacity was reconciled with capacity doing useful work",
            "Reconcile allocated capacity with capacity doing useful work",
        ),
        (
            "the deadline of {killer.name} was set above the worst-case start-up time",
            "Set the deadline of Loop Killer above the worst-case start-up time",
        ),
        (
            "{retrier.name} stopped retrying work that another loop terminated on purpose",
            "Make Loop Retrier stop retrying work that another loop terminated on purpose",
        ),
        (
            "{retrier.name} did not retry open-circuit rejections",
            "Make sure Loop Retrier does not retry open-circuit rejections",
        ),
        (
            "scale events for the training pool were rate-limited or batched",
            "Rate-limit or batch scale events for the training pool",
        ),
        (
            "{retrier.name} had a retry budget and honoured the breaker's Retry-After",
            "Make Loop Retrier have a retry budget and honour the breaker's Retry-After",
        ),
        (
            "members of synchronised jobs on {res.id} were exempt from {drainer.name}",
            "Make members of synchronised jobs on Loop Res exempt from Loop Drainer",
        ),
        (
            "a shared retry budget caps how many times terminated work may be re-submitted",
            "Make sure that a shared retry budget caps how many times terminated work may be "
            "re-submitted",
        ),
    ],
)
def test_clearing_conditions_become_instructions(template: str, expected: str) -> None:
    assert instruction(template, _placeholders(template)) == expected


def test_a_loop_name_that_reads_like_a_verb_is_left_alone() -> None:
    template = "the deadline of {killer.name} was set above the start-up time"
    rendered = "the deadline of was stopped was set above the start-up time"
    assert (
        instruction(template, rendered) == "Set the deadline of was stopped above the start-up time"
    )


@pytest.mark.parametrize(
    ("word", "base"),
    [
        ("stopped", "stop"),
        ("measured", "measure"),
        ("listed", "list"),
        ("retried", "retry"),
        ("controlled", "control"),
        ("treated", "treat"),
        ("correlated", "correlate"),
        ("held", "hold"),
        ("reconciled", "reconcile"),
        ("broken", "break"),
        ("added", "add"),  # a doubled consonant of the verb itself stays
        ("capped", "cap"),
        ("budget", None),
    ],
)
def test_base_forms(word: str, base: str | None) -> None:
    assert base_form(word) == base


def test_every_clearing_condition_of_the_knowledge_base_reads_as_an_instruction() -> None:
    # Symptoms' and costs' too: the Economic Risk Summary says what removes each cost. No
    # past tense is left, in the first clause or a joined one (kb lint checks it for packs).
    (clears,) = [r for r in lint([]) if r.name == "clears-as-commands"]
    assert clears.ok, [p.message for p in clears.problems]
    kb = builtin_kb()
    for p in kb.patterns.values():
        for c in p.clears:
            text = instruction(c, _placeholders(c))
            assert text[:1].isupper(), (p.id, text)
            assert "{" not in text, (p.id, text)


def test_kb_lint_names_a_clears_that_reads_as_a_broken_command(tmp_path: Path) -> None:
    pack = tmp_path / "pack" / "patterns" / "incoherence"
    pack.mkdir(parents=True)
    original = builtin_kb().patterns["shutdown-vs-retry"]
    data = original.model_dump(mode="json", by_alias=True, exclude_unset=True)
    data["clears"] = ["the deadline, which was too short, was raised"]
    data["overrides"] = {"reason": "test"}
    (pack / "shutdown-vs-retry.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    (clears,) = [r for r in lint([tmp_path / "pack"]) if r.name == "clears-as-commands"]
    (problem,) = clears.problems
    assert problem.where == "clears[0]" and "was" in problem.message


@pytest.mark.parametrize("name", NAMES)
def test_actions_are_instructions_with_owners_and_money(name: str) -> None:
    results, a = assessed(name)
    summary = results.executive_summary
    assert summary is not None and summary.actions
    owners = {lp.owner for lp in a.loops}
    for act in summary.actions:
        assert act.text.split()[0] in ("Make", "Add", "Set", "Use", "Shorten", "Lengthen") or (
            act.text.split()[0][:1].isupper() and not act.text.split()[0].endswith("ed")
        ), act.text
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", act.text), act.text  # no field names
        assert set(act.owners) <= owners
        if act.removes is None:
            assert act.not_priced.startswith("not priced: "), act
            assert "Not priced: " in act.summary
        else:
            assert act.exposure_removed is not None and act.share is not None
            assert "a month (central estimate)" in act.summary
        assert "likely" not in act.summary


def test_an_action_names_the_owner_of_the_loop_it_changes() -> None:
    results, a = assessed("llm-platform")
    summary = results.executive_summary
    assert summary is not None
    by_name = {lp.name: lp.owner for lp in a.loops}
    for act in summary.actions:
        named = {
            owner
            for name, owner in by_name.items()
            if name in act.condition and owner not in (None, "unknown")
        }
        if named:
            assert set(act.owners) == named, act


def test_a_change_to_a_resource_is_not_charged_to_the_loop_that_disrupts_it() -> None:
    """Faster checkpoints of a job are made by whoever runs the job, not by the scheduler
    whose preemption notice they must fit: the action names the job, not Kueue's team."""
    from expert.analysis.assess import Assessor
    from tests.helpers import make

    kueue = {
        "id": "kueue",
        "name": "Kueue preemption",
        "owner": "Research computing",
        "triggers": ["priority_arrival"],
        "actuations": ["preempt"],
        "acts_on": ["train"],
        "deadline": "30s",
    }
    a = make(
        [kueue],
        [{"id": "train", "kind": "job", "name": "Pretraining job", "checkpoint_duration": "8m"}],
    )
    with Assessor(builtin_kb()) as assessor:
        results = assessor.assess(a)
    summary = results.executive_summary
    assert summary is not None
    (act,) = [x for x in summary.actions if "checkpoints of Pretraining job" in x.condition]
    assert "Made by whoever runs Pretraining job, not by a loop of the conflict." in act.summary
    assert "Research computing" not in act.summary and act.owners == []


def test_a_resource_named_only_in_a_changes_wording_does_not_take_it_over() -> None:
    """A clearing condition that says "at an activator or queue" changes no resource called
    "queue": the loops' teams still own it."""
    from expert.analysis.assess import Assessor
    from tests.helpers import keda_to_zero, make

    keda = keda_to_zero(owner="Platform team")
    timeout = {
        "id": "interceptor",
        "owner": "Serving team",
        "triggers": ["timeout"],
        "actuations": ["terminate"],
        "acts_on": ["llm"],
        "deadline": "30s",
    }
    a = make(
        [keda, timeout],
        [
            {"id": "llm", "kind": "model_replica", "name": "Llama server", "startup_time": "3m"},
            {"id": "queue", "kind": "queue"},
        ],
    )
    with Assessor(builtin_kb()) as assessor:
        results = assessor.assess(a)
    summary = results.executive_summary
    assert summary is not None
    (act,) = [x for x in summary.actions if "activator or queue" in x.condition]
    assert "Made by whoever runs" not in act.summary
    assert set(act.owners) == {"Platform team", "Serving team"}


@pytest.mark.parametrize("name", NAMES)
def test_every_format_opens_with_the_verdict_date_and_digest(name: str) -> None:
    results, a = assessed(name)
    info = results.report
    assert info is not None
    digest = hashlib.sha256((EXAMPLES / f"{name}.yaml").read_bytes()).hexdigest()
    assert info.input_sha256 == digest
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", info.date)
    assert "confirmed" in info.verdict and "central estimate" in info.verdict
    assert "interconnect" in info.scope and "out of" in info.scope

    md = render("markdown", results, a)
    head = md.split("## Executive summary")[0]
    assert f"**Verdict:** {md_escape(info.verdict)}" in head
    assert digest in head and info.date in head and "interconnect" in head

    html = render("html", results, a)
    head = html.split('<section id="summary">')[0]
    assert 'id="verdict"' in head and digest in head and info.date in head

    data = json.loads(render("json", results, a))
    assert list(data).index("report") < list(data).index("findings")
    assert data["report"]["verdict"] == info.verdict

    run = json.loads(render("sarif", results, a))["runs"][0]
    assert run["properties"]["verdict"] == info.verdict
    assert run["properties"]["inputSha256"] == digest

    rows = list(csv.DictReader(io.StringIO(render("csv", results, a), newline="")))
    assert {r["input_sha256"] for r in rows} == {digest}
    assert {r["report_date"] for r in rows} == {info.date}


def test_the_date_follows_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01T00:00:00Z
    assert deliverables.report_date().isoformat() == "2026-01-01"


def test_csv_carries_owner_layer_evidence_and_money() -> None:
    results, a = assessed("llm-platform")
    rows = list(csv.DictReader(io.StringIO(render("csv", results, a), newline="")))
    layers = {lp.id: lp.layer for lp in a.loops}
    econ = results.economics
    assert econ is not None and econ.priced
    priced = {c.finding for c in econ.costs if c.money is not None}
    assert priced
    for row, f in zip(rows, results.findings, strict=True):
        assert row["evidence_score"] == f"{f.evidence.score:.2f}"
        if f.loops:
            assert row["layer"].split("; ")[0] == layers[f.loops[0]]
        if f.id in priced:  # every priced ghost cost carries its amount
            assert row["central_per_month"].isdigit()
            assert row["currency"] == econ.currency
    assert any(r["owner"] for r in rows)


def _conflict(fid: str, loops: list[str], score: float) -> Finding:
    return Finding(
        id=fid,
        rule=fid,
        kind="incoherence",
        title=fid,
        status="confirmed",
        severity="high",
        loops=loops,
        because=[],
        narrative="",
        evidence=Evidence(score=score),
        members=[Member(loops=loops, status="confirmed")],
    )


def test_degree_of_coherence_by_hand() -> None:
    edges = [("a", "b"), ("b", "a"), ("b", "c"), ("c", "d")]  # three interacting pairs
    none = execsummary.degree([], edges)
    assert (none.value, none.pairs, none.conflicting) == (1.0, 3, 0)
    one = execsummary.degree([_conflict("x", ["a", "b"], 0.75)], edges)
    assert one.value == pytest.approx(1 - 0.75 / 3, abs=1e-3)
    assert one.conflicting == 1
    # The strongest conflict of a pair counts; a conflict between loops with no influence
    # edge adds its pair.
    two = execsummary.degree(
        [
            _conflict("x", ["a", "b"], 0.75),
            _conflict("y", ["b", "a"], 1.0),
            _conflict("z", ["a", "d"], 0.5),
        ],
        edges,
    )
    assert (two.pairs, two.conflicting) == (4, 2)
    assert two.value == pytest.approx(1 - 1.5 / 4, abs=1e-3)
    assert "%" in two.text and two.definition


def test_fewer_conflicts_mean_more_coherence_and_diff_says_so() -> None:
    results, a = assessed("training-cluster")
    fewer = results.model_copy(
        update={"findings": [f for f in results.findings if f.kind != "incoherence"]}
    )
    d = diff_results(results, fewer)
    assert d.coherence is not None and d.coherence.change > 0 and d.coherence.new == 1.0
    assert "Degree of coherence:" in to_text(d)
    summary = results.executive_summary
    assert summary is not None and summary.coherence is not None
    assert summary.coherence.value == d.coherence.old
    assert summary.coherence.text in render("markdown", results, a)


def test_a_layer_without_loops_is_flagged_and_asked() -> None:
    results, a = assessed("training-cluster")
    inv = results.inventory
    assert inv is not None
    described = {lp.layer for lp in a.loops}
    assert "orchestration" not in described
    empty = {e.layer for e in inv.empty_layers}
    assert "orchestration" in empty and not (empty & described)
    asked = [q for q in results.open_questions if q.id == "layer-described:orchestration"]
    assert len(asked) == 1 and "is that true?" in asked[0].text
    assert asked[0].text.startswith("No orchestration loops were described")
    md = render("markdown", results, a)
    assert md.count(asked[0].text.split(" (")[0]) >= 2  # inventory and open questions


@pytest.mark.parametrize("name", NAMES)
def test_every_finding_says_why_it_has_its_severity(name: str) -> None:
    results, _ = assessed(name)
    assert all(f.severity_reason for f in results.findings)


def test_markdown_escapes_only_ampersands_that_start_a_reference() -> None:
    assert md_escape("Edge & mesh") == "Edge & mesh"
    assert md_escape("&amp; &lt;b&gt; &#60;") == "&amp;amp; &amp;lt;b&amp;gt; &amp;\\#60;"


def test_amplification_wording_does_not_repeat_a_single_factor() -> None:
    assert times(9, 9) == "up to 9x"
    assert times(4, 9) == "from 4x up to 9x"


def test_long_unbroken_names_wrap_in_html() -> None:
    results, a = assessed("llm-platform")
    assert "overflow-wrap: anywhere" in render("html", results, a)


def test_the_findings_appendix_explains_each_pattern_once() -> None:
    results, a = assessed("llm-platform")
    html = render("html", results, a)
    appendix = html.split('<section id="findings">')[1].split("</section>")[0]
    rules = {f.rule for f in results.shown() if f.kind in ("incoherence", "auditability")}
    for rule in rules:
        assert appendix.count(f'id="p-{rule}"') == 1
    held = [f for f in results.findings if not f.evidence.shown]
    for f in held:  # held-back findings are collapsed in Appendix C, not detailed here
        assert f'id="f-{f.id}"' not in appendix
    # Each pattern says how it happens, in a paragraph of its own in Markdown too.
    markdown = render("markdown", results, a)
    for rule in rules:
        mechanism = builtin_kb().patterns[rule].mechanism.split()[0]
        assert f"\n\nHow it happens: {mechanism}" in markdown, rule
        assert f"<em>How it happens:</em> {mechanism}" in appendix, rule


def test_reports_state_the_seed_scope(tmp_path: Path) -> None:
    results, a = assessed("llm-platform")
    for fmt in ("markdown", "html"):
        assert "interconnect and hardware faults are out of its scope" in render(fmt, results, a)


def test_the_changes_amounts_add_up_to_what_they_remove_together() -> None:
    """Each change's amount is counted once the changes above it are made, so a cost two
    changes finish clearing between them is counted once, and the amounts add up to what
    the changes remove together; the report says how they are counted."""
    results, _ = assessed("llm-platform")
    summary, economics = results.executive_summary, results.economics
    assert summary is not None and economics is not None
    together = econ.savings(economics, {i for act in summary.actions for i in act.clears})
    assert together is not None
    counted = sum(act.exposure_removed or 0 for act in summary.actions)
    assert counted == pytest.approx(together.central)
    assert "once the changes above it are made" in summary.actions_note


@pytest.mark.parametrize("name", NAMES)
def test_changes_to_confirmed_findings_come_before_those_resting_on_possible_ones(
    name: str,
) -> None:
    """A change that clears only possible findings may be undone by an answer still missing:
    it is listed after every change that clears a confirmed conflict or gap, however heavy."""
    results, _ = assessed(name)
    summary = results.executive_summary
    assert summary is not None and summary.actions
    by_id = {f.id: f for f in results.every_finding()}
    firm = [
        any(by_id[i].status == "confirmed" for i in act.clears if not by_id[i].derived_from)
        for act in summary.actions
    ]
    assert firm == sorted(firm, reverse=True), [a.text for a in summary.actions]
    assert firm == [a.firm for a in summary.actions]
    # Both examples have more confirmed findings with their own changes than three.
    assert all(firm)


@pytest.mark.parametrize("name", NAMES)
def test_the_verdict_names_the_change_by_the_risk_it_removes_in_every_format(name: str) -> None:
    """The changes are ranked by risk, not money, and JSON and SARIF list no changes after
    the verdict: it names its change without "below" and without claiming it saves most."""
    results, _ = assessed(name)
    summary, info = results.executive_summary, results.report
    assert summary is not None and info is not None
    first = summary.actions[0]
    assert "below" not in info.verdict and "saves the most" not in info.verdict
    assert "the one that would remove the most risk: " in info.verdict
    assert first.text[1:] in info.verdict


def test_a_change_with_no_known_owner_says_to_assign_one() -> None:
    results, _ = assessed("training-cluster")
    summary = results.executive_summary
    assert summary is not None
    unowned = [a for a in summary.actions if not a.owners]
    assert unowned
    for act in unowned:
        assert act.no_owner == "no owner named: assign one"
        assert "No owner named: assign one (Node thermal and ECC protection has no known " in (
            act.summary
        )
    for act in summary.actions:
        assert bool(act.no_owner) == (not act.owners and "Made by whoever" not in act.summary)


def test_a_held_back_findings_cost_row_says_so_and_points_to_the_list_to_check() -> None:
    """A finding held back until answers are given is not among the findings the report
    shows; its row of the exposure table says where it is listed, and the HTML links there,
    not to a finding the page does not show. Its money stays in the high end only."""
    results, a = assessed("llm-platform")
    economics = results.economics
    assert economics is not None
    held = {f.id for f in results.every_finding() if not f.evidence.shown}
    rows = {r.pattern: r for r in economics.by_pattern}
    row = rows["health-automation-removes-capacity"]  # waits on whether busy fails the check
    assert row.held_back and set(row.findings) <= held
    assert row.total.likely == 0 and row.total.high > 0
    assert not any(r.held_back for p, r in rows.items() if p != row.pattern)
    md = render("markdown", results, a)
    assert f"| {row.title} (held back: see Appendix C, To check) |" in md
    html = render("html", results, a)
    for link in re.findall(r'href="#([^"]+)"', html):
        assert f'id="{link}"' in html, link


def test_the_advice_for_a_retried_stop_keeps_the_recovery() -> None:
    """A training job restarted after its watchdog killed a hung collective was told to "stop
    retrying work that another loop terminated on purpose", which leaves a real hang
    unrecovered. The advice now has the retry follow the stop's cause (another node, the
    caller's remaining deadline) in every place it is given."""
    for example in ("training-cluster", "llm-platform"):
        results, a = assessed(example)
        assert results.executive_summary is not None and results.economics is not None
        md = render("markdown", results, a)
        assert "stop retrying" not in md.lower(), example
        found = [f for f in results.findings if f.rule == "shutdown-vs-retry"]
        assert found, example
        assert "as final" not in md, example  # a scale-in's stop may be retried elsewhere
        for f in found:
            assert "cause of the stop no longer holds" in f.would_clear_if[0], f.id
