"""How many answers a possible finding waits for: a comparison of two answers (a probe's
window against a start-up time) waits for each one that is unknown, so with both unknown the
finding is two details from settled and is held back in the 'to check' list."""

from __future__ import annotations

from pathlib import Path

import yaml

from expert.analysis.assess import Assessor
from expert.analysis.results import Finding
from expert.assessment import model as assessment
from tests.helpers import builtin_kb

EXAMPLE = Path(__file__).resolve().parent.parent / "expert" / "examples" / "llm-platform.yaml"
RULE = "liveness-kills-slow-start"


def _finding(*, deadline: bool, startup: bool) -> Finding:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    probe = next(lp for lp in data["loops"] if lp["id"] == "liveness-probe")
    if not deadline:
        del probe["deadline"]
    if not startup:
        for res in data["resources"]:
            res.pop("startup_time", None)
    kb = builtin_kb()
    a = assessment.validate(data, kb.vocabulary, "<test>")
    with Assessor(kb) as assessor:
        results = assessor.assess(a, deliverables=False)
    (found,) = [f for f in results.findings if f.rule == RULE]
    return found


def test_one_unknown_side_of_a_comparison_is_one_detail_and_shown() -> None:
    f = _finding(deadline=True, startup=False)
    assert (f.status, f.evidence.missing, f.evidence.shown) == ("possible", 1, True)


def test_both_sides_unknown_are_two_details_and_held_back() -> None:
    f = _finding(deadline=False, startup=False)
    assert (f.status, f.evidence.missing, f.evidence.shown) == ("possible", 2, False)


def test_both_sides_known_is_confirmed() -> None:
    f = _finding(deadline=True, startup=True)
    assert (f.status, f.evidence.missing) == ("confirmed", 0)
