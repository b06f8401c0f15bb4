"""Snapshots of the main screens at 80x24 and at a larger size.

The screens show knowledge-base text (questions, findings); when the knowledge base changes
on purpose, review the report and accept with `pytest tests/interview --snapshot-update`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from interview import resume
from interview.flow import Step

from .keyboard import make_app, settle

FIXTURE = Path(__file__).parent / "fixtures" / "four-loops.yaml"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Relative paths keep the file name shown on screen the same on every machine.
    monkeypatch.chdir(tmp_path)
    return Path("four.yaml")


def four_loops_at(path: Path, step: str) -> Any:
    shutil.copy(FIXTURE, path)
    resume.save(path, resume.Position(step=step))
    return make_app(path)


async def steady(pilot: Pilot) -> None:
    """Engine caught up, and no blinking cursor: the same picture every time."""
    await settle(pilot)
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


def test_welcome_on_a_new_file(snap_compare: Any, here: Path) -> None:
    assert snap_compare(make_app(Path("new.yaml")), terminal_size=(80, 24), run_before=steady)


def test_a_choice_question(snap_compare: Any, here: Path) -> None:
    app = four_loops_at(here, Step("question", "loop", "replica-hpa", "loop-objective").key)
    assert snap_compare(app, terminal_size=(80, 24), run_before=steady)


def test_a_choice_question_wide(snap_compare: Any, here: Path) -> None:
    app = four_loops_at(here, Step("question", "loop", "replica-hpa", "loop-objective").key)
    assert snap_compare(app, terminal_size=(130, 40), run_before=steady)


def test_a_typed_answer_explained_in_place(snap_compare: Any, here: Path) -> None:
    app = four_loops_at(here, Step("question", "loop", "replica-hpa", "loop-timescale").key)

    async def type_soon(pilot: Pilot) -> None:
        await pilot.press("end", "ctrl+u", *"soon", "enter")
        await steady(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=type_soon)


def test_add_loop_dialog(snap_compare: Any, here: Path) -> None:
    app = four_loops_at(here, Step("loops").key)

    async def open_dialog(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await steady(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_dialog)


def test_review(snap_compare: Any, here: Path) -> None:
    app = four_loops_at(here, Step("review").key)
    assert snap_compare(app, terminal_size=(80, 24), run_before=steady)


def test_results(snap_compare: Any, here: Path) -> None:
    app = four_loops_at(here, Step("review").key)

    async def open_results(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("ctrl+r")
        await steady(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_results)


def test_results_wide(snap_compare: Any, here: Path) -> None:
    app = four_loops_at(here, Step("review").key)

    async def open_results(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("ctrl+r")
        await steady(pilot)

    assert snap_compare(app, terminal_size=(130, 40), run_before=open_results)
