"""Patterns whose setups overlap are split so that one setup gives one finding: a rollout
gated on an error rate behind retries is a masked canary signal, never also a gate blind
behind retries."""

from __future__ import annotations

import pytest

from expert.analysis.assess import Assessor
from expert.knowledge.casetest import case_assessment
from tests.helpers import builtin_kb

KB = builtin_kb()

# (the pattern whose firing cases are checked, a pattern that must stay quiet on them)
SPLITS = [
    ("retries-mask-canary-signal", "gate-blind-behind-retries"),
    ("gate-blind-behind-retries", "retries-mask-canary-signal"),
]


@pytest.mark.parametrize(("owner", "other"), SPLITS)
def test_a_setup_one_pattern_reports_is_not_reported_again_by_its_neighbour(
    owner: str, other: str
) -> None:
    firing = [c for c in KB.cases[owner].cases if c.expect == "fires"]
    assert firing
    with Assessor(KB) as ax:
        for case in firing:
            rules = {f.rule for f in ax.assess(case_assessment(case, KB, case.name)).findings}
            assert owner in rules, case.name
            assert other not in rules, case.name
