"""Small builders shared by the core tests."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from expert.assessment import model as assessment
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.knowledgebase import KnowledgeBase

_BUILTIN_YAML: dict[tuple[Path, Path], tuple[Any, Any]] = {}

# A retry chain whose tries outlast the route's timeout, as an assessment file. The pattern
# that finds it (retries-outlast-timeout) tests a field derived from a declared comparison,
# which loading enters in a table of the process: a process handed a knowledge base loaded
# elsewhere finds it only if that table is filled there too.
OUTLASTING_RETRIES = """\
schema_version: 1
system: {name: route}
resources:
  - {id: router, kind: service}
loops:
  - {id: route-retries, triggers: [failure, timeout], actuations: [retry], acts_on: [router],
     deadline: 30s, retry: {max_retries: 3}, instances: per_request}
  - {id: route-timeout, triggers: [timeout], actuations: [terminate], acts_on: [router],
     deadline: 60s}
"""


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


def _copied(node: Any) -> Any:
    """A copy of parsed YAML (dicts, lists and immutable scalars); copy.deepcopy does the
    same several times slower, and took a third of a pack fuzzer's time."""
    if isinstance(node, dict):
        return {k: _copied(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_copied(v) for v in node]
    return node


def reuse_builtin_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parse each built-in knowledge-base file once for the whole test process (every load
    parses ~190 files); a pack's own files, validation, merging and compilation still run
    for real. A symlink into the built-in folder is read for real too (the loader refuses
    links, and the cache must not hide that)."""
    real = knowledge.load_yaml
    builtin = knowledge.builtin_dir().resolve()

    def load_yaml(path: Path, **kwargs: Any) -> tuple[Any, Any]:
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(builtin) or Path(path).is_symlink():
            return real(path, **kwargs)
        key = (Path(path), resolved)
        if key not in _BUILTIN_YAML:
            _BUILTIN_YAML[key] = real(path, **kwargs)
        data, lines = _BUILTIN_YAML[key]
        return _copied(data), lines

    monkeypatch.setattr(knowledge, "load_yaml", load_yaml)


def keda_to_zero(resource: str = "llm", **extra: Any) -> dict[str, Any]:
    """A KEDA loop that scales `resource` on queue length and down to zero replicas."""
    return {
        "id": "keda",
        "triggers": ["queue_depth"],
        "actuations": ["scale_out", "scale_in"],
        "acts_on": [resource],
        "answers": {"scales-to-zero": "yes"},
        **extra,
    }
