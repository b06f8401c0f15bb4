"""An assessment that describes no control loop is refused by `assess` and `report`: it would
read "100% coherent" and pass a --fail-on gate on an empty file. The interview, which
assesses a file while it is being filled in, is not affected (it does not go through the CLI)."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from expert.cli.main import main

NO_LOOPS = {
    "schema_version": 1,
    "system": {"name": "edge"},
    "resources": [{"id": "api", "kind": "service"}],
}


def test_assess_refuses_a_file_without_loops_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(NO_LOOPS))
    out = tmp_path / "report.md"
    result = CliRunner().invoke(main, ["assess", str(path), "--fail-on", "high", "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "describes no control loops" in result.output
    assert "coherence interview" in result.output  # what to do
    assert "Traceback" not in result.output
    assert not out.exists()


def test_report_refuses_it_too(tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump({**NO_LOOPS, "loops": []}))
    result = CliRunner().invoke(main, ["report", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "describes no control loops" in result.output
    assert not (tmp_path / "out").exists()
