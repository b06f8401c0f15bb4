"""Comparisons across settings, made with imported numbers: the example platforms fire them
confirmed, and each finding cites the configuration lines the numbers came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from expert.analysis.assess import Assessor, load_assessment
from expert.importers import import_paths
from expert.yamlio import dump_yaml
from tests.helpers import builtin_kb

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "configs"


@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    result = import_paths([EXAMPLES / "inference-platform"])
    path = tmp_path_factory.mktemp("arith") / "imported.yaml"
    path.write_text(dump_yaml(result.assessment))
    with Assessor(builtin_kb()) as ax:
        return ax.assess(load_assessment(path, builtin_kb()), deliverables=False).findings


def test_route_retries_outlast_the_route_timeout_with_file_and_line(findings):
    # gateway.yaml: timeout 60s, retries.attempts 3, perTryTimeout 30s -> 4 x 30s = 120s
    hit = [
        f
        for f in findings
        if f.rule == "retries-outlast-timeout"
        and f.status == "confirmed"
        and set(f.loops) == {"chat-api-retries", "chat-api-timeout"}
    ]
    assert hit, sorted({(f.rule, f.status) for f in findings})
    cited = {(b.loop, b.field): b.source for b in hit[0].because if b.source}
    gateway = "examples/configs/inference-platform/gateway.yaml"
    assert cited["chat-api-retries", "deadline"] == f"{gateway}:33"  # perTryTimeout
    assert cited["chat-api-retries", "retry.max_retries"] == f"{gateway}:32"  # attempts
    assert cited["chat-api-timeout", "deadline"] == f"{gateway}:30"  # timeout
    assert hit[0].severity == "high"  # the tries add up to twice the route timeout


def test_retries_that_fit_their_timeout_stay_quiet(tmp_path):
    text = (EXAMPLES / "inference-platform" / "gateway.yaml").read_text()
    assert "perTryTimeout: 30s" in text
    (tmp_path / "gateway.yaml").write_text(text.replace("perTryTimeout: 30s", "perTryTimeout: 10s"))
    result = import_paths([tmp_path])
    (tmp_path / "a.yaml").write_text(dump_yaml(result.assessment))
    with Assessor(builtin_kb()) as ax:
        found = ax.assess(load_assessment(tmp_path / "a.yaml", builtin_kb()), deliverables=False)
    assert not any(
        f.rule == "retries-outlast-timeout" and "chat-api-retries" in f.loops
        for f in found.findings
    )
