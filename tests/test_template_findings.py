"""What a template's documented answers do to the findings of a loop started from it: a
product's own behaviour (Kueue suspends whole workloads, KEDA's HPA holds scale-in for 300 s)
keeps it out of conflicts it cannot take part in, and a product that can take part still
draws them."""

from __future__ import annotations

from typing import Any

import pytest

from expert.analysis.assess import Assessor
from tests.helpers import builtin_kb, make

KB = builtin_kb()


def rules_for(template: str, resource: dict[str, Any], **answers: Any) -> set[str]:
    loop = {**KB.templates[template].loop, "id": "loop", "acts_on": [resource["id"]]}
    loop["answers"] = {**loop.get("answers", {}), **answers}
    a = make([loop], [resource])
    with Assessor(KB) as assessor:
        results = assessor.assess(a, deliverables=False)
    return {f.rule for f in results.findings}


GANG_JOB = {"id": "pretrain", "kind": "job", "synchronized": "yes"}
QUEUE = {"id": "workers", "kind": "service"}


@pytest.mark.parametrize(
    ("template", "fires"),
    [
        ("kueue-admission", False),  # preempts whole workloads
        ("kueue-wait-for-pods-ready", False),
        ("cluster-autoscaler", True),  # drains one node at a time
        ("descheduler", True),
        # a drain after a failed health check removes a member that has already failed
        ("nvsentinel-gpu-remediation", False),
        ("gke-node-auto-repair", False),
    ],
)
def test_a_drain_stalls_a_gang_job_only_when_it_takes_healthy_members_one_at_a_time(
    template: str, fires: bool
) -> None:
    assert ("drain-vs-gang-job" in rules_for(template, GANG_JOB)) is fires


def test_kedas_scale_in_waits_out_the_hpa_window_so_it_does_not_undo_its_scale_out() -> None:
    assert "scaler-undoes-own-scale-out" not in rules_for("keda-scaler", QUEUE)
    # the same loop with its scale-in not held back does undo it
    held = {**KB.templates["keda-scaler"].loop, "id": "loop", "acts_on": ["workers"]}
    held["guards"] = {"rate_limited": "no"}
    with Assessor(KB) as assessor:
        results = assessor.assess(make([held], [QUEUE]), deliverables=False)
    assert "scaler-undoes-own-scale-out" in {f.rule for f in results.findings}
