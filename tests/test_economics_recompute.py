"""The economics settled again for a sensitivity row or a saving gives the figures a summary made
from scratch would give, and leaves the summary it started from as it was."""

from __future__ import annotations

from expert.assessment.model import Economics
from expert.deliverables.economics import savings, summarise, total
from tests.test_economics import MODELS as BASE_MODELS
from tests.test_economics import hours, platform

# One engineer, and more hours per unit: the engineering hours go over the triage team's cap,
# so the capped path is settled again too.
MODELS = {**BASE_MODELS, "eng": hours(40, 90, 200)}
SMALL_TEAM = Economics(
    accelerator_count=100, accelerator_hour_cost=2, engineer_hour_cost=100, engineers=1
)


def test_total_and_savings_leave_the_summary_as_it_was() -> None:
    s = summarise(platform(conflicts=30, reconstruction=True), SMALL_TEAM, MODELS)
    assert s.total is not None
    assert any("capped" in note for line in s.costs for note in line.notes)
    before = s.model_dump_json()
    # settled again without its steps and per-finding money, a total is the same to the bit
    assert total(s.costs, s.figures) == s.total
    ids = {c.finding for line in s.costs for c in line.contributions}
    assert len(ids) > 30
    saved = [savings(s, {fid}) for fid in sorted(ids)]
    assert all(r is not None for r in saved)
    assert sum(r.likely > 0 for r in saved if r is not None) > 30
    assert s.model_dump_json() == before


def test_each_sensitivity_row_is_the_total_with_that_input_changed() -> None:
    findings = platform(conflicts=30, reconstruction=True)
    s = summarise(findings, SMALL_TEAM, MODELS)
    rows = [row for row in s.sensitivity if row.kind == "assumption"]
    assert len(rows) >= 2  # more than one rule: the others' lines are reused, not rebuilt
    for row in rows:
        rule = row.name.split(".")[0]
        model = MODELS[rule]
        for point, expected in (("low", row.likely_low), ("high", row.likely_high)):
            params = {**model.parameters, "likely": model.parameters[point]}
            changed = {**MODELS, rule: model.model_copy(update={"parameters": params})}
            afresh = summarise(findings, SMALL_TEAM, changed)
            assert afresh.total is not None
            assert afresh.total.likely == expected, (row.name, point)
