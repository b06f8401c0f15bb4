"""The Economic Risk Summary: ghost costs priced from the user's own figures.

The formulas are named computations here; their parameters (loss shares, hours) are data in
the `cost` blocks of the knowledge base's ghost-cost patterns. Nothing from the knowledge base
is evaluated. Every range is per month, low / likely / high:

- accelerator_hours: accelerator_count x 730 h x share lost   -> accelerator-hours
                     x accelerator_hour_cost                    -> money
- tokens:            monthly_tokens x share undelivered         -> tokens
                     x cost_per_million_tokens / 1,000,000      -> money
- engineer_hours:    contributing findings x hours per finding,
                     capped at engineers x hours_per_engineer_month -> engineer-hours
                     x engineer_hour_cost                       -> money

Three rules keep the total honest:
- Whatever rests on unknown answers (a possible finding) counts towards the high end only.
- Costs drawing on one budget may overlap (a retried request is token burn and accelerator
  time; reconstructing a decision is part of triaging an incident). Within a budget the low
  end assumes complete overlap (only the largest counts), the high end assumes none (they add
  up), and the likely value adds half of the others to the largest.
- A missing or unknown figure leaves its cost in its own unit (or as a share) and the money
  total marked partial; the page says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from expert.assessment import UNKNOWN, Economics
from expert.costmodel import COST_PARAMETERS, CostModel

if TYPE_CHECKING:
    from expert.results import Finding

HOURS_PER_MONTH = 730  # 8,760 hours in a year / 12
# How much of the smaller overlapping costs the likely total adds to the largest: halfway
# between complete overlap (0) and none (1), for want of data on how much they share.
OVERLAP_LIKELY = 0.5
SENSITIVITY_STEP = 0.10  # how much a user's figure is moved to see its effect on the total
POINTS = ("low", "likely", "high")

STATEMENT = (
    "This is structural exposure, not a measurement. It states what control conflicts like "
    "those found here cost a platform of this size each month. It applies published loss "
    "rates to your own figures. It does not measure what your platform actually spends: only "
    "measurements (goodput, retry ratios, triage time) can tell that."
)


class Range(BaseModel):
    low: float
    likely: float
    high: float

    def scaled(self, factor: float) -> Range:
        return Range(low=self.low * factor, likely=self.likely * factor, high=self.high * factor)


def _max(a: Range, b: Range) -> Range:
    return Range(low=max(a.low, b.low), likely=max(a.likely, b.likely), high=max(a.high, b.high))


def _add(a: Range, b: Range) -> Range:
    return Range(low=a.low + b.low, likely=a.likely + b.likely, high=a.high + b.high)


def combine(ranges: list[Range]) -> Range:
    """Costs on one budget that may overlap: the low end counts only the largest, the high end
    adds them all, the likely value adds OVERLAP_LIKELY of the others to the largest."""
    likely = sorted((r.likely for r in ranges), reverse=True)
    return Range(
        low=max(r.low for r in ranges),
        likely=likely[0] + OVERLAP_LIKELY * sum(likely[1:]),
        high=sum(r.high for r in ranges),
    )


class Cited(BaseModel):
    title: str
    url: str


class AssumptionOut(BaseModel):
    origin: Literal["formula", "knowledge base"] = "knowledge base"
    text: str
    basis: str = ""
    source: Cited | None = Field(None, description="the published figure behind it, if any")


class Figure(BaseModel):
    """One of the user's economic figures, as the assessment gives it."""

    name: str
    label: str
    value: float | None
    state: Literal["given", "unknown", "missing"]
    unit: str
    text: str = Field(description="the value as a reader sees it, or why there is none")


class CauseGroup(BaseModel):
    title: str
    findings: list[str]


class CostLine(BaseModel):
    """One ghost-cost finding, priced."""

    finding: str
    rule: str
    title: str
    status: str
    computation: str
    unit: str = Field(description="accelerator-hours, tokens or engineer-hours")
    budget: str = Field(description="costs on one budget may overlap (see `combine`)")
    causes: list[str] = Field(description="the findings it is derived from")
    root_causes: list[str] = Field(description="the incoherence and auditability findings below")
    cause_groups: list[CauseGroup] = Field(default_factory=list, description="causes by title")
    root_groups: list[CauseGroup] = Field(default_factory=list, description="roots by title")
    parameters: dict[str, float] = Field(default_factory=dict)
    share: Range | None = Field(None, description="the share of the base lost, if share-based")
    contributors: dict[str, int] = Field(
        default_factory=dict, description="confirmed / possible contributing findings"
    )
    quantity: Range | None = None
    money: Range | None = None
    steps: list[str] = Field(default_factory=list, description="the worked computation")
    missing: list[str] = Field(default_factory=list, description="figures it would need")
    assumptions: list[AssumptionOut] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class QuantityTotal(BaseModel):
    unit: str
    range: Range


class BudgetTotal(BaseModel):
    budget: str
    label: str
    costs: list[str] = Field(description="the priced costs it combines")
    range: Range
    note: str = ""


class Sensitivity(BaseModel):
    name: str
    label: str
    kind: Literal["figure", "assumption"]
    likely_low: float = Field(description="likely total with this input at its low end")
    likely_high: float = Field(description="likely total with this input at its high end")
    swing: float
    text: str


class EconomicSummary(BaseModel):
    currency: str
    statement: str = STATEMENT
    priced: bool = Field(description="at least one cost is priced in money")
    figures: list[Figure]
    costs: list[CostLine]
    total: Range | None = Field(None, description="money per month, overlaps removed")
    budgets: list[BudgetTotal] = Field(default_factory=list, description="the total, by budget")
    total_partial: bool = False
    excluded: list[str] = Field(
        default_factory=list, description="costs left out of the money total"
    )
    quantities: list[QuantityTotal] = Field(default_factory=list)
    missing_note: str = ""
    sensitivity: list[Sensitivity] = Field(default_factory=list)
    sensitivity_note: str = ""
    rules: list[str] = Field(default_factory=list)
    headline: str = Field("", description="the exposure in one sentence")


# ---------------------------------------------------------------- formatting


def sig3(value: float) -> float:
    """Round to three significant digits, the precision a structural estimate deserves."""
    if value == 0 or not math.isfinite(value):
        return value
    digits = 2 - math.floor(math.log10(abs(value)))
    return round(value, digits)


def number(value: float) -> str:
    """A rounded number with thousands separators (three significant digits)."""
    v = sig3(value)
    if abs(v) >= 1e9 and v % 1e7 == 0:
        return f"{v / 1e9:,.3g} billion"
    if abs(v) >= 1e6 and v % 1e4 == 0:
        return f"{v / 1e6:,.3g} million"
    if v == int(v):
        return f"{int(v):,}"
    return f"{v:,.{max(0, 2 - math.floor(math.log10(abs(v))))}f}"


def money(value: float, currency: str) -> str:
    return f"{currency} {number(value)}"


def exact(value: float) -> str:
    """A computed value as it appears in a worked step (two decimals at most)."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text or "0"


def percent(share: float) -> str:
    return f"{share * 100:.4g}%"


def range_text(r: Range, fmt: Callable[[float], str]) -> str:
    if sig3(r.low) == sig3(r.high):
        return fmt(r.likely)
    return f"{fmt(r.low)} to {fmt(r.high)} (likely {fmt(r.likely)})"


# ---------------------------------------------------------------- inputs


FIGURES: dict[str, tuple[str, str]] = {  # name -> (label, unit; "" = the currency)
    "accelerator_count": ("accelerator count", "accelerators"),
    "accelerator_hour_cost": ("cost of one accelerator-hour", ""),
    "monthly_tokens": ("tokens generated per month", "tokens"),
    "cost_per_million_tokens": ("cost of a million tokens", ""),
    "engineer_hour_cost": ("cost of an engineer-hour, fully loaded", ""),
    "engineers": ("engineers who triage platform incidents", "engineers"),
}


def figures_of(economics: Economics | None) -> list[Figure]:
    currency = economics.currency if economics else "USD"
    out = []
    for name, (label, unit) in FIGURES.items():
        raw = getattr(economics, name, None) if economics else None
        unit = unit or currency
        if raw is None:
            out.append(
                Figure(
                    name=name, label=label, value=None, state="missing", unit=unit, text="not given"
                )
            )
        elif raw == UNKNOWN:
            out.append(
                Figure(
                    name=name,
                    label=label,
                    value=None,
                    state="unknown",
                    unit=unit,
                    text="unknown (you could not say)",
                )
            )
        else:
            value = float(raw)
            text = f"{exact(value)} {unit}" if unit != currency else f"{currency} {exact(value)}"
            out.append(
                Figure(name=name, label=label, value=value, state="given", unit=unit, text=text)
            )
    return out


def _missing(fig: Figure) -> str:
    why = "you answered unknown" if fig.state == "unknown" else "not given"
    return f"{fig.label} ({why})"


# ---------------------------------------------------------------- computations


@dataclass(frozen=True)
class Inputs:
    figures: dict[str, Figure]
    currency: str
    params: dict[str, float]
    possible: bool
    contributors: tuple[int, int]  # confirmed, all


@dataclass
class Priced:
    quantity: Range | None = None
    money: Range | None = None
    share: Range | None = None
    steps: list[str] | None = None
    missing: list[str] | None = None
    notes: list[str] | None = None


def _share(inp: Inputs) -> Range:
    p = inp.params
    if inp.possible:  # rests on unknown answers: the high end only
        return Range(low=0, likely=0, high=p["high"])
    return Range(low=p["low"], likely=p["likely"], high=p["high"])


def _share_based(
    inp: Inputs, base: str, base_unit: str, price: str, per: float, unit: str, hours: float
) -> Priced:
    """base x hours x share -> quantity; x price / per -> money."""
    share = _share(inp)
    out = Priced(share=share, steps=[], missing=[], notes=[])
    base_fig, price_fig = inp.figures[base], inp.figures[price]
    if base_fig.value is None:
        out.missing = [_missing(base_fig)] + (
            [] if price_fig.value is not None else [_missing(price_fig)]
        )
        return out
    out.quantity = share.scaled(base_fig.value * hours)
    if price_fig.value is not None:
        out.money = out.quantity.scaled(price_fig.value / per)
    else:
        out.missing = [_missing(price_fig)]
    hours_text = f" x {hours:g} h" if hours != 1 else ""
    per_text = f" / {per:,.0f}" if per != 1 else ""
    for point in POINTS:
        q = getattr(out.quantity, point)
        step = (
            f"{point}: {exact(base_fig.value)} {base_unit}{hours_text} x "
            f"{percent(getattr(share, point))} = {exact(q)} {unit}"
        )
        if out.money is not None:
            step += (
                f"; x {inp.currency} {exact(price_fig.value)}{per_text} = "
                f"{inp.currency} {exact(getattr(out.money, point))}"
            )
        out.steps.append(step)
    return out


def _accelerator_hours(inp: Inputs) -> Priced:
    return _share_based(
        inp,
        "accelerator_count",
        "accelerators",
        "accelerator_hour_cost",
        1,
        "accelerator-hours",
        HOURS_PER_MONTH,
    )


def _tokens(inp: Inputs) -> Priced:
    return _share_based(
        inp, "monthly_tokens", "tokens", "cost_per_million_tokens", 1_000_000, "tokens", 1
    )


def _engineer_hours(inp: Inputs) -> Priced:
    p = inp.params
    confirmed, everything = inp.contributors
    hours = Range(
        low=confirmed * p["low"], likely=confirmed * p["likely"], high=everything * p["high"]
    )
    steps = [
        f"low: {confirmed} confirmed contributing findings x {exact(p['low'])} h = "
        f"{exact(hours.low)} engineer-hours",
        f"likely: {confirmed} confirmed contributing findings x {exact(p['likely'])} h = "
        f"{exact(hours.likely)} engineer-hours",
        f"high: {everything} contributing findings (confirmed and possible) x "
        f"{exact(p['high'])} h = {exact(hours.high)} engineer-hours",
    ]
    out = Priced(steps=steps, missing=[], notes=[])
    engineers = inp.figures["engineers"]
    per_engineer = p.get("hours_per_engineer_month")
    if engineers.value is not None and per_engineer is not None:
        cap = engineers.value * per_engineer
        if hours.high > cap:
            out.notes.append(
                f"capped at the triage team's {exact(cap)} hours a month "
                f"({exact(engineers.value)} engineers x {exact(per_engineer)} h)"
            )
        hours = Range(
            low=min(hours.low, cap), likely=min(hours.likely, cap), high=min(hours.high, cap)
        )
    elif per_engineer is not None:
        out.notes.append(f"not capped by team size: {_missing(engineers)}")
    out.quantity = hours
    cost = inp.figures["engineer_hour_cost"]
    if cost.value is None:
        out.missing.append(_missing(cost))
        return out
    out.money = hours.scaled(cost.value)
    cur = inp.currency
    out.steps = [
        f"{s}; x {cur} {exact(cost.value)} = {cur} {exact(getattr(out.money, pt))}"
        for s, pt in zip(steps, POINTS, strict=True)
    ]
    return out


@dataclass(frozen=True)
class Computation:
    unit: str
    budget: str
    parameter_label: str
    model: str  # the formula in words, stated as an assumption of the model itself
    price: Callable[[Inputs], Priced]


COMPUTATIONS: dict[str, Computation] = {
    "accelerator_hours": Computation(
        unit="accelerator-hours",
        budget="accelerators",
        parameter_label="share of accelerator-hours lost to control conflicts",
        model=(
            "every accelerator counted is paid for around the clock, busy or idle: accelerator "
            f"count x {HOURS_PER_MONTH} hours a month (8,760 hours a year / 12) x the share lost"
        ),
        price=_accelerator_hours,
    ),
    "tokens": Computation(
        unit="tokens",
        budget="accelerators",
        parameter_label="share of tokens generated for undelivered attempts",
        model=(
            "an undelivered token costs what a delivered one costs: tokens per month x the "
            "share undelivered x the cost per million tokens / 1,000,000"
        ),
        price=_tokens,
    ),
    "engineer_hours": Computation(
        unit="engineer-hours",
        budget="engineering",
        parameter_label="engineer-hours per contributing finding",
        model=(
            "each contributing symptom or auditability gap causes its own investigations: "
            "contributing findings x hours per finding x the cost of an engineer-hour"
        ),
        price=_engineer_hours,
    ),
}
assert set(COMPUTATIONS) == set(COST_PARAMETERS)  # the KB schema and the code agree

RULES = [
    "Every range is per month: low, likely and high.",
    "A cost that rests on unknown answers (a possible finding) counts towards the high end "
    "only; so does a possible finding that contributes to a cost.",
    "Costs on one budget may overlap: a retried request is both token burn and accelerator "
    "time, and reconstructing a decision is part of triaging an incident. Within a budget the "
    "low end assumes they overlap completely (only the largest counts), the high end assumes "
    "they do not overlap (they add up), and the likely value adds half of the others to the "
    "largest.",
    "Amounts are rounded to three significant digits; the JSON output keeps the exact values.",
]


# ---------------------------------------------------------------- pricing


def _roots(fid: str, by_id: dict[str, Finding], memo: dict[str, list[str]]) -> list[str]:
    """The stage-one findings (no derived_from) a finding traces back to, depth first.

    `memo` holds those found so far: ghost costs share symptoms with thousands of roots each.
    Each stage derives only from earlier ones, so joining the parents' roots in order gives
    the order of one depth-first walk."""
    if fid not in memo:
        memo[fid] = []  # were a malformed file to loop, it would stop here
        f = by_id.get(fid)
        if f is not None and not f.derived_from:
            memo[fid] = [fid]
        elif f is not None:
            for p in f.derived_from:
                if p not in memo:
                    _roots(p, by_id, memo)
            parents = map(memo.__getitem__, f.derived_from)
            memo[fid] = list(dict.fromkeys(chain.from_iterable(parents)))
    return memo[fid]


def _groups(ids: list[str], titles: dict[str, str]) -> list[CauseGroup]:
    out: dict[str, list[str]] = {}
    for i in ids:
        out.setdefault(titles.get(i, i), []).append(i)
    return [CauseGroup(title=t, findings=ids) for t, ids in out.items()]


@dataclass(frozen=True)
class _Links:
    """What a ghost cost is caused by; the same whatever the figures (computed once)."""

    roots: list[str]
    cause_groups: list[CauseGroup]
    root_groups: list[CauseGroup]
    confirmed: int
    contributors: int


def _links(findings: list[Finding]) -> dict[str, _Links]:
    by_id = {f.id: f for f in findings}
    titles = {i: f.title for i, f in by_id.items()}
    # Stage-one findings are their own roots; seeded at once rather than a call per parent.
    memo = {i: [i] for i, f in by_id.items() if not f.derived_from}
    out = {}
    for f in findings:
        if f.kind != "ghost-cost":
            continue
        roots = [r for r in _roots(f.id, by_id, memo) if r != f.id]
        parents = [by_id[c] for c in f.derived_from if c in by_id]
        out[f.id] = _Links(
            roots=roots,
            cause_groups=_groups(list(f.derived_from), titles),
            root_groups=_groups(roots, titles),
            confirmed=sum(p.status == "confirmed" for p in parents),
            contributors=len(parents),
        )
    return out


def _price(
    f: Finding, link: _Links, figs: dict[str, Figure], currency: str, model: CostModel
) -> tuple[Computation, Priced]:
    comp = COMPUTATIONS[model.computation]
    priced = comp.price(
        Inputs(
            figures=figs,
            currency=currency,
            params={k: float(v) for k, v in model.parameters.items()},
            possible=f.status == "possible",
            contributors=(link.confirmed, link.contributors),
        )
    )
    return comp, priced


def _lines(
    ghosts: list[Finding],
    figures: list[Figure],
    currency: str,
    models: dict[str, CostModel],
    links: dict[str, _Links],
) -> list[CostLine]:
    """One priced line per ghost-cost finding (`ghosts` holds only those)."""
    figs = {f.name: f for f in figures}
    lines = []
    for f in ghosts:
        link = links[f.id]
        confirmed, parents = link.confirmed, link.contributors
        line = CostLine(
            finding=f.id,
            rule=f.rule,
            title=f.title,
            status=f.status,
            computation="",
            unit="",
            budget=f.rule,
            causes=list(f.derived_from),
            root_causes=link.roots,
            cause_groups=link.cause_groups,
            root_groups=link.root_groups,
            contributors={"confirmed": confirmed, "possible": parents - confirmed},
        )
        model = models.get(f.rule)
        if model is None:
            line.missing = [
                "a cost model: the knowledge base gives this ghost cost no `cost` block"
            ]
            lines.append(line)
            continue
        comp, priced = _price(f, link, figs, currency, model)
        line.computation = model.computation
        line.unit, line.budget = comp.unit, comp.budget
        line.parameters = {k: float(v) for k, v in model.parameters.items()}
        line.share, line.quantity, line.money = priced.share, priced.quantity, priced.money
        line.steps, line.missing = priced.steps or [], priced.missing or []
        line.notes = priced.notes or []
        if f.status == "possible":
            line.notes.append(
                "possible: it rests on unknown answers, so it counts towards the high end only"
            )
        line.assumptions = [
            AssumptionOut(origin="formula", text=comp.model, basis="the model's own formula")
        ] + [
            AssumptionOut(
                text=a.text.strip().rstrip("."),
                basis=a.basis.strip().rstrip("."),
                source=Cited(title=a.source.title, url=a.source.url) if a.source else None,
            )
            for a in model.assumptions
        ]
        lines.append(line)
    return lines


BUDGETS = {
    "accelerators": "Accelerator fleet (accelerator time and the tokens generated on it)",
    "engineering": "Engineering time",
}


def _budgets(lines: list[CostLine], figures: list[Figure]) -> list[BudgetTotal]:
    by_budget: dict[str, list[CostLine]] = {}
    for line in lines:
        if line.money is not None:
            by_budget.setdefault(line.budget, []).append(line)
    out = []
    for budget, members in by_budget.items():
        r = combine([m.money for m in members if m.money is not None])
        note = ""
        if budget == "engineering":
            r, note = _cap_engineering(r, members, figures)
        out.append(
            BudgetTotal(
                budget=budget,
                label=BUDGETS.get(budget, budget),
                costs=[m.finding for m in members],
                range=r,
                note=note,
            )
        )
    return out


def _cap_engineering(r: Range, members: list[CostLine], figures: list[Figure]) -> tuple[Range, str]:
    """Engineering costs together cannot exceed what the triage team costs in a month."""
    figs = {f.name: f for f in figures}
    engineers, cost = figs["engineers"].value, figs["engineer_hour_cost"].value
    hours = [
        m.parameters["hours_per_engineer_month"]
        for m in members
        if "hours_per_engineer_month" in m.parameters
    ]
    if engineers is None or cost is None or not hours:
        return r, ""
    cap = engineers * min(hours) * cost
    if r.high <= cap:
        return r, ""
    capped = Range(low=min(r.low, cap), likely=min(r.likely, cap), high=cap)
    return capped, (
        f"capped at what the triage team costs in a month: {exact(engineers)} engineers x "
        f"{exact(min(hours))} h x {exact(cost)}"
    )


def total(lines: list[CostLine], figures: list[Figure]) -> Range | None:
    budgets = _budgets(lines, figures)
    if not budgets:
        return None
    total = Range(low=0, likely=0, high=0)
    for b in budgets:
        total = _add(total, b.range)
    return total


def savings(summary: EconomicSummary, finding_ids: set[str]) -> Range | None:
    """The monthly exposure removed were these findings cleared (by a change or a decision),
    or None when nothing is priced. A cost goes when its own finding is cleared or when every
    finding it traces back to is; the rest is totalled again, so overlaps and ceilings apply
    to what remains exactly as to the full total."""
    if summary.total is None:
        return None
    kept = [
        line
        for line in summary.costs
        if line.finding not in finding_ids
        and not (line.root_causes and set(line.root_causes) <= finding_ids)
    ]
    after = total(kept, summary.figures) or Range(low=0, likely=0, high=0)
    before = summary.total
    return Range(
        low=max(0.0, before.low - after.low),
        likely=max(0.0, before.likely - after.likely),
        high=max(0.0, before.high - after.high),
    )


def _quantities(lines: list[CostLine]) -> list[QuantityTotal]:
    units: dict[str, list[Range]] = {}
    for line in lines:
        if line.quantity is not None:
            units.setdefault(line.unit, []).append(line.quantity)
    return [QuantityTotal(unit=u, range=combine(rs)) for u, rs in units.items()]


def _likely_total(
    lines: list[CostLine],
    ghosts: list[Finding],
    figures: list[Figure],
    currency: str,
    models: dict[str, CostModel],
    links: dict[str, _Links],
) -> float:
    """The likely total were the figures or cost models these: only what the total reads is
    priced again, the rest of each line (thousands of causes) is kept."""
    figs = {f.name: f for f in figures}
    repriced = []
    for line, f in zip(lines, ghosts, strict=True):
        model = models.get(f.rule)
        if model is None:
            repriced.append(line)
            continue
        comp, priced = _price(f, links[f.id], figs, currency, model)
        update = {
            "money": priced.money,
            "budget": comp.budget,
            "parameters": {k: float(v) for k, v in model.parameters.items()},
        }
        repriced.append(line.model_copy(update=update))
    summed = total(repriced, figures)
    return summed.likely if summed else 0.0


def _sensitivity(
    ghosts: list[Finding],
    figures: list[Figure],
    currency: str,
    models: dict[str, CostModel],
    lines: list[CostLine],
    base: float,
    links: dict[str, _Links],
) -> list[Sensitivity]:
    out = []
    titles = {line.rule: line.title for line in lines if line.money is not None}
    for rule in sorted(titles):
        model = models[rule]
        comp = COMPUTATIONS[model.computation]
        at = {}
        for point in ("low", "high"):
            params = dict(model.parameters)
            params["likely"] = params[point]
            changed = {**models, rule: model.model_copy(update={"parameters": params})}
            at[point] = _likely_total(lines, ghosts, figures, currency, changed, links)
        p = model.parameters
        unit = "h" if model.computation == "engineer_hours" else ""
        fmt = (lambda v: f"{exact(v)} h") if unit else percent
        label = f"{titles[rule]}: {comp.parameter_label} ({fmt(p['low'])} to {fmt(p['high'])})"
        out.append(
            Sensitivity(
                name=f"{rule}.{model.computation}",
                label=label,
                kind="assumption",
                likely_low=at["low"],
                likely_high=at["high"],
                swing=at["high"] - at["low"],
                text=(
                    f"from {fmt(p['low'])} to {fmt(p['high'])} it moves the likely total from "
                    f"{money(at['low'], currency)} to {money(at['high'], currency)}"
                ),
            )
        )
    for fig in figures:
        if fig.value is None or fig.value == 0:
            continue
        bumped = [
            f.model_copy(update={"value": f.value * (1 + SENSITIVITY_STEP)})
            if f.name == fig.name
            else f
            for f in figures
        ]
        up = _likely_total(lines, ghosts, bumped, currency, models, links)
        delta = up - base
        out.append(
            Sensitivity(
                name=fig.name,
                label=f"{fig.label} ({fig.text})",
                kind="figure",
                likely_low=base,
                likely_high=up,
                swing=delta,
                text=(
                    f"{SENSITIVITY_STEP:.0%} higher adds {money(delta, currency)} to the likely "
                    f"total ({delta / base:.1%} of it)"
                    if delta > 0 and base > 0
                    else f"{SENSITIVITY_STEP:.0%} higher does not change the total"
                ),
            )
        )
    out.sort(key=lambda s: (s.kind != "assumption", -s.swing, s.name))
    return out


def _sensitivity_note(items: list[Sensitivity]) -> str:
    assumptions = [s for s in items if s.kind == "assumption" and s.swing > 0]
    figures = [s for s in items if s.kind == "figure" and s.swing > 0]
    parts = []
    if assumptions:
        top = assumptions[0]
        parts.append(f"The total moves most with this assumption: {top.label}; {top.text}.")
    if figures:
        best = figures[0].swing
        tied = [s for s in figures if math.isclose(s.swing, best, rel_tol=1e-9)]
        names = " and ".join(s.label for s in tied)
        verb, each = ("move", "each: ") if len(tied) > 1 else ("moves", "")
        parts.append(f"Of your own figures, the {names} {verb} it most: {each}{tied[0].text}.")
    still = [s.label for s in items if s.kind == "figure" and s.swing == 0]
    if still:
        parts.append(f"These figures do not change the total: {'; '.join(still)}.")
    return " ".join(parts)


def summarise(
    findings: list[Finding], economics: Economics | None, models: dict[str, CostModel]
) -> EconomicSummary:
    """Price every ghost-cost finding; `models` maps a pattern id to its cost model."""
    currency = economics.currency if economics else "USD"
    figures = figures_of(economics)
    links = _links(findings)
    # Only ghost costs are priced; picked out once, as the sensitivity prices them again for
    # every input it moves.
    # Held-back costs (resting on several unknown answers) are listed to check, not priced.
    ghosts = [f for f in findings if f.kind == "ghost-cost" and f.evidence.shown]
    lines = _lines(ghosts, figures, currency, models, links)
    summed = total(lines, figures)
    excluded = [line.finding for line in lines if line.money is None]
    summary = EconomicSummary(
        currency=currency,
        priced=summed is not None,
        figures=figures,
        costs=lines,
        total=summed,
        budgets=_budgets(lines, figures),
        total_partial=summed is not None and bool(excluded),
        excluded=excluded,
        quantities=_quantities(lines),
        rules=RULES,
    )
    absent = [f for f in figures if f.value is None and f.name != "engineers"]
    if economics is None or all(f.value is None for f in figures):
        summary.missing_note = (
            "No economic figures were given, so the exposure is stated in accelerator-hours, "
            "tokens and engineer-hours instead of money. Give them in the interview's economics "
            "questions (or the assessment file's `economics` block) to price it."
        )
    elif excluded:
        needed = sorted({m for line in lines if line.money is None for m in line.missing})
        summary.missing_note = (
            f"Some costs cannot be priced because these are missing: {'; '.join(needed)}. "
            "They are stated in their own units, and the money total leaves them out, so it "
            "understates the exposure."
        )
    elif absent and lines:
        summary.missing_note = (
            "Not every figure was given ("
            + "; ".join(_missing(f) for f in absent)
            + "), but none of the costs found here needs the missing ones."
        )
    if summed is not None:
        summary.sensitivity = _sensitivity(
            ghosts, figures, currency, models, lines, summed.likely, links
        )
        summary.sensitivity_note = _sensitivity_note(summary.sensitivity)
    summary.headline = headline(summary)
    return summary


def headline(s: EconomicSummary) -> str:
    if not s.costs:
        return "No ghost cost was found, so there is no structural cost exposure to state."
    if s.total is not None:
        text = (
            "Structural exposure of "
            + range_text(s.total, lambda v: money(v, s.currency))
            + " per month"
        )
        if s.total_partial:
            text += ", not counting costs that could not be priced"
        return text + "."
    parts = [f"{range_text(q.range, number)} {q.unit}" for q in s.quantities]
    if not parts:
        return "Ghost costs were found, but no figure was given to size them."
    return "Structural exposure per month, in units: " + "; ".join(parts) + "."
