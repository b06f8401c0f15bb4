"""A conditional feed (`feeds_when`): a finding leads to a symptom only where one of its matches
passes the feed's terms. The knowledge base's own cases show it in use (shutdown-vs-retry leads
to restart churn for a job started again, not for a request sent again); these tests cover the
model's and the checker's refusals, which no built-in pattern exercises."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.conditions import check_pattern
from expert.knowledge.patterns import Pattern


def _pattern(**changes: Any) -> dict[str, Any]:
    kb = knowledge.load()
    data = kb.patterns["shutdown-vs-retry"].model_dump(by_alias=True, exclude_none=True)
    data.update(changes)
    return data


def test_the_builtin_conditional_feeds_are_what_shutdown_vs_retry_declares() -> None:
    p = knowledge.load().patterns["shutdown-vs-retry"]
    assert {f.to for f in p.feeds_when} == {"restart-churn", "lost-progress"}
    assert p.leads_to[: len(p.feeds)] == p.feeds
    assert set(p.leads_to) == set(p.feeds) | {"restart-churn", "lost-progress"}


@pytest.mark.parametrize(
    ("feeds_when", "feeds", "message"),
    [
        ([{"to": "restart-churn", "when": {}}], None, "needs `when` terms"),
        (
            [
                {
                    "to": "sla-drift",
                    "when": {"retrier": [{"field": "roles", "has": "restarts_units"}]},
                }
            ],
            None,
            "listed under `feeds` and `feeds_when`",
        ),
    ],
)
def test_the_model_refuses_a_feed_it_cannot_tell_apart(
    feeds_when: list[dict[str, Any]], feeds: list[str] | None, message: str
) -> None:
    changes: dict[str, Any] = {"feeds_when": feeds_when}
    if feeds is not None:
        changes["feeds"] = feeds
    with pytest.raises(ValidationError, match=message):
        Pattern.model_validate(_pattern(**changes))


def test_only_a_pattern_with_a_match_has_conditional_feeds() -> None:
    kb = knowledge.load()
    data = kb.patterns["restart-churn"].model_dump(by_alias=True, exclude_none=True)
    data["feeds_when"] = [
        {"to": "retuning-toil", "when": {"platform": [{"field": "x", "is": "yes"}]}}
    ]
    with pytest.raises(ValidationError, match="only a stage-1 pattern"):
        Pattern.model_validate(data)


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (
            {"nobody": [{"field": "roles", "has": "restarts_units"}]},
            "'nobody' is not a matched fact",
        ),
        ({"retrier": [{"field": "no_such_field", "is": "yes"}]}, "feeds_when[0].retrier"),
        ({"retrier": [{"field": "roles", "has": "no_such_role"}]}, "feeds_when[0].retrier"),
    ],
)
def test_the_checker_names_a_bad_term_in_a_conditional_feed(
    when: dict[str, Any], message: str
) -> None:
    kb = knowledge.load()
    p = Pattern.model_validate(_pattern(feeds_when=[{"to": "restart-churn", "when": when}]))
    problems = check_pattern(p, kb.vocabulary, kb.answer_fields(), set(kb.patterns))
    assert any(message in problem for problem in problems), problems


def test_a_conditional_feed_to_an_unknown_pattern_is_named() -> None:
    kb = knowledge.load()
    when = {"retrier": [{"field": "roles", "has": "restarts_units"}]}
    p = Pattern.model_validate(_pattern(feeds_when=[{"to": "no-such-symptom", "when": when}]))
    problems = check_pattern(p, kb.vocabulary, kb.answer_fields(), set(kb.patterns))
    assert "feeds: unknown pattern 'no-such-symptom'" in problems
