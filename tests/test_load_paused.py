"""Loading the knowledge base and an assessment runs with the cyclic garbage collector
paused (see expert/collector.py), and leaves it as it found it, even when loading fails."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest

from expert import yamlio
from expert.analysis import assess
from expert.errors import InputError
from expert.knowledge import knowledgebase as knowledge

EXAMPLE = Path(__file__).resolve().parent.parent / "expert" / "examples" / "llm-platform.yaml"


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the collector was enabled at each YAML parse."""
    states: list[bool] = []
    real = yamlio.parse_yaml_text

    def parse(text: str, source: str) -> Any:
        states.append(gc.isenabled())
        return real(text, source)

    monkeypatch.setattr(yamlio, "parse_yaml_text", parse)
    return states


@pytest.mark.parametrize("enabled", [True, False])
def test_paused_while_loading_and_restored(seen: list[bool], enabled: bool) -> None:
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        kb = knowledge.load([])
        assess.load_assessment(EXAMPLE, kb)
        assert seen and not any(seen)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_restored_after_a_bad_file(seen: list[bool], tmp_path: Path) -> None:
    kb = knowledge.load([])
    bad = tmp_path / "bad.yaml"
    bad.write_text("system: [unclosed\n", encoding="utf-8")
    was = gc.isenabled()
    gc.enable()
    try:
        with pytest.raises(InputError):
            assess.load_assessment(bad, kb)
        assert gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
