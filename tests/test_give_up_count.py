"""A loop that retries gives up after its retry count: it is not asked a give-up count as well,
the rules read its retry count for one, and a finding waiting on it asks the retry question."""

from __future__ import annotations

from typing import Any

import pytest

from expert.analysis.assess import Assessor
from expert.analysis.results import Results
from tests.helpers import builtin_kb, make

PREEMPT = {
    "id": "preempt",
    "layer": "scheduler",
    "triggers": ["priority_arrival"],
    "actuations": ["preempt"],
    "acts_on": ["jobs"],
}


def _assess(controller: dict[str, Any]) -> Results:
    job = {
        "id": "job-controller",
        "triggers": ["failure"],
        "acts_on": ["jobs"],
        "instances": "once",
        "answers": {"counts-disruptions": "yes"},
        **controller,
    }
    with Assessor(builtin_kb()) as ax:
        return ax.assess(make([PREEMPT, job]))


def _counted(results: Results) -> list[Any]:
    return [f for f in results.findings if f.rule == "disruptions-counted-as-failures"]


def test_the_retry_count_is_the_give_up_count() -> None:
    results = _assess({"actuations": ["retry"], "retry": {"max_retries": 4}})
    (finding,) = _counted(results)
    assert finding.status == "confirmed"
    assert finding.severity == "high"  # four ended attempts are few: the escalation reads 4
    assert "gives up after 4 restarts" in finding.narrative


def test_an_unknown_retry_count_asks_the_retry_question_not_a_give_up_count() -> None:
    results = _assess({"actuations": ["retry"], "retry": {"max_retries": "unknown"}})
    (finding,) = _counted(results)
    assert finding.status == "possible"
    asked = {q.id for q in results.open_questions if q.loop == "job-controller"}
    assert "retry-max-retries" in asked
    assert "guard-give-up-after" not in asked


@pytest.mark.parametrize(
    "controller",
    [
        # retries without limit: nothing to use up
        {"actuations": ["retry"], "not_applicable": ["retry.max_retries"]},
        # never giving up, said outright, is read, not the retry count
        {
            "actuations": ["retry"],
            "retry": {"max_retries": 4},
            "not_applicable": ["guards.give_up_after"],
        },
    ],
)
def test_no_budget_no_finding(controller: dict[str, Any]) -> None:
    assert _counted(_assess(controller)) == []


def test_a_loop_that_only_restarts_is_still_asked_its_give_up_count() -> None:
    results = _assess({"actuations": ["restart"]})
    (finding,) = _counted(results)
    asked = {q.id for q in results.open_questions if q.loop == "job-controller"}
    assert finding.status == "possible" and "guard-give-up-after" in asked
