"""Ask less: a four-loop platform started from templates (a gateway timeout, SDK retries,
vLLM batching and an HPA) is described in a bounded number of questions, by keyboard alone,
and every question a template-started loop asks can change a finding for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from expert.analysis.applicability import applies, item_fact
from expert.analysis.assess import load_assessment
from expert.assessment.model import UNKNOWN, Assessment
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.conditions import evaluate, resolve
from expert.knowledge.knowledgebase import KnowledgeBase
from interview import flow
from interview.relevance import field_of, readers
from interview.session import Session

from .keyboard import Keyboard, LoopPlan, Plan, make_app, settle

# The committed bound: the run below asks at most this many questions. Raise it only with a
# reason; the target is 32.
MAX_QUESTIONS = 24

FOUR_LOOPS = Plan(
    system={
        "name": "Inference platform",
        "description": "Chat for customers.",
        "respondent": "Platform team",
    },
    loops=[
        LoopPlan(
            "gateway-timeout",
            "Gateway timeout",
            {"owner": "Edge team", "acts_on": ["gateway"], "propagates_cancellation": "no"},
            "envoy-route-timeout",
        ),
        LoopPlan(
            "sdk-retries",
            "SDK retries",
            {"owner": "nobody knows", "acts_on": ["gateway"], "propagates_cancellation": UNKNOWN},
            "client-sdk-retries",
        ),
        LoopPlan(
            "vllm-batching",
            "vLLM batching",
            {"owner": "Inference team", "acts_on": ["vllm"]},
            "vllm-scheduler",
        ),
        LoopPlan(
            "hpa",
            "HPA",
            {
                "owner": "Platform team",
                "acts_on": ["vllm"],
                "answers.metric-sees-rejected": "yes",
                "answers.drains-before-removal": UNKNOWN,
                "guards.exemptions": "no",
            },
            "kubernetes-hpa",
        ),
    ],
    resources={
        "gateway": {"kind": "service", "calls": ["vllm"], "startup_time": "10s"},
        "vllm": {"kind": "model_replica", "calls": [], "startup_time": "4m"},
    },
)


async def test_four_template_loops_take_few_questions(tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        keys = Keyboard(pilot)
        await keys.run(FOUR_LOOPS)
        asked = keys.questions
    print(f"questions: {asked}, keys: {keys.keys}")
    assert asked <= MAX_QUESTIONS, f"{asked} questions for four template loops"
    a = load_assessment(path, knowledge.load([]))
    # The templates' values were confirmed (one key per loop), and the answers kept.
    assert a.loop("hpa").answers["scaler-metric"] == "cpu_utilization"
    assert a.loop("sdk-retries").retry.max_retries == 2
    assert a.loop("sdk-retries").owner == UNKNOWN  # "nobody knows" typed is unknown
    assert a.loop("gateway-timeout").propagates_cancellation == "no"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.load([])


def _session_with(tmp_path: Path, kb: KnowledgeBase, template_id: str) -> Session:
    """A platform with one loop holding every value of the template, acting on `res`."""
    session = Session.open(tmp_path / f"{template_id}.yaml", kb)
    session.answer(kb.questions["system-name"], "", "P")
    session.add_loop("loop", "", kb.templates[template_id])
    session.answer(kb.questions["loop-acts-on"], "loop", ["res"])
    return session


def _can_move(kb: KnowledgeBase, a: Assessment, question_id: str) -> list[str]:
    """Patterns reading the question's field (directly, or through a fact derived from it)
    none of whose tests on the loop fails already."""
    q = kb.questions[question_id]
    fact = item_fact(kb, a, "loop", "loop")
    field = field_of(q)
    out = []
    for pid in readers(kb, q):
        pattern = kb.patterns[pid]
        for m in pattern.match.values():
            if m.fact != "loop":
                continue
            tests = [t for t in m.where if t.same_as is None and t.field != field]
            verdicts = []
            for t in tests:
                resolved = resolve("loop", t.field, kb.vocabulary, kb.answer_fields())
                if resolved is None:
                    continue
                try:
                    verdicts.append(evaluate(t, resolved, fact, {}, {}))
                except KeyError:  # derived across facts (a comparison): not decided here
                    verdicts.append("unknown")
            if "no" not in verdicts:
                out.append(pid)
                break
        else:
            if not any(m.fact == "loop" for m in pattern.match.values()):
                out.append(pid)
    return out


def test_every_question_a_template_loop_asks_can_change_a_finding(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    idle = []
    for template_id in sorted(kb.templates):
        session = _session_with(tmp_path, kb, template_id)
        own, _later = flow.loop_steps(session, "loop", [])
        for step in own:
            q = kb.questions[step.question]
            if session.value(q, "loop") is not None:
                continue  # answered: kept so it can be changed, not asked
            if not _can_move(kb, session.assessment, q.id):
                idle.append(f"{template_id}: {q.id}")
        session.close()
    assert not idle, idle


@pytest.mark.parametrize(
    ("template_id", "question_id"),
    [
        ("envoy-route-timeout", "guard-give-up-after"),  # a timeout has no give-up count
        ("client-sdk-retries", "counts-disruptions"),  # a per-call retry has no job budget
        ("client-sdk-retries", "guard-give-up-after"),
        ("kubernetes-hpa", "loop-target"),  # its metric is asked once, as a choice
    ],
)
def test_questions_that_cannot_apply_are_not_asked(
    tmp_path: Path, kb: KnowledgeBase, template_id: str, question_id: str
) -> None:
    session = _session_with(tmp_path, kb, template_id)
    q = kb.questions[question_id]
    own, _later = flow.loop_steps(session, "loop", [])
    asked = [s.question for s in own if session.value(kb.questions[s.question], "loop") is None]
    assert question_id not in asked
    fact = item_fact(kb, session.assessment, "loop", "loop")
    assert not (applies(q, kb, session.assessment, "loop", fact) and question_id in asked)
    session.close()


def test_progress_questions_are_not_asked_of_a_scaler_on_a_service(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    """'Does the work save its progress first' is about long-running work: an HPA that acts
    on a model server replica does not interrupt any, and a network service has no
    checkpoints to ask about."""
    session = _session_with(tmp_path, kb, "kubernetes-hpa")
    session.answer(kb.questions["resource-kind"], "res", "model_replica")
    steps = flow.build(session, [])
    asked = {(s.target, s.question) for s in steps if s.kind == "question"}
    assert ("loop", "saves-before-interrupt") not in asked
    session.answer(kb.questions["resource-kind"], "res", "service")
    steps = flow.build(session, [])
    asked = {(s.target, s.question) for s in steps if s.kind == "question"}
    for question_id in (
        "resource-checkpoint-interval",
        "resource-checkpoint-duration",
        "resource-synchronized",
    ):
        assert ("res", question_id) not in asked
    session.close()


@pytest.mark.parametrize("template_id", ["kubernetes-hpa", "keda-scaler", "ray-serve-autoscaler"])
def test_a_template_walk_asks_an_autoscalers_metric_once(
    tmp_path: Path, kb: KnowledgeBase, template_id: str
) -> None:
    """Going through a template one by one asks each proposed value, but an autoscaler's
    metric in words rides with the metric it scales on (its question is asked only while
    that one is unknown), and the card lists it as saved with it."""
    session = Session.open(tmp_path / f"{template_id}.yaml", kb)
    session.answer(kb.questions["system-name"], "", "P")
    session.add_loop("loop", "")
    proposed = flow.proposed_values(kb, kb.templates[template_id])
    walked = flow.walked_proposals(session, "loop", proposed)
    assert "scaler-metric" in walked and "loop-target" not in walked
    assert flow.covered_proposals(kb, proposed) == {"loop-target": "scaler-metric"}
    assert set(walked) | {"loop-target"} == set(proposed)  # every other value is walked
    session.close()


def test_whether_a_job_runs_on_accelerators_is_asked_only_of_a_job(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    """A job may be GPU training or a CPU batch job, so it is asked; a model server or a GPU
    pool says by its kind what it runs on, so it is not."""
    session = _session_with(tmp_path, kb, "kubernetes-hpa")
    for kind, asked_too in (("job", True), ("model_replica", False), ("gpu_pool", False)):
        session.answer(kb.questions["resource-kind"], "res", kind)
        steps = flow.build(session, [])
        asked = {(s.target, s.question) for s in steps if s.kind == "question"}
        assert (("res", "resource-accelerated") in asked) is asked_too, kind
    session.answer(kb.questions["resource-kind"], "res", "job")
    session.answer(kb.questions["resource-accelerated"], "res", "no")
    saved = load_assessment(tmp_path / "kubernetes-hpa.yaml", kb)
    assert [r.accelerated for r in saved.resource_list()] == ["no"]
    text = kb.questions["resource-accelerated"].text + kb.questions["resource-accelerated"].help
    assert "accelerated" not in text and "_" not in text  # plain words, no field names
    session.close()
