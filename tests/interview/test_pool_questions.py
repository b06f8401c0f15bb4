"""A pool of accelerators keeps no progress of its own: it is asked the checkpoint interval
and interruption rate of the long jobs it runs, in those words, in the interview and in the
report's open questions; a job is asked its own."""

from __future__ import annotations

from pathlib import Path

from expert.analysis.assess import Assessor, load_assessment
from expert.knowledge.knowledgebase import KnowledgeBase
from interview import flow
from interview.session import Session

PLATFORM = (
    "schema_version: 1\nsystem: {name: t}\n"
    "resources:\n"
    "  - {id: pool, kind: gpu_pool}\n"
    "  - {id: job, kind: job}\n"
    "loops:\n"
    "  - {id: kueue, triggers: [priority_arrival], actuations: [preempt], acts_on: [pool, job],"
    " answers: {saves-before-interrupt: 'no'}}\n"
)


def _resource_questions(path: Path, kb: KnowledgeBase) -> dict[str, list[str]]:
    by_resource: dict[str, list[str]] = {}
    for s in flow.build(Session.open(path, kb), [], {}):
        if s.kind == "question" and s.scope == "resource":
            by_resource.setdefault(s.target, []).append(s.question)
    return by_resource


def test_the_interview_asks_a_pool_of_its_work_and_a_job_of_itself(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PLATFORM, encoding="utf-8")
    asked = _resource_questions(path, kb)
    assert {"pool-checkpoint-interval", "pool-interrupted-every"} <= set(asked["pool"])
    assert not {"resource-checkpoint-interval", "resource-interrupted-every"} & set(asked["pool"])
    assert {"resource-checkpoint-interval", "resource-interrupted-every"} <= set(asked["job"])
    assert not {"pool-checkpoint-interval", "pool-interrupted-every"} & set(asked["job"])


def test_an_answer_given_for_a_pool_is_shown_once_under_the_question_that_fits(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        PLATFORM.replace(
            "{id: pool, kind: gpu_pool}", "{id: pool, kind: gpu_pool, checkpoint_interval: 2h}"
        ),
        encoding="utf-8",
    )
    pool = _resource_questions(path, kb)["pool"]
    assert "pool-checkpoint-interval" in pool
    assert "resource-checkpoint-interval" not in pool


def test_the_report_asks_a_pool_of_its_work_and_a_job_of_itself(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PLATFORM, encoding="utf-8")
    with Assessor(kb) as assessor:
        results = assessor.assess(load_assessment(path, kb))
    texts = {(q.resource, q.field): q.text for q in results.open_questions if q.resource}
    assert texts[("pool", "checkpoint_interval")] == kb.questions["pool-checkpoint-interval"].text
    assert texts[("pool", "interrupted_every")] == kb.questions["pool-interrupted-every"].text
    assert (
        texts[("job", "checkpoint_interval")] == kb.questions["resource-checkpoint-interval"].text
    )
    assert texts[("job", "interrupted_every")] == kb.questions["resource-interrupted-every"].text
