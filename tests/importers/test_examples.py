"""The shipped example platforms, imported and assessed end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from expert.analysis.assess import Assessor, load_assessment
from expert.importers import import_paths
from expert.yamlio import dump_yaml
from tests.helpers import builtin_kb

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "configs"


@pytest.fixture(scope="module")
def assessor():
    with Assessor(builtin_kb()) as ax:
        yield ax


def _assess(name: str, tmp_path: Path, assessor: Assessor):
    result = import_paths([EXAMPLES / name])
    path = tmp_path / "imported.yaml"
    path.write_text(dump_yaml(result.assessment))
    a = load_assessment(path, builtin_kb())  # what `coherence assess` reads
    findings = assessor.assess(a, deliverables=False).findings
    fired = {(f.rule, f.status) for f in findings}
    return result, findings, fired


def test_inference_platform_fires_timeout_vs_retry_and_retry_multiplication(tmp_path, assessor):
    result, _, fired = _assess("inference-platform", tmp_path, assessor)
    assert ("shutdown-vs-retry", "confirmed") in fired
    assert ("retry-multiplication-across-layers", "confirmed") in fired
    assert not result.problems
    # the evidence points at the lines that set the values
    loops = [lp["id"] for lp in result.assessment["loops"]]
    timeout = result.provenance[f"loops[{loops.index('chat-api-timeout')}].deadline"]
    assert timeout.file.endswith("gateway.yaml") and timeout.line == 30
    attempts = result.provenance[f"loops[{loops.index('chat-api-retries')}].retry.max_retries"]
    assert attempts.line == 32 and not attempts.default


def test_training_cluster_fires_a_preemption_conflict(tmp_path, assessor):
    result, findings, _ = _assess("training-cluster", tmp_path, assessor)
    hit = [
        f
        for f in findings
        if f.rule == "disruptions-counted-as-failures" and f.status == "confirmed"
    ]
    assert {lp for f in hit for lp in f.loops} >= {"research-preemption", "eval-sweep-backoff"}
    # the data-preparation job ignores disruptions: a near miss that must stay quiet
    assert not any("tokenize-corpus-backoff" in f.loops for f in hit)
    assert any("ResourceFlavor h100" in s for s in result.skipped)


def test_nothing_the_configuration_cannot_tell_is_invented():
    for name in ("inference-platform", "training-cluster"):
        result = import_paths([EXAMPLES / name])
        for lp in result.assessment["loops"]:
            assert not {"owner", "decision_record", "propagates_cancellation"} & set(lp)
