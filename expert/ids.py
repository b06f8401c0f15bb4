"""Deterministic fact and finding ids, and the guard against the engine's 32-bit id hash.

durable-rules deduplicates facts by a 32-bit FNV-1a hash of their id, so two different ids
that collide would make the second fact vanish. Every id set is checked here first.
This module is imported by the engine's child process: keep it free of heavy imports.
"""

from __future__ import annotations


def fnv1a32(text: str) -> int:
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def finding_id(rule: str, loops: list[str]) -> str:
    """Stable across runs: the rule plus the sorted ids of the loops involved."""
    return f"{rule}:{'+'.join(sorted(set(loops)))}" if loops else rule


def make_unique(ids: list[str]) -> dict[str, str]:
    """Map each id to itself, or to a suffixed variant where its hash collides with another."""
    used: dict[int, str] = {}
    out: dict[str, str] = {}
    for original in ids:
        candidate, n = original, 0
        while fnv1a32(candidate) in used and used[fnv1a32(candidate)] != candidate:
            n += 1
            candidate = f"{original}~{n}"
        used[fnv1a32(candidate)] = candidate
        out[original] = candidate
    return out
