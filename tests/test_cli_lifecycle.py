"""`coherence diff`, `coherence merge` and `assess --baseline` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from expert.cli.main import main

EXAMPLE = Path(__file__).resolve().parent.parent / "expert" / "examples" / "llm-platform.yaml"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def respondent(tmp_path: Path, who: str, **loop0: str) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["system"]["respondent"] = who
    data["loops"][0].update(loop0)
    path = tmp_path / f"{who}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_diff_of_a_run_with_itself_is_empty_and_json_parses(tmp_path: Path) -> None:
    code, out, err = run("diff", str(EXAMPLE), str(EXAMPLE), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["findings_new"] == []


def test_diff_writes_to_a_file_and_refuses_an_input(tmp_path: Path) -> None:
    target = tmp_path / "d.md"
    code, _, err = run("diff", str(EXAMPLE), str(EXAMPLE), "-f", "markdown", "-o", str(target))
    assert code == 0, err
    assert target.read_text().strip()
    code, _, err = run("diff", str(EXAMPLE), str(EXAMPLE), "-o", str(EXAMPLE))
    assert code == 2


def test_merge_of_agreeing_respondents_writes_a_valid_file(tmp_path: Path) -> None:
    a, b = respondent(tmp_path, "Platform"), respondent(tmp_path, "Inference")
    out = tmp_path / "merged.yaml"
    code, _, err = run("merge", str(a), str(b), "-o", str(out))
    assert code == 0, err
    assert "0 disagreement(s)" in err
    code, _, err = run("assess", str(out), "--format", "json")
    assert code == 0, err


def test_merge_with_a_disagreement_keeps_both_answers_and_reports_it(tmp_path: Path) -> None:
    a, b = respondent(tmp_path, "Platform"), respondent(tmp_path, "Inference", timescale="13m")
    out = tmp_path / "merged.yaml"
    code, _, err = run("merge", str(a), str(b), "-o", str(out))
    assert code == 0, err
    assert "1 disagreement(s)" in err and "13m" in err
    merged = yaml.safe_load(out.read_text())
    loop = merged["loops"][0]
    assert loop["timescale"] == "unknown"
    assert {x["by"] for x in loop["disputed"]["timescale"]} == {"Platform", "Inference"}
    code, report, err = run("assess", str(out), "--format", "json")
    assert code == 0, err
    hits = [f for f in json.loads(report)["findings"] if f["rule"] == "respondents-disagree"]
    assert len(hits) == 1 and loop["id"] in hits[0]["loops"]
    assert "describe" in hits[0]["title"] and hits[0]["status"] == "confirmed"


def test_merge_needs_two_files(tmp_path: Path) -> None:
    code, _, err = run("merge", str(EXAMPLE), "-o", str(tmp_path / "m.yaml"))
    assert code == 2 and "at least two" in err


def test_baseline_fails_only_on_new_findings(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    code, _, err = run("assess", str(EXAMPLE), "-f", "json", "-o", str(old))
    assert code == 0, err
    # The same platform again: nothing new, so exit 0 although it has high findings.
    code, _, err = run("assess", str(EXAMPLE), "--baseline", str(old), "--fail-on", "new-high")
    assert code == 0, err
    code, _, _ = run("assess", str(EXAMPLE), "--fail-on", "high")
    assert code == 1
    # Against a baseline with fewer loops, the findings on the added loops are new.
    fewer = yaml.safe_load(EXAMPLE.read_text())
    fewer["loops"] = fewer["loops"][:1]
    small = tmp_path / "small.yaml"
    small.write_text(yaml.safe_dump(fewer, sort_keys=False))
    code, _, err = run("assess", str(EXAMPLE), "--baseline", str(small), "--fail-on", "new-high")
    assert code == 1 and "new confirmed finding(s) at or above high" in err


def test_baseline_and_new_level_go_together() -> None:
    code, _, err = run("assess", str(EXAMPLE), "--fail-on", "new-high")
    assert code == 2 and "go together" in err
    code, _, err = run("assess", str(EXAMPLE), "--baseline", str(EXAMPLE))
    assert code == 2 and "go together" in err
