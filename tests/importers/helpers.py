"""Importing manifests written inline, and finding what the import made of them."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from expert.assessment import model as assessment
from expert.importers import ImportResult, import_paths
from tests.helpers import builtin_kb


def run(tmp_path: Path, files: dict[str, str]) -> ImportResult:
    """Import the given files (name -> text); the result must be a valid assessment."""
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    result = import_paths([tmp_path])
    assessment.validate(result.assessment, builtin_kb().vocabulary, "<import>")
    return result


def loop(result: ImportResult, loop_id: str) -> dict[str, Any]:
    return next(lp for lp in result.assessment["loops"] if lp["id"] == loop_id)


def resource(result: ImportResult, rid: str) -> dict[str, Any]:
    return next(r for r in result.assessment["resources"] if r["id"] == rid)


def source(result: ImportResult, loop_id: str, field: str) -> Any:
    index = [lp["id"] for lp in result.assessment["loops"]].index(loop_id)
    return result.provenance[f"loops[{index}].{field}"]
