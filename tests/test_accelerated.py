"""Whether a resource's work runs on accelerators: answered per resource, else its kind's
`accelerated`. A CPU batch job is a `job` too, and is charged no accelerator time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from expert.analysis import facts, graph
from expert.analysis.assess import Assessor
from expert.analysis.results import Results
from expert.assessment.model import Assessment
from expert.cli.main import main
from tests.helpers import builtin_kb, make

KB = builtin_kb()
FIGURES = {
    "accelerator_count": 64,
    "accelerator_hour_cost": 2.5,
    "engineers": 5,
    "engineer_hour_cost": 100,
}


def shedding(loop: str, resource: str) -> dict[str, Any]:
    """A per-node protection on a synchronised job: every other member waits at the barrier."""
    return {
        "id": loop,
        "instances": "per_node",
        "triggers": ["resource_pressure"],
        "actuations": ["shed_load"],
        "acts_on": [resource],
    }


def job(rid: str, **extra: str) -> dict[str, Any]:
    return {"id": rid, "kind": "job", "synchronized": "yes", **extra}


def assessed(a: Assessment) -> Results:
    with Assessor(KB) as assessor:
        return assessor.assess(a)


def uses_accelerators(a: Assessment) -> str:
    return str(
        facts.platform_fact(a, KB.vocabulary, "s", graph.derive(a, KB.vocabulary))[
            "uses_accelerators"
        ]
    )


@pytest.mark.parametrize(
    ("answer", "expected"),
    [(None, "yes"), ("yes", "yes"), ("no", "no"), ("unknown", "unknown")],
)
def test_the_answer_wins_over_the_kind_and_unanswered_keeps_it(
    answer: str | None, expected: str
) -> None:
    extra = {} if answer is None else {"accelerated": answer}
    a = make([shedding("shed", "etl")], [job("etl", **extra)])
    assert uses_accelerators(a) == expected


def test_a_gpu_pool_beside_a_cpu_job_still_runs_on_accelerators() -> None:
    a = make(
        [shedding("shed", "etl")],
        [job("etl", accelerated="no"), {"id": "gpus", "kind": "gpu_pool"}],
    )
    assert uses_accelerators(a) == "yes"


def test_a_cpu_job_is_not_charged_accelerator_time() -> None:
    a = make([shedding("shed", "etl")], [job("etl", accelerated="no")], economics=FIGURES)
    results = assessed(a)
    rules = {f.rule for f in results.every_finding()}
    assert "load-shedding-vs-global-sync" in rules
    assert "consumption-without-progress" not in rules
    assert "accelerator-time-without-progress" not in rules
    assert results.economics is not None
    assert all(line.budget != "accelerators" for line in results.economics.costs)


def test_an_unanswered_job_keeps_its_kinds_accelerator_costs() -> None:
    a = make([shedding("shed", "etl")], [job("etl")], economics=FIGURES)
    results = assessed(a)
    assert results.economics is not None
    lines = [c for c in results.economics.costs if c.budget == "accelerators"]
    assert [c.rule for c in lines] == ["accelerator-time-without-progress"]
    assert lines[0].money is not None and lines[0].money.likely > 0


def test_on_a_mixed_platform_only_the_gpu_work_is_charged_accelerator_time() -> None:
    """The GPU job's conflict is charged; the same conflict on the CPU job beside it is not,
    nor named among the causes of held accelerators."""
    a = make(
        [shedding("cpu-shed", "etl"), shedding("gpu-shed", "pretrain")],
        [job("etl", accelerated="no"), job("pretrain")],
        economics=FIGURES,
    )
    results = assessed(a)
    by_rule = {f.rule: f for f in results.effects}
    held = by_rule["consumption-without-progress"]
    assert held.derived_from == ["load-shedding-vs-global-sync:gpu-shed"]
    assert "cpu-shed" not in held.loops
    cpu = next(f for f in results.findings if f.id == "load-shedding-vs-global-sync:cpu-shed")
    assert cpu.without_accelerators
    assert results.economics is not None
    (line,) = [c for c in results.economics.costs if c.budget == "accelerators"]
    assert [c.finding for c in line.contributions] == ["load-shedding-vs-global-sync:gpu-shed"]


def test_a_queue_alone_says_nothing_of_the_work_it_holds() -> None:
    """A queue's kind is not accelerated, but the jobs waiting on it may be: only an answer
    of "no" takes a finding off accelerator costs."""
    a = make(
        [shedding("shed", "q")], [{"id": "q", "kind": "queue"}, {"id": "g", "kind": "gpu_pool"}]
    )
    test = facts.without_accelerators(a, KB.vocabulary)
    assert test(["shed"], []) is False


@pytest.mark.parametrize(
    ("answer", "shown"),
    [(None, "yes (from its kind)"), ("no", "no"), ("yes", "yes"), ("unknown", "not known")],
)
def test_the_inventory_shows_the_answer_as_given(answer: str | None, shown: str) -> None:
    extra = {} if answer is None else {"accelerated": answer}
    results = assessed(make([shedding("shed", "etl")], [job("etl", **extra)]))
    assert results.inventory is not None
    (res,) = results.inventory.resources
    assert res.accelerated == shown


def test_a_bad_value_names_the_file_the_place_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    path.write_text(
        "schema_version: 1\nsystem: {name: B}\nresources:\n"
        "  - {id: etl, kind: job, accelerated: maybe}\n"
        "loops:\n  - {id: l, actuations: [retry], acts_on: [etl]}\n"
    )
    result = CliRunner().invoke(main, ["assess", str(path)])
    assert result.exit_code == 2
    assert "platform.yaml:4" in result.stderr
    assert "resources[0] (id etl).accelerated" in result.stderr
    assert "'yes', 'no' or 'unknown'" in result.stderr
    assert "fix:" in result.stderr
