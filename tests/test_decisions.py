"""Decisions about findings: in the file, on the results, in every report, and in CI gates."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from expert.analysis.assess import Assessor
from expert.analysis.results import Results
from expert.assessment import model as assessment
from expert.cli.main import main
from expert.deliverables import decisions
from expert.errors import InputError
from expert.render.reports import render
from tests.helpers import builtin_kb

EXAMPLE = Path(__file__).resolve().parent.parent / "expert" / "examples" / "llm-platform.yaml"
TODAY = dt.date(2024, 6, 1)
# High and confirmed in the example; the only root of the prefill-recomputation cost.
ACCEPTED = "latency-vs-throughput@vllm-replicas"
KV = "kv-cache-preemption-thrash:continuous-batching"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def example(decided: dict[str, Any]) -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["decisions"] = decided
    return data


def decision(state: str = "accepted", **extra: Any) -> dict[str, Any]:
    return {"state": state, "reason": "raised in Q3", "by": "SRE", "date": "2024-05-01", **extra}


@lru_cache(maxsize=1)
def bare() -> tuple[Results, assessment.Assessment]:
    a = assessment.validate(yaml.safe_load(EXAMPLE.read_text()), builtin_kb().vocabulary)
    with Assessor(builtin_kb()) as ax:
        return ax.assess(a), a


def decided(decided: dict[str, Any], today: dt.date = TODAY) -> Results:
    results, _ = bare()
    a = assessment.validate(example(decided), builtin_kb().vocabulary)
    return decisions.apply(results, a, builtin_kb().patterns, today=today)


# ---------------------------------------------------------------- the file


def test_decisions_load_and_save_round_trip() -> None:
    a = assessment.validate(
        example({ACCEPTED: decision(expires="2024-09-30")}), builtin_kb().vocabulary
    )
    again = assessment.loads(a.to_yaml(), builtin_kb().vocabulary)
    assert again.decisions[ACCEPTED].expires == dt.date(2024, 9, 30)
    assert again.decisions == a.decisions


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        ({"reason": "   "}, "needs a reason"),
        ({"state": "ignored"}, "'accepted'"),
        ({"expires": "2024-01-01"}, "before the decision's date"),
        ({"date": "last week"}, "date"),
    ],
)
def test_a_bad_decision_is_refused_with_its_place(bad: dict[str, Any], said: str) -> None:
    with pytest.raises(InputError) as exc:
        assessment.validate(example({ACCEPTED: decision(**bad)}), builtin_kb().vocabulary, "f.yaml")
    assert said in str(exc.value) and f"decisions.{ACCEPTED}" in str(exc.value)


def test_schema_includes_decisions() -> None:
    code, out, _ = run("schema")
    schema = json.loads(out)
    assert code == 0 and "decisions" in schema["properties"]
    assert "Decision" in schema["$defs"]


# ---------------------------------------------------------------- on the results


def test_a_decision_lands_on_its_finding_and_waives_fail_on() -> None:
    r = decided({ACCEPTED: decision()})
    f = r.by_id()[ACCEPTED]
    assert f.decision is not None and f.decision.state == "accepted" and f.decision.waives
    assert r.decisions is not None and r.decisions.entries[0].standing == "applied"
    hits = {h.id for h in decisions.fail_on_hits(r, "high")}
    assert ACCEPTED not in hits and hits


def test_mitigated_and_false_positive_still_count_for_fail_on() -> None:
    r = decided({ACCEPTED: decision("mitigated")})
    assert ACCEPTED in {h.id for h in decisions.fail_on_hits(r, "high")}


def test_an_expired_acceptance_counts_again_and_is_reported() -> None:
    r = decided({ACCEPTED: decision(expires="2024-05-31")})
    f = r.by_id()[ACCEPTED]
    assert f.decision is not None and f.decision.expired and not f.decision.waives
    assert r.decisions is not None and r.decisions.entries[0].standing == "expired"
    assert any("expired on 2024-05-31" in w for w in r.decisions.warnings)
    # The day it expires it still holds.
    same_day = decided({ACCEPTED: decision(expires="2024-06-01")})
    assert same_day.by_id()[ACCEPTED].decision.waives  # type: ignore[union-attr]


def test_stale_and_unknown_ids_are_reported_not_dropped() -> None:
    r = decided(
        {
            "shutdown-vs-retry@no-such-resource": decision(),
            "no-such-pattern:a+b": decision("false-positive"),
        }
    )
    assert r.decisions is not None
    standing = {e.finding: e.standing for e in r.decisions.entries}
    assert standing == {
        "shutdown-vs-retry@no-such-resource": "stale",
        "no-such-pattern:a+b": "unknown",
    }
    assert len(r.decisions.warnings) == 2


def test_exposure_after_leaves_out_costs_whose_roots_are_all_accepted() -> None:
    # Prompt tokens processed twice follow from the KV-cache thrash (through the recomputation
    # it causes) and from the gateway's timeouts being retried on both resources.
    r = decided(
        {
            KV: decision("not-applicable"),
            "shutdown-vs-retry@inference-gateway": decision("not-applicable"),
            "shutdown-vs-retry@public-api": decision("not-applicable"),
        }
    )
    d = r.decisions
    assert d is not None and d.exposure_before is not None and d.exposure_after is not None
    assert d.set_aside == ["prefill-recomputation"]
    assert d.exposure_after.high < d.exposure_before.high
    # A cost with one undecided root stays in whole.
    partly = decided({ACCEPTED: decision()}).decisions
    assert partly is not None and partly.set_aside == []
    assert partly.exposure_after == partly.exposure_before


def test_no_decisions_leaves_results_as_they_were() -> None:
    results, a = bare()
    assert decisions.apply(results, a, builtin_kb().patterns) is results


# ---------------------------------------------------------------- every report format


def test_every_format_shows_the_decision() -> None:
    a = assessment.validate(
        example({ACCEPTED: decision(expires="2024-09-30"), "gone-pattern:x": decision()}),
        builtin_kb().vocabulary,
    )
    r = decided({ACCEPTED: decision(expires="2024-09-30"), "gone-pattern:x": decision()})
    md = render("markdown", r, a)
    assert "## Decisions" in md and "raised in Q3" in md and "gone-pattern:x" in md
    assert "after decisions" in md
    html = render("html", r, a)
    assert 'id="decisions"' in html and "raised in Q3" in html
    data = json.loads(render("json", r, a))
    f = next(x for x in data["findings"] if x["id"] == ACCEPTED)
    assert f["decision"]["state"] == "accepted" and data["decisions"]["entries"]
    rows = list(csv.DictReader(io.StringIO(render("csv", r, a))))
    row = next(x for x in rows if x["id"] == ACCEPTED)
    assert row["decision"] == "accepted" and row["decision_reason"] == "raised in Q3"
    assert row["decision_expires"] == "2024-09-30"
    sarif = json.loads(render("sarif", r, a))
    res = next(x for x in sarif["runs"][0]["results"] if x["properties"]["findingId"] == ACCEPTED)
    assert res["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "raised in Q3"}
    ]
    assert res["properties"]["decision"]["by"] == "SRE"


# ---------------------------------------------------------------- the command line


def test_assess_fail_on_ignores_accepted_findings_until_they_expire(tmp_path: Path) -> None:
    results, _ = bare()
    # The gate reads findings and their effects (a symptom may be more severe than its cause).
    highs = [
        f.id for f in results.every_finding() if f.status == "confirmed" and f.severity in ("high",)
    ]
    far = "2999-01-01"
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(example({i: decision(expires=far) for i in highs})))
    code, _, err = run("assess", str(path), "--fail-on", "high")
    assert code == 0, err
    # One of them expired: it counts again, and the expiry is reported.
    gone = {i: decision(expires=far) for i in highs}
    gone[highs[0]] = decision(expires="2024-05-02")
    path.write_text(yaml.safe_dump(example(gone)))
    code, _, err = run("assess", str(path), "--fail-on", "high")
    assert code == 1 and f"decision on {highs[0]} (accepted) expired" in err


def test_assess_warns_about_an_unknown_id_and_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(example({"shutdwon-vs-retry@public-api": decision()})))
    code, out, err = run("assess", str(path), "-f", "json")
    assert code == 0, err
    assert "warning: decision on shutdwon-vs-retry@public-api" in err
    entries = json.loads(out)["decisions"]["entries"]
    assert entries[0]["standing"] == "unknown"


def test_baseline_gate_ignores_a_new_finding_that_is_accepted(tmp_path: Path) -> None:
    fewer = yaml.safe_load(EXAMPLE.read_text())
    fewer["loops"] = fewer["loops"][:1]
    small = tmp_path / "small.yaml"
    small.write_text(yaml.safe_dump(fewer, sort_keys=False))
    code, _, err = run("assess", str(EXAMPLE), "--baseline", str(small), "--fail-on", "new-high")
    assert code == 1
    new = err.split(": ", 1)[1].strip().split(", ")
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(example({i: decision("not-applicable") for i in new})))
    code, _, err = run("assess", str(path), "--baseline", str(small), "--fail-on", "new-high")
    assert code == 0, err


def test_the_summary_leaves_accepted_findings_out_of_the_open_risks() -> None:
    a = assessment.validate(example({ACCEPTED: decision()}), builtin_kb().vocabulary)
    with Assessor(builtin_kb()) as ax:
        results = ax.assess(a)
    summary = results.executive_summary
    assert summary is not None and results.by_id()[ACCEPTED].decision is not None
    assert ACCEPTED not in {fid for r in summary.top_risks for fid in r.findings}
    assert "1 finding set aside by a recorded decision" in summary.verdict
    undecided = bare()[0].executive_summary
    assert undecided is not None and "set aside" not in undecided.verdict
