"""Deterministic fact and finding ids, and the guard against the engine's 32-bit id hash.

durable-rules deduplicates facts by a 32-bit FNV-1a hash of their id, so two different ids
that collide would make the second fact vanish. Every id set is checked here first.
This module is imported by the engine's child process: keep it free of heavy imports.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1 << 16)  # the interview re-checks the same ids after every answer
def fnv1a32(text: str) -> int:
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


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
    - one kind of auditability gap: the rule alone;
    - pairs of loops on one resource (or set of resources): the rule @ the resources;
    - a single match: the rule plus its loops (finding_id)."""
    kind, *names = key
    if kind == "gap":
        return rule
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
    for original in ids:
        candidate, n = original, 0
        h = fnv1a32(candidate)
        while h in used and used[h] != candidate:
            n += 1
            candidate = f"{original}~{n}"
            h = fnv1a32(candidate)
        used[h] = candidate
        out[original] = candidate
    return out
