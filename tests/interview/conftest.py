"""Fixtures the interview's session tests share: the built-in knowledge base, and a
session on a copy of the four-loop fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.knowledgebase import KnowledgeBase
from interview.session import Session

FIXTURE = Path(__file__).parent / "fixtures" / "four-loops.yaml"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.load([])


@pytest.fixture
def four(tmp_path: Path, kb: KnowledgeBase) -> Session:
    path = tmp_path / "four.yaml"
    shutil.copy(FIXTURE, path)
    return Session.open(path, kb)
