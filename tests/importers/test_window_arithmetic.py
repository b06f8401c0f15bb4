"""A Ray Serve look-back period compared with its upscale delay, from imported numbers: a
look-back longer than the delay fires confirmed, citing the look_back_period_s line, and the
documented defaults (both 30 s) stay quiet."""

from __future__ import annotations

from pathlib import Path

from expert.analysis.assess import Assessor, load_assessment
from expert.yamlio import dump_yaml
from tests.helpers import builtin_kb
from tests.importers.helpers import loop, run, source
from tests.importers.test_serving import SERVE as DEFAULTS

# The Serve config of test_serving.py with the oscillating example of Ray's "Advanced Ray
# Serve Autoscaling" guide (doc/source/serve/advanced-guides/advanced-autoscaling.md):
# upscale_delay_s 3 with look_back_period_s 30.
SERVE = DEFAULTS + "        upscale_delay_s: 3\n        look_back_period_s: 30\n"
RULE = "averaging-window-outlasts-reaction"
LOOP = "default-model-autoscaling"


def assess(tmp_path: Path, text: str) -> list:
    result = run(tmp_path / "in", {"serve.yaml": text})
    path = tmp_path / "imported.yaml"
    path.write_text(dump_yaml(result.assessment))
    with Assessor(builtin_kb()) as ax:
        return ax.assess(load_assessment(path, builtin_kb()), deliverables=False).findings


def test_look_back_is_imported_as_the_window_with_its_line(tmp_path):
    result = run(tmp_path, {"serve.yaml": SERVE})
    assert loop(result, LOOP)["window"] == "30s"
    src = source(result, LOOP, "window")
    assert (src.line, src.default) == (12, False)


def test_look_back_longer_than_upscale_delay_fires_citing_the_line(tmp_path):
    findings = assess(tmp_path, SERVE)
    hit = [f for f in findings if f.rule == RULE and f.loops == [LOOP]]
    assert hit, sorted({(f.rule, f.status) for f in findings})
    assert hit[0].status == "confirmed"
    assert hit[0].severity == "high"  # 30 s over 3 s: ten times
    cited = {(b.loop, b.field): b.source for b in hit[0].because if b.source}
    assert cited[LOOP, "window"] == f"{tmp_path / 'in' / 'serve.yaml'}:12"


def test_documented_defaults_stay_quiet(tmp_path):
    assert "look_back" not in DEFAULTS and "upscale_delay" not in DEFAULTS
    findings = assess(tmp_path, DEFAULTS)
    assert not any(f.rule == RULE for f in findings)
