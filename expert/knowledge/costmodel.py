"""The cost block of a ghost-cost pattern: which computation of deliverables/economics.py prices it,
its parameters, the ceiling that bounds it, and the assumption (with its kind and basis) behind
every number."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from expert.knowledge.kbmodel import KBModel, Source

# The named computations of deliverables/economics.py and the parameters each reads. The formulas
# are code; the numbers are knowledge, kept in the `cost` blocks of ghost-cost patterns.
# low / likely / high are per contributing finding (a share of the base, or hours); `likely`
# is the central estimate, a key kept so that existing packs and `kb lint` read unchanged
# (`central` is accepted for it).
COST_PARAMETERS: dict[str, dict[str, bool]] = {  # name -> {parameter: required}
    "accelerator_hours": {"low": True, "likely": True, "high": True},
    "tokens": {"low": True, "likely": True, "high": True},
    "engineer_hours": {
        "low": True,
        "likely": True,
        "high": True,
        "hours_per_engineer_month": False,
    },
}
SHARE_COMPUTATIONS = ("accelerator_hours", "tokens")  # shares of a base, bounded by a ceiling
RANGE = ("low", "likely", "high")

KINDS = {
    "measurement": "published measurement",
    "ceiling": "cited ceiling",
    "estimate": "estimate of this knowledge base",
}


class Assumption(KBModel):
    """One stated assumption behind a cost: what kind of number it is and where it comes from.

    A published measurement names its source and what the source measured; a cited ceiling
    names the source of the bound; an estimate of this knowledge base gives its reasoning."""

    text: str
    kind: Literal["measurement", "ceiling", "estimate"] = Field(
        description="measurement: a published measurement; ceiling: a cited upper bound; "
        "estimate: this knowledge base's own estimate"
    )
    basis: str = Field(description="how the number follows from the source, or the reasoning")
    measured: str = Field(
        "", description="what the source measured (required for a published measurement)"
    )
    backs: Annotated[list[str], BeforeValidator(_central_backs)] = Field(
        default_factory=list,
        description="the parameters it gives the number for: low, likely, high, ceiling, "
        "hours_per_engineer_month (empty: context for the others)",
    )
    source: Source | None = None

    @model_validator(mode="after")
    def _basis(self) -> Assumption:
        if not self.basis.strip():
            raise ValueError(f"assumption {self.text!r} needs a basis: the source or reasoning")
        if self.kind in ("measurement", "ceiling") and self.source is None:
            raise ValueError(f"a {KINDS[self.kind]} needs its source: {self.text!r}")
        if self.kind == "measurement" and not self.measured.strip():
            raise ValueError(
                f"a published measurement says what the source measured (`measured`): {self.text!r}"
            )
        return self


def _central(value: Any) -> Any:
    """`central` is accepted for `likely` (the central estimate)."""
    if isinstance(value, dict) and "central" in value and "likely" not in value:
        value = {("likely" if k == "central" else k): v for k, v in value.items()}
    return value


def _central_backs(value: Any) -> Any:
    if isinstance(value, list):
        value = ["likely" if v == "central" else v for v in value]
    return value


class CostModel(KBModel):
    """Which named computation in expert/deliverables/economics.py prices this ghost cost, with its
    parameters (shares or hours per contributing finding), the ceiling on the budget's combined
    loss, and an assumption giving the kind and basis of each number."""

    computation: Literal["accelerator_hours", "tokens", "engineer_hours"]
    parameters: Annotated[dict[str, float | int], BeforeValidator(_central)] = Field(
        default_factory=dict
    )
    ceiling: float | None = Field(
        None,
        description="the most of the base that all losses on this budget together can take "
        "(a share; required for accelerator_hours and tokens)",
    )
    assumptions: list[Assumption] = Field(default_factory=list)

    @model_validator(mode="after")
    def _parameters(self) -> CostModel:
        known = COST_PARAMETERS[self.computation]
        missing = [k for k, required in known.items() if required and k not in self.parameters]
        extra = [k for k in self.parameters if k not in known]
        if missing or extra:
            raise ValueError(
                f"computation {self.computation} takes parameters {', '.join(known)}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(extra)}" if extra else "")
            )
        values = self.parameters
        if any(v < 0 for v in values.values()):
            raise ValueError("cost parameters cannot be negative")
        if not values["low"] <= values["likely"] <= values["high"]:
            raise ValueError("cost parameters must satisfy low <= likely (central) <= high")
        shares = self.computation in SHARE_COMPUTATIONS
        if shares and values["high"] > 1:
            raise ValueError(f"{self.computation} parameters are shares between 0 and 1")
        if not self.assumptions:
            return self  # `kb lint` refuses a range stated without assumptions (costs check)
        if shares and self.ceiling is None:
            raise ValueError(
                f"computation {self.computation} needs a `ceiling`: the share of the base that "
                "all losses on this budget together cannot exceed"
            )
        if self.ceiling is not None and not 0 < self.ceiling <= 1:
            raise ValueError("the ceiling is a share greater than 0 and at most 1")
        backed = {b for a in self.assumptions for b in a.backs}
        numbers = list(values) + (["ceiling"] if self.ceiling is not None else [])
        unbacked = [n for n in numbers if n not in backed]
        if unbacked:
            raise ValueError(
                f"no assumption states the kind and basis of {', '.join(unbacked)}: add one "
                "with `kind` (measurement, ceiling or estimate), `basis` and "
                f"`backs: [{', '.join(unbacked)}]`"
            )
        stray = sorted(backed - set(numbers))
        if stray:
            raise ValueError(f"assumptions back parameters this cost has not: {', '.join(stray)}")
        return self
