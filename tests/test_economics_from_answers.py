"""Recomputed training progress priced from the user's own figures (checkpoint interval, time
between interruptions, start-up time) where they are given, and from the knowledge base's
share estimate where they are not."""

from __future__ import annotations

import math

import pytest

from expert.analysis.results import Member
from expert.assessment.model import Economics
from expert.deliverables import recompute
from expert.deliverables.economics import HOURS_PER_MONTH, summarise
from expert.knowledge.costmodel import CostModel
from expert.render.reports import render_markdown
from tests.helpers import builtin_kb, make
from tests.test_economics import ACC, FIGURES, finding, platform
from tests.test_reports_golden import assess_model


def job(**fields: str) -> recompute.Job:
    jobs = recompute.jobs(make([], [{"id": "train", "kind": "job", **fields}]))
    return jobs.figures["train"]


def test_known_figures_give_half_an_interval_plus_start_up_per_interruption() -> None:
    j = job(checkpoint_interval="2h", interrupted_every="2.7h-12h", startup_time="10m")
    low, mid, high = recompute.lost_share(j)
    lost = 1 + 10 / 60  # hours: half of 2h, plus 10m to start again
    assert low == pytest.approx(lost / 12)  # the longest time between interruptions
    assert high == pytest.approx(lost / 2.7)  # the shortest
    assert mid == pytest.approx(lost / math.sqrt(2.7 * 12))
    times = recompute.interruptions(j)
    assert times == pytest.approx((730 / 12, 730 / math.sqrt(2.7 * 12), 730 / 2.7))
    # interruptions a month x hours lost each = the share of the job's 730 hours
    per = recompute.lost_per_interruption(j)
    assert times[0] * per[0] == pytest.approx(low * HOURS_PER_MONTH)
    assert j.describe() == (
        "train checkpoints every 2h and is interrupted about every 2.7h-12h, and takes 10m to "
        "start again"
    )


def test_partly_known_figures_leave_out_what_is_unknown() -> None:
    # no start-up time: half an interval only; a checkpoint range: its ends at the ends
    j = job(checkpoint_interval="1h-2h", interrupted_every="4h", startup_time="unknown")
    assert j.startup is None
    assert recompute.lost_share(j) == pytest.approx((0.5 / 4, math.sqrt(2) / 2 / 4, 1 / 4))
    # interrupted more often than it can checkpoint: all of its time, no more
    assert recompute.lost_share(job(checkpoint_interval="10h", interrupted_every="2h"))[2] == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"checkpoint_interval": "2h"},
        {"interrupted_every": "3h"},
        {"checkpoint_interval": "2h", "interrupted_every": "unknown"},
        {"checkpoint_interval": "unknown", "interrupted_every": "3h", "startup_time": "5m"},
    ],
)
def test_unknown_figures_give_no_job(fields: dict[str, str]) -> None:
    a = make([], [{"id": "train", "kind": "job", **fields}])
    assert recompute.jobs(a).figures == {}


RECOMPUTE = ACC.model_copy(
    update={"computation": "recomputed_progress", "priced_from_answers": ["one", "two@train"]}
)


def test_findings_naming_a_job_share_its_loss_and_the_rest_keep_the_estimate() -> None:
    a = make(
        [
            {"id": "kueue", "acts_on": ["train"]},
            {"id": "drain", "acts_on": ["pool"]},
        ],
        [
            {"id": "train", "kind": "job", "checkpoint_interval": "2h", "interrupted_every": "8h"},
            {"id": "pool", "kind": "gpu_pool"},
        ],
    )
    jobs = recompute.jobs(a)
    one = finding("one:kueue", "incoherence", loops=("kueue",))
    two = finding("two@train", "incoherence", loops=("x", "y")).model_copy(
        update={"members": [Member(loops=["x", "y"], status="confirmed", resource="train")]}
    )
    other = finding("other:drain", "incoherence", loops=("drain",))
    ids = (one.id, two.id, other.id)
    findings = [
        one,
        two,
        other,
        finding("lost:a", "symptom", ids),
        finding("rec:a", "ghost-cost", ("lost:a",)),
    ]
    s = summarise(findings, FIGURES, {"rec": RECOMPUTE}, jobs)
    (line,) = s.costs
    assert line.basis == "answers and estimate"
    parts = {c.finding: c for c in line.contributions}
    assert parts[one.id].jobs == parts[two.id].jobs == ["train"]
    assert parts[other.id].jobs == []
    # a quarter of the job's time (1h lost every 8h), counted once, split between the two
    assert parts[one.id].raw.likely == parts[two.id].raw.likely == pytest.approx(1 / 8 / 2)
    assert parts[other.id].raw.likely == ACC.parameters["likely"]
    (loss,) = line.from_answers
    assert loss.findings == [one.id, two.id]
    assert loss.accelerator_hours is not None
    assert loss.accelerator_hours.likely == pytest.approx(100 * HOURS_PER_MONTH / 8)
    assert "Priced from your answers: train checkpoints every 2h" in line.basis_text
    assert "all 100 of the fleet's accelerators" in line.basis_text
    # 12.5% from the answers is over the 10% ceiling: it takes all of it
    assert line.quantity is not None
    assert line.quantity.likely == pytest.approx(0.10 * 100 * HOURS_PER_MONTH)


def test_without_figures_the_estimate_is_what_it_was() -> None:
    findings = platform()
    old = summarise(findings, FIGURES, {"acc": ACC})
    new = summarise(findings, FIGURES, {"acc": RECOMPUTE})
    assert [line.money for line in new.costs] == [line.money for line in old.costs]
    assert new.total == old.total
    (line,) = [line for line in new.costs if line.rule == "acc"]
    assert line.basis == "estimate"
    assert "knowledge base's share estimate" in line.basis_text
    assert all(line.basis == line.basis_text == "" for line in old.costs)  # other computations


USER = dict(  # the user's cluster: checkpoints every 2h, interrupted a few times a day
    loops=[
        {
            "id": "kueue-preemption",
            "name": "Kueue preemption",
            "triggers": ["priority_arrival"],
            "actuations": ["preempt"],
            "acts_on": ["pretrain"],
            "timescale": "1m",
            "deadline": "30s",
            "answers": {"saves-before-interrupt": "no"},
        }
    ],
    economics={"accelerator_count": 256, "accelerator_hour_cost": 2.5},
)
PRETRAIN = {
    "id": "pretrain",
    "kind": "job",
    "name": "Pretraining job",
    "checkpoint_interval": "2h",
    "checkpoint_duration": "10m",
}


def _summary_section(markdown: str) -> str:
    return markdown.split("## 3. Economic Risk Summary", 1)[1].split("\n## ", 1)[0]


def test_the_report_states_the_figure_from_the_answers() -> None:
    a = make(resources=[{**PRETRAIN, "interrupted_every": "2.7h-12h"}], **USER)
    results = assess_model(a)
    assert results.economics is not None
    (line,) = [c for c in results.economics.costs if c.rule == "recomputed-training-progress"]
    assert line.basis == "answers"
    text = _summary_section(render_markdown(results, a))
    assert (
        "Priced from your answers: Pretraining job checkpoints every 2h and is interrupted "
        "about every 2.7h-12h" in text
    )
    # 61 to 270 interruptions a month of 1h on 256 accelerators, before the 10% ceiling
    assert "16,000 to 69,000 (central estimate 33,000) accelerator-hours a month" in text
    assert line.quantity is not None
    assert line.quantity.likely == pytest.approx(0.10 * 256 * HOURS_PER_MONTH)
    assert line.quantity.low == pytest.approx(256 * HOURS_PER_MONTH / 12)  # under the ceiling
    assert "pretrain" not in text.replace("Pretraining", "")  # names, not ids


def test_an_assessment_without_the_figures_keeps_the_estimate() -> None:
    # no time between interruptions: the short notice still loses progress, priced as before
    a = make(resources=[PRETRAIN], **USER)
    results = assess_model(a)
    assert results.economics is not None
    (line,) = [c for c in results.economics.costs if c.rule == "recomputed-training-progress"]
    assert line.basis == "estimate" and line.from_answers == []
    model = builtin_kb().patterns["recomputed-training-progress"].cost
    assert isinstance(model, CostModel)
    assert [c.raw.likely for c in line.contributions if c.status == "confirmed"] == [
        model.parameters["likely"]
    ]
    text = _summary_section(render_markdown(results, a))
    assert "Priced at the knowledge base's share estimate" in text
    assert "Priced from your answers" not in text


def test_a_pack_cost_on_accelerator_hours_is_unchanged() -> None:
    e = Economics(accelerator_count=100, accelerator_hour_cost=2)
    jobs = recompute.jobs(
        make(
            [{"id": "a", "acts_on": ["train"]}],
            [{"id": "train", "checkpoint_interval": "1h", "interrupted_every": "2h"}],
        )
    )
    findings = platform()
    assert summarise(findings, e, {"acc": ACC}, jobs) == summarise(findings, e, {"acc": ACC})


def test_a_conflict_that_only_interrupts_the_job_keeps_the_estimate() -> None:
    # The time between interruptions counts every cause: the loss it implies is charged to
    # the findings whose fix changes the checkpoints, not to another conflict on the job.
    a = make(
        [{"id": "kueue", "acts_on": ["train"]}],
        [{"id": "train", "kind": "job", "checkpoint_interval": "2h", "interrupted_every": "8h"}],
    )
    one = finding("one:kueue", "incoherence", loops=("kueue",))
    retry = finding("retry:kueue", "incoherence", loops=("kueue",))
    findings = [
        one,
        retry,
        finding("lost:a", "symptom", (one.id, retry.id)),
        finding("rec:a", "ghost-cost", ("lost:a",)),
    ]
    s = summarise(findings, FIGURES, {"rec": RECOMPUTE}, recompute.jobs(a))
    parts = {c.finding: c for c in s.costs[0].contributions}
    assert parts[one.id].jobs == ["train"]
    assert parts[one.id].raw.likely == pytest.approx(1 / 8)  # all of the job's loss
    assert parts[retry.id].jobs == []
    assert parts[retry.id].raw.likely == ACC.parameters["likely"]
