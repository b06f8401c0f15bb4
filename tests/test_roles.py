"""Roles: what a loop does to work and capacity, derived three-valued from the vocabulary.

The derivation is checked against brute force: a loop whose lists are partial or unknown
stands for every completion of them, and a role is "yes" (or "no") exactly when it holds
(or fails) in every completion.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from pydantic import ValidationError

from expert.analysis import facts, graph
from expert.assessment.model import UNKNOWN, Loop
from expert.assessment.vocabulary import Vocabulary
from tests.helpers import builtin_kb, make

VOCAB = builtin_kb().vocabulary

# A vocabulary small enough to enumerate every completion of a loop.
SMALL = Vocabulary.model_validate(
    {
        "version": "test",
        "layers": {},
        "objectives": {},
        "signals": {},
        "triggers": {t: {"label": t} for t in ("fail", "tick", "press")},
        "actuations": {a: {"label": a} for a in ("kill", "again", "shed", "wait")},
        "instances": {"once": "once", "per_node": "per node", "per_client": "per client"},
        "failure_classes": {},
        "decision_records": {},
        "backoff_kinds": {},
        "resource_kinds": {},
        "roles": {
            "stops": {"label": "stops", "when": [{"actuations": ["kill"]}]},
            "resubmits": {"label": "again", "when": [{"actuations": ["again", "kill"]}]},
            "local": {
                "label": "local",
                "when": [
                    {"actuations": ["shed"], "instances": ["per_node"]},
                    {"actuations": ["kill"], "triggers": ["press"], "instances": ["per_node"]},
                ],
            },
            "gang": {
                "label": "gang",
                "when": [{"actuations": ["wait"]}, {"actuations": ["again"], "synchronized": True}],
            },
        },
    }
)


def _completions(value: Any, universe: list[str]) -> list[set[str]]:
    """Every set a stated, partial or unknown list may stand for."""
    if value is None or value == UNKNOWN:
        stated: set[str] = set()
        free = universe
    else:
        stated = {v for v in value if v != UNKNOWN}
        free = [t for t in universe if t not in stated] if UNKNOWN in value else []
    return [
        stated | set(extra)
        for n in range(len(free) + 1)
        for extra in itertools.combinations(free, n)
    ]


def _holds(vocab: Vocabulary, role: str, acts: set[str], trigs: set[str], inst: str, sync: bool):
    return any(
        acts & set(way.actuations)
        and (way.triggers is None or trigs & set(way.triggers))
        and (way.instances is None or inst in way.instances)
        and (not way.synchronized or sync)
        for way in vocab.roles[role].when
    )


def _brute(loop: Loop, sync: str) -> dict[str, str]:
    instances = (
        list(SMALL.instances) if loop.instances in (None, UNKNOWN) else [str(loop.instances)]
    )
    syncs = {"yes": [True], "no": [False]}.get(sync, [True, False])
    out = {}
    for role in SMALL.roles:
        seen = {
            _holds(SMALL, role, a, t, i, s)
            for a in _completions(loop.actuations, list(SMALL.actuations))
            for t in _completions(loop.triggers, list(SMALL.triggers))
            for i in instances
            for s in syncs
        }
        out[role] = "yes" if seen == {True} else "no" if seen == {False} else "unknown"
    return out


def _random_list(rng: random.Random, universe: list[str]) -> Any:
    shape = rng.choice(["unknown", "none", "plain", "partial"])
    if shape == "unknown":
        return UNKNOWN
    if shape == "none":
        return None
    items = rng.sample(universe, rng.randint(0, len(universe)))
    return [*items, UNKNOWN] if shape == "partial" else items


@pytest.mark.parametrize("seed", range(300))
def test_roles_agree_with_every_completion_of_the_answers(seed: int) -> None:
    rng = random.Random(seed)
    loop = Loop(
        id="a",
        actuations=_random_list(rng, list(SMALL.actuations)),
        triggers=_random_list(rng, list(SMALL.triggers)),
        instances=rng.choice([None, UNKNOWN, "once", "per_node", "per_client"]),
    )
    sync = rng.choice(["yes", "no", "unknown"])
    assert graph.roles(loop, SMALL, sync) == _brute(loop, sync)


def test_a_role_matches_what_the_loop_does_whatever_the_word() -> None:
    s = graph.derive(
        make(
            [
                {"id": "kubelet", "actuations": ["restart"], "acts_on": ["api"]},
                {"id": "job-controller", "actuations": ["replace"], "acts_on": ["api"]},
                {"id": "sdk", "actuations": ["retry"], "acts_on": ["api"]},
                {"id": "lb", "actuations": ["eject"], "acts_on": ["api"]},
            ]
        ),
        VOCAB,
    )
    for lid in ("kubelet", "job-controller", "sdk"):
        assert s.roles[lid]["resubmits_work"] == "yes", lid
    assert s.roles["lb"]["resubmits_work"] == "no"
    assert s.roles["lb"]["removes_capacity"] == "yes"
    assert s.roles["lb"]["stops_work"] == "no"


def test_local_protection_needs_a_per_member_loop_and_gang_waiting_a_synchronised_resource() -> (
    None
):
    resources = [{"id": "job", "synchronized": "yes"}, {"id": "pool", "synchronized": "no"}]
    s = graph.derive(
        make(
            [
                {"id": "node-cap", "actuations": ["cap_power"], "instances": "per_node"},
                {"id": "fleet-cap", "actuations": ["cap_power"], "instances": "once"},
                {"id": "cap-unknown", "actuations": ["cap_power"]},
                {"id": "gang", "actuations": ["place"], "acts_on": ["job"]},
                {"id": "plain", "actuations": ["place"], "acts_on": ["pool"]},
                {"id": "somewhere", "actuations": ["place"], "acts_on": UNKNOWN},
            ],
            resources,
        ),
        VOCAB,
    )
    assert s.roles["node-cap"]["protects_locally"] == "yes"
    assert s.roles["fleet-cap"]["protects_locally"] == "no"
    assert s.roles["cap-unknown"]["protects_locally"] == "unknown"
    assert s.roles["gang"]["waits_on_all"] == "yes"
    assert s.roles["plain"]["waits_on_all"] == "no"
    assert s.roles["somewhere"]["waits_on_all"] == "unknown"


def _acts_facts(loops: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    a = make(loops)
    s = graph.derive(a, VOCAB)
    base = facts.build(a, s, VOCAB, "t")
    return {f["loop"]: f for f in base.facts.values() if f["kind"] == "acts"}


def test_one_loop_or_two_on_a_resource_give_the_same_picture_of_it() -> None:
    one = _acts_facts(
        [{"id": "engine", "actuations": ["resize_batch", "preempt"], "acts_on": ["kv"]}]
    )
    two = _acts_facts(
        [
            {"id": "engine", "actuations": ["resize_batch"], "acts_on": ["kv"]},
            {"id": "preemption", "actuations": ["preempt"], "acts_on": ["kv"]},
            {"id": "elsewhere", "actuations": ["evict"], "acts_on": ["other"]},
        ]
    )
    here = [k for k in one["engine"] if k.startswith(("roles_here__", "actuations_here__"))]
    assert here
    assert {k: one["engine"][k] for k in here} == {k: two["engine"][k] for k in here}
    assert two["engine"]["actuations_here__preempt"] == "yes"
    assert two["engine"]["actuations_here__evict"] == "no"
    assert two["elsewhere"]["actuations_here__preempt"] == "no"


def test_a_loop_of_unknown_actuations_on_the_resource_leaves_it_unknown() -> None:
    f = _acts_facts(
        [
            {"id": "engine", "actuations": ["resize_batch"], "acts_on": ["kv"]},
            {"id": "mystery", "actuations": UNKNOWN, "acts_on": ["kv"]},
        ]
    )
    assert f["engine"]["actuations_here__preempt"] == "unknown"
    assert f["engine"]["actuations_here__resize_batch"] == "yes"


def test_roles_must_name_known_words_and_at_least_one_way() -> None:
    data = SMALL.model_dump()
    data["roles"]["typo"] = {"label": "typo", "when": [{"actuations": ["kil"]}]}
    assert (
        "role 'typo' (when[0]) names unknown actuation 'kil'"
        in Vocabulary.model_validate(data).dangling()
    )
    data["roles"]["typo"] = {"label": "typo", "when": []}
    with pytest.raises(ValidationError):
        Vocabulary.model_validate(data)


def test_every_builtin_role_has_a_plain_label_and_help() -> None:
    assert {
        "stops_work",
        "resubmits_work",
        "removes_capacity",
        "adds_capacity",
        "protects_locally",
        "waits_on_all",
        "moves_work",
        "delays_work",
    } <= set(VOCAB.roles)
    for rid, role in VOCAB.roles.items():
        assert role.help and "_" not in role.label, rid
    assert VOCAB.dangling() == []


# A vocabulary whose ways also name layers and resource kinds.
PLACED = Vocabulary.model_validate(
    {
        **SMALL.model_dump(),
        "layers": {"low": {"label": "low"}, "high": {"label": "high"}},
        "resource_kinds": {k: {"label": k} for k in ("box", "engine", "cache")},
        "roles": {
            "stops": {
                "label": "stops",
                "when": [
                    {"actuations": ["kill"], "not_kinds": ["engine", "cache"]},
                    {"actuations": ["kill"], "layers": ["low"]},
                ],
            },
            "inside": {"label": "inside", "when": [{"actuations": ["wait"], "kinds": ["engine"]}]},
        },
    }
)
KINDS = {"b": "box", "e": "engine", "c": "cache"}  # resource id -> kind; "x" is undeclared


def _kind_sets(acts_on: Any) -> list[set[str]]:
    """Every set of kinds a stated, partial or unknown acts_on list may reach."""
    universe = list(PLACED.resource_kinds)
    if not isinstance(acts_on, list):
        return _completions(UNKNOWN, universe)
    choices = [[KINDS[r]] if r in KINDS else universe for r in acts_on if r != UNKNOWN]
    extra = _completions([UNKNOWN] if UNKNOWN in acts_on else [], universe)
    return [set(pick) | more for pick in itertools.product(*choices) for more in extra]


def _placed_brute(loop: Loop) -> dict[str, str]:
    layers = list(PLACED.layers) if loop.layer in (None, UNKNOWN) else [str(loop.layer)]
    out = {}
    for rid, role in PLACED.roles.items():
        seen = {
            any(
                acts & set(way.actuations)
                and (way.layers is None or layer in way.layers)
                and (way.kinds is None or bool(reached & set(way.kinds)))
                and (way.not_kinds is None or bool(reached - set(way.not_kinds)))
                for way in role.when
            )
            for acts in _completions(loop.actuations, list(PLACED.actuations))
            for layer in layers
            for reached in _kind_sets(loop.acts_on)
        }
        out[rid] = "yes" if seen == {True} else "no" if seen == {False} else "unknown"
    return out


@pytest.mark.parametrize("seed", range(300))
def test_roles_by_layer_and_resource_kind_agree_with_every_completion(seed: int) -> None:
    rng = random.Random(seed)
    acts_on: Any = rng.choice(
        [UNKNOWN, None, *[_random_list(rng, ["b", "e", "c", "x"]) for _ in range(4)]]
    )
    loop = Loop(
        id="a",
        actuations=_random_list(rng, ["kill", "wait", "shed"]),
        layer=rng.choice([None, UNKNOWN, "low", "high"]),
        acts_on=acts_on,
    )
    assert graph.roles(loop, PLACED, "unknown", KINDS) == _placed_brute(loop)


def test_a_model_servers_own_preemption_stops_no_work_but_a_cluster_schedulers_does() -> None:
    resources = [{"id": "replicas", "kind": "model_replica"}, {"id": "jobs", "kind": "job"}]
    loop = {"triggers": ["priority_arrival"], "actuations": ["preempt"]}
    s = graph.derive(
        make(
            [
                {"id": "engine", "layer": "model", "acts_on": ["replicas"], **loop},
                {"id": "pods", "layer": "scheduler", "acts_on": ["replicas"], **loop},
                {"id": "queue", "layer": "model", "acts_on": ["jobs"], **loop},
                {"id": "unsaid", "acts_on": ["replicas"], **loop},
            ],
            resources,
        ),
        VOCAB,
    )
    for role in ("stops_work", "removes_capacity", "disrupts_work"):
        assert s.roles["engine"][role] == "no", role
        assert s.roles["pods"][role] == "yes", role
        assert s.roles["queue"][role] == "yes", role
        assert s.roles["unsaid"][role] == "unknown", role


def test_role_ways_must_name_known_layers_and_kinds() -> None:
    data = PLACED.model_dump()
    data["roles"]["typo"] = {
        "label": "typo",
        "when": [{"actuations": ["kill"], "layers": ["lwo"], "not_kinds": ["engin"]}],
    }
    problems = Vocabulary.model_validate(data).dangling()
    assert "role 'typo' (when[0]) names unknown layer 'lwo'" in problems
    assert "role 'typo' (when[0]) names unknown resource kind 'engin'" in problems
