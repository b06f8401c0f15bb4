"""The Economic Risk Summary: ghost costs priced from the user's own figures, per finding.

The formulas are named computations here; their parameters (shares and hours per contributing
finding, and the ceiling on each budget) are data in the `cost` blocks of the knowledge base's
ghost-cost patterns, each number with its kind (published measurement, cited ceiling or
estimate of the knowledge base) and basis. Nothing from the knowledge base is evaluated. Every
range is per month: low, central estimate, high (the `likely` key of a Range is the central
estimate; the key is kept so that files written before stay readable).

Every ghost cost is charged to the findings it traces back to (a conflict, or an untraceable
loop of an auditability gap), so clearing a finding lowers the figure:

- accelerator_hours / tokens (direct): each contributing finding claims a share of the base
  (the fleet's accelerator-hours, the month's tokens). All findings on one budget together
  take ceiling x (1 - e^(-sum of shares / ceiling)): about the sum while it is small, never
  more than the cited all-cause ceiling, and lower with every finding removed. Each finding
  keeps its proportion of that.
- engineer_hours (hidden): hours per unit, where a unit is a conflict or an untraceable loop
  taking part in one; a unit is charged in one line only, and all of it is capped at what the
  triage team can spend in a month. A gap between loops (a reaction with no link to the
  decision it reacts to) is charged on the loops where the chain breaks, those that record
  nothing or of which nobody knows what they record: a loop that writes events names the
  object it acted on, so it can be followed back (`FOLLOWED_BACK`).

Whatever rests on unknown answers (a possible finding) counts towards the high end only. A
missing or unknown figure leaves its cost in its own unit (or as a share) and the money total
marked partial; the page says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from expert.assessment.model import UNKNOWN, Economics, Loop
from expert.knowledge.costmodel import COST_PARAMETERS, KINDS, CostModel

if TYPE_CHECKING:
    from expert.analysis.results import Finding

HOURS_PER_MONTH = 730  # 8,760 hours in a year / 12
# How much of the smaller of two overlapping direct costs (token burn is generated on the
# accelerators counted) the central estimate adds to the larger: halfway between complete
# overlap (0) and none (1), for want of data on how much they share.
OVERLAP_LIKELY = 0.5
SENSITIVITY_STEP = 0.10  # how much a user's figure is moved to see its effect on the total
MOVES = 0.02  # an input that moves the central estimate by less than this share is not shown
DOMINANT = 0.5  # one unsourced line above this share of the central estimate is named
TOKENS_TO_FLEET = 0.1  # tokens worth less than this share of the fleet's cost: a note
POINTS = ("low", "likely", "high")
# How a loop records its decisions when it can be followed back: an event names the object
# it acted on, the one the loop before it changed, so an investigation can walk the chain.
# The audit gap report counts these loops by the same test.
FOLLOWED_BACK = frozenset({"events", "reasoned"})
POINT_NAMES = {"low": "low", "likely": "central estimate", "high": "high"}
PARAMETER = {"low": "low", "likely": "likely", "high": "high"}  # point -> cost parameter

STATEMENT = (
    "This is structural exposure, not a measurement. It states what control conflicts like "
    "those found here cost a platform of this size each month. It applies the knowledge "
    "base's estimates, bounded by cited ceilings, to your own figures; each number below says "
    "whether it is a published measurement, a cited ceiling or an estimate. It does not "
    "measure what your platform actually spends: only measurements (goodput, retry ratios, "
    "triage time) can tell that."
)


class Range(BaseModel):
    low: float
    likely: float = Field(description="the central estimate (the key keeps its older name)")
    high: float

    @property
    def central(self) -> float:
        return self.likely

    def scaled(self, factor: float) -> Range:
        return Range(low=self.low * factor, likely=self.likely * factor, high=self.high * factor)


ZERO = Range(low=0, likely=0, high=0)


def _add(a: Range, b: Range) -> Range:
    return Range(low=a.low + b.low, likely=a.likely + b.likely, high=a.high + b.high)


def _sum(ranges: list[Range]) -> Range:
    return _sum_points((r.low, r.likely, r.high) for r in ranges)


Points = tuple[float, float, float]  # low, central, high: a Range's numbers without the model


def _sum_points(points: Iterable[Points]) -> Range:
    # Plain floats, added in order (the same result as adding Ranges one by one, without a
    # model per step; not builtin sum, which compensates rounding from Python 3.12 on).
    low = likely = high = 0.0
    for a, b, c in points:
        low += a
        likely += b
        high += c
    return Range(low=low, likely=likely, high=high)


def combine(ranges: list[Range]) -> Range:
    """Costs that may overlap: the low end counts only the largest, the high end adds them
    all, the central estimate adds OVERLAP_LIKELY of the others to the largest."""
    likely = sorted((r.likely for r in ranges), reverse=True)
    return Range(
        low=max(r.low for r in ranges),
        likely=likely[0] + OVERLAP_LIKELY * sum(likely[1:]),
        high=sum(r.high for r in ranges),
    )


def under_ceiling(total_share: float, ceiling: float) -> float:
    """The combined share of findings whose own shares add up to `total_share`, bounded by
    `ceiling`: each further finding claims its share of what the others left under it, so the
    result is below both the sum and the ceiling and rises with every finding added."""
    if total_share <= 0:
        return 0.0
    return ceiling * -math.expm1(-total_share / ceiling)


class Cited(BaseModel):
    title: str
    url: str


class AssumptionOut(BaseModel):
    origin: Literal["formula", "knowledge base"] = "knowledge base"
    kind: str = Field("", description="published measurement, cited ceiling or estimate")
    text: str
    basis: str = ""
    measured: str = Field("", description="what the source measured, for a measurement")
    backs: list[str] = Field(default_factory=list)
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
    held_back: bool = Field(False, description="all of them wait on answers still missing")


class Contribution(BaseModel):
    """The part of one ghost cost charged to one finding (or one untraceable loop of it)."""

    finding: str = Field(description="the conflict or auditability gap it is charged to")
    pattern: str
    title: str
    kind: str
    loop: str = Field("", description="the untraceable loop, for an engineering unit")
    unit: str = Field("", description="what is charged once across hidden costs")
    via: list[str] = Field(default_factory=list, description="the findings in between")
    status: Literal["confirmed", "possible"]
    raw: Range = Field(description="its own share of the base, or hours, before combining")
    charged: bool = Field(True, description="false when another line already charges it")
    amount: Range | None = Field(None, description="in the cost's unit, after combining")
    share: Range | None = Field(None, description="share of the base, after combining")
    money: Range | None = None


class CostLine(BaseModel):
    """One ghost-cost finding, priced through the findings it is charged to."""

    finding: str
    rule: str
    title: str
    status: str
    computation: str
    unit: str = Field(description="accelerator-hours, tokens or engineer-hours")
    budget: str = Field(description="accelerators, tokens or engineering")
    causes: list[str] = Field(description="the findings it is derived from")
    root_causes: list[str] = Field(description="the incoherence and auditability findings below")
    cause_groups: list[CauseGroup] = Field(default_factory=list, description="causes by title")
    root_groups: list[CauseGroup] = Field(default_factory=list, description="roots by title")
    parameters: dict[str, float] = Field(default_factory=dict)
    ceiling: float | None = Field(None, description="the budget's ceiling, a share of the base")
    contributions: list[Contribution] = Field(default_factory=list)
    share: Range | None = Field(None, description="the share of the base lost, if share-based")
    contributors: dict[str, int] = Field(
        default_factory=dict, description="confirmed / possible contributing findings"
    )
    quantity: Range | None = None
    money: Range | None = None
    steps: list[str] = Field(default_factory=list, description="the worked computation")
    missing: list[str] = Field(default_factory=list, description="figures it would need")
    assumptions: list[AssumptionOut] = Field(default_factory=list)
    unsourced: bool = Field(False, description="every number it uses is an estimate")
    notes: list[str] = Field(default_factory=list)


class QuantityTotal(BaseModel):
    unit: str
    range: Range


class BudgetTotal(BaseModel):
    budget: str
    label: str
    side: Literal["direct", "hidden"]
    costs: list[str] = Field(description="the priced costs it combines")
    range: Range
    note: str = ""


class PatternExposure(BaseModel):
    """What one incoherence (or auditability) pattern costs, over all of its findings."""

    pattern: str
    title: str
    kind: str
    findings: list[str]
    direct: Range
    hidden: Range
    total: Range
    share: float = Field(description="its share of the central estimate of the total")
    action: str = Field(description="what removes it")
    held_back: bool = Field(
        False, description="every finding of it waits on answers still missing (listed to check)"
    )


class Sensitivity(BaseModel):
    name: str
    label: str
    kind: Literal["figure", "assumption"]
    likely_low: float = Field(description="central total with this input at its low end")
    likely_high: float = Field(description="central total with this input at its high end")
    swing: float
    text: str


class EconomicSummary(BaseModel):
    currency: str
    statement: str = STATEMENT
    priced: bool = Field(description="at least one cost is priced in money")
    figures: list[Figure]
    figure_notes: list[str] = Field(
        default_factory=list, description="where the figures disagree with one another"
    )
    costs: list[CostLine]
    total: Range | None = Field(None, description="money per month, overlaps removed")
    direct: Range | None = Field(None, description="paid capacity and tokens")
    hidden: Range | None = Field(None, description="engineering and reconstruction time")
    budgets: list[BudgetTotal] = Field(default_factory=list, description="the total, by budget")
    by_pattern: list[PatternExposure] = Field(
        default_factory=list, description="the total, by the pattern that causes it"
    )
    total_partial: bool = False
    excluded: list[str] = Field(
        default_factory=list, description="costs left out of the money total"
    )
    quantities: list[QuantityTotal] = Field(default_factory=list)
    missing_note: str = ""
    dominance_note: str = ""
    sensitivity: list[Sensitivity] = Field(default_factory=list)
    sensitivity_note: str = ""
    rules: list[str] = Field(default_factory=list)
    headline: str = Field("", description="the exposure in one sentence")


# ---------------------------------------------------------------- formatting


def sig(value: float, digits: int = 2) -> float:
    """Round to `digits` significant digits: a structural estimate deserves no more."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def sig3(value: float) -> float:
    return sig(value, 3)


def number(value: float) -> str:
    """A number rounded to two significant digits, with thousands separators."""
    v = sig(value)
    if abs(v) >= 1e9:
        return f"{sig(v / 1e9):,g} billion"
    if abs(v) >= 1e6:
        return f"{sig(v / 1e6):,g} million"
    if v == int(v):
        return f"{int(v):,}"
    return f"{v:g}"


def money(value: float, currency: str) -> str:
    """An amount of money, to two significant digits and never in cents."""
    if abs(value) < 10:
        return f"{currency} {round(value):,}"
    return f"{currency} {number(value)}"


def exact(value: float) -> str:
    """One of the user's own figures as given (two decimals at most)."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text or "0"


def whole(value: float) -> str:
    """A computed amount in a worked step: whole units, no cents."""
    return f"{round(value):,}"


def percent(share: float) -> str:
    return f"{sig(share * 100):g}%"


def range_text(r: Range, fmt: Callable[[float], str]) -> str:
    if fmt(r.low) == fmt(r.high):
        return fmt(r.likely)
    return f"{fmt(r.low)} to {fmt(r.high)} (central estimate {fmt(r.likely)})"


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


def figure_notes(figures: list[Figure], currency: str) -> list[str]:
    """Where the user's figures disagree with one another."""
    v = {f.name: f.value for f in figures}
    count, hour = v["accelerator_count"], v["accelerator_hour_cost"]
    tokens, per_million = v["monthly_tokens"], v["cost_per_million_tokens"]
    if None in (count, hour, tokens, per_million) or not count or not hour:
        return []
    assert count is not None and hour is not None and tokens is not None
    assert per_million is not None
    fleet = count * hour * HOURS_PER_MONTH
    worth = tokens * per_million / 1_000_000
    said = (
        f"{number(tokens)} tokens a month at {currency} {exact(per_million)} a million are "
        f"worth {money(worth, currency)}, "
    )
    if worth < TOKENS_TO_FLEET * fleet:
        return [
            said + f"less than a tenth of what the fleet costs ({money(fleet, currency)} a "
            "month). If those tokens are generated on this fleet, the token price is below "
            "their cost (a sale price or a marginal price, perhaps), and the token costs here, "
            "priced at it, are low; the accelerator costs already count the fleet's time."
        ]
    if worth > fleet:
        return [
            said + f"more than the whole fleet costs ({money(fleet, currency)} a month). If "
            "you sell those tokens, the price is a sale price, not a cost, and the token costs "
            "here are high; if you buy them, the fleet counted may not be where they are made."
        ]
    return []


# ---------------------------------------------------------------- computations


@dataclass(frozen=True)
class Computation:
    unit: str
    budget: str
    side: Literal["direct", "hidden"]
    parameter_label: str
    base: str  # the figure the share applies to ("" for hours)
    base_unit: str
    price: str  # the figure that prices one unit
    per: float  # units the price is for
    hours: float  # multiplies the base (accelerators are paid by the hour)
    model: str  # the formula in words, stated as an assumption of the model itself
    # Spent on accelerators (their hours, the tokens they generate): not charged to a finding
    # whose work is known to run without them.
    on_accelerators: bool = False


COMPUTATIONS: dict[str, Computation] = {
    "accelerator_hours": Computation(
        unit="accelerator-hours",
        budget="accelerators",
        side="direct",
        parameter_label="share of the fleet's accelerator-hours lost per contributing finding",
        base="accelerator_count",
        base_unit="accelerators",
        price="accelerator_hour_cost",
        per=1,
        hours=HOURS_PER_MONTH,
        model=(
            "every accelerator counted is paid for around the clock, busy or idle: accelerator "
            f"count x {HOURS_PER_MONTH} hours a month (8,760 hours a year / 12) x the share "
            "lost; the shares of all findings on the fleet combine under the ceiling as "
            "ceiling x (1 - e^(-sum / ceiling))"
        ),
        on_accelerators=True,
    ),
    "tokens": Computation(
        unit="tokens",
        budget="tokens",
        side="direct",
        parameter_label="share of the month's tokens lost per contributing finding",
        base="monthly_tokens",
        base_unit="tokens",
        price="cost_per_million_tokens",
        per=1_000_000,
        hours=1,
        model=(
            "an undelivered token costs what a delivered one costs: tokens per month x the "
            "share undelivered x the cost per million tokens / 1,000,000; the shares of all "
            "findings combine under the ceiling as ceiling x (1 - e^(-sum / ceiling))"
        ),
        on_accelerators=True,
    ),
    "engineer_hours": Computation(
        unit="engineer-hours",
        budget="engineering",
        side="hidden",
        parameter_label="engineer-hours per conflict or untraceable loop",
        base="",
        base_unit="",
        price="engineer_hour_cost",
        per=1,
        hours=1,
        model=(
            "each conflict, and each untraceable loop taking part in one, costs its own "
            "investigations: units x hours per unit x the cost of an engineer-hour; a unit is "
            "charged in one line only"
        ),
    ),
}
assert set(COMPUTATIONS) == set(COST_PARAMETERS)  # the KB schema and the code agree

BUDGETS = {
    "accelerators": "Accelerator fleet (paid capacity)",
    "tokens": "Tokens",
    "engineering": "Engineering time (triage and reconstruction)",
}

RULES = [
    "Every range is per month: low, central estimate and high. The central estimate uses the "
    "middle value of each parameter; it is not a probability.",
    "Each cost is charged to the findings it traces back to, so clearing a finding lowers it. "
    "A finding that rests on unknown answers (possible) counts towards the high end only.",
    "On one budget, the findings' shares combine under the budget's ceiling: ceiling x "
    "(1 - e^(-sum of shares / ceiling)). The result is close to the sum while that is small "
    "and never exceeds the ceiling.",
    "Token burn is generated on the accelerators counted, so the two direct budgets may "
    "overlap: the low end counts only the larger, the high end both, the central estimate "
    "the larger and half the smaller.",
    "Engineering time counts conflicts and the untraceable loops taking part in them, not "
    "pairs of loops; a conflict or loop charged in one line is not charged again in another, "
    "and all of it is capped at the triage team's working hours. Where a gap is a missing "
    "link between loops, the untraceable loops are those that record nothing of their "
    "decisions or of which nobody knows what they record; a loop that logs events names what "
    "it acted on and can be followed back.",
    "Amounts are rounded to two significant digits; the JSON output keeps the exact values.",
]


# ---------------------------------------------------------------- links


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


def group_by_title(
    ids: list[str], titles: dict[str, str], held: Collection[str] = ()
) -> list[CauseGroup]:
    """Finding ids grouped by their titles, in order of first appearance: two findings of
    one pattern read as one cause, "(x2)". A group all `held` back is marked, as a report
    lists it to check rather than among the findings."""
    out: dict[str, list[str]] = {}
    for i in ids:
        out.setdefault(titles.get(i, i), []).append(i)
    return [
        CauseGroup(title=t, findings=ids, held_back=bool(held) and all(i in held for i in ids))
        for t, ids in out.items()
    ]


@dataclass(frozen=True)
class _Links:
    """What a ghost cost is caused by; the same whatever the figures (computed once)."""

    roots: list[str]
    via: dict[str, list[str]]  # root -> the parents of the cost it reaches it through
    cause_groups: list[CauseGroup]
    root_groups: list[CauseGroup]
    confirmed: int
    contributors: int
    charged_loops: dict[str, list[str]]  # gap -> the loops its engineering time is charged on


def _untraceable(gap: Finding, followed: Collection[str]) -> list[str]:
    """The loops a gap's engineering time is charged on. A gap between loops breaks only at
    the loops that cannot be followed back; a gap about one loop (no owner, say) is that
    loop's, however it records its decisions."""
    if not any(len(set(m.loops)) > 1 for m in gap.members):
        return list(gap.loops)
    return [lp for lp in gap.loops if lp not in followed]


def _links(
    findings: list[Finding], models: dict[str, CostModel], followed: Collection[str]
) -> dict[str, _Links]:
    """What each ghost cost is caused by; `followed` holds the loops whose decisions can be
    followed back (they record events or their reasons)."""
    by_id = {f.id: f for f in findings}
    titles = {i: f.title for i, f in by_id.items()}
    held = {i for i, f in by_id.items() if not f.evidence.shown}
    # Stage-one findings are their own roots; seeded at once rather than a call per parent.
    memo = {i: [i] for i, f in by_id.items() if not f.derived_from}
    without = {i for i, f in by_id.items() if f.without_accelerators}
    out = {}
    for f in findings:
        if f.kind != "ghost-cost":
            continue
        model = models.get(f.rule)
        # Accelerator time and tokens are not charged to work known to run without them.
        on_accelerators = model is not None and COMPUTATIONS[model.computation].on_accelerators
        spared = without if on_accelerators else set()
        roots = [r for r in _roots(f.id, by_id, memo) if r != f.id and r not in spared]
        via: dict[str, list[str]] = {}
        for p in f.derived_from:
            for r in _roots(p, by_id, memo):
                if r != p and r not in spared:
                    via.setdefault(r, []).append(p)
        parents = [by_id[c] for c in f.derived_from if c in by_id]
        out[f.id] = _Links(
            roots=roots,
            via=via,
            cause_groups=group_by_title(list(f.derived_from), titles, held),
            root_groups=group_by_title(roots, titles, held),
            confirmed=sum(p.status == "confirmed" for p in parents),
            contributors=len(parents),
            charged_loops={
                r: _untraceable(by_id[r], followed)
                for r in roots
                if by_id[r].kind == "auditability"
            },
        )
    return out


# ---------------------------------------------------------------- pricing


def _possible_range(r: Range, possible: bool) -> Range:
    return Range(low=0, likely=0, high=r.high) if possible else r


def _per_finding(parameters: Mapping[str, float]) -> Range:
    """A cost model's range per contributing finding (share or hours)."""
    return Range(low=parameters["low"], likely=parameters["likely"], high=parameters["high"])


def _line_parameters(parameters: Mapping[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in parameters.items()}


def _contributions(
    f: Finding, link: _Links, by_id: dict[str, Finding], model: CostModel
) -> list[Contribution]:
    """The parts of a ghost cost, one per finding it is charged to (engineering: one per
    conflict and one per untraceable loop taking part in one)."""
    per = _per_finding(model.parameters)
    # Ranges are never changed in place, so every contribution shares one of these two.
    raws = {False: per, True: _possible_range(per, True)}
    roots = [by_id[r] for r in link.roots if r in by_id] or [f]

    def part(root: Finding, loop: str = "", unit: str = "") -> Contribution:
        possible = "possible" in (f.status, root.status)
        return Contribution(
            finding=root.id,
            pattern=root.rule,
            title=root.title,
            kind=root.kind,
            loop=loop,
            unit=unit or root.id,
            via=link.via.get(root.id, []),
            status="possible" if possible else "confirmed",
            raw=raws[possible],
        )

    if model.computation != "engineer_hours":
        return [part(r) for r in roots]
    conflicts = [r for r in roots if r.kind != "auditability"]
    in_conflict = {lp for r in conflicts for lp in r.loops}
    out = [part(r, unit=f"conflict {r.id}") for r in conflicts]
    for gap in (r for r in roots if r.kind == "auditability"):
        # the gap costs hours only on its untraceable loops that take part in a conflict
        for lp in link.charged_loops.get(gap.id, gap.loops):
            if lp in in_conflict or not conflicts:
                out.append(part(gap, loop=lp, unit=f"loop {lp}"))
    return out


def _assumptions(comp: Computation, model: CostModel) -> list[AssumptionOut]:
    return [AssumptionOut(origin="formula", text=comp.model, basis="the model's own formula")] + [
        AssumptionOut(
            kind=KINDS[a.kind],
            text=a.text.strip().rstrip("."),
            basis=a.basis.strip().rstrip("."),
            measured=a.measured.strip().rstrip("."),
            backs=list(a.backs),
            source=Cited(title=a.source.title, url=a.source.url) if a.source else None,
        )
        for a in model.assumptions
    ]


def _unsourced(model: CostModel) -> bool:
    """Every assumption behind the per-finding range is this knowledge base's estimate."""
    backing = [a for a in model.assumptions if {"low", "likely", "high"} & set(a.backs)]
    return all(a.kind == "estimate" for a in backing)


def _lines(
    ghosts: list[Finding],
    by_id: dict[str, Finding],
    models: dict[str, CostModel],
    links: dict[str, _Links],
) -> list[CostLine]:
    """One line per ghost-cost finding (`ghosts` holds only those), not yet priced."""
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
        comp = COMPUTATIONS[model.computation]
        line.computation, line.unit, line.budget = model.computation, comp.unit, comp.budget
        line.parameters = _line_parameters(model.parameters)
        line.ceiling = model.ceiling
        line.contributions = _contributions(f, link, by_id, model)
        line.assumptions = _assumptions(comp, model)
        line.unsourced = _unsourced(model)
        lines.append(line)
    return lines


Raws = dict[str, list[Points]]  # a cost line's finding -> its contributions' raw points


def _raws(line: CostLine, raws: Raws | None) -> list[Points]:
    """The raw points of a line's contributions, in order: from `raws` where it has the line
    (read once for the many settlings of the sensitivity rows, or moved for one of them),
    else read from the contributions."""
    got = raws.get(line.finding) if raws is not None else None
    if got is None:
        # Contributions sharing a raw range share its points too (a line's contributions
        # mostly share one of two), so a settling works out each only once.
        points: dict[int, Points] = {}
        got = []
        for c in line.contributions:
            r = c.raw
            p = points.get(id(r))
            if p is None:
                p = points[id(r)] = (r.low, r.likely, r.high)
            got.append(p)
    return got


def _settle_shares(
    members: list[CostLine],
    figs: dict[str, Figure],
    currency: str,
    detail: bool = True,
    raws: Raws | None = None,
) -> None:
    """Share-based costs on one budget: the findings' shares combine under the ceiling.
    Without `detail`, only the lines' figures: their contributions are left as they are, and
    the lines get no steps or notes. `raws`: see `_raws`."""
    comp = COMPUTATIONS[members[0].computation]
    # a block without a ceiling (refused by `kb lint`) is bounded by the whole base
    ceiling = min((m.ceiling for m in members if m.ceiling is not None), default=1.0)
    own_raws = [_raws(m, raws) for m in members]
    flat = [r for rs in own_raws for r in rs]
    lows, mids, highs = zip(*flat, strict=True) if flat else ((), (), ())
    raw = {"low": lows, "likely": mids, "high": highs}
    summed = {p: sum(raw[p]) for p in POINTS}
    combined = {p: under_ceiling(summed[p], ceiling) for p in POINTS}
    # Thousands of findings per settling and two dozen settlings, but their points are a few
    # tuples shared by all (see _raws): each distinct one is worked out once, by identity (a
    # key equal in value could differ in the sign of a zero), and the figures summed in order.
    distinct = {id(r): r for r in flat}
    # The central estimate is shared in proportion to each finding's own share. The high end
    # adds what it has over the central to each finding by how much its own share rises (so a
    # finding's high is never below its central), and the low end is proportional but never
    # above the central: each range stays ordered and the budget stays under the ceiling.
    rise_of = {k: max(0.0, high - mid) for k, (_, mid, high) in distinct.items()}
    extra = combined["high"] - combined["likely"]
    total_rise = sum([rise_of[id(r)] for r in flat])  # once, not inside the loop
    c_low, c_mid = combined["low"], combined["likely"]
    s_low, s_mid = summed["low"], summed["likely"]
    share_of: dict[int, Points] = {}
    for k, (own_low, own_mid, _) in distinct.items():
        mid = own_mid * c_mid / s_mid if s_mid else 0.0
        low = own_low * c_low / s_low if s_low else 0.0
        high = mid + (extra * rise_of[k] / total_rise if total_rise else 0.0)
        share_of[k] = (min(low, mid), mid, high)
    shares = [share_of[id(r)] for r in flat]
    if detail:
        made: dict[int, Range] = {}
        parts = (c for m in members for c in m.contributions)
        for c, share in zip(parts, shares, strict=True):
            c.share = _once_as(made, c.raw, share)
    base, price = figs[comp.base], figs[comp.price]
    amounts: dict[int, Range] = {}
    moneys: dict[int, Range] = {}
    counted: dict[str, int] = {}  # for the steps only
    start = 0  # `shares` holds each member's contributions in turn
    for m, mine in zip(members, own_raws, strict=True):
        m.share = _sum_points(shares[start : start + len(mine)])
        start += len(mine)
        m.quantity, m.money, m.steps, m.missing = None, None, [], []
        if base.value is None:
            m.missing = [_missing(base)] + ([] if price.value is not None else [_missing(price)])
        else:
            factor = base.value * comp.hours
            m.quantity = m.share.scaled(factor)
            if detail:
                for c in m.contributions:
                    c.amount = _once(amounts, c.share, factor) if c.share else None
            if price.value is None:
                m.missing = [_missing(price)]
            else:
                m.money = m.quantity.scaled(price.value / comp.per)
                if detail:
                    per_unit = price.value / comp.per
                    for c in m.contributions:
                        c.money = _once(moneys, c.amount, per_unit) if c.amount else None
        if not detail:
            continue
        counted = counted or {p: sum(v > 0 for v in raw[p]) for p in POINTS}
        for i, p in enumerate(POINTS):
            # Counted at each end: a possible finding counts towards the high end only. A
            # finding feeding several costs has a share in each, so the budget's total counts
            # shares, not findings.
            own = sum(1 for r in mine if r[i] > 0)
            step = (
                f"{POINT_NAMES[p]}: {own} of this cost's findings at "
                f"{percent(m.parameters[PARAMETER[p]])} each; the {counted[p]} shares of all "
                f"costs on the {BUDGETS[m.budget].lower()} add up to {percent(summed[p])}, "
                "which under the "
                f"{percent(ceiling)} ceiling is {percent(combined[p])}, of which this cost "
                f"takes {percent(getattr(m.share, p))}"
            )
            if m.quantity is not None and base.value is not None:
                hours = f" x {comp.hours:g} h" if comp.hours != 1 else ""
                step += (
                    f"; x {whole(base.value)} {comp.base_unit}{hours} = "
                    f"{whole(getattr(m.quantity, p))} {comp.unit}"
                )
            if m.money is not None and price.value is not None:
                per = f" / {comp.per:,.0f}" if comp.per != 1 else ""
                step += (
                    f"; x {currency} {exact(price.value)}{per} = "
                    f"{currency} {whole(getattr(m.money, p))}"
                )
            m.steps.append(step)
        m.notes = _possible_note(m)


def _once(made: dict[int, Range], r: Range, factor: float) -> Range:
    """r.scaled(factor), made once per Range: a line's contributions mostly share one raw
    range (one for its confirmed findings, one for its possible ones), so they share their
    share, amount and money too. A Range is never changed in place, so sharing one changes
    nothing; `made` is keyed by the source's id, alive for as long as the settling."""
    out = made.get(id(r))
    if out is None:
        out = made[id(r)] = r.scaled(factor)
    return out


def _once_as(made: dict[int, Range], source: Range, points: Points) -> Range:
    """Range(points), made once per `source`, the range they were worked out from: see
    _once."""
    out = made.get(id(source))
    if out is None:
        out = made[id(source)] = Range(low=points[0], likely=points[1], high=points[2])
    return out


def _possible_note(m: CostLine) -> list[str]:
    if m.status == "possible":
        return ["possible: it rests on unknown answers, so it counts towards the high end only"]
    if any(c.status == "possible" for c in m.contributions):
        return ["findings that rest on unknown answers count towards the high end only"]
    return []


def _settle_hours(
    members: list[CostLine],
    figs: dict[str, Figure],
    currency: str,
    detail: bool = True,
    raws: Raws | None = None,
) -> str:
    """Engineering costs: each conflict or untraceable loop charged once, in the line with the
    most hours per unit; all of it capped at the triage team's hours. Returns the cap note.
    Without `detail`, only the lines' figures: their contributions are left as they are, and
    the lines get no steps or notes. `raws`: see `_raws`."""
    order = sorted(members, key=lambda m: (-m.parameters.get("likely", 0), m.rule, m.finding))
    charged: dict[str, str] = {}
    # each contribution's hours, by its place in its line (`members` order, as summed below)
    amounts: dict[int, list[Points]] = {}
    for m in order:
        if detail:
            m.notes = _possible_note(m)
        has_conflict = any(not c.loop for c in m.contributions)
        again: list[str] = []
        loops_again: set[str] = set()
        mine = amounts[id(m)] = []
        for c, raw in zip(m.contributions, _raws(m, raws), strict=True):
            counts = has_conflict or not c.loop
            if counts and c.unit in charged:
                counts = False
                if c.loop:
                    loops_again.add(c.loop)
                else:
                    again.append(c.title)
            if counts:
                charged[c.unit] = m.title
            mine.append(raw if counts else (0.0, 0.0, 0.0))
            if detail:
                c.charged = counts
                c.amount = c.raw if counts else ZERO
        if detail and (again or loops_again):
            # conflicts by their titles; untraceable loops counted (the note is read by people,
            # and a loop's id is not its name)
            named = list(dict.fromkeys(again))
            if loops_again:
                n = len(loops_again)
                named.append(f"{n} untraceable loop{'s' if n != 1 else ''}")
            m.notes.append(
                "not charged again here, as another line already counts them: " + "; ".join(named)
            )
    hours = {
        p: sum(amount[i] for m in members for amount in amounts[id(m)])
        for i, p in enumerate(POINTS)
    }
    engineers = figs["engineers"]
    per_engineer = [
        m.parameters["hours_per_engineer_month"]
        for m in members
        if "hours_per_engineer_month" in m.parameters
    ]
    note = ""
    if engineers.value is not None and per_engineer:
        cap = engineers.value * min(per_engineer)
        if hours["high"] > cap:
            note = (
                f"capped at the triage team's {whole(cap)} hours a month "
                f"({exact(engineers.value)} engineers x {exact(min(per_engineer))} h)"
            )
            lo, mid, hi = (min(1.0, cap / hours[p]) if hours[p] else 0.0 for p in POINTS)
            made: dict[int, Range] = {}
            for m in members:
                capped = amounts[id(m)] = [(x * lo, y * mid, z * hi) for x, y, z in amounts[id(m)]]
                if detail:
                    for c, a in zip(m.contributions, capped, strict=True):
                        c.amount = _once_as(made, c.amount, a) if c.amount is not None else None
    cost = figs["engineer_hour_cost"]
    moneys: dict[int, Range] = {}
    for m in members:
        m.share = None
        m.quantity = _sum_points(amounts[id(m)])
        m.missing, m.money = [], None
        if cost.value is None:
            m.missing = [_missing(cost)]
        else:
            m.money = m.quantity.scaled(cost.value)
            if detail:
                for c in m.contributions:
                    c.money = _once(moneys, c.amount, cost.value) if c.amount is not None else None
        if not detail:
            continue
        if note:
            m.notes.append(note)
        m.steps = []
        for p in POINTS:
            live = [c for c in m.contributions if c.charged and getattr(c.raw, p) > 0]
            conflicts = sum(1 for c in live if not c.loop)
            loops = len(live) - conflicts
            spent = whole(getattr(m.quantity, p))
            step = (
                # bracketed: "2 conflicts + 5 loops x 4 h" read as 2 + 20
                f"{POINT_NAMES[p]}: ({conflicts} conflict{'s' * (conflicts != 1)} + {loops} "
                f"untraceable loop{'s' * (loops != 1)}) x {exact(m.parameters[PARAMETER[p]])} h = "
                f"{spent} engineer-hour{'' if spent == '1' else 's'}"
            )
            if m.money is not None and cost.value is not None:
                step += (
                    f"; x {currency} {exact(cost.value)} = {currency} {whole(getattr(m.money, p))}"
                )
            m.steps.append(step)
    return note


def _settle(lines: list[CostLine], figures: list[Figure], detail: bool = True) -> list[BudgetTotal]:
    """Combine and price `lines` in place (their findings share budgets); the budget totals.
    Without `detail` (a total only), the lines get their figures but no per-finding money,
    worked steps or notes."""
    totals = _settle_budgets(lines, figures, detail)
    return [totals[budget] for budget in BUDGETS if budget in totals]


def _budget_of(line: CostLine) -> str | None:
    comp = COMPUTATIONS.get(line.computation)
    return comp.budget if comp is not None else None


def _settle_budgets(
    lines: list[CostLine], figures: list[Figure], detail: bool = True, raws: Raws | None = None
) -> dict[str, BudgetTotal]:
    """`_settle` by budget: each budget's total, for the budgets with a priced line. A budget
    is settled from its own lines alone, so one budget's total holds whatever the others'
    lines are. `raws`: see `_raws`."""
    figs = {f.name: f for f in figures}
    currency = figs["accelerator_hour_cost"].unit
    pools: dict[str, list[CostLine]] = {}
    for line in lines:
        budget = _budget_of(line)
        if budget is not None:
            pools.setdefault(budget, []).append(line)
    notes = {}
    for budget, members in pools.items():
        if budget == "engineering":
            notes[budget] = _settle_hours(members, figs, currency, detail, raws)
        else:
            _settle_shares(members, figs, currency, detail, raws)
    out = {}
    for budget in BUDGETS:
        priced = [m for m in pools.get(budget, []) if m.money is not None]
        if priced:
            out[budget] = BudgetTotal(
                budget=budget,
                label=BUDGETS[budget],
                side="hidden" if budget == "engineering" else "direct",
                costs=[m.finding for m in priced],
                range=_sum([m.money for m in priced if m.money is not None]),
                note=notes.get(budget, ""),
            )
    return out


def _sides(budgets: list[BudgetTotal]) -> tuple[Range | None, Range | None, Range | None]:
    """Direct, hidden and total money: the direct budgets may overlap (see `combine`)."""
    direct_parts = [b.range for b in budgets if b.side == "direct"]
    hidden_parts = [b.range for b in budgets if b.side == "hidden"]
    direct = combine(direct_parts) if direct_parts else None
    hidden = _sum(hidden_parts) if hidden_parts else None
    if direct is None and hidden is None:
        return None, None, None
    return direct, hidden, _add(direct or ZERO, hidden or ZERO)


def total(lines: list[CostLine], figures: list[Figure]) -> Range | None:
    """The money total of these cost lines, combined afresh (the lines are not changed)."""
    return _sides(_settle(_settle_copies(lines), figures, detail=False))[2]


def _settle_copies(lines: list[CostLine]) -> list[CostLine]:
    """Copies of `lines` that `_settle(..., detail=False)` may change: it assigns fields of a
    line, never changes a value in place and leaves the contributions alone, so a shallow copy
    is enough (a deep copy of every line cost most of the executive summary's time)."""
    return [line.model_copy() for line in lines]


def savings(summary: EconomicSummary, finding_ids: set[str]) -> Range | None:
    """The monthly exposure removed were these findings cleared (by a change or a decision),
    or None when nothing is priced. A cost's part charged to a cleared finding goes (and the
    whole cost when the cost itself is cleared, or every finding it passes through); the rest
    is combined again, so the ceilings and caps apply to what remains as to the full total."""
    if summary.total is None:
        return None
    kept = []
    changed = False
    for line in summary.costs:
        if line.finding in finding_ids:
            changed = True
            continue
        parts = [
            c
            for c in line.contributions
            if c.finding not in finding_ids and not (c.via and finding_ids.issuperset(c.via))
        ]
        changed = changed or len(parts) != len(line.contributions)
        if parts or not line.contributions:
            kept.append(line.model_copy(update={"contributions": parts}))
    if not changed:  # nothing charged to these findings: combining again would change nothing
        return Range(low=0.0, likely=0.0, high=0.0)
    after = total(kept, summary.figures) or ZERO
    before = summary.total
    return Range(**{p: max(0.0, getattr(before, p) - getattr(after, p)) for p in POINTS})


def _direct_scale(budgets: list[BudgetTotal], direct: Range | None) -> dict[str, float]:
    """Per point, what the direct budgets' overlap leaves of their sum (direct / sum): the
    factor every direct part is scaled by, so that the parts add up to the total."""
    summed = _sum([b.range for b in budgets if b.side == "direct"])
    return {
        p: (getattr(direct, p) / getattr(summed, p)) if direct and getattr(summed, p) else 0
        for p in POINTS
    }


def _side(line: CostLine) -> str:
    return COMPUTATIONS[line.computation].side if line.computation in COMPUTATIONS else ""


def charged_central(summary: EconomicSummary) -> dict[str, float]:
    """The central money per month charged to each finding, with direct parts scaled as in
    `by_pattern`, so a finding's amount here and its pattern's row there agree."""
    scale = _direct_scale(summary.budgets, summary.direct)["likely"] if summary.direct else 1.0
    out: dict[str, float] = {}
    for line in summary.costs:
        factor = scale if _side(line) == "direct" else 1.0
        for c in line.contributions:
            if c.money is not None and c.charged:
                out[c.finding] = out.get(c.finding, 0.0) + c.money.likely * factor
    return out


def _by_pattern(
    lines: list[CostLine],
    budgets: list[BudgetTotal],
    direct: Range | None,
    overall: Range,
    by_id: dict[str, Finding],
) -> list[PatternExposure]:
    """The total split by the pattern each part is charged to. Direct parts are scaled by the
    overlap between the direct budgets, so the rows add up to the total."""
    scale = _direct_scale(budgets, direct)
    k_low, k_mid, k_high = (scale[p] for p in POINTS)
    rows: dict[str, dict] = {}
    # Plain points summed in the order the Ranges were (the same floats), a Range per row at
    # the end rather than two per contribution (thousands of them).
    for line in lines:
        side = _side(line)
        for c in line.contributions:
            cost = c.money
            if cost is None:
                continue
            row = rows.get(c.pattern)
            if row is None:
                row = rows[c.pattern] = {
                    "findings": {},  # as a list, in order, with constant-time checks
                    "direct": (0.0, 0.0, 0.0),
                    "hidden": (0.0, 0.0, 0.0),
                    "title": c.title,
                    "kind": c.kind,
                    "weight": {},
                }
            row["findings"][c.finding] = None
            if side == "direct":
                part = (cost.low * k_low, cost.likely * k_mid, cost.high * k_high)
                low, mid, high = row["direct"]
                row["direct"] = (low + part[0], mid + part[1], high + part[2])
            else:
                part = (cost.low, cost.likely, cost.high)
                low, mid, high = row["hidden"]
                row["hidden"] = (low + part[0], mid + part[1], high + part[2])
            weight = row["weight"]
            central, top = weight.get(c.finding, (0.0, 0.0))
            weight[c.finding] = (central + part[1], top + part[2])
    out = []
    for pattern, row in rows.items():
        row_direct = Range(low=row["direct"][0], likely=row["direct"][1], high=row["direct"][2])
        row_hidden = Range(low=row["hidden"][0], likely=row["hidden"][1], high=row["hidden"][2])
        if row_direct.high + row_hidden.high <= 0:
            continue
        both = _add(row_direct, row_hidden)
        findings = list(row["findings"])
        # The action is the one of the finding that carries the most of the row's money: a
        # possible finding adds to the high end only, so a confirmed one usually leads.
        weight = row["weight"]
        lead = by_id.get(max(findings, key=lambda f: weight.get(f, (0.0, 0.0))))
        action = lead.would_clear_if[0] if lead and lead.would_clear_if else ""
        out.append(
            PatternExposure(
                pattern=pattern,
                title=row["title"],
                kind=row["kind"],
                findings=findings,
                direct=row_direct,
                hidden=row_hidden,
                total=both,
                share=both.likely / overall.likely if overall.likely else 0.0,
                # The report lists such a finding to check, not among the findings: its row
                # says so and points there (it adds to the high end only, as possible).
                held_back=all(i in by_id and not by_id[i].evidence.shown for i in findings),
                action=action or "clear the findings listed (see each one's explanation)",
            )
        )
    out.sort(key=lambda r: (-r.total.likely, -r.total.high, r.pattern))
    return out


def _quantities(lines: list[CostLine]) -> list[QuantityTotal]:
    units: dict[str, list[Range]] = {}
    for line in lines:
        if line.quantity is not None:
            units.setdefault(line.unit, []).append(line.quantity)
    return [QuantityTotal(unit=u, range=_sum(rs)) for u, rs in units.items()]


def _central_total(
    lines: list[CostLine],
    figures: list[Figure],
    settled: dict[str, BudgetTotal],
    moved: set[str],
    raws: Raws,
    rule: str = "",
    parameters: Mapping[str, float] | None = None,
) -> float:
    """The central estimate with these figures, and with `parameters` for the cost model of
    `rule`. `lines` are the summary's own, `raws` their raw points, `settled` the budgets'
    totals with the summary's figures and models, and `moved` the budgets these figures and
    parameters can move: only those are settled again, from copies of their lines (a budget
    is settled from its own lines and figures alone; every figure of a line is assigned anew
    when it is settled). The lines of `rule` get its parameters and, for each contribution,
    the range they give (what a cost line made with them would hold), without a model."""
    work = [line.model_copy() for line in lines if _budget_of(line) in moved]
    if rule and parameters is not None:
        per = _per_finding(parameters)
        # As _contributions makes them: a possible finding counts towards the high end only.
        ends = {False: (per.low, per.likely, per.high), True: (0.0, 0.0, per.high)}
        raws = dict(raws)
        for line in work:
            if line.rule == rule:
                line.parameters = _line_parameters(parameters)
                raws[line.finding] = [ends[c.status == "possible"] for c in line.contributions]
    totals = {b: total for b, total in settled.items() if b not in moved}
    totals.update(_settle_budgets(work, figures, detail=False, raws=raws))
    summed = _sides([totals[b] for b in BUDGETS if b in totals])[2]
    return summed.likely if summed else 0.0


def _figures_read(budget: str) -> set[str]:
    """The figures settling a budget reads (_settle_hours, _settle_shares)."""
    if budget == "engineering":
        return {"engineers", "engineer_hour_cost"}
    return {
        name
        for comp in COMPUTATIONS.values()
        if comp.budget == budget
        for name in (comp.base, comp.price)
    }


def _sensitivity(
    figures: list[Figure],
    currency: str,
    models: dict[str, CostModel],
    lines: list[CostLine],
    base: float,
    settled: dict[str, BudgetTotal],
) -> tuple[list[Sensitivity], int]:
    """Inputs that move the central estimate by at least MOVES of it, largest effect first,
    and how many were left out for moving it less. `settled`: the budgets' totals of `lines`
    (a model or figure moves only the budgets that read it; the others keep these)."""
    out = []
    titles = {line.rule: line.title for line in lines if line.money is not None}
    # Each contribution's raw points, read once for the two dozen settlings below.
    raws = {line.finding: _raws(line, None) for line in lines}
    for rule in sorted(titles):
        model = models[rule]
        comp = COMPUTATIONS[model.computation]
        at = {}
        for point in ("low", "high"):
            params = dict(model.parameters)
            params["likely"] = params[point]
            moved = {COMPUTATIONS[model.computation].budget}
            at[point] = _central_total(lines, figures, settled, moved, raws, rule, params)
        p = model.parameters
        fmt = (lambda v: f"{exact(v)} h") if model.computation == "engineer_hours" else percent
        out.append(
            Sensitivity(
                name=f"{rule}.{model.computation}",
                label=f"{titles[rule]}: {comp.parameter_label} ({fmt(p['low'])} to "
                f"{fmt(p['high'])})",
                kind="assumption",
                likely_low=at["low"],
                likely_high=at["high"],
                swing=at["high"] - at["low"],
                text=(
                    f"from {fmt(p['low'])} to {fmt(p['high'])} it moves the central estimate "
                    f"from {money(at['low'], currency)} to {money(at['high'], currency)}"
                ),
            )
        )
    for fig in figures:
        if fig.value is None or fig.value == 0:
            continue
        bumped = [
            f.model_copy(update={"value": f.value * (1 + SENSITIVITY_STEP)})
            if f.name == fig.name and f.value is not None
            else f
            for f in figures
        ]
        moved = {b for b in BUDGETS if fig.name in _figures_read(b)}
        delta = _central_total(lines, bumped, settled, moved, raws) - base
        out.append(
            Sensitivity(
                name=fig.name,
                label=f"{fig.label} ({fig.text})",
                kind="figure",
                likely_low=base,
                likely_high=base + delta,
                swing=delta,
                text=(
                    f"{SENSITIVITY_STEP:.0%} higher adds {money(delta, currency)} to the central "
                    f"estimate ({percent(delta / base) if base else '0%'} of it)"
                ),
            )
        )
    # a row must move the total by MOVES of it, and visibly at the precision shown
    shown = [
        s
        for s in out
        if base > 0
        and abs(s.swing) >= MOVES * base
        and money(s.likely_low, currency) != money(s.likely_high, currency)
    ]
    shown.sort(key=lambda s: (-abs(s.swing), s.name))
    return shown, len(out) - len(shown)


def _sensitivity_note(items: list[Sensitivity], left_out: int) -> str:
    parts = []
    if items:
        top = items[0]
        parts.append(f"The total moves most with {top.label}: {top.text}.")
    if left_out:
        parts.append(
            f"{left_out} other input{'s' * (left_out != 1)} move{'s' * (left_out == 1)} the "
            f"central estimate by less than {MOVES:.0%} and {'are' if left_out != 1 else 'is'} "
            "not shown."
        )
    return " ".join(parts)


def _dominance_note(lines: list[CostLine], overall: Range, currency: str) -> str:
    """Name a line resting only on this knowledge base's estimates that makes up most of the
    central estimate: the total is no firmer than it."""
    if overall.likely <= 0:
        return ""
    for line in lines:
        if line.money is None or not line.unsourced:
            continue
        share = line.money.likely / overall.likely
        if share > DOMINANT:
            return (
                f"{line.title} makes up {percent(share)} of the central estimate "
                f"({money(line.money.likely, currency)} of {money(overall.likely, currency)}), "
                "and its numbers are this knowledge base's estimates, not published "
                "measurements: the total is no firmer than that estimate."
            )
    return ""


def summarise(
    findings: list[Finding],
    economics: Economics | None,
    models: dict[str, CostModel],
    followed: Collection[str] = (),
) -> EconomicSummary:
    """Price every ghost-cost finding; `models` maps a pattern id to its cost model, and
    `followed` holds the loops whose decisions can be followed back (`followed_back`)."""
    currency = economics.currency if economics else "USD"
    figures = figures_of(economics)
    by_id = {f.id: f for f in findings}
    links = _links(findings, models, followed)
    # Held-back costs (resting on several unknown answers) are listed to check, not priced.
    ghosts = [f for f in findings if f.kind == "ghost-cost" and f.evidence.shown]
    lines = _lines(ghosts, by_id, models, links)
    settled = _settle_budgets(lines, figures)
    budgets = [settled[budget] for budget in BUDGETS if budget in settled]  # as _settle does
    direct, hidden, summed = _sides(budgets)
    excluded = [line.finding for line in lines if line.money is None]
    summary = EconomicSummary(
        currency=currency,
        priced=summed is not None,
        figures=figures,
        figure_notes=figure_notes(figures, currency),
        costs=lines,
        total=summed,
        direct=direct,
        hidden=hidden,
        budgets=budgets,
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
        summary.by_pattern = _by_pattern(lines, budgets, direct, summed, by_id)
        summary.dominance_note = _dominance_note(lines, summed, currency)
        summary.sensitivity, left_out = _sensitivity(
            figures, currency, models, lines, summed.likely, settled
        )
        summary.sensitivity_note = _sensitivity_note(summary.sensitivity, left_out)
    summary.headline = headline(summary)
    return summary


def followed_back(loops: Iterable[Loop]) -> set[str]:
    """The loops whose decisions can be followed back: they record events or their reasons."""
    return {lp.id for lp in loops if lp.decision_record in FOLLOWED_BACK}


def headline(s: EconomicSummary) -> str:
    if not s.costs:
        return "No ghost cost was found, so there is no structural cost exposure to state."
    if s.total is not None:
        fmt = lambda v: money(v, s.currency)  # noqa: E731
        text = "Structural exposure of " + range_text(s.total, fmt) + " per month"
        if s.direct is not None and s.hidden is not None:
            text += (
                f" (central estimate: {fmt(s.direct.likely)} direct, in paid capacity and "
                f"tokens; {fmt(s.hidden.likely)} hidden, in engineering time)"
            )
        if s.total_partial:
            text += ", not counting costs that could not be priced"
        return text + "."
    parts = [f"{range_text(q.range, number)} {q.unit}" for q in s.quantities]
    if not parts:
        return "Ghost costs were found, but no figure was given to size them."
    return "Structural exposure per month, in units: " + "; ".join(parts) + "."
