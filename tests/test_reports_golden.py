"""Golden files: every report format of both built-in examples, byte for byte.

A change to the knowledge base, the examples or a template changes these files on purpose.
Regenerate them, then read the diff before committing:

    UPDATE_GOLDEN=1 uv run pytest tests/test_reports_golden.py
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from unittest import mock

import pytest

from expert.analysis.assess import Assessor, load_assessment
from expert.analysis.results import Results
from expert.assessment.model import Assessment
from expert.deliverables import complete as deliverables
from expert.render.formats import EXTENSIONS, FORMATS
from expert.render.reports import render
from tests.helpers import builtin_kb

GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = Path(__file__).parents[1] / "expert" / "examples"
NAMES = ("llm-platform", "training-cluster")
# Reports carry their date: a fixed one (the reproducible-builds variable the reports honour)
# keeps the goldens valid on any day. Set while deliverables are made, since results are
# cached and shared with other test modules.
FIXED_DATE = {"SOURCE_DATE_EPOCH": "1767225600"}  # 2026-01-01


@lru_cache(maxsize=8)
def assessed(name: str) -> tuple[Results, Assessment]:
    """An example assessed once per test session, with its deliverables."""
    kb = builtin_kb()
    a = load_assessment(EXAMPLES / f"{name}.yaml", kb)
    with Assessor(kb) as ax:
        results = ax.assess(a)
    with mock.patch.dict(os.environ, FIXED_DATE):
        return deliverables.complete(results, a, kb), a


def assess_model(a: Assessment) -> Results:
    kb = builtin_kb()
    with Assessor(kb) as ax:
        results = ax.assess(a)
    with mock.patch.dict(os.environ, FIXED_DATE):
        return deliverables.complete(results, a, kb)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str, fmt: str) -> None:
    results, a = assessed(name)
    text = render(fmt, results, a)
    path = GOLDEN / f"{name}.{EXTENSIONS[fmt]}"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 to create it"
    expected = path.read_bytes().decode("utf-8")
    assert text == expected, (
        f"{path.name} differs from the golden file; if the change is intended, regenerate "
        "with UPDATE_GOLDEN=1 and review the diff"
    )


def test_render_refuses_results_without_their_deliverables() -> None:
    """Rendering never computes deliverables itself (it would have to load a knowledge base,
    and the built-in one would ignore an organisation's pack): it names what is missing."""
    results, a = assessed("training-cluster")
    bare = results.model_copy(update={"economics": None, "inventory": None})
    for fmt in FORMATS:
        with pytest.raises(ValueError, match=r"lack their deliverables .*economics"):
            render(fmt, bare, a)


def test_unknown_format_is_refused() -> None:
    results, a = assessed("training-cluster")
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        render("pdf", results, a)
