"""How large an assessment may be: every input limit in one place, checked before any work.

The analysis compares loops that share a resource pair by pair and follows call paths from
end to end, so some inputs cost the square of their size. These limits are far above what a
real platform needs (the benchmarks run 5,000 loops; a real interview describes tens to a
few hundred), and they stop inputs that would run for minutes and take gigabytes. They are
checked on the parsed file before it is validated, so an oversized file costs one pass.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from expert.errors import Problem
from expert.yamlio import MAX_BYTES, MAX_DEPTH, LineMap

# File size and YAML nesting are checked while reading (expert/yamlio.py); repeated here so
# the README's list of limits has one source.
MAX_FILE_BYTES = MAX_BYTES
MAX_NESTING = MAX_DEPTH

MAX_LOOPS = 10_000
"""Loops in one assessment: twice the largest benchmark (5,000 loops take about 30 s)."""

MAX_RESOURCES = 20_000
"""Declared resources (or resources named by acts_on when none are declared)."""

MAX_CALL_DEPTH = 10_000
"""Resources on the longest `calls` path. Real request paths cross tens of services; this
admits the 10,000-resource chain the call-path analysis is benchmarked on, and no deeper."""

MAX_LOOPS_PER_RESOURCE = 500
"""Loops acting on one resource; each is compared with every other one there."""

MAX_SHARED_PAIRS = 250_000
"""Pairs of loops that share a resource, over all resources (k loops on one resource make
k(k-1)/2 pairs): 400 loops on one resource make 79,800 and the 5,000-loop benchmark 31,006."""

MAX_TEXT = 2_000
"""Characters in one free-text field (a name, owner, target, description or answer)."""

_UNKNOWN = "unknown"


def word(value: Any) -> str | None:
    """A term or id as validation will hold it (stripped); None for what is not text."""
    return value.strip() if isinstance(value, str) else None


def entries(data: Any, key: str) -> list[tuple[int, dict[str, Any]]]:
    """The mappings in a top-level list of the parsed file, with their indexes."""
    section = data.get(key) if isinstance(data, dict) else None
    if not isinstance(section, list):
        return []
    return [(i, item) for i, item in enumerate(section) if isinstance(item, dict)]


def _acts_on(loop: dict[str, Any]) -> set[str]:
    values = loop.get("acts_on")
    if not isinstance(values, list):
        return set()
    return {w for w in map(word, values) if w and w != _UNKNOWN}


def longest_call_path(resources: list[tuple[int, dict[str, Any]]]) -> list[str]:
    """The longest chain of `calls` between declared resources, as resource ids (linear time).
    Resources on or below a call cycle are left out: the cycle is reported on its own."""
    callees: dict[str, list[str]] = {}
    for _, res in resources:
        rid = word(res.get("id"))
        if rid is not None:
            calls = res.get("calls")
            callees.setdefault(rid, []).extend(
                w for w in map(word, calls if isinstance(calls, list) else []) if w
            )
    indegree: Counter[str] = Counter()
    for rid, below in callees.items():
        callees[rid] = [c for c in dict.fromkeys(below) if c in callees]
        indegree.update(callees[rid])
    # Kahn's order; `longest[r]` is the longest path ending at r, `before[r]` its caller.
    queue = deque(r for r in callees if indegree[r] == 0)
    longest = dict.fromkeys(queue, 1)
    before: dict[str, str] = {}
    end = queue[0] if queue else None
    while queue:
        rid = queue.popleft()
        if end is None or longest[rid] > longest[end]:
            end = rid
        for callee in callees[rid]:
            if longest[rid] + 1 > longest.get(callee, 0):
                longest[callee] = longest[rid] + 1
                before[callee] = rid
            indegree[callee] -= 1
            if indegree[callee] == 0:
                queue.append(callee)
    path = []
    while end is not None:
        path.append(end)
        end = before.get(end)
    return path[::-1]


def check(data: Any, source: str, lines: LineMap) -> list[Problem]:
    """Every limit the parsed assessment exceeds; empty if it is within all of them."""
    # Ids here are not validated yet: show them escaped, as validation messages do.
    from expert.assessment.model import loc_text, shown

    problems: list[Problem] = []
    loops = entries(data, "loops")
    resources = entries(data, "resources")
    loop_count = (
        len(data["loops"]) if isinstance(data, dict) and isinstance(data.get("loops"), list) else 0
    )
    if loop_count > MAX_LOOPS:
        problems.append(
            Problem(
                source,
                f"{loop_count:,} loops; the limit is {MAX_LOOPS:,}",
                where="loops",
                line=lines.line(("loops",)),
                fix="describe each kind of loop once: a loop that runs on every replica or "
                "node is one loop with `instances: per_replica` or `per_node`",
            )
        )
    declared = isinstance(data, dict) and isinstance(data.get("resources"), list)
    resource_count = (
        len(data["resources"]) if declared else len(set().union(*(_acts_on(lp) for _, lp in loops)))
    )
    if resource_count > MAX_RESOURCES:
        problems.append(
            Problem(
                source,
                f"{resource_count:,} resources; the limit is {MAX_RESOURCES:,}",
                where="resources" if declared else "loops",
                line=lines.line(("resources",) if declared else ("loops",)),
                fix="declare a group of identical resources once (one gpu-pool, not one per "
                "GPU; one model-replicas, not one per replica)",
            )
        )
    if problems:  # counting further would already be the work these limits exist to avoid
        return problems

    path = longest_call_path(resources)
    if len(path) > MAX_CALL_DEPTH:
        first = next(i for i, res in resources if word(res.get("id")) == path[0])
        problems.append(
            Problem(
                source,
                f"the call path from {shown(path[0])} to {shown(path[-1])} passes {len(path):,} "
                f"resources; the limit is {MAX_CALL_DEPTH:,}",
                where=loc_text(("resources", first, "calls"), data),
                line=lines.line(("resources", first, "calls")),
                fix="describe the path at the level of services (gateway, model replicas, GPU "
                "pool), not every hop between them",
            )
        )

    acting: Counter[str] = Counter()
    for _, lp in loops:
        acting.update(_acts_on(lp))
    crowded = [(rid, k) for rid, k in acting.items() if k > MAX_LOOPS_PER_RESOURCE]
    declared_at = {word(res.get("id")): i for i, res in reversed(resources)}
    for rid, k in sorted(crowded, key=lambda item: (-item[1], item[0]))[:5]:
        i = declared_at.get(rid)
        problems.append(
            Problem(
                source,
                f"{k:,} loops act on resource {shown(rid)}; the limit is "
                f"{MAX_LOOPS_PER_RESOURCE:,} loops on one resource",
                where=loc_text(("resources", i), data) if i is not None else "loops",
                line=lines.line(("resources", i) if i is not None else ("loops",)),
                fix="merge loops that are copies of one another into one loop with "
                "`instances`, or split the resource into the parts each group acts on",
            )
        )
    pairs = sum(k * (k - 1) // 2 for k in acting.values())
    if not crowded and pairs > MAX_SHARED_PAIRS:
        busiest = ", ".join(f"{shown(rid)} ({k:,} loops)" for rid, k in acting.most_common(3))
        problems.append(
            Problem(
                source,
                f"loops that share a resource make {pairs:,} pairs to compare; the limit is "
                f"{MAX_SHARED_PAIRS:,} (the busiest resources: {busiest})",
                where="loops",
                line=lines.line(("loops",)),
                fix="merge loops that are copies of one another into one loop with "
                "`instances`, or assess parts of the platform in separate files",
            )
        )
    return problems
