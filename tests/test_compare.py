"""Comparisons declared in pattern data (expert/knowledge/comparisons.py): validation, three-valued
evaluation over intervals, plain words, and equivalence with the Python formulas they
replaced for the four patterns that moved to data."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expert.analysis import facts, graph
from expert.assessment import durations
from expert.assessment.model import validate
from expert.knowledge import comparisons
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.patterns import Pattern

KB = knowledge.load()

BASE: dict[str, Any] = {
    "id": "retries-vs-route",
    "kind": "incoherence",
    "title": "t",
    "summary": "s",
    "mechanism": "m",
    "severity": "medium",
    "narrative": "n",
    "match": {
        "retrier": {"fact": "loop", "where": [{"field": "actuations", "has": "retry"}]},
        "limit": {"fact": "loop", "where": [{"field": "triggers", "has": "timeout"}]},
        "pair": {
            "fact": "pair",
            "where": [
                {"field": "a", "same_as": "retrier.id"},
                {"field": "b", "same_as": "limit.id"},
            ],
        },
    },
}


def pattern(*compare: dict[str, Any], **changes: Any) -> Pattern:
    data = copy.deepcopy(BASE)
    data["compare"] = list(compare)
    data.update(changes)
    return Pattern.model_validate(data)


def refused(*compare: dict[str, Any], **changes: Any) -> str:
    with pytest.raises(ValueError) as exc:
        pattern(*compare, **changes)
    return str(exc.value)


RETRY_WINDOW = "(retrier.retry.max_retries + 1) x retrier.deadline"


def test_a_comparison_becomes_a_test_on_the_fact_that_links_its_loops() -> None:
    p = pattern({"left": RETRY_WINDOW, "op": ">", "right": "limit.deadline"})
    derived = [t for t in p.match["pair"].where if t.field.startswith("compare.")]
    assert len(derived) == 1 and derived[0].op == "is" and derived[0].operand == "yes"
    assert derived[0].strict
    # validated again (a copy, an override): the test is not added twice
    again = Pattern.model_validate(p.model_dump(by_alias=True))
    assert [t.field for t in again.match["pair"].where] == [t.field for t in p.match["pair"].where]


@pytest.mark.parametrize(
    ("compare", "says"),
    [
        ({"left": "ghost.deadline", "op": ">", "right": "limit.deadline"}, "'ghost' is not a"),
        ({"left": "retrier.deadlines", "op": ">", "right": "limit.deadline"}, "no number or"),
        ({"left": "retrier.layer", "op": ">", "right": "limit.deadline"}, "no number or"),
        ({"left": "retrier.deadline", "op": "!=", "right": "limit.deadline"}, "unknown operator"),
        ({"left": "retrier.deadline / 2", "op": ">", "right": "limit.deadline"}, "cannot read"),
        ({"left": "pow(retrier.deadline, 2)", "op": ">", "right": "limit.deadline"}, "cannot"),
        ({"left": "retrier.deadline", "op": ">", "right": "limit.retry.max_retries"}, "like"),
        ({"left": "retrier.deadline x limit.deadline", "op": ">", "right": "1s"}, "duration"),
        ({"left": "retrier.deadline + 1", "op": ">", "right": "limit.deadline"}, "cannot add"),
        ({"left": "min(retrier.deadline)", "op": ">", "right": "limit.deadline"}, "two values"),
        ({"left": "(retrier.deadline", "op": ">", "right": "limit.deadline"}, "')'"),
    ],
)
def test_bad_comparisons_are_refused_with_what_to_write(compare: dict[str, Any], says: str) -> None:
    assert says in refused(compare)


def test_a_comparison_between_loops_nothing_links_is_refused() -> None:
    data = copy.deepcopy(BASE)
    del data["match"]["pair"]
    data["compare"] = [{"left": "retrier.deadline", "op": ">", "right": "limit.deadline"}]
    with pytest.raises(ValueError, match="not all joined by id"):
        Pattern.model_validate(data)


def test_a_bad_comparison_in_a_pack_names_the_file_and_exits_2(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from expert.cli.main import main

    folder = tmp_path / "patterns" / "incoherence"
    folder.mkdir(parents=True)
    data = copy.deepcopy(BASE)
    data["compare"] = [{"left": "retrier.deadline", "op": "=>", "right": "limit.deadline"}]
    import yaml

    (folder / "retries-vs-route.yaml").write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["kb", "--kb", str(tmp_path), "list"])
    assert result.exit_code == 2
    assert "retries-vs-route.yaml" in result.output and "unknown operator '=>'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("left", "op", "right", "outcome"),
    [
        ((5, 5), ">", (3, 4), "yes"),
        ((3, 5), ">", (3, 4), "unknown"),
        ((3, 4), ">", (4, 9), "no"),
        ((4, 4), ">=", (4, 4), "yes"),
        ((4, 4), ">", (4, 4), "no"),
        ((1, 2), "<", (3, 3), "yes"),
        ((1, 3), "<=", (3, 3), "yes"),
        ((1, 4), "<=", (3, 3), "unknown"),
    ],
)
def test_three_valued_comparison_of_intervals(
    left: tuple[int, int], op: str, right: tuple[int, int], outcome: str
) -> None:
    assert comparisons.compare(left, op, right) == outcome


def test_words_name_the_loops_and_use_no_field_names_or_operators() -> None:
    p = pattern({"left": RETRY_WINDOW, "op": ">=", "right": "2 x max(limit.deadline, 1s)"})
    name = next(t.field for t in p.match["pair"].where if t.field.startswith("compare."))
    d = comparisons.derivation("pair", name)
    assert d is not None
    text = comparisons.words(d, {"retrier": "Mesh retries", "limit": "Route timeout"})
    assert text == (
        "(the retries of Mesh retries plus 1) times the deadline of Mesh retries is at least "
        "as long as 2 times the larger of the deadline of Route timeout and 1s"
    )
    for forbidden in ("max_retries", "retry.", ">", "x ", "compare"):
        assert forbidden not in text


# -- equivalence with the formulas that were coded in graph.py before (x100 ratios, where
# `above 1` meant a ratio of at least 1.01 and `at_least N` a ratio of at least N)

MOVED = {
    "retries-outlast-timeout",
    "retries-outlast-caller-deadline",
    "pod-hold-outlasts-node-removal",
    "averaging-window-outlasts-reaction",
}


_old_quotient = graph.quotient_x100  # still the acts facts' ratio, unchanged


def _old_retry_window(retries: int | None, per_try: str, limit: str) -> int:
    per, lim = durations.parse(per_try), durations.parse(limit)
    if not per.known or not lim.known:
        return 0
    lo = retries if retries is not None else 0
    hi = retries if retries is not None else 10
    return _old_quotient(durations.Interval(per.lo * (lo + 1), per.hi * (hi + 1)), lim)[0]


def _derived(a_data: dict[str, Any], kind: str, pattern_id: str, var_key: str) -> dict[str, str]:
    """The outcome of `pattern_id`'s comparisons on every fact of `kind`, by fact id."""
    a = validate({"schema_version": 1, **a_data}, KB.vocabulary, "t")
    s = graph.derive(a, KB.vocabulary)
    base = facts.build(a, s, KB.vocabulary, "t", KB.answer_fields())
    p = KB.patterns[pattern_id]
    names = [t.field for t in p.match[var_key].where if t.field.startswith("compare.")]
    esc = [t.field for e in p.escalate for t in e.when.get(var_key, [])]
    spec_of = comparisons.derivation
    out = {}
    for fid, fact in base.facts.items():
        if fact["kind"] == kind:
            out[fid] = fact[spec_of(kind, names[0]).attr]  # type: ignore[union-attr]
            if esc and esc[0].startswith("compare."):
                out[fid + "!"] = fact[spec_of(kind, esc[0]).attr]  # type: ignore[union-attr]
    return out


def test_the_moved_patterns_declare_their_comparisons_as_data() -> None:
    for pid in MOVED:
        p = KB.patterns[pid]
        assert p.compare, pid
        fields = {t.field for fm in p.match.values() for t in fm.where}
        assert not fields & {
            "retry_window_vs_deadline",
            "inner_retry_window_vs_outer",
            "slowest_ratio",
            "window_vs_reaction",
        }


durations_ms = st.sampled_from(["500ms", "1s", "2s", "3s", "10s", "15s", "29s", "30s", "31s"])
spans = st.sampled_from(["5s", "30s", "59s", "60s", "61s", "90s", "2m", "5m", "10s-2m"])
maybe_retries = st.one_of(st.none(), st.integers(0, 6))


@settings(max_examples=60, deadline=None)
@given(retries=maybe_retries, per_try=durations_ms, limit=spans)
def test_retry_window_outcomes_equal_the_old_formula(
    retries: int | None, per_try: str, limit: str
) -> None:
    retry: dict[str, Any] = {"max_retries": retries} if retries is not None else {}
    a = {
        "system": {"name": "t"},
        "resources": [{"id": "api", "kind": "service"}],
        "loops": [
            {"id": "r", "actuations": ["retry"], "acts_on": ["api"], "deadline": per_try}
            | ({"retry": retry} if retry else {}),
            {"id": "t", "triggers": ["timeout"], "actuations": ["terminate"]}
            | {"acts_on": ["api"], "deadline": limit},
        ],
    }
    got = _derived(a, "pair", "retries-outlast-timeout", "pair")
    ratio = _old_retry_window(retries, per_try, limit)
    key = next(k for k in got if k.startswith("pair:r~t") and not k.endswith("!"))
    # the old x100 ratio rounded down: a ratio in [1, 1.01) read as "not above 1"
    if not 100 <= ratio < 101:
        assert (got[key] == "yes") == (ratio > 100), (ratio, got[key])
    assert (got[key + "!"] == "yes") == (ratio >= 200), (ratio, got[key + "!"])


@settings(max_examples=60, deadline=None)
@given(pod=spans, node=spans)
def test_slowest_timescale_outcomes_equal_the_old_formula(pod: str, node: str) -> None:
    a = {
        "system": {"name": "t"},
        "resources": [{"id": "api", "kind": "service"}],
        "loops": [
            {"id": "hpa", "actuations": ["scale_in"], "acts_on": ["api"], "timescale": pod},
            {"id": "ca", "actuations": ["scale_in"], "acts_on": ["api"], "timescale": node},
        ],
    }
    got = _derived(a, "pair", "pod-hold-outlasts-node-removal", "pair")
    pa, pb = durations.parse(pod), durations.parse(node)
    ratio = _old_quotient(durations.Interval(pa.hi, pa.hi), durations.Interval(pb.hi, pb.hi))[0]
    key = next(k for k in got if k.startswith("pair:hpa~ca") and not k.endswith("!"))
    if not 100 <= ratio < 101:
        assert (got[key] == "yes") == (ratio > 100)
    assert (got[key + "!"] == "yes") == (ratio >= 300)


@settings(max_examples=60, deadline=None)
@given(window=spans, reaction=durations_ms)
def test_window_outcomes_equal_the_old_formula(window: str, reaction: str) -> None:
    a = {
        "system": {"name": "t"},
        "loops": [
            {"id": "ray", "actuations": ["scale_out"], "triggers": ["threshold"]}
            | {"window": window, "timescale": reaction},
        ],
    }
    got = _derived(a, "loop", "averaging-window-outlasts-reaction", "scaler")
    w, r = durations.parse(window), durations.parse(reaction)
    ratio = _old_quotient(w, durations.Interval(r.lo, r.lo))[0]
    if not 100 <= ratio < 101:
        assert (got["loop:ray"] == "yes") == (ratio > 100)
    assert (got["loop:ray!"] == "yes") == (ratio >= 500)


def test_the_moved_patterns_still_fire_and_near_miss_as_their_cases_say() -> None:
    from expert.knowledge.casetest import run_cases

    results = run_cases(KB, sorted(MOVED))
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]


def test_the_narratives_of_the_moved_patterns_read_in_plain_words() -> None:
    for pid in MOVED:
        p = KB.patterns[pid]
        for text in [p.narrative, *p.clears, *(e.because for e in p.escalate)]:
            for leftover in ("_vs_", "slowest_ratio", "compare.", ">", "x100"):
                assert leftover not in text, (pid, text)


def test_what_a_finding_rests_on_names_the_loops_the_fact_links() -> None:
    p = KB.patterns["retries-outlast-timeout"]
    field = next(t.field for t in p.match["pair"].where if t.field.startswith("compare."))
    host = {"a": "mesh-retries", "b": "route-timeout", "resource": "api"}
    names = {"mesh-retries": "Mesh retries", "route-timeout": "Route timeout"}
    text = comparisons.sentence("pair", field, host, names.__getitem__)
    assert text == (
        "(the retries of Mesh retries plus 1) times the deadline of Mesh retries is longer "
        "than the deadline of Route timeout"
    )
    scaler = KB.patterns["averaging-window-outlasts-reaction"]
    own = next(t.field for t in scaler.match["scaler"].where if t.field.startswith("compare."))
    assert comparisons.sentence("loop", own, {"loop": "ray"}, {"ray": "Ray Serve"}.get) == (
        "the window of Ray Serve is longer than the shortest reaction timescale of Ray Serve"
    )
    assert comparisons.sentence("pair", "compare.nothing", host, str) is None


def test_a_finding_waiting_on_a_resources_own_comparison_asks_that_resources_questions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # It read "What kind of resource is finetune?" for an unknown time between interruptions.
    from expert.analysis import ranking
    from expert.analysis.assess import Assessor

    kb = knowledge.load()
    a = validate(
        {
            "schema_version": 1,
            "system": {"name": "case"},
            "resources": [{"id": "finetune", "kind": "job", "checkpoint_interval": "1h"}],
            "loops": [
                {
                    "id": "kueue",
                    "triggers": ["priority_arrival"],
                    "actuations": ["preempt"],
                    "acts_on": ["finetune"],
                    "answers": {"saves-before-interrupt": "unknown"},
                }
            ],
        },
        kb.vocabulary,
    )
    seen: dict[str, list[str]] = {}
    real = ranking.to_check

    def spy(findings: Any, settling: dict[str, list[str]]) -> Any:
        seen.update(settling)
        return real(findings, settling)

    monkeypatch.setattr(ranking, "to_check", spy)
    with Assessor(kb) as ax:
        ax.assess(a)
    (asks,) = [v for k, v in seen.items() if k.startswith("preemption-outpaces-checkpointing")]
    # only the value not known yet: the checkpoint interval (1h) is not asked again
    assert "finetune: How often is one run of it interrupted, roughly?" in asks
    assert not any("What kind of resource" in q or "checkpoint interval" in q for q in asks)
