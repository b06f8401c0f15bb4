"""The Markdown report's lists: every item starts its own line, so a renderer shows a list
and not one paragraph of questions run together."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from expert.analysis.assess import Assessor, load_assessment
from expert.render import reports
from tests.helpers import builtin_kb

EXAMPLES = Path(__file__).resolve().parent.parent / "expert" / "examples"
# A list item glued to the text before it: "... (settles 1 finding)- **Loop**: ..."
GLUED_ITEM = re.compile(r"\S- \*\*")


@pytest.mark.parametrize("example", ["llm-platform", "training-cluster"])
def test_every_list_item_starts_a_line(example: str) -> None:
    kb = builtin_kb()
    a = load_assessment(EXAMPLES / f"{example}.yaml", kb)
    with Assessor(kb) as assessor:
        results = assessor.assess(a)
    text = reports.render_markdown(results, a)
    glued = [line for line in text.splitlines() if GLUED_ITEM.search(line)]
    assert not glued, glued[:3]
    assert "## Appendix B: Open questions\n\n- " in text
    lines = text.splitlines()
    crowded = [h for before, h in itertools.pairwise(lines) if h.startswith("#") and before]
    assert not crowded, crowded  # a heading glued to the paragraph before it
