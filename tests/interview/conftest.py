"""Fixtures the interview's session tests share: the built-in knowledge base, a session on
a copy of the four-loop fixture, and the pilot's idle wait in short steps."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import textual._wait

from expert.knowledge.knowledgebase import KnowledgeBase
from interview.session import Session

from .keyboard import builtin_kb

FIXTURE = Path(__file__).parent / "fixtures" / "four-loops.yaml"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return builtin_kb()


@pytest.fixture
def four(tmp_path: Path, kb: KnowledgeBase) -> Session:
    path = tmp_path / "four.yaml"
    shutil.copy(FIXTURE, path)
    return Session.open(path, kb)


@pytest.fixture(autouse=True)
def idle_in_short_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """After each key, Textual's pilot waits for the app to go idle by sleeping 20 ms at a
    time until a sleep passes with the process all but idle: at least 40 ms of waiting per
    key, with nothing to do, however quick the app. Steps of 5 ms with the same idle share
    (under 5% of a step busy) keep the meaning of idle and a quarter of the wait. What a
    test waits for is still the app's messages handled (the pilot) and the engine's run
    finished (`settle`)."""
    step = 1 / 200
    monkeypatch.setattr(textual._wait, "SLEEP_GRANULARITY", step)
    monkeypatch.setattr(textual._wait, "SLEEP_IDLE", step / 20)
