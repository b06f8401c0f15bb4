"""A knowledge-base pack of any number of valid, distinct patterns, written as data files.

Each pattern follows one of a few shapes the built-in patterns use (one fact, 2- and 3-fact
joins, every derived fact kind) with its own thresholds, so the patterns differ in their
literal tests: the alpha network grows with every pattern, as it does when an organisation
writes its own. Every pattern feeds one of two generated symptoms that test the platform
fact, which feed one generated cost, so stages 2 and 3 grow with the pack too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# Even patterns feed the first symptom, odd ones the second: one fires on a platform that
# serves inference, the other on one that trains models.
SYMPTOMS = {"gen-symptom-inference": "serves_inference", "gen-symptom-training": "trains_models"}
COST = "gen-cost"


def _m(fact: str, *where: dict[str, Any]) -> dict[str, Any]:
    return {"fact": fact, "where": list(where)}


def _match(shape: int, k: int) -> dict[str, Any]:
    """The match of shape `shape` with threshold step `k` (0, 1, 2, ...)."""
    layers = ["runtime", "safety", "model", "scheduler", "orchestration"]
    if shape == 0:
        return {
            "l": _m(
                "loop",
                {"field": "timescale", "below": f"{5 + k}s"},
                {"field": "layer", "in": [layers[k % 5], layers[(k + 2) % 5]]},
            )
        }
    if shape == 1:
        return {
            "x": _m("loop", {"field": "layer", "in": [layers[k % 5], layers[(k + 1) % 5]]}),
            "p": _m(
                "pair",
                {"field": "a", "same_as": "x.id"},
                {"field": "timescale_ratio", "at_most": 2 + k},
            ),
        }
    if shape == 2:
        return {"a": _m("acts", {"field": "timescale_vs_startup", "below": 1 + k})}
    if shape == 3:
        return {
            "e": _m("edge", {"field": "signal", "in": ["load_increase", "task_terminated"]}),
            "s": _m(
                "loop",
                {"field": "id", "same_as": "e.source"},
                {"field": "timescale", "below": f"{10 + k}s"},
            ),
            "t": _m(
                "loop",
                {"field": "id", "same_as": "e.target"},
                {"field": "retry.max_retries", "at_least": k % 6},
            ),
        }
    if shape == 4:
        return {"c": _m("cycle", {"field": "length", "at_most": 2 + k})}
    if shape == 5:
        return {
            "amp": _m("amplification", {"field": "factor", "at_least": 1 + k}),
            "l": _m("loop", {"field": "id", "same_as": "amp.first"}),
        }
    if shape == 6:
        return {
            "n": _m("nesting", {"field": "inverted", "is": "yes"}),
            "o": _m(
                "loop",
                {"field": "id", "same_as": "n.outer"},
                {"field": "deadline", "above": f"{1 + k}s"},
            ),
        }
    return {"l": _m("loop", {"field": "deadline", "at_most": f"{30 + k}s"})}


SHAPES = 8


def pattern(n: int) -> dict[str, Any]:
    """The n-th generated pattern (n = 0, 1, 2, ...)."""
    return {
        "id": f"gen-{n:04d}",
        "kind": "incoherence",
        "title": f"Generated pattern {n}",
        "summary": "One of many generated patterns that test how the knowledge base scales.",
        "mechanism": "None; the engine's findings are compared with a brute-force evaluation.",
        "severity": "low",
        "match": _match(n % SHAPES, n // SHAPES),
        "narrative": "Generated finding.",
        "feeds": [list(SYMPTOMS)[n % 2]],
        "sources": [{"title": "Scale test", "url": "https://example.org/scale"}],
    }


def write_pack(root: Path, count: int, name: str = "generated") -> Path:
    """Write a pack of `count` generated patterns (plus the symptom and cost they feed)."""
    pack = root / name
    (pack / "patterns").mkdir(parents=True)
    docs = [pattern(n) for n in range(count)]
    for symptom, platform_field in SYMPTOMS.items():
        docs.append(
            {
                "id": symptom,
                "kind": "symptom",
                "title": f"Generated symptom ({platform_field})",
                "summary": "Caused by half of the generated patterns.",
                "mechanism": "None.",
                "severity": "low",
                "match": {"platform": _m("platform", {"field": platform_field, "is": "yes"})},
                "narrative": "Generated symptom of {causes}.",
                "feeds": [COST],
            }
        )
    docs.append(
        {
            "id": COST,
            "kind": "ghost-cost",
            "title": "Generated cost",
            "summary": "Caused by the generated symptom.",
            "mechanism": "None.",
            "severity": "low",
            "narrative": "Generated cost of {causes}.",
        }
    )
    for doc in docs:
        path = pack / "patterns" / f"{doc['id']}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return pack
