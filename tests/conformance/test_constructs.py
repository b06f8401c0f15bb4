"""Conformance suite: the allowed durable-rules grammar is safe and exact on this interpreter.

Every engine run happens in a child process (python -m tests.conformance.child CASE SEED) so a
SIGSEGV in the C extension fails one test instead of killing pytest. This process never imports
durable; it computes the expected firings by brute force (cases.brute_force).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("expert") is None:  # pytest run without the repo root on sys.path
    sys.path.insert(0, str(ROOT))

from expert.engine.safety import (  # noqa: E402
    MAX_ALPHA_STACK,
    alpha_stack_bound,
    check_fact,
    check_facts,
    check_ruleset,
    fnv1a32,
)

from . import cases  # noqa: E402

CHILD_TIMEOUT_S = 60
CRASH_SIGNALS = {-signal.SIGSEGV, -signal.SIGBUS}


def run_child(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    try:
        return subprocess.run(
            [sys.executable, "-m", "tests.conformance.child", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:  # a hang is a failure, never a skip
        pytest.fail(f"child {args} timed out after {CHILD_TIMEOUT_S}s: {exc.stderr!r}")


def child_json(*args: str) -> dict[str, Any]:
    proc = run_child(*args)
    assert proc.returncode == 0, (
        f"child {args} exited with {proc.returncode} "
        f"(negative = killed by signal)\nstderr:\n{proc.stderr[-4000:]}"
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def firing_counter(raw: list[list[Any]]) -> Counter[cases.Firing]:
    return Counter((rs, rule, tuple(ids)) for rs, rule, ids, _group in raw)


def diff_text(observed: Counter, expected: Counter) -> str:
    missing = list((expected - observed).items())[:10]
    extra = list((observed - expected).items())[:10]
    return f"missing (expected, not fired): {missing}\nextra (fired, not expected): {extra}"


def check_pri_order(case: cases.Case, raw: list[list[Any]]) -> None:
    """Within one engine call, activations fire in ascending pri (absent pri = 0)."""
    pri = {
        (rs, name): body.get("pri", 0)
        for rs, ruleset in case.rulesets.items()
        for name, body in ruleset.items()
    }
    by_group: dict[int, list[int]] = {}
    for rs, rule, _ids, group in raw:
        by_group.setdefault(group, []).append(pri[(rs, rule)])
    for group, seq in by_group.items():
        assert seq == sorted(seq), f"engine call {group}: pri order {seq}"
    if len(raw) >= 10:  # the order check must have had something to order
        assert any(len(set(seq)) > 1 for seq in by_group.values())


# ---------------------------------------------------------------------------- engine runs
@pytest.mark.parametrize("seed", cases.SEEDS)
@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_construct_matches_brute_force(name: str, seed: int) -> None:
    case = cases.build(name, seed)
    data = child_json(name, str(seed))
    exp = cases.expected(case)

    observed, expected = firing_counter(data["firings"]), Counter(exp.firings)
    assert observed == expected, diff_text(observed, expected)
    assert data["exceptions"] == {rs: None for rs in data["exceptions"]}, data["exceptions"]
    assert data["action_errors"] == [] and data["call_errors"] == []
    assert data["observed"] == []  # no false "already observed" (#376) among the fact ids
    assert data["not_handled"] == {k: v for k, v in exp.not_handled.items() if v}
    assert data["stored"] == exp.stored
    assert data["threads"] in ([], ["MainThread"]) and data["active_threads"] == 1
    if case.check_pri_order:
        check_pri_order(case, data["firings"])


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_seeds_exercise_every_rule(name: str) -> None:
    """The oracle (= the engine, per the test above) fires every rule for some seed."""
    fired: set[tuple[str, str]] = set()
    rules: set[tuple[str, str]] = set()
    for seed in cases.SEEDS:
        case = cases.build(name, seed)
        rules |= {(rs, r) for rs, ruleset in case.rulesets.items() for r in ruleset}
        fired |= {(rs, r) for rs, r, _ids in cases.expected(case).firings}
    # Random alpha chains may be unsatisfiable; everything else must fire.
    need = 0.6 if name in ("alpha", "many_rules") else 1.0
    assert len(fired) >= need * len(rules), sorted(rules - fired)[:20]


def test_shortcircuit_case_really_evaluates_false_terms() -> None:
    """Most hash-bucket pairs of the short-circuit case end on a False correlated term."""
    false_pairs = true_pairs = 0
    for seed in cases.SEEDS:
        facts = cases.build("shortcircuit", seed).stages[0].facts
        a_facts = [f for f in facts if f["kind"] == "A"]
        for b in (f for f in facts if f["kind"] == "B"):
            for a in a_facts:
                if a["k1"] == b["k1"] and fnv1a32(a["k2"]) == fnv1a32(b["k2"]):
                    if a["k2"] == b["k2"]:
                        true_pairs += 1
                    else:
                        false_pairs += 1
    assert false_pairs > 2 * true_pairs > 0, (false_pairs, true_pairs)


def test_collision_keys_really_collide() -> None:
    for left, right in cases.COLLIDING_KEYS:
        assert left != right and fnv1a32(left) == fnv1a32(right)
    assert fnv1a32(cases.COLLIDING_IDS[0]) == fnv1a32(cases.COLLIDING_IDS[1])


def test_dedup_and_not_handled_are_driver_duties() -> None:
    data = child_json("dedup")
    assert data["first"] == "ok"
    # The same explicit id again raises MessageObservedException, whatever the content.
    assert data["same_id_same_content"] == "observed"
    assert data["same_id_other_content"] == "observed"
    # Distinct ids with equal fnv1a32 are taken for the same fact (#376).
    assert data["collide_first"] == "ok" and data["collide_second"] == "observed"
    # A fact no rule matches raises MessageNotHandledException and is not stored.
    assert data["unmatched"] == "not_handled"
    assert data["fired"] == data["stored"] == sorted(["x1", cases.COLLIDING_IDS[0]])
    assert data["exception"] is None
    # assert_facts with one bad fact raises, stores the rest, and defers their actions.
    assert data["batch_dup"] == "observed" and data["batch_dup_stored"] == ["b1", "b2"]
    assert data["batch_dup_fired"] == [] and data["batch_unmatched"] == "not_handled"
    assert data["batch_unmatched_fired"] == []
    assert data["next_call"] == "ok" and data["next_call_fired"] == ["b1", "b2", "b3", "b4"]


def test_action_exception_is_swallowed_into_state() -> None:
    """Proves the 'exception absent from state' check above can fail (#350)."""
    data = child_json("swallow")
    assert data["assert"] == "ok"
    assert "boom-from-action" in (data["exception"] or "")


def test_alpha_stack_limit_is_a_checked_engine_error() -> None:
    """65 matchable sibling tests: the validator rejects it; the engine raises 303, no crash."""
    case = cases.build("limit_stack65", 0)
    assert alpha_stack_bound(case.rulesets["rs"]) == MAX_ALPHA_STACK + 1
    assert any("alpha stack 65" in e for e in check_ruleset("rs", case.rulesets["rs"]))
    data = child_json("limit_stack65", "0")
    assert data["call_errors"] == ["error('Could not assert fact, error code: 303')"]
    observed = firing_counter(data["firings"])
    # The low fact (1 matching test) is fine; the high fact (65 matching tests) is dropped.
    assert set(observed) == {("rs", "w0", ("a:low",))}
    assert data["stored"] == {"rs": ["a:low"]}


@pytest.mark.parametrize("name", sorted(cases.CRASH_CASES))
def test_known_crash_shape_is_rejected_and_documented(name: str) -> None:
    """Forbidden shapes from the study: the validator rejects them. One run documents the
    outcome; a crash and a correct result are both accepted (it depends on heap layout)."""
    case = cases.build(name, 1)
    assert any(check_ruleset(rs, body) for rs, body in case.rulesets.items())
    proc = run_child(name, "1")
    if proc.returncode in CRASH_SIGNALS:
        print(f"{name}: crashed with signal {-proc.returncode} (known bug)")
        return
    assert proc.returncode == 0, proc.stderr[-4000:]
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    observed, expected = firing_counter(data["firings"]), Counter(cases.expected(case).firings)
    assert observed == expected, diff_text(observed, expected)
    print(f"{name}: survived with correct results this time (layout-dependent)")


# ---------------------------------------------------------------------------- validator
@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_generated_rulesets_and_facts_pass_validator(name: str) -> None:
    for seed in cases.SEEDS:
        case = cases.build(name, seed)
        for rs, body in case.rulesets.items():
            assert check_ruleset(rs, body) == [], (seed, rs)
        firings: list[cases.Firing] = []
        known: dict[str, dict] = {}
        for stage in case.stages:
            facts = cases.stage_facts(stage, firings, known)
            known.update((f["id"], f) for f in facts)
            assert check_facts(facts) == [], (seed, stage.ruleset)
            firings += cases.brute_force(stage.ruleset, case.rulesets[stage.ruleset], facts)


S = cases.sentinel
GOOD_JOIN = {
    "all": [
        {"a": {"$and": [{"kind": "A"}]}},
        {"b": {"$and": [{"kind": "B"}, {"k": {"a": "k"}}, S("a")]}},
    ],
    "run": "act",
}


def _join(*b_terms: Any, a_expr: Any = None) -> dict[str, Any]:
    a = a_expr if a_expr is not None else {"$and": [{"kind": "A"}]}
    return {"all": [{"a": a}, {"b": {"$and": list(b_terms)}}], "run": "act"}


ALLOWED = {
    "single_fact_chain": {
        "all": [
            {
                "m": {
                    "$and": [
                        {"kind": "A"},
                        {"$neq": {"s": "x"}},
                        {"$lt": {"n": 3}},
                        {"$lte": {"n": 3}},
                        {"$gt": {"n": -3}},
                        {"$gte": {"n": -3}},
                        {"$ex": {"e": 1}},
                        {"m": 2},
                    ]
                }
            }
        ],
        "run": "act",
        "pri": 2,
    },
    "bare_alpha_test": {"all": [{"m": {"kind": "A"}}], "run": "act"},
    "join2_sentinel": GOOD_JOIN,
    "join2_correlated_first": _join({"k": {"a": "k"}}, {"kind": "B"}, S("a")),
    "join2_cross_product": _join({"kind": "B"}, {"n": 1}),
    "join3_sentinel": {
        "all": [
            {"a": {"$and": [{"kind": "A"}]}},
            {"b": {"$and": [{"kind": "B"}, {"k": {"a": "k"}}, S("a")]}},
            {"c": {"$and": [{"kind": "C"}, {"k": {"b": "k"}}, {"g": {"a": "g"}}, S("b")]}},
        ],
        "run": "act",
    },
    "pri_max": {**GOOD_JOIN, "pri": 65535},
}

FORBIDDEN = {
    # the crash shapes measured in shared/notes/durable-rules.md
    "correlated_neq_last": (
        _join({"kind": "B"}, {"k": {"a": "k"}}, {"$neq": {"g": {"a": "g"}}}),
        "correlated $neq",
    ),
    "correlated_lt_last": (_join({"kind": "B"}, {"$lt": {"t": {"a": "t"}}}), "correlated $lt"),
    "correlated_neq_before_sentinel": (
        _join({"$neq": {"g": {"a": "g"}}}, S("a")),
        "correlated $neq",
    ),
    "missing_sentinel": (_join({"kind": "B"}, {"k": {"a": "k"}}), "END with the sentinel"),
    "sentinel_not_last": (_join(S("a"), {"k": {"a": "k"}}), "END with the sentinel"),
    "bare_correlated_term": (
        {"all": [{"a": {"kind": "A"}}, {"b": {"k": {"a": "k"}}}], "run": "act"},
        "must sit in an $and group",
    ),
    "or_group": (
        {"all": [{"m": {"$or": [{"kind": "A"}, {"kind": "B"}]}}], "run": "act"},
        "$or is forbidden",
    ),
    "or_in_join": (
        _join({"$or": [{"k": {"a": "k"}}, {"j": {"a": "k"}}]}, S("a")),
        "$or is forbidden",
    ),
    "any_rule": ({"any": [{"m_0$all": [{"m": {"kind": "A"}}]}], "run": "act"}, "'any'"),
    "none_pattern": (
        {"all": [{"a": {"kind": "A"}}, {"b$not": {"kind": "B"}}], "run": "act"},
        "plain identifier",
    ),
    "float_value": ({"all": [{"m": {"$and": [{"x": 0.5}]}}], "run": "act"}, "str or int"),
    "bool_value": ({"all": [{"m": {"$and": [{"x": True}]}}], "run": "act"}, "str or int"),
    "str_threshold": ({"all": [{"m": {"$gt": {"n": "3"}}}], "run": "act"}, "needs an int"),
    "ex_not_1": ({"all": [{"m": {"$ex": {"n": True}}}], "run": "act"}, "$ex operand"),
    "nex": ({"all": [{"m": {"$nex": {"n": 1}}}], "run": "act"}, "$nex"),
    "regex": ({"all": [{"m": {"$mt": {"s": "a.*"}}}], "run": "act"}, "$mt"),
    "nested_and": (
        {"all": [{"m": {"$and": [{"$and": [{"kind": "A"}]}]}}], "run": "act"},
        "nested $and",
    ),
    "nested_path": ({"all": [{"m": {"$and": [{"spec.gpu": 1}]}}], "run": "act"}, "nested"),
    "sid_attribute": ({"all": [{"m": {"$and": [{"sid": "0"}]}}], "run": "act"}, "'sid'"),
    "reference_to_later_fact": (
        {"all": [{"a": {"$and": [{"k": {"b": "k"}}, S("b")]}}, {"b": {"kind": "B"}}], "run": "act"},
        "not an earlier",
    ),
    "self_reference": (_join({"k": {"b": "k"}}, S("a")), "not an earlier"),
    "arithmetic_reference": (
        _join({"$gt": {"n": {"$add": {"$l": {"a": "n"}, "$r": 1}}}}, S("a")),
        "correlated $gt",
    ),
    "four_patterns": ({"all": [{n: {"kind": "A"}} for n in "abcd"], "run": "act"}, "1..3"),
    "count": ({**GOOD_JOIN, "count": 3}, "'count'"),
    "negative_pri": ({**GOOD_JOIN, "pri": -1}, "'pri'"),
    "bool_pri": ({**GOOD_JOIN, "pri": True}, "'pri'"),
    "missing_run": ({"all": GOOD_JOIN["all"]}, "missing 'run'"),
}


@pytest.mark.parametrize("label", sorted(ALLOWED))
def test_validator_accepts_allowed_grammar(label: str) -> None:
    assert check_ruleset("rs", {"r": ALLOWED[label]}) == []


@pytest.mark.parametrize("label", sorted(FORBIDDEN))
def test_validator_rejects_forbidden_shape(label: str) -> None:
    rule, needle = FORBIDDEN[label]
    errors = check_ruleset("rs", {"r": rule})
    assert any(needle in e for e in errors), errors


def test_validator_rejects_engine_limits_and_names() -> None:
    chain256 = cases.build("limit_chain256", 0).rulesets["rs"]
    assert any("256 patterns share" in e for e in check_ruleset("rs", chain256))
    assert check_ruleset("rs", dict(list(chain256.items())[:255])) == []
    assert check_ruleset("rs$state", {"r": GOOD_JOIN})  # would become a statechart
    assert check_ruleset("rs", {})
    assert check_ruleset("rs", {"r$x": GOOD_JOIN})


def test_check_fact() -> None:
    good = {"id": "loop:1", "kind": "loop", "scope": "a1", "n": 3, "name": "x"}
    assert check_fact(good) == []
    bad = {
        "float": {**good, "n": 0.5},
        "bool": {**good, "n": True},
        "none": {**good, "n": None},
        "list": {**good, "n": [1]},
        "nested": {**good, "n": {"a": 1}},
        "sid": {**good, "sid": "0"},
        "dollar": {**good, "$s": 1},
        "dotted": {**good, "a.b": 1},
        "huge_int": {**good, "n": 2**70},
        "int_id": {**good, "id": 7},
        "empty_kind": {**good, "kind": ""},
    }
    for label, fact in bad.items():
        assert check_fact(fact), label
    for key in ("id", "kind", "scope"):
        assert check_fact({k: v for k, v in good.items() if k != key}), key


def test_check_facts_finds_duplicates_collisions_and_mixed_scopes() -> None:
    base = {"kind": "k", "scope": "s"}
    assert check_facts([{"id": "a", **base}, {"id": "b", **base}]) == []
    assert any("duplicate id" in e for e in check_facts([{"id": "a", **base}] * 2))
    pair = [{"id": i, **base} for i in cases.COLLIDING_IDS]
    assert any("collides" in e for e in check_facts(pair))
    mixed = [{"id": "a", **base}, {"id": "b", "kind": "k", "scope": "t"}]
    assert any("more than one scope" in e for e in check_facts(mixed))
