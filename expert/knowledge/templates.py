"""Loop templates: common control loops with sensible pre-filled fields, so a non-expert
starts from something they recognise ("a Kubernetes HPA") and adjusts it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class LoopTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: str
    description: str
    product: str = ""
    loop: dict[str, Any] = Field(description="pre-filled loop fields (assessment format)")
    notes: list[str] = Field(default_factory=list, description="what the user should check")
