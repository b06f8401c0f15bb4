"""The engine starts on an answer while its file is written: the answer is on disk whatever
the engine does, and results for an answer whose save failed are never shown."""

from __future__ import annotations

import errno
import shutil
import threading
from pathlib import Path

import pytest
from textual.widgets import Static

from expert.analysis.assess import Assessor
from expert.analysis.results import Results
from expert.assessment.model import Assessment
from expert.knowledge.knowledgebase import KnowledgeBase
from interview import resume
from interview import session as session_mod
from interview.app import InterviewApp
from interview.flow import Step

from .keyboard import Keyboard, make_app, settle

FIXTURE = Path(__file__).parent / "fixtures" / "four-loops.yaml"


class Gated:
    """An assessor that waits for its gate before each run, and notes what it was given."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.given: list[Assessment] = []
        self._assessor = Assessor(kb)

    def assess(self, assessment: Assessment, deliverables: bool = True) -> Results:
        self.given.append(assessment)
        assert self.gate.wait(60), "the test never opened the gate"
        return self._assessor.assess(assessment, deliverables=deliverables)

    def close(self) -> None:
        self.gate.set()
        self._assessor.close()


def _app_on_owner(tmp_path: Path) -> tuple[Path, list[Gated], InterviewApp]:
    path = tmp_path / "four.yaml"
    shutil.copy(FIXTURE, path)
    resume.save(
        path, resume.Position(step=Step("question", "loop", "replica-hpa", "loop-owner").key)
    )
    made: list[Gated] = []

    def factory(kb: KnowledgeBase) -> Gated:
        made.append(Gated(kb))
        return made[-1]

    app = make_app(path, assessor_factory=factory)
    return path, made, app


async def test_an_answer_is_on_disk_while_the_engine_still_runs(tmp_path: Path) -> None:
    path, made, app = _app_on_owner(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await settle(pilot)
        engine = made[0]
        engine.gate.clear()
        await keys.type_into("Platform team")
        await keys.press("enter")
        await pilot.pause()
        assert app.engine_busy
        assert "owner: Platform team" in path.read_text()
        engine.gate.set()
        await settle(pilot)
        assert engine.given[-1] is app.session.assessment
        assert app.results_for is app.session.assessment


async def test_results_for_an_answer_that_was_not_saved_are_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, made, app = _app_on_owner(tmp_path)
    before = path.read_text()

    def full_disk(target: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await settle(pilot)
        engine = made[0]
        saved = app.session.assessment
        shown = app.results
        engine.gate.clear()
        monkeypatch.setattr(session_mod, "atomic_write_text", full_disk)
        await keys.type_into("Platform team")
        await keys.press("enter")
        await pilot.pause()
        hint = str(app.screen.query_one("#hint", Static).content)
        assert "cannot save" in hint.lower() and "No space left" in hint
        engine.gate.set()
        await settle(pilot)
        # The engine did run on the unsaved answer, started before the write failed ...
        unsaved = engine.given[-1].loop("replica-hpa")
        assert unsaved is not None and unsaved.owner == "Platform team"
        # ... and its results were dropped: the screen keeps the saved answers' results.
        assert app.session.assessment is saved
        assert app.results is shown and app.results_for is saved
        assert app.interview.current.question == "loop-owner"
    assert path.read_text() == before
