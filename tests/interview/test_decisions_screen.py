"""A decision set on the results screen is saved to the file, and a merged file with a
disagreement opens and shows it."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import yaml
from textual.widgets import DataTable, Input, Static

from expert.assessment import respondents
from interview import resume
from interview.flow import Step
from interview.screens.decision import DecisionDialog
from interview.screens.results import ResultsScreen
from tests.helpers import builtin_kb

from .keyboard import make_app, settle

EXAMPLE = Path(__file__).parents[2] / "expert" / "examples" / "llm-platform.yaml"


async def open_results(pilot: object) -> ResultsScreen:
    await settle(pilot)  # type: ignore[arg-type]
    await pilot.press("ctrl+r")  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]
    screen = pilot.app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, ResultsScreen)
    return screen


def _example_at_review(tmp_path: Path) -> Path:
    path = tmp_path / "llm.yaml"
    shutil.copy(EXAMPLE, path)
    resume.save(path, resume.Position(step=Step("review").key))
    return path


async def test_a_decision_set_on_the_results_screen_is_saved(tmp_path: Path) -> None:
    path = _example_at_review(tmp_path)
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_results(pilot)
        chosen = screen.selected
        assert chosen is not None
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DecisionDialog)
        # No reason: nothing is saved and the dialog says why.
        app.screen.query_one("#decision-by", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DecisionDialog)
        problem = str(app.screen.query_one("#decision-problem", Static).content)
        assert "needs a reason" in problem
        assert "decisions" not in yaml.safe_load(path.read_text())
        app.screen.query_one("#decision-reason", Input).focus()
        await pilot.press(*"raised in Q3", "enter")
        await pilot.press(*"Platform SRE", "enter")
        await settle(pilot)
        assert app.screen is screen
        saved = yaml.safe_load(path.read_text())["decisions"][chosen]
        assert saved["state"] == "accepted"
        assert saved["reason"] == "raised in Q3" and saved["by"] == "Platform SRE"
        assert str(saved["date"]) == dt.date.today().isoformat()
        row = screen.query_one("#findings", DataTable).get_row(chosen)
        assert "confirmed, accepted" in [str(cell) for cell in row]
        explanation = str(screen.query_one("#explanation", Static).content)
        assert "Decision: accepted" in explanation and "raised in Q3" in explanation
        # Opened again, the dialog starts from the saved decision.
        await pilot.press("d")
        await pilot.pause()
        assert app.screen.query_one("#decision-reason", Input).value == "raised in Q3"


async def test_a_merged_file_with_a_disagreement_opens(tmp_path: Path) -> None:
    one = yaml.safe_load(EXAMPLE.read_text())
    two = yaml.safe_load(EXAMPLE.read_text())
    two["loops"][0]["timescale"] = "13m"
    merged = respondents.merge(
        [("Platform", one), ("Inference", two)], vocab=builtin_kb().vocabulary
    )
    assert len(merged.disputes) == 1
    path = tmp_path / "merged.yaml"
    path.write_text(merged.to_yaml())
    resume.save(path, resume.Position(step=Step("review").key))
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_results(pilot)
        assert app.session.assessment.loops[0].disputed
        ids = [f.id for f in screen.shown]
        assert "respondents-disagree" in ids


async def test_two_findings_of_one_pattern_name_their_loops_in_the_list(tmp_path: Path) -> None:
    """The example has two 'Competing shutdown vs retry logic' findings: each row says
    which loops it is about, so the list never shows the same line twice."""
    app = make_app(_example_at_review(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_results(pilot)
        table = screen.query_one(DataTable)
        titles = [str(table.get_row_at(i)[-1]) for i in range(table.row_count)]
    shutdown = [t for t in titles if t.startswith("Competing shutdown vs retry logic")]
    assert len(shutdown) == 2 and len(set(shutdown)) == 2
    assert all(t.endswith(")") and "retries" in t for t in shutdown)
    assert len(set(titles)) == len(titles)


async def test_a_conflicts_row_shows_the_money_charged_to_it(tmp_path: Path) -> None:
    """Conflicts and gaps carry the money the Economic Risk Summary charges them, so the
    list says which of them costs what, not only the ghost costs."""
    app = make_app(_example_at_review(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_results(pilot)
        table = screen.query_one(DataTable)
        rows = {f.id: table.get_row_at(i) for i, f in enumerate(screen.shown)}
        shown = {f.id: f for f in screen.shown}
    priced = [
        fid
        for fid, row in rows.items()
        if shown[fid].kind in ("incoherence", "auditability") and str(row[3]).startswith("USD ")
    ]
    # the confirmed conflict between the SDK's retries and the rate limit carries money
    assert "retries-against-rate-limit@public-api" in priced
    assert not str(rows["retries-against-rate-limit@inference-gateway"][3])  # possible: none
