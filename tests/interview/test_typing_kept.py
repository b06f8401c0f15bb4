"""Unconfirmed typing survives a pause followed by a kill, and a clean quit (README)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from interview import resume
from interview.flow import Step

from .keyboard import Keyboard, make_app

FIXTURE = Path(__file__).parent / "fixtures" / "four-loops.yaml"
KEY = Step("question", "loop", "replica-hpa", "loop-owner").key


def _at_owner_question(tmp_path: Path) -> Path:
    path = tmp_path / "four.yaml"
    shutil.copy(FIXTURE, path)
    resume.save(path, resume.Position(step=KEY))
    return path


async def test_typing_is_saved_once_the_typist_pauses(tmp_path: Path) -> None:
    path = _at_owner_question(tmp_path)
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await Keyboard(pilot).type_into("Half a team na")
        # The save follows a pause in typing; wait for it by its effect, generously.
        for _ in range(200):
            if resume.load(path).pending.get(KEY) == "Half a team na":
                break
            await asyncio.sleep(0.05)
        assert resume.load(path).pending.get(KEY) == "Half a team na"
        assert app.is_running  # saved while the interview runs, not at exit


async def test_a_clean_quit_keeps_unconfirmed_typing(tmp_path: Path) -> None:
    path = _at_owner_question(tmp_path)
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await Keyboard(pilot).type_into("Platform te")
        app.exit()
    assert resume.load(path).pending.get(KEY) == "Platform te"
    # and reopening shows it in the answer box
    again = make_app(path)
    async with again.run_test(size=(80, 24)):
        assert again.interview.current.key == KEY
