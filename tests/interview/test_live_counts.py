"""The interview counts findings as the reports' headlines do: held-back ones apart."""

from __future__ import annotations

from pathlib import Path

from expert.analysis.assess import Assessor, load_assessment
from expert.analysis.results import Results
from expert.knowledge.knowledgebase import load
from interview.widgets.live_panel import by_severity, counts_line, follow_ups

EXAMPLE = Path(__file__).parents[2] / "expert" / "examples" / "llm-platform.yaml"


def test_held_back_findings_are_counted_apart_and_not_listed() -> None:
    kb = load([])
    with Assessor(kb) as ax:
        results = ax.assess(load_assessment(EXAMPLE, kb), deliverables=False)
    held = [f for f in results.findings if not f.evidence.shown]
    assert held, "premise: the example holds some findings back"
    shown = len(results.findings) - len(held)
    confirmed = sum(f.status == "confirmed" for f in results.findings if f.evidence.shown)
    assert counts_line(results) == (
        f"{confirmed} confirmed, {shown - confirmed} possible, {len(held)} held back to check"
    )
    listed = {f.id for f in by_severity(results, shown_only=True)}
    assert listed.isdisjoint(f.id for f in held) and len(listed) == shown


def _one_named_loop(tmp_path: Path) -> Results:
    """Results for a platform whose one loop is only named: nothing about it asked yet."""
    path = tmp_path / "fresh.yaml"
    path.write_text(
        "schema_version: 1\nsystem: {name: Test}\n"
        "loops:\n  - {id: gateway-timeout, name: Gateway timeout}\n",
        encoding="utf-8",
    )
    kb = load([])
    with Assessor(kb) as ax:
        return ax.assess(load_assessment(path, kb), deliverables=False)


def test_gaps_waiting_on_questions_not_asked_yet_are_not_counted(tmp_path: Path) -> None:
    results = _one_named_loop(tmp_path)
    assert results.findings, "premise: the named loop's unanswered questions wait as gaps"
    assert counts_line(results) == "none yet"
    # Its questions come in turn: none is offered as a follow-up to settle a finding.
    mine = [q for q in results.open_questions if q.loop == "gateway-timeout"]
    assert mine and not [q for q in follow_ups(results) if q.loop == "gateway-timeout"]


def test_a_question_a_waiting_gap_asks_says_dont_know_records_it(tmp_path: Path) -> None:
    from interview.screens.interview import follow_up_text

    results = _one_named_loop(tmp_path)
    owner = [f for f in results.findings if f.rule == "unknown-owner"]
    assert follow_up_text(owner) == (
        "Follow-up: don't know here records the gap “Control loop without a known owner”"
    )


async def test_the_resources_card_says_what_skipping_them_leaves_unjudged(tmp_path: Path) -> None:
    import yaml
    from textual.widgets import Static

    from interview import resume
    from interview.flow import RESOURCES

    from .keyboard import make_app, settle

    # The training example with its resources' timings not given yet.
    path = tmp_path / "training.yaml"
    data = yaml.safe_load((EXAMPLE.parent / "training-cluster.yaml").read_text(encoding="utf-8"))
    for resource in data["resources"]:
        resource.pop("startup_time", None)
        resource.pop("checkpoint_duration", None)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    resume.save(path, resume.Position(step=RESOURCES.key))
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.interview.current.key == RESOURCES.key
        text = str(app.screen.query_one("#help", Static).content)
        said = text.split("\n\n", 1)[1]
        assert "of these answers can change a finding, for example: How long" in said
        assert "(Pre-training job (512 GPUs, FSDP))" in said  # the user's name, not the id
        assert "Skipped, the findings that need them stay possible or are not found." in said
