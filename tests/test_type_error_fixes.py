"""A value of the wrong shape (a list where text belongs, text where a number belongs) is
refused with what to write instead, as every other bad input is: file, place, and a fix."""

from __future__ import annotations

from typing import Any

import pytest

from expert.assessment import model as assessment
from expert.errors import InputError
from tests.helpers import builtin_kb

LOOP = {"id": "retries", "actuations": ["retry"], "acts_on": ["api"]}


@pytest.mark.parametrize(
    ("loop", "where", "fix"),
    [
        ({**LOOP, "name": ["a", "list"]}, "name", "write it as text"),
        ({**LOOP, "retry": {"max_retries": "many"}}, "retry.max_retries", "whole number"),
        ({**LOOP, "acts_on": "api"}, "acts_on", "write a list"),
        ({**LOOP, "retry": "exponential"}, "retry", "write its fields below it"),
        ({**LOOP, "retry": {"max_retries": -2}}, "retry.max_retries", "larger number"),
        ({**LOOP, "owner": "x" * 5000}, "owner", "shorten it"),
    ],
)
def test_a_value_of_the_wrong_shape_says_what_to_write(
    loop: dict[str, Any], where: str, fix: str
) -> None:
    data = {"schema_version": 1, "system": {"name": "t"}, "loops": [loop]}
    with pytest.raises(InputError) as exc:
        assessment.validate(data, builtin_kb().vocabulary, "platform.yaml")
    problems = [p for p in exc.value.problems if where in (p.where or "")]
    assert problems, [p.where for p in exc.value.problems]
    assert all(p.fix for p in problems), problems
    assert any(fix in p.fix for p in problems), problems
