"""A finding waiting on a resource's answer (how often a job checkpoints, how often it is
interrupted) names that resource's question among the open questions, as it names a loop's,
so Appendix B and the interview's follow-ups say what to answer."""

from __future__ import annotations

import pytest

from expert.analysis.assess import Assessor
from expert.analysis.results import Results
from expert.render.reports import render
from tests.helpers import builtin_kb, make

PREEMPTION = {
    "id": "kueue",
    "name": "Kueue priority preemption",
    "layer": "scheduler",
    "owner": "platform",
    "objective": "fairness",
    "triggers": ["priority_arrival"],
    "actuations": ["preempt"],
    "acts_on": ["pretrain"],
    "instances": "once",
    "decision_record": "reasoned",
}
JOB = {"id": "pretrain", "kind": "job", "name": "Pretraining run", "synchronized": "yes"}


def assessed(job: dict[str, object]) -> tuple[Results, object]:
    a = make([PREEMPTION], [job])
    with Assessor(builtin_kb()) as assessor:
        return assessor.assess(a), a


@pytest.fixture(scope="module")
def unknown_interval() -> tuple[Results, object]:
    return assessed({**JOB, "checkpoint_interval": "unknown", "interrupted_every": "6h"})


def test_a_finding_waiting_on_a_resource_answer_asks_the_resources_question(
    unknown_interval: tuple[Results, object],
) -> None:
    results, _ = unknown_interval
    asked = [q for q in results.open_questions if q.resource == "pretrain"]
    assert asked, [(q.loop, q.id) for q in results.open_questions]
    q = asked[0]
    assert q.field == "checkpoint_interval"
    assert (q.scope, q.target, q.loop) == ("resource", "pretrain", "")
    assert q.answered_unknown  # the file says unknown
    waiting = {
        f.id for f in results.every_finding() if f.rule == "preemption-outpaces-checkpointing"
    }
    assert waiting and waiting <= set(q.settles)


def test_a_resource_answer_given_is_not_asked_again() -> None:
    results, _ = assessed({**JOB, "checkpoint_interval": "4h", "interrupted_every": "6h"})
    assert not [q for q in results.open_questions if q.resource == "pretrain"]


def test_appendix_b_names_the_resource_by_its_name(
    unknown_interval: tuple[Results, object],
) -> None:
    results, a = unknown_interval
    md = render("markdown", results, a)  # type: ignore[arg-type]
    appendix = md.split("## Appendix B", 1)[1].split("## Appendix C", 1)[0]
    assert "- **Pretraining run**: How often does it save its progress" in appendix
    html = render("html", results, a)  # type: ignore[arg-type]
    assert "<strong>Pretraining run:</strong> How often does it save its progress" in html


def test_a_resources_question_goes_to_the_team_whose_loops_act_on_it(
    unknown_interval: tuple[Results, object],
) -> None:
    results, _ = unknown_interval
    assert results.audit_gaps is not None
    (team,) = [t for t in results.audit_gaps.teams if t.owner == "platform"]
    asked = [(q.name, q.text) for q in team.questions if q.text.startswith("How often does it")]
    assert asked == [
        ("Pretraining run", "How often does it save its progress (checkpoint interval)?")
    ]
