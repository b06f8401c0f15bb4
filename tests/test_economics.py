"""Economic Risk Summary: money charged to findings, checked against numbers worked out by hand."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from pydantic import ValidationError

from expert.analysis.results import Finding
from expert.assessment.model import Economics
from expert.deliverables.economics import (
    HOURS_PER_MONTH,
    Range,
    money,
    number,
    savings,
    summarise,
    under_ceiling,
)
from expert.knowledge.costmodel import CostModel
from tests.helpers import builtin_kb

SHARES = {"kind": "estimate", "basis": "reasoned", "backs": ["low", "likely", "high"]}
CEILING = {
    "kind": "ceiling",
    "basis": "all causes together",
    "backs": ["ceiling"],
    "source": {"title": "t", "url": "https://example.org/c"},
}
ACC = CostModel(
    computation="accelerator_hours",
    parameters={"low": 0.01, "likely": 0.02, "high": 0.04},
    ceiling=0.10,
    assumptions=[{"text": "share", **SHARES}, {"text": "ceiling", **CEILING}],
)


def hours(low: float, central: float, high: float) -> CostModel:
    return CostModel(
        computation="engineer_hours",
        parameters={"low": low, "likely": central, "high": high, "hours_per_engineer_month": 160},
        assumptions=[
            {"text": "hours", **SHARES},
            {
                "text": "team",
                "kind": "estimate",
                "basis": "convention",
                "backs": ["hours_per_engineer_month"],
            },
        ],
    )


MODELS = {"acc": ACC, "eng": hours(4, 12, 30), "rec": hours(1, 4, 12)}
FIGURES = Economics(
    accelerator_count=100, accelerator_hour_cost=2, engineer_hour_cost=100, engineers=10
)
FLEET_HOURS = 100 * HOURS_PER_MONTH


def finding(
    fid: str, kind: str, parents: tuple[str, ...] = (), loops: tuple[str, ...] = ("a",)
) -> Finding:
    return Finding(
        id=fid,
        rule=fid.split(":")[0],
        kind=kind,  # type: ignore[arg-type]
        title=f"title of {fid.split(':')[0]}",
        status="confirmed",
        severity="high",
        loops=list(loops),
        because=[],
        derived_from=list(parents),
        narrative="n",
        would_clear_if=[f"{fid} was fixed"],
    )


def platform(conflicts: int = 2, reconstruction: bool = False) -> list[Finding]:
    roots = [finding(f"retry:{i}", "incoherence", loops=("a",)) for i in range(conflicts - 1)]
    roots.append(finding("throttle:b", "incoherence", loops=("b",)))
    out = [
        *roots,
        finding("gap:a", "auditability", loops=("a", "z")),
        finding("symptom:s", "symptom", parents=tuple(r.id for r in roots)),
        finding("acc:x", "ghost-cost", parents=("symptom:s",)),
        finding("eng:x", "ghost-cost", parents=("retry:0", "gap:a")),
    ]
    if reconstruction:
        out.append(finding("rec:x", "ghost-cost", parents=("retry:0", "gap:a")))
    return out


def test_per_pattern_split_worked_by_hand() -> None:
    s = summarise(platform(), FIGURES, MODELS)
    assert s.total is not None
    # accelerators: two conflicts at 2% each add up to 4%; under the 10% ceiling that is
    # 10% x (1 - e^-0.4) = 3.2968%, half each, of 73,000 accelerator-hours at 2 an hour
    each = 0.10 * (1 - math.exp(-0.4)) / 2 * FLEET_HOURS * 2
    assert each == pytest.approx(2406.67, abs=0.01)
    # engineering: one conflict and the one untraceable loop (a) taking part in it, not
    # loop z, which is in no conflict: 2 units x 12 h x 100
    assert s.hidden is not None and s.hidden.likely == pytest.approx(2400)
    assert s.total.likely == pytest.approx(2 * each + 2400)
    rows = {r.pattern: r for r in s.by_pattern}
    assert rows["retry"].direct.likely == pytest.approx(each)
    assert rows["retry"].hidden.likely == pytest.approx(1200)
    assert rows["throttle"].total.likely == pytest.approx(each)
    assert rows["gap"].total.likely == pytest.approx(1200)
    assert rows["throttle"].action == "throttle:b was fixed"
    assert sum(r.total.likely for r in s.by_pattern) == pytest.approx(s.total.likely)
    assert rows["retry"].share == pytest.approx((each + 1200) / s.total.likely)


def test_dropping_a_conflict_lowers_the_exposure() -> None:
    before = summarise(platform(conflicts=3), FIGURES, MODELS)
    after = summarise(platform(conflicts=2), FIGURES, MODELS)
    assert before.total is not None and after.total is not None
    for point in ("low", "likely", "high"):
        assert getattr(after.total, point) < getattr(before.total, point)
    saved = savings(before, {"retry:1"})
    assert saved is not None
    assert saved.likely == pytest.approx(before.total.likely - after.total.likely)
    # clearing the throttle conflict leaves one conflict at 2%: 10% x (1 - e^-0.2)
    one = 0.10 * (1 - math.exp(-0.2)) * FLEET_HOURS * 2
    two = summarise(platform(), FIGURES, MODELS)
    assert two.total is not None
    gone = savings(two, {"throttle:b"})
    assert gone is not None and gone.likely == pytest.approx(two.total.likely - one - 2400)
    assert savings(two, set()) == Range(low=0, likely=0, high=0)
    assert savings(summarise(platform(), None, MODELS), {"throttle:b"}) is None


def test_one_gap_is_charged_in_one_line_only() -> None:
    s = summarise(platform(reconstruction=True), FIGURES, MODELS)
    rec = next(c for c in s.costs if c.rule == "rec")
    # the conflict and loop a are already charged as engineering time (more hours per unit)
    assert rec.money is not None and rec.money.high == 0
    assert any("not charged again" in n for n in rec.notes)
    assert s.hidden is not None and s.hidden.likely == pytest.approx(2400)
    # clearing the engineering line hands them to the reconstruction line
    left = savings(s, {"eng:x"})
    assert left is not None and left.likely == pytest.approx(2400 - 2 * 4 * 100)


def test_the_accelerator_total_never_exceeds_the_ceiling() -> None:
    rng = random.Random(18)
    for _ in range(150):
        ceiling = rng.choice((0.05, 0.10, 0.2))
        low = rng.uniform(0, 0.05)
        central = rng.uniform(low, 0.1)
        model = ACC.model_copy(
            update={
                "ceiling": ceiling,
                "parameters": {"low": low, "likely": central, "high": rng.uniform(central, 0.5)},
            }
        )
        s = summarise(platform(conflicts=rng.randint(1, 60)), FIGURES, {**MODELS, "acc": model})
        acc = next(c for c in s.costs if c.rule == "acc")
        assert acc.quantity is not None
        for point in ("low", "likely", "high"):
            assert getattr(acc.quantity, point) <= ceiling * FLEET_HOURS + 1e-6
        assert acc.quantity.low <= acc.quantity.likely <= acc.quantity.high + 1e-9


def test_under_ceiling_is_below_the_sum_and_rises_with_each_finding() -> None:
    assert under_ceiling(0, 0.1) == 0
    values = [under_ceiling(n * 0.02, 0.1) for n in range(1, 40)]
    assert all(a < b for a, b in itertools.pairwise(values))
    assert all(v < 0.1 and v <= n * 0.02 for n, v in enumerate(values, 1))


@pytest.mark.parametrize(
    ("assumption", "message"),
    [
        ({"text": "t", "basis": "b", "backs": ["low", "likely", "high"]}, "kind"),
        ({"text": "t", "kind": "estimate", "basis": " ", "backs": ["low"]}, "basis"),
        ({"text": "t", "kind": "measurement", "basis": "b", "backs": ["low"]}, "source"),
        (
            {
                "text": "t",
                "kind": "measurement",
                "basis": "b",
                "backs": ["low"],
                "source": {"title": "t", "url": "https://example.org"},
            },
            "measured",
        ),
    ],
)
def test_a_number_without_its_kind_and_basis_is_refused(assumption: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CostModel(
            computation="engineer_hours",
            parameters={"low": 1, "likely": 2, "high": 3},
            assumptions=[assumption],
        )


def test_every_parameter_needs_an_assumption_and_shares_a_ceiling() -> None:
    with pytest.raises(ValidationError, match="kind and basis of ceiling"):
        CostModel(
            computation="tokens",
            parameters={"low": 0.01, "likely": 0.02, "high": 0.03},
            ceiling=0.1,
            assumptions=[{"text": "share", **SHARES}],
        )
    with pytest.raises(ValidationError, match="needs a `ceiling`"):
        CostModel(
            computation="tokens",
            parameters={"low": 0.01, "likely": 0.02, "high": 0.03},
            assumptions=[{"text": "share", **SHARES}],
        )
    # `central` is accepted for the central estimate
    m = CostModel(
        computation="engineer_hours",
        parameters={"low": 1, "central": 2, "high": 3},
        assumptions=[{"text": "h", **SHARES}],
    )
    assert m.parameters["likely"] == 2


def test_every_cost_block_of_the_knowledge_base_states_its_basis() -> None:
    kb = builtin_kb()
    costs = [p.cost for p in kb.patterns.values() if p.cost is not None]
    assert costs
    for cost in costs:
        backed = {b for a in cost.assumptions for b in a.backs}
        assert set(cost.parameters) <= backed
        assert all(a.kind for a in cost.assumptions)


def test_figures_that_disagree_get_a_note() -> None:
    cheap = Economics(
        accelerator_count=64,
        accelerator_hour_cost=4.9,
        monthly_tokens=30_000_000_000,
        cost_per_million_tokens=0.6,
    )
    s = summarise(platform(), cheap, MODELS)
    assert len(s.figure_notes) == 1 and "less than a tenth" in s.figure_notes[0]
    fair = cheap.model_copy(update={"cost_per_million_tokens": 3})
    assert summarise(platform(), fair, MODELS).figure_notes == []


def test_headline_precision_and_no_cents() -> None:
    assert number(62_377.28) == "62,000"
    assert number(196_270.56) == "200,000"
    assert money(4.9, "USD") == "USD 5"
    s = summarise(platform(), FIGURES, MODELS)
    assert "central estimate" in s.headline and "likely" not in s.headline
    for line in s.costs:
        for step in line.steps:
            assert "." not in step.split("= ")[-1].replace("USD ", "")


def test_sensitivity_shows_only_inputs_that_move_the_total() -> None:
    s = summarise(platform(), FIGURES, MODELS)
    assert s.total is not None and s.sensitivity
    swings = [abs(x.swing) for x in s.sensitivity]
    assert swings == sorted(swings, reverse=True)
    assert all(abs(x.swing) >= 0.02 * s.total.likely for x in s.sensitivity)
    # the token figures were not given: nothing about tokens is listed
    assert not any("token" in x.label for x in s.sensitivity)


def test_the_dominant_unsourced_line_is_named() -> None:
    lots = Economics(accelerator_count=1, accelerator_hour_cost=1, engineer_hour_cost=500)
    s = summarise(platform(), lots, MODELS)
    assert "title of eng" in s.dominance_note and "estimates" in s.dominance_note
