"""The results screen states the exposure in money, its assumptions, and what each ghost
cost amounts to, as the exported reports do."""

from __future__ import annotations

import shutil
from pathlib import Path

from textual.widgets import DataTable, Static

from expert.analysis.assess import Assessor, load_assessment
from expert.deliverables import economics
from expert.knowledge import knowledgebase as knowledge
from interview import resume
from interview.flow import Step
from interview.screens.results import ResultsScreen

from .keyboard import make_app, settle

EXAMPLE = Path(__file__).parents[2] / "expert" / "examples" / "llm-platform.yaml"


async def test_results_show_the_exposure_range_and_each_cost(tmp_path: Path) -> None:
    path = tmp_path / "llm.yaml"
    shutil.copy(EXAMPLE, path)
    resume.save(path, resume.Position(step=Step("review").key))
    kb = knowledge.load([])
    report = Assessor(kb).assess(load_assessment(path, kb))  # what an export would say
    total = report.economics.total
    assert total is not None
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        summary = str(screen.query_one("#results-summary", Static).content)
        for value in (total.low, total.likely, total.high):
            assert economics.money(value, "USD") in summary
        for assumed in ("Assumes", "64 accelerators", "USD 4.9/accelerator-hour"):
            assert assumed in summary
        table = screen.query_one("#findings", DataTable)
        ghost = next(c for c in report.economics.costs if c.money is not None)
        row = table.get_row(ghost.finding)
        assert economics.money(ghost.money.likely, "USD") in [str(cell) for cell in row]
        screen.select_finding(ghost.finding)
        await pilot.pause()
        explanation = str(screen.query_one("#explanation", Static).content)
        assert "What it costs" in explanation
        assert economics.range_text(ghost.money, lambda v: economics.money(v, "USD")) in (
            explanation
        )
