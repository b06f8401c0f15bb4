"""The risk maps load and render in a real browser: headless Chromium renders the HTML report's
map for both examples and a 100-loop assessment to PNG, and, when MERMAID_JS names
mermaid.min.js, the Markdown report's Mermaid diagram too (Mermaid refuses diagrams over its
size and edge limits with a "Syntax error" picture, which the script detects)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.benchmarks import render_maps

pytestmark = pytest.mark.skipif(
    render_maps.chromium() is None,
    reason="chromium is not installed (apt-get install chromium): the browser check is skipped",
)


def test_maps_render_in_headless_chromium(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = [str(tmp_path), "--sizes", "100"]
    if os.environ.get("MERMAID_JS"):
        args += ["--mermaid-js", os.environ["MERMAID_JS"]]
    assert render_maps.main(args) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    for name in ("llm-platform", "training-cluster", "generated-100"):
        assert f"{name}: HTML" in printed
        assert (tmp_path / f"{name}-map.png").stat().st_size > 1000


def test_bad_sizes_are_refused_with_a_message(capsys: pytest.CaptureFixture) -> None:
    assert render_maps.main(["/nonexistent-out", "--sizes", "ten"]) == 2
    assert "--sizes" in capsys.readouterr().err
