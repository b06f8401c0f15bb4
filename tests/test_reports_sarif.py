"""SARIF output validated against the official SARIF 2.1.0 JSON schema.

tests/golden/sarif-schema-2.1.0.json is the OASIS schema (errata01, `id`
https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json),
vendored so the test runs offline.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from expert.analysis.assess import Assessor, load_assessment
from expert.cli.main import main
from expert.render.reports import render
from tests.helpers import builtin_kb
from tests.test_reports_escaping import hostile
from tests.test_reports_golden import NAMES, assessed

EXAMPLES = Path(__file__).resolve().parent.parent / "expert" / "examples"
CONFIGS = Path(__file__).resolve().parent.parent / "examples" / "configs" / "inference-platform"

SCHEMA = json.loads((Path(__file__).parent / "golden" / "sarif-schema-2.1.0.json").read_text())


def _validate(log: dict) -> None:  # type: ignore[type-arg]
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(log), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


@pytest.mark.parametrize("name", NAMES)
def test_examples_validate(name: str) -> None:
    results, a = assessed(name)
    log = json.loads(render("sarif", results, a))
    _validate(log)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)), "one rule per pattern"
    assert set(ids) == {f.rule for f in results.findings}
    assert len(run["results"]) == len(results.findings)
    confirmed = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
    possible = {"critical": "warning", "high": "warning", "medium": "note", "low": "note"}
    for res, f in zip(run["results"], results.findings, strict=True):
        assert res["ruleId"] == f.rule and ids[res["ruleIndex"]] == f.rule
        # A held-back finding is a note whatever its severity.
        levels = confirmed if f.status == "confirmed" else possible
        assert res["level"] == (levels[f.severity] if f.evidence.shown else "note")
        assert f.narrative in res["message"]["text"]
        names = [loc["logicalLocations"][0]["name"] for loc in res["locations"]]
        related = [
            loc["logicalLocations"][0]["name"]
            for loc in res.get("relatedLocations", [])
            if "logicalLocations" in loc
        ]
        # Every loop is a location or, beside the one loop a fix changes, a related one.
        assert sorted(names + related) == (f.loops or [results.system["name"]])
        assert names == [f.changes] if related else True


def test_a_possible_finding_is_a_level_below_a_confirmed_one() -> None:
    results, a = assessed("llm-platform")
    log = json.loads(render("sarif", results, a))
    seen = {
        (r["properties"]["status"], r["properties"]["severity"], r["level"])
        for r in log["runs"][0]["results"]
        if not r["properties"]["heldBack"]
    }
    assert ("confirmed", "high", "error") in seen
    assert ("confirmed", "medium", "warning") in seen
    # Not proven yet: code scanning must not raise it as an error.
    assert ("possible", "high", "warning") in seen
    assert ("possible", "medium", "note") in seen
    assert not any(level == "error" for status, _, level in seen if status == "possible")


def test_a_finding_fixed_in_one_loop_points_at_that_loop() -> None:
    # The autoscaler reads a metric the batcher distorts; the fix is to the autoscaler.
    results, a = assessed("llm-platform")
    log = json.loads(render("sarif", results, a))
    _validate(log)
    (res,) = [
        r for r in log["runs"][0]["results"] if r["ruleId"] == "autoscale-on-distorted-metric"
    ]
    assert [loc["logicalLocations"][0]["name"] for loc in res["locations"]] == ["replica-hpa"]
    related = res["relatedLocations"]
    assert [loc["logicalLocations"][0]["name"] for loc in related] == ["continuous-batching"]
    assert [loc["id"] for loc in related] == list(range(len(related)))
    # A conflict whose fixes change either side keeps both loops as locations.
    (both,) = [r for r in log["runs"][0]["results"] if r["ruleId"] == "latency-vs-throughput"]
    assert len(both["locations"]) == 2


def test_hostile_strings_validate() -> None:
    results, a = hostile()
    _validate(json.loads(render("sarif", results, a)))


def test_the_schema_catches_a_broken_log() -> None:
    results, a = assessed("training-cluster")
    log = json.loads(render("sarif", results, a))
    log["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(AssertionError):
        _validate(log)


@pytest.mark.parametrize("name", NAMES)
def test_every_result_points_at_a_line_of_the_assessment(name: str) -> None:
    results, a = assessed(name)
    run = json.loads(render("sarif", results, a))["runs"][0]
    lines = (EXAMPLES / f"{name}.yaml").read_text().splitlines()
    for res in run["results"]:
        assert res["locations"]
        for loc in res["locations"]:
            physical = loc["physicalLocation"]
            assert physical["artifactLocation"]["uri"] == f"expert/examples/{name}.yaml"
            logical = loc["logicalLocations"][0]
            line = lines[physical["region"]["startLine"] - 1]
            if "fullyQualifiedName" in logical:  # a loop: the line of its id
                assert line.strip() in (f"- id: {logical['name']}", f"id: {logical['name']}")
            else:  # the platform as a whole
                assert line.startswith("system:")


def test_rules_carry_security_severity_and_help() -> None:
    results, a = assessed("llm-platform")
    run = json.loads(render("sarif", results, a))["runs"][0]
    rank = {"low": 3.0, "medium": 5.0, "high": 7.0, "critical": 9.0}
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["help"]["text"]
        worst = max(rank[f.severity] for f in results.findings if f.rule == rule["id"])
        assert float(rule["properties"]["security-severity"]) == worst


def test_the_automation_id_survives_renaming_the_system(tmp_path: Path) -> None:
    kb = builtin_kb()
    ids = []
    for name in ("Platform", "Platform, renamed"):
        data = yaml.safe_load((EXAMPLES / "training-cluster.yaml").read_text())
        data["system"]["name"] = name
        path = tmp_path / "assessment.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        a = load_assessment(path, kb)
        with Assessor(kb) as ax:
            results = ax.assess(a)
        ids.append(json.loads(render("sarif", results, a))["runs"][0]["automationDetails"]["id"])
    assert ids[0] == ids[1] and ids[0].startswith("control-coherence/")


def test_imported_values_point_at_their_configuration_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(CONFIGS, tmp_path / "cfg")
    done = CliRunner().invoke(main, ["import", "cfg", "-o", "p.yaml"])
    assert done.exit_code == 0, done.stderr
    kb = builtin_kb()
    a = load_assessment(tmp_path / "p.yaml", kb)
    with Assessor(kb) as ax:
        results = ax.assess(a)
    log = json.loads(render("sarif", results, a))
    _validate(log)
    run = log["runs"][0]
    assert all(loc.get("physicalLocation") for r in run["results"] for loc in r["locations"])
    # Related locations that are not loops (those have a logical location) are configuration.
    related = [
        loc
        for r in run["results"]
        for loc in r.get("relatedLocations", [])
        if "logicalLocations" not in loc
    ]
    assert related
    for loc in related:
        physical = loc["physicalLocation"]
        uri, line = physical["artifactLocation"]["uri"], physical["region"]["startLine"]
        assert uri.startswith("cfg/") and (tmp_path / uri).is_file()
        assert f"{uri}:{line}" in loc["message"]["text"]
    timeout = (tmp_path / "cfg" / "gateway.yaml").read_text().splitlines()[29]
    assert timeout.strip() == "timeout: 60s"
    assert any(
        loc["physicalLocation"]["artifactLocation"]["uri"] == "cfg/gateway.yaml"
        and loc["physicalLocation"]["region"]["startLine"] == 30
        for loc in related
    )


def test_a_held_back_finding_is_a_note_naming_its_settling_question() -> None:
    # llm-platform holds back one high-severity possible finding under "To check".
    results, a = assessed("llm-platform")
    log = json.loads(render("sarif", results, a))
    _validate(log)
    questions = {fid: g.question for g in results.to_check for fid in g.findings}
    held = 0
    for res, f in zip(log["runs"][0]["results"], results.findings, strict=True):
        props = res["properties"]
        assert props["severity"] == f.severity
        if f.evidence.shown:
            assert props["heldBack"] is False and "settlingQuestion" not in props
            continue
        held += 1
        assert res["level"] == "note"
        assert props["heldBack"] is True
        assert props["settlingQuestion"] == questions[f.id]
    assert held == 1
    assert any(f.severity == "high" for f in results.findings if not f.evidence.shown), (
        "the held-back finding would have been an error"
    )


def test_a_held_back_finding_without_a_settling_question_is_still_a_note() -> None:
    results, a = assessed("llm-platform")
    bare = results.model_copy(update={"to_check": []})
    log = json.loads(render("sarif", bare, a))
    _validate(log)
    held = [r for r in log["runs"][0]["results"] if r["properties"]["heldBack"]]
    assert held
    assert all(r["level"] == "note" and "settlingQuestion" not in r["properties"] for r in held)
