"""The cost block of a ghost-cost pattern: which computation of expert/economics.py prices it,
its parameters and the assumptions (with their basis) behind each number."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from expert.kbbase import KBModel, Source

# The named computations of expert/economics.py and the parameters each reads. The formulas
# are code; the numbers are knowledge, kept in the `cost` blocks of ghost-cost patterns.
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
SHARE_COMPUTATIONS = ("accelerator_hours", "tokens")  # their low/likely/high are fractions


class Assumption(KBModel):
    """One stated assumption behind a cost, with where its number comes from."""

    text: str
    basis: str = Field("", description="how the number follows from the source, or why it is set")
    source: Source | None = None


def _assumption(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


class CostModel(KBModel):
    """Which named computation in expert/economics.py prices this ghost cost, with its
    parameters (fractions, hours); the formulas are code, the numbers are knowledge."""

    computation: Literal["accelerator_hours", "tokens", "engineer_hours"]
    parameters: dict[str, float | int] = Field(default_factory=dict)
    assumptions: list[Annotated[Assumption, BeforeValidator(_assumption)]] = Field(
        default_factory=list
    )

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
            raise ValueError("cost parameters must satisfy low <= likely <= high")
        if self.computation in SHARE_COMPUTATIONS and values["high"] > 1:
            raise ValueError(f"{self.computation} parameters are shares between 0 and 1")
        return self
