"""Findings on an imported platform cite the configuration line of each value they rest on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from expert.assessment.provenance import parse
from expert.cli.main import main

CONFIGS = Path(__file__).resolve().parent.parent / "examples" / "configs" / "inference-platform"


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code in (0, 1), result.stderr  # 1: findings at --fail-on
    return result.stdout


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("import") / "p.yaml"
    run("import", str(CONFIGS), "-o", str(target))
    return target


def test_because_entries_carry_the_source_the_assessment_records(imported: Path) -> None:
    data = yaml.safe_load(imported.read_text())
    recorded = {lp["id"]: lp.get("sources", {}) for lp in data["loops"]}
    findings = json.loads(run("assess", str(imported), "--format", "json"))["findings"]
    cited = [b for f in findings for b in f["because"] if b.get("source")]
    assert cited, "some finding rests on an imported value"
    for b in cited:
        if b["loop"] is not None and not b["field"].startswith(("acts.", "resource.")):
            assert b["source"] == recorded[b["loop"]][b["field"]]
    timeout = next(
        b
        for f in findings
        for b in f["because"]
        if b["loop"] == "chat-api-timeout" and b["field"] == "triggers"
    )
    assert parse(timeout["source"]).line == 30  # gateway.yaml: `timeout: 60s`


def test_a_value_someone_answered_has_no_source(imported: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(imported.read_text())
    for item in [*data["loops"], *data["resources"]]:
        item.pop("sources", None)
    typed = tmp_path / "typed.yaml"
    typed.write_text(yaml.safe_dump(data, sort_keys=False))
    findings = json.loads(run("assess", str(typed), "--format", "json"))["findings"]
    assert findings and not any("source" in b for f in findings for b in f["because"])


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_reports_say_where_a_value_came_from(imported: Path, fmt: str) -> None:
    text = run("assess", str(imported), "--format", fmt)
    assert "(from " in text and "gateway.yaml:30)" in text
