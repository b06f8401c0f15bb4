"""Deterministic fact and finding ids, and the guard against the engine's 32-bit id hash.

durable-rules deduplicates facts by a 32-bit FNV-1a hash of their id, so two different ids
that collide would make the second fact vanish. Every id set is checked here first.
This module is imported by the engine's child process: keep it free of heavy imports.
"""

from __future__ import annotations

import sys
from array import array
from functools import lru_cache


@lru_cache(maxsize=1 << 16)  # the interview re-checks the same ids after every answer
def fnv1a32(text: str) -> int:
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


_BASIS, _PRIME = 0x811C9DC5, 16777619


def fnv1a32_many(texts: list[str]) -> list[int]:
    """fnv1a32 of each text, computed for all texts of one length at once: each text's hash
    is a 64-bit lane of one big integer, so a byte position of every text costs one
    integer operation instead of one per text (a lane times the 24-bit prime stays below
    2**56, so no lane carries into the next). About 30,000 fact ids at 1,000 loops."""
    encoded = [t.encode("utf-8") for t in texts]
    by_length: dict[int, list[int]] = {}
    for n, b in enumerate(encoded):
        by_length.setdefault(len(b), []).append(n)
    out = [0] * len(texts)
    for length, members in by_length.items():
        k = len(members)
        joined = b"".join(encoded[n] for n in members)
        h = int.from_bytes(_BASIS.to_bytes(8, "little") * k, "little")
        mask = int.from_bytes(b"\xff\xff\xff\xff\0\0\0\0" * k, "little")
        lanes = bytearray(8 * k)
        for i in range(length):
            lanes[0::8] = joined[i::length]  # byte i of every text, in the low byte of its lane
            h = ((h ^ int.from_bytes(lanes, "little")) * _PRIME) & mask
        values = array("Q", h.to_bytes(8 * k, "little"))
        if sys.byteorder == "big":
            values.byteswap()
        for n, value in zip(members, values, strict=True):
            out[n] = value
    return out


MAX_ID = 120


def finding_id(rule: str, loops: list[str]) -> str:
    """Stable across runs: the rule plus the sorted ids of the loops involved. A finding that
    spans many loops (a symptom of a whole platform) names the first three, how many more,
    and a digest of all, so ids and reports do not grow with the number of loops."""
    names = sorted(set(loops))
    full = f"{rule}:{'+'.join(names)}" if names else rule
    if len(full) <= MAX_ID:
        return full
    import hashlib

    digest = hashlib.sha256("+".join(names).encode()).hexdigest()[:10]
    return f"{rule}:{'+'.join(names[:3])}+{len(names) - 3}-more-{digest}"


def group_id(rule: str, key: tuple[str, ...], loops: list[str]) -> str:
    """The id of a finding that groups matches of one pattern, stable as matches join it or
    leave it (a decision recorded against it must keep applying):
    - one kind of auditability gap: the rule alone (and `rule:unanswered` for the loops
      whose questions on it are not answered yet, which wait apart until they are);
    - pairs of loops on one resource (or set of resources): the rule @ the resources;
    - a single match: the rule plus its loops (finding_id)."""
    kind, *names = key
    if kind == "gap":
        return f"{rule}:{names[0]}" if names else rule
    if kind == "pairs":
        full = f"{rule}@{'+'.join(names)}"
        if len(full) <= MAX_ID:
            return full
        import hashlib

        digest = hashlib.sha256("+".join(names).encode()).hexdigest()[:10]
        return f"{rule}@{names[0]}+{len(names) - 1}-more-{digest}"
    return finding_id(rule, loops)


def make_unique(ids: list[str]) -> dict[str, str]:
    """Map each id to itself, or to a suffixed variant where its hash collides with another."""
    used: dict[int, str] = {}
    out: dict[str, str] = {}
    for original, h in zip(ids, fnv1a32_many(ids), strict=True):
        candidate, n = original, 0
        while h in used and used[h] != candidate:
            n += 1
            candidate = f"{original}~{n}"
            h = fnv1a32(candidate)
        used[h] = candidate
        out[original] = candidate
    return out
