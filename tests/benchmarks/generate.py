"""Realistic generated assessments of any size, deterministic by seed (for the benchmarks).

A platform of N control loops over about N/5 resources: resources form call paths
(request path -> gateway service -> model replicas -> GPU pool; training job -> nodes -> GPU
pool; queues -> workers), with some shared downstream resources; loops are drawn from
templates of the loops real platforms run (client retries, gateway timeouts, autoscalers,
liveness probes, continuous batching, priority schedulers, backfill, rate limits,
checkpointing, preemption, circuit breakers, evictions, power capping), each with its usual
layer, objective, triggers, actuations, timescale, retries and deadlines. About 10% of the
answers are "unknown", as in a real interview, and answers to the knowledge base's own
questions are filled in where they apply.

    uv run python tests/benchmarks/generate.py 1000 --seed 1 > platform.yaml
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from typing import Any

import yaml

UNKNOWN = "unknown"
UNKNOWN_SHARE = 0.10

# Call-path shapes (resource kinds from the caller down) and how often each occurs.
STACKS: list[tuple[list[str], int]] = [
    (["request_path", "service", "model_replica", "gpu_pool"], 4),
    (["service", "model_replica", "kv_cache"], 2),
    (["job", "node", "gpu_pool"], 3),
    (["queue", "service", "storage"], 2),
    (["tenant_quota", "service"], 1),
    (["power_domain", "node"], 1),
]

# Loop templates: what the loop is, on which kinds of resource it usually acts, and weight.
TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "client SDK retries",
        "kinds": ["request_path", "service"],
        "w": 4,
        "layer": "runtime",
        "objective": "availability",
        "target": "request success rate",
        "triggers": ["failure"],
        "actuations": ["retry"],
        "timescale": ["1s-8s", "500ms", "2s"],
        "instances": "per_client",
        "retry": True,
        "decision_record": "none",
    },
    {
        "name": "gateway request timeout",
        "kinds": ["service", "request_path"],
        "w": 3,
        "layer": "safety",
        "objective": "protection",
        "target": "request duration",
        "triggers": ["timeout"],
        "actuations": ["terminate"],
        "timescale": ["30s", "60s", "10s"],
        "deadline": ["30s", "60s", "10s", "2m"],
        "decision_record": "events",
    },
    {
        "name": "mesh route retries",
        "kinds": ["service"],
        "w": 3,
        "layer": "runtime",
        "objective": "availability",
        "target": "upstream 5xx rate",
        "triggers": ["failure", "error_rate"],
        "actuations": ["retry"],
        "timescale": ["25ms-250ms", "100ms"],
        "instances": "per_request",
        "retry": True,
        "deadline": ["15s", "45s"],
        "decision_record": "events",
    },
    {
        "name": "replica autoscaler",
        "kinds": ["model_replica", "service"],
        "w": 3,
        "layer": "orchestration",
        "objective": "utilization",
        "target": "average GPU utilisation",
        "triggers": ["threshold"],
        "actuations": ["scale_out", "scale_in"],
        "timescale": ["15s", "30s", "1m"],
        "observes": ["utilization_change"],
        "decision_record": "events",
    },
    {
        "name": "liveness probe restarts",
        "kinds": ["model_replica", "service"],
        "w": 3,
        "layer": "orchestration",
        "objective": "availability",
        "target": "/health response",
        "triggers": ["health_check"],
        "actuations": ["restart"],
        "timescale": ["10s", "30s"],
        "instances": "per_replica",
        "decision_record": "events",
    },
    {
        "name": "continuous batching",
        "kinds": ["model_replica", "kv_cache"],
        "w": 2,
        "layer": "model",
        "objective": "throughput",
        "target": "tokens per second per GPU",
        "triggers": ["queue_depth", "resource_pressure"],
        "actuations": ["resize_batch", "preempt"],
        "timescale": ["50ms", "20ms"],
        "changes": ["utilization_change"],
        "decision_record": "none",
    },
    {
        "name": "interactive-first priority",
        "kinds": ["model_replica"],
        "w": 2,
        "layer": "model",
        "objective": "latency",
        "target": "time to first token (p95)",
        "triggers": ["priority_arrival"],
        "actuations": ["prioritize", "preempt"],
        "timescale": ["20ms", "10ms"],
        "decision_record": "none",
    },
    {
        "name": "batch backfill",
        "kinds": ["gpu_pool", "node", "queue"],
        "w": 2,
        "layer": "scheduler",
        "objective": "utilization",
        "target": "idle GPU-hours",
        "triggers": ["idle_capacity"],
        "actuations": ["backfill"],
        "timescale": ["5m", "1m"],
        "decision_record": "events",
    },
    {
        "name": "tenant rate limit",
        "kinds": ["service", "tenant_quota", "gpu_pool"],
        "w": 2,
        "layer": "safety",
        "objective": "compliance",
        "target": "tokens per minute per tenant",
        "triggers": ["rate_limit"],
        "actuations": ["reject", "throttle"],
        "timescale": ["1m", "1s"],
        "instances": "once",
        "decision_record": "events",
    },
    {
        "name": "checkpointing",
        "kinds": ["job"],
        "w": 2,
        "layer": "model",
        "objective": "progress",
        "target": "steps since last checkpoint",
        "triggers": ["schedule"],
        "actuations": ["checkpoint"],
        "timescale": ["30m", "1h", "10m"],
        "decision_record": "reasoned",
    },
    {
        "name": "priority preemption",
        "kinds": ["gpu_pool", "node", "job"],
        "w": 2,
        "layer": "scheduler",
        "objective": "fairness",
        "target": "queue wait by priority",
        "triggers": ["priority_arrival"],
        "actuations": ["preempt"],
        "timescale": ["10s", "1m"],
        "decision_record": "events",
    },
    {
        "name": "circuit breaker",
        "kinds": ["service"],
        "w": 2,
        "layer": "safety",
        "objective": "protection",
        "target": "consecutive 5xx",
        "triggers": ["error_rate"],
        "actuations": ["circuit_break"],
        "timescale": ["10s", "30s"],
        "instances": "per_client",
        "decision_record": "events",
    },
    {
        "name": "memory-pressure eviction",
        "kinds": ["node", "kv_cache"],
        "w": 1,
        "layer": "orchestration",
        "objective": "protection",
        "target": "node memory available",
        "triggers": ["resource_pressure"],
        "actuations": ["evict"],
        "timescale": ["10s", "1m"],
        "instances": "per_node",
        "decision_record": "events",
    },
    {
        "name": "job restart on failure",
        "kinds": ["job"],
        "w": 2,
        "layer": "runtime",
        "objective": "progress",
        "target": "job completion",
        "triggers": ["failure"],
        "actuations": ["retry", "restart"],
        "timescale": ["1m", "5m"],
        "retry": True,
        "decision_record": "events",
    },
    {
        "name": "power capping",
        "kinds": ["power_domain", "node"],
        "w": 1,
        "layer": "safety",
        "objective": "protection",
        "target": "rack power draw",
        "triggers": ["threshold", "resource_pressure"],
        "actuations": ["cap_power"],
        "timescale": ["1s", "5s"],
        "instances": "per_node",
        "decision_record": "none",
    },
]

OWNERS = ["Platform team", "Edge networking", "Inference team", "ML platform", "Product teams"]
FAILURE_CLASSES = ["transient", "timeout", "rate_limited", "policy_termination", "disruption"]


def _maybe_unknown(rng: random.Random, value: Any) -> Any:
    return UNKNOWN if rng.random() < UNKNOWN_SHARE else value


def _resources(rng: random.Random, count: int) -> list[dict[str, Any]]:
    kinds_weights = [w for _, w in STACKS]
    out: list[dict[str, Any]] = []
    while len(out) < count:
        stack = rng.choices([s for s, _ in STACKS], kinds_weights)[0]
        stack = stack[: max(1, count - len(out))]
        chain = []
        for kind in stack:
            rid = f"{kind.replace('_', '-')}-{len(out)}"
            res: dict[str, Any] = {"id": rid, "kind": _maybe_unknown(rng, kind), "name": rid}
            if kind == "job":
                res["synchronized"] = _maybe_unknown(rng, "yes")
                res["checkpoint_interval"] = rng.choice(["30m", "1h", "2h"])
                res["checkpoint_duration"] = rng.choice(["30s", "2m"])
            if kind in ("model_replica", "job", "node"):
                res["startup_time"] = rng.choice(["90s", "4m", "10m"])
            out.append(res)
            chain.append(res)
        for caller, callee in itertools.pairwise(chain):
            caller["calls"] = [callee["id"]]
    # Shared downstream resources: a later resource of the same kind is sometimes called too
    # (always towards higher indexes, so call paths stay acyclic).
    for i, res in enumerate(out):
        if res.get("calls") and rng.random() < 0.2:
            later = [r["id"] for r in out[i + 1 :] if r["id"] not in res["calls"]]
            if later:
                res["calls"].append(rng.choice(later))
    return out


def _relevant(question: Any, loop: dict[str, Any]) -> bool:
    """Whether a knowledge-base question applies to the loop, for its simple `asked_when`."""
    for term in getattr(question, "asked_when", []) or []:
        values = loop.get(term.field)
        if term.op in ("has", "has_any") and isinstance(values, list):
            wanted = [term.operand] if term.op == "has" else term.operand
            if not set(wanted) & set(values):
                return False
    return True


def _answer(rng: random.Random, question: Any) -> Any:
    if rng.random() < UNKNOWN_SHARE:
        return UNKNOWN
    if question.answer == "yesno":
        return rng.choice(["yes", "no"])
    if question.answer == "category" and question.choices:
        return rng.choice(question.choices).value
    if question.answer == "number":
        return rng.randint(0, 8)
    return None  # sets and free text are left to the interview


def _questions(kb: Any) -> list[Any]:
    if kb is None:
        return []
    return sorted(
        (q for q in kb.questions.values() if q.about == "loop" and q.answer),
        key=lambda q: q.id,
    )


def _loop(
    rng: random.Random, t: dict[str, Any], i: int, acts_on: list[str], questions: list[Any]
) -> dict[str, Any]:
    """Loop number i from template t, acting on acts_on, with its answers drawn from rng."""
    loop: dict[str, Any] = {
        "id": f"{t['name'].lower().replace(' ', '-')}-{i}",
        "name": f"{t['name']} #{i}",
        "layer": _maybe_unknown(rng, t["layer"]),
        "owner": _maybe_unknown(rng, rng.choice(OWNERS)),
        "objective": _maybe_unknown(rng, t["objective"]),
        "target": _maybe_unknown(rng, t["target"]),
        "timescale": _maybe_unknown(rng, rng.choice(t["timescale"])),
        "triggers": _maybe_unknown(rng, list(t["triggers"])),
        "actuations": _maybe_unknown(rng, list(t["actuations"])),
        "acts_on": acts_on,
        "decision_record": _maybe_unknown(rng, t["decision_record"]),
    }
    for key in ("observes", "changes", "instances"):
        if key in t:
            value = t[key]
            loop[key] = _maybe_unknown(rng, list(value) if isinstance(value, list) else value)
    if "deadline" in t:
        loop["deadline"] = _maybe_unknown(rng, rng.choice(t["deadline"]))
        loop["propagates_cancellation"] = _maybe_unknown(rng, rng.choice(["yes", "no"]))
    if t.get("retry"):
        loop["retry"] = {
            "max_retries": _maybe_unknown(rng, rng.randint(1, 5)),
            "backoff": _maybe_unknown(rng, rng.choice(["none", "fixed", "exponential"])),
            "jitter": _maybe_unknown(rng, rng.choice(["yes", "no"])),
            "budget": _maybe_unknown(rng, rng.choice(["yes", "no", "no"])),
            "retries_on": _maybe_unknown(
                rng, sorted(rng.sample(FAILURE_CLASSES, k=rng.randint(1, 3)))
            ),
        }
    answers = {}
    for q in questions:
        if _relevant(q, loop) and rng.random() < 0.5:
            value = _answer(rng, q)
            if value is not None:
                answers[q.id] = value
    if answers:
        loop["answers"] = answers
    return loop


def _document(
    title: str, n_loops: int, resources: list[dict[str, Any]], loops: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "system": {
            "name": title,
            "description": "Generated for the benchmarks by tests/benchmarks/generate.py.",
        },
        "resources": resources,
        "loops": loops,
        "economics": {
            "currency": "USD",
            "accelerator_count": 8 * max(1, n_loops // 10),
            "accelerator_hour_cost": 4.9,
            "monthly_tokens": 30_000_000 * n_loops,
            "cost_per_million_tokens": 0.6,
            "engineer_hour_cost": 120,
            "engineers": max(2, n_loops // 50),
        },
    }


def generate(n_loops: int, seed: int = 1, kb: Any = None) -> dict[str, Any]:
    """An assessment (as data) with n_loops loops; `kb` adds answers to its loop questions."""
    rng = random.Random(seed)
    resources = _resources(rng, max(1, n_loops // 5))
    by_kind: dict[str, list[str]] = {}
    for res in resources:
        kind = res["kind"] if res["kind"] != UNKNOWN else rng.choice(STACKS[0][0])
        by_kind.setdefault(kind, []).append(res["id"])
    all_ids = [r["id"] for r in resources]
    questions = _questions(kb)
    loops = []
    weights = [t["w"] for t in TEMPLATES]
    for i in range(n_loops):
        t = rng.choices(TEMPLATES, weights)[0]
        candidates = [rid for kind in t["kinds"] for rid in by_kind.get(kind, [])] or all_ids
        acts_on = sorted(set(rng.sample(candidates, k=min(len(candidates), rng.choice([1, 1, 2])))))
        loops.append(_loop(rng, t, i, acts_on, questions))
    title = f"Generated platform ({n_loops} loops, seed {seed})"
    return _document(title, n_loops, resources, loops)


def chain(n_resources: int, n_loops: int = 40, seed: int = 1, kb: Any = None) -> dict[str, Any]:
    """A call chain n_resources long (each resource calls the next), with n_loops loops spread
    evenly along it. Every loop retries or has a deadline (or both), so deadline nestings,
    retry amplification and influence edges stack along the whole chain: the worst case for
    call-path analysis."""
    rng = random.Random(seed)
    resources: list[dict[str, Any]] = [
        {"id": f"r{i}", "kind": "service", "calls": [f"r{i + 1}"]} for i in range(n_resources)
    ]
    if resources:
        del resources[-1]["calls"]
    questions = _questions(kb)
    stacked = [t for t in TEMPLATES if t.get("retry") or "deadline" in t]
    step = max(1, n_resources // max(1, n_loops))
    loops = [
        _loop(rng, rng.choice(stacked), i, [f"r{min(i * step, n_resources - 1)}"], questions)
        for i in range(n_loops)
    ]
    return _document(f"Generated call chain ({n_resources} resources)", n_loops, resources, loops)


def crowd(n_loops: int, seed: int = 1, kb: Any = None) -> dict[str, Any]:
    """n_loops loops of every template, all acting on one resource: every loop pairs with every
    other, the worst case for per-pair analysis."""
    rng = random.Random(seed)
    resources = [{"id": "shared", "kind": "service"}]
    questions = _questions(kb)
    weights = [t["w"] for t in TEMPLATES]
    loops = [
        _loop(rng, rng.choices(TEMPLATES, weights)[0], i, ["shared"], questions)
        for i in range(n_loops)
    ]
    title = f"Generated crowd ({n_loops} loops on one resource)"
    return _document(title, n_loops, resources, loops)


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # assessment files may not use aliases
        return True


def dump(doc: dict[str, Any]) -> str:
    """An assessment (as data) as YAML that `coherence assess` reads."""
    return yaml.dump(doc, Dumper=_NoAliasDumper, sort_keys=False, width=100)


def generate_yaml(n_loops: int, seed: int = 1, kb: Any = None) -> str:
    return dump(generate(n_loops, seed, kb))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("loops", type=int)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-answers", action="store_true", help="skip knowledge-base answers")
    args = parser.parse_args(argv)
    kb = None
    if not args.no_answers:
        from expert.knowledge import knowledgebase as knowledge

        kb = knowledge.load([])
    sys.stdout.write(generate_yaml(args.loops, args.seed, kb))


if __name__ == "__main__":
    main()
