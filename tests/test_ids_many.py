"""fnv1a32_many hashes many ids at once (one big integer per id length); it must give the
engine's 32-bit FNV-1a of each, exactly as fnv1a32 does one by one."""

from __future__ import annotations

import random

from expert.engine.ids import fnv1a32, fnv1a32_many, make_unique


def test_known_values() -> None:
    # FNV-1a 32-bit reference values
    assert fnv1a32_many(["", "a", "foobar"]) == [0x811C9DC5, 0xE40C292C, 0xBF9CF968]


def test_many_ids_of_many_lengths_equal_one_by_one() -> None:
    rng = random.Random(7)
    alphabet = "abcz09:>@#~-_.é中\U0001f600 \"'\\"
    texts = ["", "x", "x", "loop:a", "pair:a~b@r"]
    texts += ["".join(rng.choices(alphabet, k=rng.randrange(0, 90))) for _ in range(3000)]
    assert fnv1a32_many(texts) == [fnv1a32(t) for t in texts]


def test_colliding_ids_are_still_told_apart() -> None:
    # two ids with the same 32-bit FNV-1a hash (found by search)
    first, second = "costarring", "liquid"
    assert fnv1a32(first) == fnv1a32(second)
    renamed = make_unique([first, second, first])
    assert renamed == {first: first, second: f"{second}~1"}
