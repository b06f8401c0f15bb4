"""Economic Risk Summary: every range checked against numbers worked out by hand."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from expert.assessment import Economics
from expert.costmodel import COST_PARAMETERS, CostModel
from expert.economics import (
    COMPUTATIONS,
    OVERLAP_LIKELY,
    Range,
    combine,
    number,
    savings,
    sig3,
    summarise,
)
from expert.results import Finding
from tests.helpers import builtin_kb

ACC = CostModel(
    computation="accelerator_hours", parameters={"low": 0.01, "likely": 0.03, "high": 0.08}
)
TOK = CostModel(computation="tokens", parameters={"low": 0.005, "likely": 0.02, "high": 0.06})
ENG = CostModel(
    computation="engineer_hours",
    parameters={"low": 4, "likely": 12, "high": 30, "hours_per_engineer_month": 160},
)
MODELS = {"acc": ACC, "tok": TOK, "eng": ENG}


def finding(
    fid: str, kind: str, status: str = "confirmed", parents: tuple[str, ...] = ()
) -> Finding:
    return Finding(
        id=fid,
        rule=fid.split(":")[0],
        kind=kind,  # type: ignore[arg-type]
        title=f"title of {fid}",
        status=status,  # type: ignore[arg-type]
        severity="high",
        loops=["a"],
        because=[],
        derived_from=list(parents),
        narrative="n",
    )


def base_findings(cost_status: str = "confirmed") -> list[Finding]:
    return [
        finding("conflict:a", "incoherence"),
        finding("gap:a", "auditability"),
        finding("gap:b", "auditability"),
        finding("gap:c", "auditability", status="possible"),
        finding("symptom:a", "symptom", parents=("conflict:a",)),
        finding("acc:a", "ghost-cost", status=cost_status, parents=("symptom:a",)),
        finding("tok:a", "ghost-cost", status=cost_status, parents=("symptom:a",)),
        # 3 confirmed contributors (symptom:a, gap:a, gap:b) and 1 possible (gap:c)
        finding("eng:a", "ghost-cost", parents=("symptom:a", "gap:a", "gap:b", "gap:c")),
    ]


LLM_FIGURES = Economics(
    currency="USD",
    accelerator_count=64,
    accelerator_hour_cost=4.9,
    monthly_tokens=30_000_000_000,
    cost_per_million_tokens=0.6,
    engineer_hour_cost=120,
    engineers=12,
)


def line(summary, rule):  # type: ignore[no-untyped-def]
    return next(c for c in summary.costs if c.rule == rule)


def test_accelerator_hours_by_hand() -> None:
    s = summarise(base_findings(), LLM_FIGURES, MODELS)
    acc = line(s, "acc")
    # 64 accelerators x 730 h = 46,720 accelerator-hours a month
    assert acc.quantity.low == pytest.approx(467.2)  # x 1%
    assert acc.quantity.likely == pytest.approx(1401.6)  # x 3%
    assert acc.quantity.high == pytest.approx(3737.6)  # x 8%
    assert acc.money.low == pytest.approx(2289.28)  # x USD 4.90
    assert acc.money.likely == pytest.approx(6867.84)
    assert acc.money.high == pytest.approx(18314.24)
    assert acc.steps[1].startswith("likely: 64 accelerators x 730 h x 3% = 1,401.6")
    assert acc.steps[1].endswith("= USD 6,867.84")


def test_tokens_by_hand() -> None:
    tok = line(summarise(base_findings(), LLM_FIGURES, MODELS), "tok")
    # 30e9 tokens x 0.5% / 2% / 6% = 150M / 600M / 1.8B tokens; x USD 0.60 per million
    assert tok.quantity.likely == pytest.approx(600_000_000)
    assert (tok.money.low, tok.money.likely, tok.money.high) == pytest.approx((90, 360, 1080))


def test_engineer_hours_by_hand_possible_contributors_count_high_only() -> None:
    eng = line(summarise(base_findings(), LLM_FIGURES, MODELS), "eng")
    assert eng.contributors == {"confirmed": 3, "possible": 1}
    # low 3 x 4 h, likely 3 x 12 h, high 4 x 30 h (the possible gap counts only here)
    assert (eng.quantity.low, eng.quantity.likely, eng.quantity.high) == (12, 36, 120)
    assert (eng.money.low, eng.money.likely, eng.money.high) == pytest.approx((1440, 4320, 14400))


def test_engineer_hours_capped_by_team_size() -> None:
    figures = LLM_FIGURES.model_copy(update={"engineers": 1})
    eng = line(summarise(base_findings(), figures, MODELS), "eng")
    assert eng.quantity.high == 120  # one engineer's 160 h do not bind
    small = ENG.model_copy(
        update={"parameters": {**ENG.parameters, "hours_per_engineer_month": 50}}
    )
    figures = LLM_FIGURES.model_copy(update={"engineers": 2})
    s = summarise(base_findings(), figures, {**MODELS, "eng": small})
    eng = line(s, "eng")
    # 2 engineers x 50 h = 100 h caps the high end (120 h); low and likely stay
    assert (eng.quantity.low, eng.quantity.likely, eng.quantity.high) == (12, 36, 100)
    assert any("capped at the triage team's 100 hours" in n for n in eng.notes)


def test_total_combines_overlapping_costs_on_one_budget() -> None:
    s = summarise(base_findings(), LLM_FIGURES, MODELS)
    fleet = next(b for b in s.budgets if b.budget == "accelerators")
    # accelerators 2,289.28 / 6,867.84 / 18,314.24 and tokens 90 / 360 / 1,080 overlap:
    # low = the larger low; likely = larger + half the other; high = the sum
    assert fleet.range.low == pytest.approx(2289.28)
    assert fleet.range.likely == pytest.approx(6867.84 + OVERLAP_LIKELY * 360)
    assert fleet.range.high == pytest.approx(18314.24 + 1080)
    # engineering is another budget and adds up
    assert s.total.low == pytest.approx(2289.28 + 1440)
    assert s.total.likely == pytest.approx(7047.84 + 4320)
    assert s.total.high == pytest.approx(19394.24 + 14400)
    assert not s.total_partial
    assert s.headline.startswith("Structural exposure of USD 3,730 to USD 33,800")


def test_combine_is_ordered_and_bounded() -> None:
    from expert.economics import Range

    r = combine([Range(low=1, likely=2, high=3), Range(low=5, likely=6, high=7)])
    assert (r.low, r.likely, r.high) == (5, 6 + OVERLAP_LIKELY * 2, 10)
    assert r.low <= r.likely <= r.high


def test_possible_cost_counts_towards_the_high_end_only() -> None:
    s = summarise(base_findings("possible"), LLM_FIGURES, MODELS)
    acc = line(s, "acc")
    assert (acc.money.low, acc.money.likely) == (0, 0)
    assert acc.money.high == pytest.approx(18314.24)
    assert any("high end only" in n for n in acc.notes)
    assert s.total.likely == pytest.approx(4320)  # engineering only


def test_no_figures_states_exposure_in_units() -> None:
    s = summarise(base_findings(), None, MODELS)
    assert s.total is None and not s.priced
    assert "No economic figures were given" in s.missing_note
    assert line(s, "acc").quantity is None  # no accelerator count: only a share
    assert line(s, "acc").share.likely == pytest.approx(0.03)
    assert "accelerator count (not given)" in line(s, "acc").missing
    units = {q.unit: q.range for q in s.quantities}
    assert units == {"engineer-hours": units["engineer-hours"]}
    assert units["engineer-hours"].likely == 36
    assert (
        s.headline
        == "Structural exposure per month, in units: 12 to 120 (likely 36) engineer-hours."
    )
    assert s.sensitivity == []


def test_unknown_figure_leaves_cost_in_hours_and_total_partial() -> None:
    figures = LLM_FIGURES.model_copy(update={"accelerator_hour_cost": "unknown"})
    s = summarise(base_findings(), figures, MODELS)
    acc = line(s, "acc")
    assert acc.money is None
    assert acc.quantity.likely == pytest.approx(1401.6)
    assert acc.missing == ["cost of one accelerator-hour (you answered unknown)"]
    assert s.total_partial and s.excluded == ["acc:a"]
    assert "understates" in s.missing_note
    # the total keeps what can be priced: tokens (same budget) and engineering
    assert s.total.likely == pytest.approx(360 + 4320)


def test_sensitivity_names_what_moves_the_total_most() -> None:
    s = summarise(base_findings(), LLM_FIGURES, MODELS)
    top = s.sensitivity[0]
    assert top.kind == "assumption" and top.name == "acc.accelerator_hours"
    # accelerator share 1% -> 8%, everything else at likely: the fleet's likely value is the
    # accelerator cost plus half the token cost (180), and engineering adds 4,320
    assert top.likely_low == pytest.approx(2289.28 + 180 + 4320)
    assert top.likely_high == pytest.approx(18314.24 + 180 + 4320)
    figures = [x for x in s.sensitivity if x.kind == "figure"]
    # a 10% higher accelerator count or hour cost adds 686.784 to the likely total
    assert figures[0].swing == pytest.approx(686.784)
    assert {figures[0].name, figures[1].name} == {"accelerator_count", "accelerator_hour_cost"}
    assert "move it most" in s.sensitivity_note
    assert "engineers who triage" in s.sensitivity_note  # does not change the total


def test_ghost_cost_without_cost_model_is_reported_not_priced() -> None:
    s = summarise(base_findings(), LLM_FIGURES, {"eng": ENG})
    assert line(s, "acc").money is None
    assert "no `cost` block" in line(s, "acc").missing[0]


def test_root_causes_trace_to_stage_one_findings() -> None:
    acc = line(summarise(base_findings(), LLM_FIGURES, MODELS), "acc")
    assert acc.causes == ["symptom:a"]
    assert acc.root_causes == ["conflict:a"]


@pytest.mark.parametrize(
    ("computation", "parameters", "message"),
    [
        ("accelerator_hours", {"low": 0.1, "likely": 0.05, "high": 0.2}, "low <= likely"),
        ("tokens", {"low": 0.1, "likely": 0.5, "high": 2}, "shares between 0 and 1"),
        ("engineer_hours", {"low": 1, "likely": 2}, "missing high"),
        ("engineer_hours", {"low": 1, "likely": 2, "high": 3, "days": 1}, "unknown days"),
    ],
)
def test_cost_model_rejects_bad_parameters(
    computation: str, parameters: dict[str, float], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        CostModel(computation=computation, parameters=parameters)  # type: ignore[arg-type]


def test_cost_model_rejects_unknown_computation() -> None:
    with pytest.raises(ValidationError):
        CostModel(computation="eval_this", parameters={"low": 1, "likely": 1, "high": 1})  # type: ignore[arg-type]


def test_plain_assumption_strings_are_accepted() -> None:
    m = CostModel(
        computation="tokens",
        parameters={"low": 0, "likely": 0, "high": 0},
        assumptions=["a plain statement"],
    )
    assert m.assumptions[0].text == "a plain statement" and m.assumptions[0].source is None


def test_every_knowledge_base_cost_names_a_computation_in_code() -> None:
    assert set(COMPUTATIONS) == set(COST_PARAMETERS)
    costs = [p for p in builtin_kb().patterns.values() if p.kind == "ghost-cost"]
    assert costs and all(p.cost is not None for p in costs)
    for p in costs:
        assert p.cost is not None and p.cost.computation in COMPUTATIONS


def test_rounding_for_display() -> None:
    assert sig3(24147.84) == 24100
    assert number(24147.84) == "24,100"
    assert number(600_000_000) == "600 million"
    assert number(1_800_000_000) == "1.8 billion"
    assert number(0.4567) == "0.457"


def test_savings_follow_the_findings_cleared() -> None:
    s = summarise(base_findings(), LLM_FIGURES, MODELS)
    assert s.total is not None
    # clearing the one conflict removes the accelerator and token costs it causes
    saved = savings(s, {"conflict:a"})
    assert saved is not None
    assert saved.likely == pytest.approx(6867.84 + OVERLAP_LIKELY * 360)
    # clearing nothing saves nothing; clearing a cost itself saves its own line
    assert savings(s, set()) == Range(low=0, likely=0, high=0)
    only_tokens = savings(s, {"tok:a"})
    assert only_tokens is not None and only_tokens.likely == pytest.approx(OVERLAP_LIKELY * 360)


def test_savings_without_figures_is_none() -> None:
    assert savings(summarise(base_findings(), None, MODELS), {"conflict:a"}) is None
