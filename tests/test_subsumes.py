"""A general finding folded into a more precise one on the same loops, and response costs that
follow only from confirmed causes (issue: fewer and truer findings)."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from expert.analysis.assess import Assessor, load_assessment
from expert.analysis.results import Results
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.lint import _check_feeds
from expert.knowledge.patterns import Pattern

KILLER = {
    "id": "oom-killer",
    "triggers": ["resource_pressure"],
    "actuations": ["terminate"],
    "acts_on": ["replicas"],
}


@functools.cache
def _kb() -> knowledge.KnowledgeBase:
    return knowledge.load()


def _assess(tmp_path: Any, restarter: dict[str, Any]) -> Results:
    path = tmp_path / "a.yaml"
    path.write_text(
        yaml.safe_dump({"schema_version": 1, "system": {"name": "t"}, "loops": [KILLER, restarter]})
    )
    with Assessor(_kb()) as ax:
        return ax.assess(load_assessment(path, _kb()))


RESTARTER = {
    "id": "kubelet-restart",
    "layer": "orchestration",
    "instances": "per_node",
    "triggers": ["failure"],
    "actuations": ["restart"],
    "acts_on": ["replicas"],
}


def test_general_finding_folds_into_the_precise_one_and_its_questions_go(tmp_path: Any) -> None:
    # retries_on unknown: shutdown-vs-retry would be possible, asking what is retried
    restarter = {**RESTARTER, "retry": {"backoff": "exponential"}}
    res = _assess(tmp_path, restarter)
    rules = {f.rule: f for f in res.findings}
    assert "shutdown-vs-retry" not in rules
    precise = rules["restart-backoff-penalises-kills"]
    assert precise.status == "confirmed"
    assert "Competing shutdown vs retry logic" in precise.narrative
    ids = {f.id for f in res.findings}
    for q in res.open_questions:
        assert set(q.settles) <= ids, q  # no question settles a finding that is gone
    assert not any(q.field == "retry.retries_on" for q in res.open_questions)


def test_a_weaker_precise_finding_leaves_the_general_one(tmp_path: Any) -> None:
    # the backoff is unknown, so the precise finding is possible; the general one is confirmed
    restarter = {**RESTARTER, "retry": {"retries_on": ["policy_termination"]}}
    rules = {f.rule: f for f in _assess(tmp_path, restarter).findings}
    assert rules["shutdown-vs-retry"].status == "confirmed"
    assert rules["restart-backoff-penalises-kills"].status == "possible"


def _pattern(**changes: Any) -> dict[str, Any]:
    base = _kb().patterns["restart-backoff-penalises-kills"].model_dump(exclude_none=True)
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"subsumes": ["restart-backoff-penalises-kills"]}, "cannot subsume itself"),
        ({"needs_confirmed_cause": True}, "for symptoms and ghost costs"),
    ],
)
def test_pattern_refuses_misplaced_fields(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Pattern.model_validate(_pattern(**changes))


def test_symptoms_cannot_subsume() -> None:
    cost = _kb().patterns["retuning-toil"].model_dump(exclude_none=True)
    with pytest.raises(ValidationError, match="only an incoherence pattern"):
        Pattern.model_validate({**cost, "subsumes": ["shutdown-vs-retry"]})


@pytest.mark.parametrize("general", ["no-such-pattern", "restart-churn"])
def test_lint_refuses_subsuming_what_is_not_an_incoherence_pattern(general: str) -> None:
    kb = knowledge.load()
    pid = "restart-backoff-penalises-kills"
    kb.patterns[pid] = kb.patterns[pid].model_copy(update={"subsumes": [general]})
    problems = _check_feeds(kb)
    assert [p.where for p in problems] == ["subsumes"]
    assert general in problems[0].message
