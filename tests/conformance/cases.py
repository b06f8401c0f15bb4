"""Seeded generators of durable-rules JSON rulesets + facts, and a brute-force oracle.

Imported by the parent test process (oracle, validator checks) and by child.py (engine run).
It must never import durable: the parent process keeps the C extension out of its address space.
Every ruleset uses only the allowed grammar (see expert/engine/safety.py) unless its case name
starts with ``crash_`` (documented crash shapes, run only in a child and never required to crash).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Fact = dict[str, Any]
Ruleset = dict[str, dict[str, Any]]
# (ruleset name, rule name, fact ids in pattern order)
Firing = tuple[str, str, tuple[str, ...]]

SEEDS = tuple(range(8))
# Fact counts per seed index: small edge cases up to ~150 facts.
N_BY_SEED = (1, 6, 17, 33, 58, 90, 121, 150)

# Pairs of distinct strings with equal 32-bit FNV-1a hashes (the engine's frame hash).
# A correlated equality between two such strings lands in the same hash bucket, so the
# engine really evaluates the term and gets False: the short-circuit path of
# reduceExpressionSequence. Verified by test_collision_keys_really_collide.
COLLIDING_KEYS = (
    ("key583084", "key1092000"),
    ("key583085", "key1092001"),
    ("key583086", "key1092002"),
    ("key583087", "key1092003"),
    ("key583080", "key1092004"),
    ("key583081", "key1092005"),
    ("key583082", "key1092006"),
    ("key583083", "key1092007"),
    ("key583098", "key1092014"),
    ("key583099", "key1092015"),
    ("key583094", "key1092018"),
    ("key583095", "key1092019"),
)
# Distinct fact ids with equal fnv1a32 (from shared/notes/durable-rules.md, #376).
COLLIDING_IDS = ("f6059", "f264602")

ORDER_OPS = ("$lt", "$lte", "$gt", "$gte")
FACT_NAME_SETS = (("a", "b", "c"), ("first", "second", "third"), ("loop", "finding", "x3"))


@dataclass
class Stage:
    """One engine call sequence on one ruleset; facts are fixed or derived from earlier firings."""

    ruleset: str
    facts: list[Fact] = field(default_factory=list)
    derive: Callable[[list[Firing], dict[str, Fact]], list[Fact]] | None = None
    batch: bool = False  # one assert_facts call instead of one assert_fact per fact


@dataclass
class Case:
    name: str
    seed: int
    rulesets: dict[str, Ruleset]
    stages: list[Stage]
    check_pri_order: bool = False


def sentinel(earlier: str) -> dict[str, Any]:
    """Always-true last term of every correlated group (all facts share one scope)."""
    return {"scope": {earlier: "scope"}}


def ref(attr: str, earlier: str, other: str | None = None) -> dict[str, Any]:
    """Correlated string equality: this fact's attr == earlier fact's other attr."""
    return {attr: {earlier: other or attr}}


def rule(patterns: list[tuple[str, Any]], run: str, pri: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"all": [{name: expr} for name, expr in patterns], "run": run}
    if pri is not None:
        out["pri"] = pri
    return out


def _and(*terms: Any) -> dict[str, Any]:
    return {"$and": list(terms)}


def _rng(name: str, seed: int) -> random.Random:
    # str seeds are hashed with sha512: identical in parent and child whatever PYTHONHASHSEED is.
    return random.Random(f"{name}:{seed}")


def _finish(
    ruleset_name: str, rules: list[tuple[str, dict[str, Any]]], rng: random.Random
) -> Ruleset:
    """Shuffle rule order (declaration order must not matter) and name actions uniquely."""
    rng.shuffle(rules)
    out: Ruleset = {}
    for rule_name, body in rules:
        body["run"] = f"{ruleset_name}/{rule_name}"
        out[rule_name] = body
    return out


# ---------------------------------------------------------------------------- alpha chains
_STR_POOL = ("red", "green", "blue", "cyan")
_T_POOL = ("x", "y")


def _alpha_fact(rng: random.Random, i: int, scope: str, kinds: tuple[str, ...]) -> Fact:
    kind = rng.choice(kinds)
    fact: Fact = {
        "id": f"{kind.lower()}:{i}",
        "kind": kind,
        "scope": scope,
        "s": rng.choice(_STR_POOL),
        "t": rng.choice(_T_POOL),
        "n": rng.randint(-10, 30),
        "m": rng.randint(0, 5),
    }
    if rng.random() < 0.5:
        fact["e"] = rng.choice(("on", "off"))
    if rng.random() < 0.3:
        fact["z"] = rng.randint(0, 3)
    return fact


def _alpha_term(op: str, rng: random.Random) -> dict[str, Any]:
    if op == "eq_str":
        return {rng.choice(("s", "t")): rng.choice(_STR_POOL + _T_POOL)}
    if op == "eq_int":
        return {"m": rng.randint(0, 5)}
    if op == "neq_str":
        return {"$neq": {"s": rng.choice(_STR_POOL)}}
    if op == "neq_int":
        return {"$neq": {rng.choice(("m", "z")): rng.randint(0, 5)}}
    if op == "ex":
        return {"$ex": {rng.choice(("e", "z")): 1}}
    return {op: {rng.choice(("n", "m", "z")): rng.randint(-5, 25)}}


ALPHA_OPS = ("eq_str", "eq_int", "neq_str", "neq_int", "ex", *ORDER_OPS)


def _alpha_rules(
    rng: random.Random, count: int, kinds: tuple[str, ...], prefix: str, kind_first: bool = False
) -> list:
    rules = []
    for j in range(count):
        terms = [_alpha_term(ALPHA_OPS[j % len(ALPHA_OPS)], rng)]
        terms += [_alpha_term(rng.choice(ALPHA_OPS), rng) for _ in range(rng.randint(0, 3))]
        rng.shuffle(terms)
        if kind_first:
            # What the compiler does: the kind test first keeps the engine's alpha stack small.
            terms.insert(0, {"kind": kinds[j % len(kinds)]})
        elif rng.random() < 0.7:
            terms.insert(rng.randint(0, len(terms)), {"kind": rng.choice(kinds)})
        # A bare single test (no $and wrapper) is also allowed for alpha-only patterns.
        expr = terms[0] if len(terms) == 1 and rng.random() < 0.5 else _and(*terms)
        rules.append((f"{prefix}{j}", rule([("m", expr)], "")))
    return rules


def case_alpha(seed: int) -> Case:
    rng = _rng("alpha", seed)
    scope = f"assess-{seed}"
    kinds = ("K0", "K1", "K2")
    facts = [_alpha_fact(rng, i, scope, kinds) for i in range(N_BY_SEED[seed])]
    rules = _alpha_rules(rng, 14 + rng.randint(0, 6), kinds, "al")
    return Case("alpha", seed, {"rs": _finish("rs", rules, rng)}, [Stage("rs", facts)])


# ---------------------------------------------------------------------------- joins
def _join_fact(rng: random.Random, i: int, scope: str, kind: str, keys: int) -> Fact:
    return {
        "id": f"{kind.lower()}:{i}",
        "kind": kind,
        "scope": scope,
        "k": f"k{rng.randrange(keys)}",
        "j": f"k{rng.randrange(keys)}",
        "g": rng.choice(("g0", "g1")),
        "n": rng.randint(0, 9),
    }


def _join_facts(rng: random.Random, n: int, scope: str, kinds: tuple[str, ...], keys: int) -> list:
    return [_join_fact(rng, i, scope, rng.choice(kinds), keys) for i in range(n)]


def _with_sentinel(rng: random.Random, terms: list[Any], earlier: list[str]) -> dict[str, Any]:
    """Shuffle the real terms (their order must not matter), then append the sentinel."""
    rng.shuffle(terms)
    return _and(*terms, sentinel(rng.choice(earlier)))


def _join2_rules(rng: random.Random, names: tuple[str, ...]) -> list:
    a, b = names[0], names[1]
    variants = {
        # plain key join
        "eq": lambda: rule(
            [(a, _and({"kind": "A"})), (b, _with_sentinel(rng, [{"kind": "B"}, ref("k", a)], [a]))],
            "",
        ),
        # two correlated equalities plus alpha tests on both sides
        "eq_eq": lambda: rule(
            [
                (a, _and({"kind": "A"}, {"$gt": {"n": 2}})),
                (
                    b,
                    _with_sentinel(
                        rng, [{"kind": "B"}, ref("g", a), ref("k", a), {"$neq": {"g": "g9"}}], [a]
                    ),
                ),
            ],
            "",
        ),
        # self join on one kind: ordered pairs of distinct facts
        "self": lambda: rule(
            [(a, _and({"kind": "A"})), (b, _with_sentinel(rng, [{"kind": "A"}, ref("k", a)], [a]))],
            "",
        ),
        # different attribute names on the two sides
        "cross_attr": lambda: rule(
            [
                (a, _and({"kind": "B"}, {"$lte": {"n": 6}})),
                (b, _with_sentinel(rng, [{"kind": "A"}, ref("j", a, "k")], [a])),
            ],
            "",
        ),
        # sentinel only: cross product inside the scope
        "sentinel_only": lambda: rule(
            [
                (a, _and({"kind": "A"}, {"$gte": {"n": 7}})),
                (b, _and({"kind": "B"}, {"$lt": {"n": 2}}, sentinel(a))),
            ],
            "",
        ),
        # second pattern with alpha tests only (no correlated term, no sentinel needed)
        "alpha_only": lambda: rule(
            [(a, _and({"kind": "B"}, {"n": 9})), (b, _and({"kind": "C"}, {"n": 0}))], ""
        ),
    }
    others = [v for v in sorted(variants) if v != "eq"]
    chosen = ["eq", *rng.sample(others, k=3)]
    return [(f"j_{v}", variants[v]()) for v in chosen]


def case_join2(seed: int) -> Case:
    rng = _rng("join2", seed)
    scope = f"assess-{seed}"
    names = FACT_NAME_SETS[seed % len(FACT_NAME_SETS)]
    facts = _join_facts(rng, N_BY_SEED[seed], scope, ("A", "B", "C"), keys=6)
    rules = _join2_rules(rng, names)
    rules.append(("catch_c", rule([("m", {"kind": "C"})], "")))
    return Case("join2", seed, {"rs": _finish("rs", rules, rng)}, [Stage("rs", facts)])


def case_join3(seed: int) -> Case:
    rng = _rng("join3", seed)
    scope = f"assess-{seed}"
    a, b, c = FACT_NAME_SETS[(seed + 1) % len(FACT_NAME_SETS)]
    facts = _join_facts(rng, N_BY_SEED[seed], scope, ("A", "B", "C"), keys=5)
    rules = [
        (
            "t_chain",
            rule(
                [
                    (a, _and({"kind": "A"})),
                    (b, _with_sentinel(rng, [{"kind": "B"}, ref("k", a)], [a])),
                    (c, _with_sentinel(rng, [{"kind": "C"}, ref("k", b), ref("g", a)], [a, b])),
                ],
                "",
            ),
        ),
        (
            "t_star",
            rule(
                [
                    (a, _and({"kind": "C"}, {"$lte": {"n": 5}})),
                    (b, _with_sentinel(rng, [{"kind": "A"}, ref("g", a)], [a])),
                    (c, _with_sentinel(rng, [{"kind": "B"}, ref("k", a), ref("j", b)], [a, b])),
                ],
                "",
            ),
        ),
        (
            "t_self",
            rule(
                [
                    (a, _and({"kind": "A"})),
                    (b, _with_sentinel(rng, [{"kind": "A"}, ref("k", a)], [a])),
                    (c, _with_sentinel(rng, [{"kind": "A"}, ref("k", b), ref("g", a)], [a, b])),
                ],
                "",
            ),
        ),
        (
            "t_alpha",
            rule(
                [
                    (a, _and({"kind": "B"}, {"$gte": {"n": 8}})),
                    (b, _and({"kind": "C"}, {"$gte": {"n": 8}})),
                    (c, _with_sentinel(rng, [{"kind": "A"}, ref("j", b, "k")], [a, b])),
                ],
                "",
            ),
        ),
    ]
    return Case("join3", seed, {"rs": _finish("rs", rules, rng)}, [Stage("rs", facts)])


# ---------------------------------------------------------------------------- short-circuit
def _sc_facts(rng: random.Random, n: int, scope: str) -> list[Fact]:
    facts = []
    for i in range(n):
        kind = rng.choice(("A", "B"))
        left, right = rng.choice(COLLIDING_KEYS)
        # A facts hold the left key; B facts mostly its colliding partner (equal hash, unequal
        # string), so most hash-bucket pairs make the last real term False.
        key = left if kind == "A" or rng.random() < 0.2 else right
        facts.append(
            {
                "id": f"{kind.lower()}:{i}",
                "kind": kind,
                "scope": scope,
                "k1": rng.choice(("p", "q")),
                "k2": key,
                "n": rng.randint(0, 9),
            }
        )
    return facts


def case_shortcircuit(seed: int) -> Case:
    rng = _rng("shortcircuit", seed)
    scope = f"assess-{seed}"
    a, b = FACT_NAME_SETS[seed % len(FACT_NAME_SETS)][:2]
    facts = _sc_facts(rng, N_BY_SEED[seed], scope)
    rules = [
        # last real term k2 is False for colliding pairs; k1 is True
        (
            "sc_two",
            rule(
                [
                    (a, _and({"kind": "A"})),
                    (b, _and({"kind": "B"}, ref("k1", a), ref("k2", a), sentinel(a))),
                ],
                "",
            ),
        ),
        # the only real term is False for colliding pairs
        (
            "sc_one",
            rule(
                [(a, _and({"kind": "B"})), (b, _and({"kind": "A"}, ref("k2", a), sentinel(a)))], ""
            ),
        ),
        # False term first, then a True one, then the sentinel
        (
            "sc_first",
            rule(
                [
                    (a, _and({"kind": "A"}, {"$lt": {"n": 8}})),
                    (b, _and(ref("k2", a), {"kind": "B"}, ref("k1", a), sentinel(a))),
                ],
                "",
            ),
        ),
    ]
    return Case("shortcircuit", seed, {"rs": _finish("rs", rules, rng)}, [Stage("rs", facts)])


# ---------------------------------------------------------------------------- many rules
def case_many_rules(seed: int) -> Case:
    """200 rules in one ruleset (170 single-fact, 30 joins), kind test first everywhere."""
    rng = _rng("many_rules", seed)
    scope = f"assess-{seed}"
    kinds = tuple(f"K{i}" for i in range(8))
    facts = []
    for i in range(N_BY_SEED[seed]):
        fact = _alpha_fact(rng, i, scope, kinds)
        fact["k"] = f"k{rng.randrange(8)}"
        fact["g"] = rng.choice(("g0", "g1"))
        facts.append(fact)
    rules = _alpha_rules(rng, 170, kinds, "ma", kind_first=True)
    for j in range(30):
        a, b, c = FACT_NAME_SETS[j % len(FACT_NAME_SETS)]
        ka, kb = rng.choice(kinds), rng.choice(kinds)
        pats = [
            (a, _and({"kind": ka}, {"s": rng.choice(_STR_POOL)})),
            (b, _and({"kind": kb}, ref("k", a), sentinel(a))),
        ]
        if j % 3 == 0:
            pats.append(
                (
                    c,
                    _and(
                        {"kind": rng.choice(kinds)},
                        {"t": "x"},
                        ref("g", b),
                        sentinel(rng.choice((a, b))),
                    ),
                )
            )
        rules.append((f"mj{j}", rule(pats, "")))
    return Case("many_rules", seed, {"rs": _finish("rs", rules, rng)}, [Stage("rs", facts)])


# ---------------------------------------------------------------------------- pri
def case_pri(seed: int) -> Case:
    rng = _rng("pri", seed)
    scope = f"assess-{seed}"
    facts = _join_facts(rng, N_BY_SEED[seed], scope, ("A", "B"), keys=4)
    rules = []
    for j in range(8):
        pri = rng.choice((None, 0, 1, 2, 3, 5, 40, 65535))
        terms = [{"kind": rng.choice(("A", "B"))}]
        if j % 2:
            terms.append({"$lte": {"n": rng.randint(3, 9)}})
        rules.append((f"p{j}", rule([("m", _and(*terms))], "", pri)))
    a, b = FACT_NAME_SETS[seed % len(FACT_NAME_SETS)][:2]
    rules.append(
        (
            "pj",
            rule(
                [
                    (a, _and({"kind": "A"})),
                    (b, _with_sentinel(rng, [{"kind": "B"}, ref("k", a)], [a])),
                ],
                "",
                rng.choice((0, 2, 4)),
            ),
        )
    )
    stage = Stage("rs", facts, batch=bool(seed % 2))
    return Case("pri", seed, {"rs": _finish("rs", rules, rng)}, [stage], check_pri_order=True)


# ---------------------------------------------------------------------------- two stages
def _derive_stage2(firings: list[Firing], facts: dict[str, Fact]) -> list[Fact]:
    """What the Python driver does between stages: results -> new facts, deduped by id."""
    out: dict[str, Fact] = {}
    for rs, rule_name, ids in sorted(firings):
        if rs != "stage1":
            continue
        first = facts[ids[0]]
        if rule_name == "s1_pair":
            second = facts[ids[1]]
            fid = f"pair:{ids[0]}:{ids[1]}"
            out.setdefault(
                fid,
                {
                    "id": fid,
                    "kind": "Pair",
                    "scope": first["scope"],
                    "k": first["k"],
                    "g": second["g"],
                    "n": first["n"] + second["n"],
                },
            )
        elif rule_name.startswith("s1_hot"):
            # two rules may flag the same loop: same deterministic id, asserted once
            fid = f"hot:{ids[0]}"
            out.setdefault(
                fid,
                {
                    "id": fid,
                    "kind": "Hot",
                    "scope": first["scope"],
                    "k": first["k"],
                    "g": first["g"],
                },
            )
    return [out[k] for k in sorted(out)]


def case_two_stage(seed: int) -> Case:
    rng = _rng("two_stage", seed)
    scope = f"assess-{seed}"
    facts = _join_facts(rng, N_BY_SEED[seed], scope, ("L",), keys=7)
    a, b = FACT_NAME_SETS[seed % len(FACT_NAME_SETS)][:2]
    s1 = [
        (
            "s1_pair",
            rule(
                [
                    (a, _and({"kind": "L"}, {"g": "g0"})),
                    (b, _with_sentinel(rng, [{"kind": "L"}, {"g": "g1"}, ref("k", a)], [a])),
                ],
                "",
            ),
        ),
        ("s1_hot1", rule([("m", _and({"kind": "L"}, {"$gte": {"n": 6}}))], "")),
        ("s1_hot2", rule([("m", _and({"kind": "L"}, {"$gte": {"n": 8}}))], "")),
        ("s1_all", rule([("m", {"kind": "L"})], "")),
    ]
    s2 = [
        ("s2_pair", rule([("m", _and({"kind": "Pair"}, {"$gt": {"n": 9}}))], "")),
        ("s2_hot", rule([("m", _and({"kind": "Hot"}))], "")),
        ("s2_pairany", rule([("m", _and({"kind": "Pair"}))], "")),
        (
            "s2_join",
            rule(
                [
                    (a, _and({"kind": "Hot"})),
                    (b, _with_sentinel(rng, [{"kind": "Pair"}, ref("k", a), ref("g", a)], [a])),
                ],
                "",
            ),
        ),
    ]
    rulesets = {"stage1": _finish("stage1", s1, rng), "stage2": _finish("stage2", s2, rng)}
    stages = [Stage("stage1", facts), Stage("stage2", derive=_derive_stage2, batch=bool(seed % 2))]
    return Case("two_stage", seed, rulesets, stages)


# ---------------------------------------------------------------------------- engine limits
def _stack_rules(rng: random.Random, n_lit: int, n_join: int) -> list:
    """Under the kind==A node: n_lit literal tests + n_join correlated terms, all matchable."""
    rules = [
        (f"w{i}", rule([("m", _and({"kind": "A"}, {"$gte": {"n": i}}))], "")) for i in range(n_lit)
    ]
    rules += [
        (
            f"wj{i}",
            rule(
                [
                    ("a", _and({"kind": "B"}, {"n": i % 3})),
                    ("b", _and({"kind": "A"}, ref("k", "a"), sentinel("a"))),
                ],
                "",
            ),
        )
        for i in range(n_join)
    ]
    return rules


def _stack_facts(rng: random.Random, n: int, scope: str) -> list[Fact]:
    return [
        {
            "id": f"{kind.lower()}:{i}",
            "kind": kind,
            "scope": scope,
            "n": rng.choice((0, 1, 2, rng.randint(0, 100))),
            "k": f"k{rng.randrange(3)}",
        }
        for i, kind in ((i, rng.choice(("A", "A", "B"))) for i in range(n))
    ]


def case_stack_boundary(seed: int) -> Case:
    """Worst-case alpha stack exactly 64 (the engine's limit), really reached by facts."""
    rng = _rng("stack_boundary", seed)
    n_join = 8 * (seed % 4)
    rules = _stack_rules(rng, 64 - n_join, n_join)
    facts = _stack_facts(rng, N_BY_SEED[seed], f"assess-{seed}")
    return Case("stack_boundary", seed, {"rs": _finish("rs", rules, rng)}, [Stage("rs", facts)])


def case_chain_boundary(seed: int) -> Case:
    """255 patterns end on the same alpha chain [kind == "A"]: the engine's betaList limit."""
    rng = _rng("chain_boundary", seed)
    n_join = 5 + 10 * (seed % 4)
    rules = [(f"c{i}", rule([("m", _and({"kind": "A"}))], "")) for i in range(255 - n_join)]
    rules += [
        (
            f"cj{i}",
            rule(
                [
                    ("a", _and({"kind": "A"})),
                    ("b", _and({"kind": "B"}, {"n": i % 5}, ref("k", "a"), sentinel("a"))),
                ],
                "",
            ),
        )
        for i in range(n_join)
    ]
    facts = _join_facts(rng, N_BY_SEED[seed] // 3 + 1, f"assess-{seed}", ("A", "B"), keys=4)
    return Case("chain_boundary", seed, {"rs": _finish("rs", rules, rng)}, [Stage("rs", facts)])


def case_limit_stack65(seed: int) -> Case:
    """REJECTED by the validator: 65 matchable siblings. A checked engine error (303)."""
    rng = _rng("limit_stack65", seed)
    rules = _stack_rules(rng, 65, 0)
    facts = [
        {"id": "a:low", "kind": "A", "scope": "s", "n": 0, "k": "k0"},
        {"id": "a:high", "kind": "A", "scope": "s", "n": 1000, "k": "k0"},
    ]
    return Case("limit_stack65", seed, {"rs": _finish("rs", rules, rng)}, [Stage("rs", facts)])


def case_limit_chain256(seed: int) -> Case:
    """REJECTED by the validator, never run: 256 patterns on one chain (SIGSEGV measured)."""
    rng = _rng("limit_chain256", seed)
    rules = [(f"c{i}", rule([("m", _and({"kind": "A"}))], "")) for i in range(256)]
    facts = [{"id": "a:0", "kind": "A", "scope": "s"}]
    return Case("limit_chain256", seed, {"rs": _finish("rs", rules, rng)}, [Stage("rs", facts)])


# ---------------------------------------------------------------------------- crash shapes
def case_crash_neq_last(seed: int) -> Case:
    """FORBIDDEN shape (JS_join_neq in the notes): `== & $neq` with no sentinel."""
    rng = _rng("crash_neq_last", seed)
    scope = f"assess-{seed}"
    facts = _join_facts(rng, 60, scope, ("A", "B"), keys=3)
    rules = [
        (
            "bad",
            rule(
                [
                    ("a", _and({"kind": "A"})),
                    ("b", _and({"kind": "B"}, ref("k", "a"), {"$neq": {"g": {"a": "g"}}})),
                ],
                "",
            ),
        )
    ]
    return Case("crash_neq_last", seed, {"rs": _finish("rs", rules, rng)}, [Stage("rs", facts)])


def case_crash_collision_nosentinel(seed: int) -> Case:
    """FORBIDDEN shape: string-equality join on colliding keys without the sentinel."""
    rng = _rng("crash_collision_nosentinel", seed)
    scope = f"assess-{seed}"
    facts = _sc_facts(rng, 60, scope)
    rules = [
        (
            "bad",
            rule(
                [
                    ("a", _and({"kind": "A"})),
                    ("b", _and({"kind": "B"}, ref("k1", "a"), ref("k2", "a"))),
                ],
                "",
            ),
        )
    ]
    return Case(
        "crash_collision_nosentinel", seed, {"rs": _finish("rs", rules, rng)}, [Stage("rs", facts)]
    )


CASES: dict[str, Callable[[int], Case]] = {
    "alpha": case_alpha,
    "join2": case_join2,
    "join3": case_join3,
    "shortcircuit": case_shortcircuit,
    "many_rules": case_many_rules,
    "pri": case_pri,
    "two_stage": case_two_stage,
    "stack_boundary": case_stack_boundary,
    "chain_boundary": case_chain_boundary,
}
CRASH_CASES: dict[str, Callable[[int], Case]] = {
    "crash_neq_last": case_crash_neq_last,
    "crash_collision_nosentinel": case_crash_collision_nosentinel,
}
LIMIT_CASES: dict[str, Callable[[int], Case]] = {
    "limit_stack65": case_limit_stack65,
    "limit_chain256": case_limit_chain256,
}


def build(name: str, seed: int) -> Case:
    return {**CASES, **CRASH_CASES, **LIMIT_CASES}[name](seed)


# ---------------------------------------------------------------------------- oracle
_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "$neq": lambda x, y: x != y,
    "$lt": lambda x, y: x < y,
    "$lte": lambda x, y: x <= y,
    "$gt": lambda x, y: x > y,
    "$gte": lambda x, y: x >= y,
}


def _is_ref(value: Any) -> bool:
    return isinstance(value, dict)


def _operand(value: Any, binding: dict[str, Fact]) -> tuple[bool, Any]:
    """Resolve a literal or a correlated reference {name: attr}; (present, value)."""
    if not _is_ref(value):
        return True, value
    ((name, attr),) = value.items()
    other = binding[name]
    return attr in other, other.get(attr)


def _term_holds(term: dict[str, Any], fact: Fact, binding: dict[str, Fact]) -> bool:
    ((key, value),) = term.items()
    if key == "$and":
        return all(_term_holds(t, fact, binding) for t in value)
    if key == "$ex":
        ((attr, _),) = value.items()
        return attr in fact
    if key in _CMP:
        ((attr, rhs),) = value.items()
        present, operand = _operand(rhs, binding)
        # a test on a missing attribute never matches (measured: $neq/$lt skip such facts)
        return attr in fact and present and _CMP[key](fact[attr], operand)
    present, operand = _operand(value, binding)
    return key in fact and present and fact[key] == operand


def _has_ref(term: dict[str, Any]) -> bool:
    ((key, value),) = term.items()
    if key == "$and":
        return any(_has_ref(t) for t in value)
    if key in _CMP or key == "$ex":
        ((_, rhs),) = value.items()
        return _is_ref(rhs)
    return _is_ref(value)


def _alpha_part(expr: dict[str, Any]) -> list[dict[str, Any]]:
    ((key, value),) = expr.items()
    terms = value if key == "$and" else [expr]
    return [t for t in terms if not _has_ref(t)]


def _patterns(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [next(iter(p.items())) for p in body["all"]]


def brute_force(rs_name: str, ruleset: Ruleset, facts: list[Fact]) -> list[Firing]:
    """Every rule x every ordered tuple of DISTINCT facts that satisfies all patterns."""
    firings: list[Firing] = []
    for rule_name, body in ruleset.items():
        pats = _patterns(body)
        # alpha prefilter keeps 3-way joins at O(candidates) instead of O(n^3)
        cands = [
            [f for f in facts if all(_term_holds(t, f, {}) for t in _alpha_part(e))]
            for _, e in pats
        ]

        def extend(
            i: int,
            binding: dict[str, Fact],
            used: tuple[str, ...],
            pats: list = pats,
            cands: list = cands,
            rule_name: str = rule_name,
        ) -> None:
            if i == len(pats):
                firings.append((rs_name, rule_name, used))
                return
            name, expr = pats[i]
            for fact in cands[i]:
                if fact["id"] not in used and _term_holds(expr, fact, binding):
                    extend(i + 1, {**binding, name: fact}, (*used, fact["id"]))

        extend(0, {}, ())
    return firings


def handled(ruleset: Ruleset, fact: Fact) -> bool:
    """The engine stores a fact iff it passes the alpha part of at least one pattern."""
    return any(
        all(_term_holds(t, fact, {}) for t in _alpha_part(expr))
        for body in ruleset.values()
        for _, expr in _patterns(body)
    )


@dataclass
class Expected:
    firings: list[Firing]
    not_handled: dict[str, list[str]]
    stored: dict[str, list[str]]


def stage_facts(stage: Stage, firings: list[Firing], known: dict[str, Fact]) -> list[Fact]:
    """Facts of a stage: fixed, or derived from the firings so far (the driver's job)."""
    if stage.derive is None:
        return stage.facts
    return stage.derive(firings, known)


def expected(case: Case) -> Expected:
    firings: list[Firing] = []
    known: dict[str, Fact] = {}
    not_handled: dict[str, list[str]] = {}
    stored: dict[str, list[str]] = {}
    for stage in case.stages:
        facts = stage_facts(stage, firings, known)
        known.update((f["id"], f) for f in facts)
        ruleset = case.rulesets[stage.ruleset]
        ok = [f for f in facts if handled(ruleset, f)]
        not_handled.setdefault(stage.ruleset, []).extend(
            f["id"] for f in facts if not handled(ruleset, f)
        )
        stored.setdefault(stage.ruleset, []).extend(f["id"] for f in ok)
        firings.extend(brute_force(stage.ruleset, ruleset, ok))
    return Expected(
        firings,
        {k: sorted(v) for k, v in not_handled.items()},
        {k: sorted(v) for k, v in stored.items()},
    )
