"""kill -9 in the middle of the interview loses at most the answer being typed.

The real program (`python -m interview FILE`) runs in a pseudo-terminal and is driven by
keystrokes; it is killed with SIGKILL while an answer is half typed, then the file is
reopened in a fresh app, which resumes on the same question with every confirmed answer.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from expert.analysis.assess import load_assessment
from expert.assessment.model import UNKNOWN
from expert.knowledge import knowledgebase as knowledge
from interview import resume

from .keyboard import make_app
from .pty_app import interview_in_pty

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60  # a generous bound for a loaded machine; the test waits for events, not time


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def position(path: Path) -> str:
    return resume.load(path).step


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
async def test_sigkill_mid_interview_then_resume(tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    with interview_in_pty(path, TEXTUAL_ANIMATIONS="none") as (_pid, fd):

        def send(keys: str) -> None:
            os.write(fd, keys.encode())

        wait_for(lambda: position(path) == "welcome:::", "the welcome screen")
        send("\r")  # start
        wait_for(lambda: position(path).endswith(":system-name"), "the first question")
        send("Killed platform\r")
        wait_for(lambda: "Killed platform" in read_text(path), "the name to be saved")
        wait_for(lambda: position(path).endswith(":system-description"), "the next question")
        send("\x04")  # ctrl+d: don't know
        wait_for(lambda: "description: unknown" in read_text(path), "don't know to be saved")
        wait_for(lambda: position(path).endswith(":system-respondent"), "the third question")
        send("half-typ")  # never confirmed
        time.sleep(0.3)  # let the keystrokes arrive; nothing below depends on them
    # leaving the block SIGKILLs the interview mid-answer

    kb = knowledge.load([])
    saved = load_assessment(path, kb)  # a whole, valid file: never a torn write
    assert saved.system.name == "Killed platform"
    assert saved.system.description == UNKNOWN
    assert saved.system.respondent is None  # the half-typed answer is the only loss
    assert not list(tmp_path.glob("*.tmp"))

    app = make_app(path)
    async with app.run_test(size=(80, 24)):
        assert app.interview.current.key == "question:system::system-respondent"
