"""The interview in a browser: `textual serve` serves it, headless Chromium types an answer
and confirms it, and the assessment file holds it. Skips, saying what to install, where
Chromium or textual-serve is missing."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest

from expert.analysis.assess import load_assessment
from expert.knowledge import knowledgebase as knowledge

from .places import FIXTURE

TOOL = Path(__file__).resolve().parents[2] / "tools" / "browser_interview.py"
_spec = importlib.util.spec_from_file_location("browser_interview", TOOL)
assert _spec is not None and _spec.loader is not None
browser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(browser)


def test_an_answer_typed_in_the_browser_is_saved(tmp_path: Path) -> None:
    reason = browser.missing()
    if reason:
        pytest.skip(f"browser run not possible: {reason}")
    path = tmp_path / "four.yaml"
    path.write_bytes(FIXTURE.read_bytes())
    asyncio.run(browser.run(path, "question:loop:replica-hpa:loop-owner", "Inference team"))
    loop = load_assessment(path, knowledge.load([])).loop("replica-hpa")
    assert loop is not None and loop.owner == "Inference team"
