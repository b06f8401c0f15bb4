"""A field a respondent says does not apply (`not_applicable:`): no finding rests on it,
not even a possible one, and the file says so where it is wrong to."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from expert.analysis.assess import Assessor
from expert.assessment import model as assessment
from expert.errors import InputError
from tests.helpers import builtin_kb

EXAMPLE = Path(__file__).resolve().parent.parent / "expert" / "examples" / "llm-platform.yaml"
JITTER = "synchronised-backoff-without-jitter:sdk-retries"


def _example(**liveness: object) -> dict:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    (probe,) = [lp for lp in data["loops"] if lp["id"] == "liveness-probe"]
    probe.update(liveness)
    return data


def _jitter_unknown(**sdk: object) -> dict:
    """The example with nobody knowing whether the client SDKs jitter their retries."""
    data = _example()
    (retries,) = [lp for lp in data["loops"] if lp["id"] == "sdk-retries"]
    del retries["retry"]["jitter"]
    retries.update(sdk)
    return data


def _ids(data: dict) -> set[str]:
    kb = builtin_kb()
    a = assessment.validate(data, kb.vocabulary, "<test>")
    with Assessor(kb) as assessor:
        results = assessor.assess(a, deliverables=False)
    return {f.id for f in results.findings} | {
        f"question:{q.loop}:{q.id}" for q in results.open_questions
    }


def test_a_finding_resting_on_a_field_that_does_not_apply_goes() -> None:
    before = _ids(_jitter_unknown())
    assert JITTER in before  # possible: whether the retries are jittered is unknown
    after = _ids(_jitter_unknown(not_applicable=["retry.jitter"]))
    assert JITTER not in after
    # Nothing else rested on it: every other finding stays.
    assert {i for i in before if not i.startswith("question:")} - {JITTER} <= after


def test_a_derived_fact_reads_through_to_the_answer_that_does_not_apply() -> None:
    # liveness-kills-slow-start compares the probe's deadline with the start-up time: with
    # the start-up time unknown it is possible; with the deadline not applying, it goes.
    data = _example()
    del data["loops"][[lp["id"] for lp in data["loops"]].index("liveness-probe")]["deadline"]
    for res in data["resources"]:
        res.pop("startup_time", None)
    with_unknown = _ids(data)
    probe = next(lp for lp in data["loops"] if lp["id"] == "liveness-probe")
    probe["not_applicable"] = ["deadline"]
    without = _ids(data)
    gone = {i for i in with_unknown - without if not i.startswith("question:")}
    assert "liveness-kills-slow-start:liveness-probe" in with_unknown
    assert "liveness-kills-slow-start:liveness-probe" in gone


@pytest.mark.parametrize(
    ("liveness", "words"),
    [
        ({"not_applicable": ["actuations"]}, "cannot be marked as not applying"),
        ({"not_applicable": ["deadline"]}, "is answered (90s) and also listed as not applying"),
    ],
)
def test_what_cannot_be_marked_is_refused_with_its_place(liveness: dict, words: str) -> None:
    with pytest.raises(InputError) as info:
        assessment.validate(_example(**liveness), builtin_kb().vocabulary, "platform.yaml")
    message = str(info.value)
    assert words in message and "platform.yaml" in message, message


def test_a_question_the_knowledge_base_does_not_ask_is_refused_by_name() -> None:
    from expert.analysis.assess import check_answers

    kb = builtin_kb()
    a = assessment.validate(
        _example(not_applicable=["answers.no-such-question"]), kb.vocabulary, "platform.yaml"
    )
    (problem,) = check_answers(a, kb, "platform.yaml")
    assert "no-such-question" in problem.message and "not_applicable" in (problem.where or "")


def test_the_inventory_shows_it_as_an_answer() -> None:
    from expert.deliverables.inventory import loop_fields

    kb = builtin_kb()
    a = assessment.validate(_example(not_applicable=["retry.jitter"]), kb.vocabulary, "<t>")
    probe = a.loop("liveness-probe")
    assert probe is not None
    (jitter,) = [f for f in loop_fields(probe, kb) if f.field == "retry.jitter"]
    assert (jitter.value, jitter.state) == ("does not apply", "given")


def _cluster(pool: dict, **preemption: object) -> dict:
    """A preemption loop on a job and on the pool it runs on; the pool's answers vary."""
    loop = {
        "id": "kueue",
        "triggers": ["priority_arrival"],
        "actuations": ["preempt"],
        "acts_on": ["job", "pool"],
        "answers": {"saves-before-interrupt": "no"},
        **preemption,
    }
    resources = [
        {"id": "job", "kind": "job", "checkpoint_interval": "90m", "interrupted_every": "12h"},
        {"id": "pool", "kind": "gpu_pool", **pool},
    ]
    return {"schema_version": 1, "system": {"name": "t"}, "loops": [loop], "resources": resources}


def test_a_resource_comparison_reads_through_to_the_answers_that_do_not_apply() -> None:
    # Checkpoints against interruptions on a pool whose figures do not apply (a pool does
    # not checkpoint): no finding and no question about them; unknown, they are asked.
    unknown = _ids(_cluster({"checkpoint_interval": "unknown", "interrupted_every": "unknown"}))
    assert "preemption-outpaces-checkpointing:kueue" in unknown
    # a resource's question, in the words for a pool (asked of the work it runs)
    assert "question::pool-checkpoint-interval" in unknown
    fields = ["checkpoint_interval", "checkpoint_duration", "interrupted_every"]
    gone = _ids(_cluster({"not_applicable": fields}))
    assert "preemption-outpaces-checkpointing:kueue" not in gone
    assert not {i for i in gone if "resource-" in i or "pool-" in i}


def test_a_question_a_pattern_asks_is_not_asked_of_a_loop_it_does_not_apply_to() -> None:
    data = _jitter_unknown()
    asked = _ids(data)
    assert "question:sdk-retries:retry-budget" not in asked  # answered in the example
    (retries,) = [lp for lp in data["loops"] if lp["id"] == "sdk-retries"]
    del retries["retry"]["budget"]
    assert "question:sdk-retries:retry-budget" in _ids(data)
    retries["not_applicable"] = ["retry.budget"]
    assert "question:sdk-retries:retry-budget" not in _ids(data)
