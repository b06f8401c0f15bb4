"""Small builders shared by the core tests."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from expert.assessment import model as assessment
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.knowledgebase import KnowledgeBase


@lru_cache(maxsize=1)
def builtin_kb() -> KnowledgeBase:
    return knowledge.load([])


def make(
    loops: list[dict[str, Any]], resources: list[dict[str, Any]] | None = None, **extra: Any
) -> assessment.Assessment:
    data: dict[str, Any] = {"schema_version": 1, "system": {"name": "test"}, "loops": loops}
    if resources is not None:
        data["resources"] = resources
    data.update(extra)
    return assessment.validate(data, builtin_kb().vocabulary, "<test>")
