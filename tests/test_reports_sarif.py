"""SARIF output validated against the official SARIF 2.1.0 JSON schema.

tests/golden/sarif-schema-2.1.0.json is the OASIS schema (errata01, `id`
https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json),
vendored so the test runs offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from expert.render import render
from tests.test_reports_escaping import hostile
from tests.test_reports_golden import NAMES, assessed

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
    levels = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
    for res, f in zip(run["results"], results.findings, strict=True):
        assert res["ruleId"] == f.rule and ids[res["ruleIndex"]] == f.rule
        assert res["level"] == levels[f.severity]
        assert f.narrative in res["message"]["text"]
        names = [loc["logicalLocations"][0]["name"] for loc in res["locations"]]
        assert names == (f.loops or [results.system["name"]])


def test_hostile_strings_validate() -> None:
    results, a = hostile()
    _validate(json.loads(render("sarif", results, a)))


def test_the_schema_catches_a_broken_log() -> None:
    results, a = assessed("training-cluster")
    log = json.loads(render("sarif", results, a))
    log["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(AssertionError):
        _validate(log)
