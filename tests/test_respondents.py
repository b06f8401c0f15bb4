"""Merging several respondents' answers about one platform.

tests/data/lifecycle/ holds two respondents' files that disagree on one answer (whether the
gateway propagates cancellation) and agree, in other spellings, on the rest.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from expert.analysis.assess import Assessor
from expert.assessment import model as assessment
from expert.assessment import respondents
from expert.errors import InputError
from tests.helpers import builtin_kb

DATA = Path(__file__).resolve().parent / "data" / "lifecycle"
EXAMPLE = Path(__file__).resolve().parent.parent / "expert" / "examples" / "llm-platform.yaml"


def _read(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _pair() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("Platform SRE", _read(DATA / "platform-sre.yaml")),
        ("Inference team", _read(DATA / "inference-team.yaml")),
    ]


def _merge(pairs: list[tuple[str, dict[str, Any]]], **kw: Any) -> respondents.MergeResult:
    return respondents.merge(pairs, vocab=builtin_kb().vocabulary, **kw)


def _loop(data: dict[str, Any], loop_id: str) -> dict[str, Any]:
    return next(lp for lp in data["loops"] if lp["id"] == loop_id)


def _load(data: dict[str, Any]) -> assessment.Assessment:
    """The merged file as rules read it: the disputed sections set aside (the fields they
    record hold unknown already)."""
    return assessment.validate(respondents.without_disputes(data), builtin_kb().vocabulary, "m")


def test_one_disagreement_is_kept_with_who_said_what() -> None:
    result = _merge(_pair())
    assert [(d.id, d.field) for d in result.disputes] == [
        ("gateway-timeout", "propagates_cancellation")
    ]
    gateway = _loop(result.data, "gateway-timeout")
    assert gateway["propagates_cancellation"] == "unknown"
    assert gateway["disputed"] == {
        "propagates_cancellation": [
            {"by": "Platform SRE", "value": "no"},
            {"by": "Inference team", "value": "yes"},
        ]
    }
    # Agreement in other spellings is no disagreement: 60s is 1m, 4m is 240s, lists in any
    # order, names in any case. The first respondent's spelling is kept.
    assert gateway["timescale"] == "60s"
    assert result.data["resources"][2]["startup_time"] == "4m"
    assert result.data["system"]["name"] == "Inference platform"
    assert result.data["system"]["respondent"] == "Platform SRE, Inference team"
    # One respondent's unknown gives way to the other's answer.
    assert _loop(result.data, "continuous-batching")["owner"] == "Inference team"
    # The SDK loop is matched by its name and keeps the first respondent's id; the loop only
    # one respondent described is taken as it is.
    assert [lp["id"] for lp in result.data["loops"]] == [
        "sdk-retries",
        "gateway-timeout",
        "continuous-batching",
        "liveness-probe",
    ]
    assert result.matched_by_name == [
        "Inference team's loop client-retries is sdk-retries (same name, 'client SDK retries')"
    ]
    assert respondents.check_disputes(result.data, "merged.yaml") == []
    assert "disputed loop gateway-timeout propagates_cancellation" in result.summary()
    assert "Platform SRE: no; Inference team: yes" in result.summary()


def test_rules_treat_the_disputed_answer_as_unknown() -> None:
    kb = builtin_kb()
    merged = _load(_merge(_pair()).data)
    sre = assessment.validate(_read(DATA / "platform-sre.yaml"), kb.vocabulary, "sre")
    with Assessor(kb) as ax:
        before = ax.assess(sre, deliverables=False).by_id()
        after = ax.assess(merged, deliverables=False).by_id()
    fid = "cancellation-not-propagated:gateway-timeout"
    assert before[fid].status == "confirmed"
    assert after[fid].status == "possible"
    # The renamed loop's findings carry the merged id.
    assert any(f.rule == "shutdown-vs-retry" and "sdk-retries" in f.loops for f in after.values())
    assert not [i for i in after if "client-retries" in i]


def test_the_merged_file_round_trips_through_yaml(tmp_path: Path) -> None:
    result = _merge(_pair())
    path = tmp_path / "merged.yaml"
    path.write_text(result.to_yaml(), encoding="utf-8")
    again = _read(path)
    assert again == result.data
    assert respondents.check_disputes(again, str(path)) == []
    _load(again)


def test_different_systems_need_force() -> None:
    pairs = _pair()
    pairs[1][1]["system"]["name"] = "Training cluster"
    with pytest.raises(InputError) as err:
        _merge(pairs)
    text = str(err.value)
    assert "different systems" in text and "--force" in text and "Training cluster" in text
    forced = _merge(pairs, force=True)
    assert forced.data["system"]["name"] == "Inference platform"
    assert any("system names differ" in n for n in forced.notes)


def test_a_merged_file_merges_again_and_keeps_its_disputes() -> None:
    merged = _merge(_pair()).data
    third = _read(DATA / "platform-sre.yaml")
    _loop(third, "gateway-timeout")["propagates_cancellation"] = "unknown"
    _loop(third, "gateway-timeout")["deadline"] = "30s"
    result = _merge([("Both teams", merged), ("Edge networking", third)])
    gateway = _loop(result.data, "gateway-timeout")
    assert gateway["propagates_cancellation"] == "unknown"
    assert [a["by"] for a in gateway["disputed"]["propagates_cancellation"]] == [
        "Platform SRE",
        "Inference team",
    ]
    assert gateway["deadline"] == "unknown"
    assert gateway["disputed"]["deadline"] == [
        {"by": "Both teams", "value": "60s"},
        {"by": "Edge networking", "value": "30s"},
    ]
    assert respondents.check_disputes(result.data) == []


def test_the_example_merged_with_itself_has_no_dispute() -> None:
    data = _read(EXAMPLE)
    other = copy.deepcopy(data)
    other["loops"].reverse()
    result = _merge([("A", data), ("B", other)])
    assert result.disputes == [] and result.matched_by_name == []
    mine = assessment.validate(data, builtin_kb().vocabulary, "x").model_dump(exclude_none=True)
    theirs = _load(result.data).model_dump(exclude_none=True)
    mine["system"]["respondent"] = "A, B"
    assert theirs == mine


def test_disputed_calls_hold_the_union() -> None:
    pairs = _pair()
    pairs[1][1]["resources"][1]["calls"] = ["vllm-replicas", "public-api-cache"]
    pairs[1][1]["resources"].append({"id": "public-api-cache", "kind": "service"})
    result = _merge(pairs)
    gateway = result.data["resources"][1]
    assert gateway["calls"] == ["vllm-replicas", "public-api-cache"]
    assert [(d.section, d.id, d.field) for d in result.disputes] == [
        ("resources", "inference-gateway", "calls"),
        ("loops", "gateway-timeout", "propagates_cancellation"),
    ]
    assert respondents.check_disputes(result.data) == []
    _load(result.data)


def test_economics_in_two_currencies_are_refused() -> None:
    a, b = _read(EXAMPLE), _read(EXAMPLE)
    b["economics"]["currency"] = "EUR"
    with pytest.raises(InputError, match="different currencies"):
        _merge([("A", a), ("B", b)])
    b["economics"]["currency"] = "USD"
    b["economics"]["engineers"] = 20
    result = _merge([("A", a), ("B", b)])
    assert result.data["economics"]["engineers"] == "unknown"
    assert result.data["economics"]["disputed"]["engineers"] == [
        {"by": "A", "value": 12},
        {"by": "B", "value": 20},
    ]
    assert respondents.check_disputes(result.data) == []


def test_bad_respondents_are_refused() -> None:
    pairs = _pair()
    with pytest.raises(InputError, match="name of their own"):
        _merge([pairs[0], ("Platform SRE", pairs[1][1])])
    with pytest.raises(InputError, match="at least two"):
        _merge(pairs[:1])
    broken = copy.deepcopy(pairs[1][1])
    broken["loops"][0]["timescale"] = "soon"
    with pytest.raises(InputError) as err:
        _merge([pairs[0], ("Inference team", broken)])
    assert "answers from Inference team" in str(err.value)


def test_check_disputes_finds_what_would_let_a_rule_read_a_disputed_value() -> None:
    data = _merge(_pair()).data
    gateway = _loop(data, "gateway-timeout")
    gateway["propagates_cancellation"] = "no"
    gateway["disputed"]["owner-ish"] = [{"by": "A", "value": 1}, {"by": "B", "value": 2}]
    gateway["disputed"]["timescale"] = [{"by": "A", "value": "1m"}]
    problems = respondents.check_disputes(data, "merged.yaml")
    assert [(p.where, p.message.split(" (")[0]) for p in problems] == [
        (
            "loops[1] (id gateway-timeout).disputed.propagates_cancellation",
            "propagates_cancellation is disputed, so it must be unknown",
        ),
        (
            "loops[1] (id gateway-timeout).disputed.owner-ish",
            "'owner-ish' is not a field that can be disputed here",
        ),
        (
            "loops[1] (id gateway-timeout).disputed.timescale",
            "a disagreement needs answers from two or more people, one each",
        ),
    ]
    assert all(p.source == "merged.yaml" and p.fix for p in problems)


def test_a_merged_file_with_a_broken_dispute_is_refused() -> None:
    merged = _merge(_pair()).data
    _loop(merged, "gateway-timeout")["propagates_cancellation"] = "yes"
    with pytest.raises(InputError) as err:
        _merge([("Both teams", merged), ("Edge networking", _read(DATA / "platform-sre.yaml"))])
    assert "answers from Both teams" in str(err.value) and "must be unknown" in str(err.value)
    _loop(merged, "gateway-timeout")["disputed"] = ["not", "a", "mapping"]
    with pytest.raises(InputError, match="must map each disputed field"):
        _merge([("Both teams", merged), ("Edge networking", _read(DATA / "platform-sre.yaml"))])


def test_where_imported_answers_came_from_follows_the_answers_taken() -> None:
    pairs = _pair()
    sre, team = pairs[0][1], pairs[1][1]
    _loop(sre, "gateway-timeout")["sources"] = {
        "deadline": "gateway.yaml:30",
        "propagates_cancellation": "gateway.yaml:31",
    }
    _loop(team, "gateway-timeout")["sources"] = {"deadline": "other.yaml:9"}
    result = _merge(pairs)
    gateway = _loop(result.data, "gateway-timeout")
    # Sources are not answers: no dispute over them, and a disputed answer keeps none.
    assert [d.field for d in result.disputes] == ["propagates_cancellation"]
    assert gateway["sources"] == {"deadline": "gateway.yaml:30"}
    _load(result.data)


def _sdk(who: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    loop = {"id": "sdk", "actuations": ["retry"], "triggers": ["failure"], **fields}
    return who, {"schema_version": 1, "system": {"name": "p"}, "loops": [loop]}


def test_does_not_apply_survives_a_merge_where_no_one_answered_it() -> None:
    result = _merge(
        [_sdk("A", not_applicable=["retry.jitter"]), _sdk("B", not_applicable=["retry.jitter"])]
    )
    assert _loop(result.data, "sdk")["not_applicable"] == ["retry.jitter"]
    assert _load(result.data).loops[0].not_applicable == ["retry.jitter"]


def test_an_answer_from_another_respondent_outweighs_does_not_apply() -> None:
    result = _merge(
        [_sdk("A", not_applicable=["retry.jitter"]), _sdk("B", retry={"jitter": "yes"})]
    )
    sdk = _loop(result.data, "sdk")
    assert sdk["retry"]["jitter"] == "yes" and "not_applicable" not in sdk
    assert _load(result.data).loops[0].retry is not None  # the merged file is valid
    assert any("A said retry.jitter does not apply" in n for n in result.notes), result.notes
