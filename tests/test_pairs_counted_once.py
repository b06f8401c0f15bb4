"""One pattern between the same loops is one conflict, however many resources it is seen on:
a restart a client sees on the servers it calls, and again through the gateway in front of
them, is reported, counted and priced once, on the resource both loops act on themselves."""

from __future__ import annotations

from typing import Any

from expert.analysis.assess import Assessor
from tests.helpers import builtin_kb, make

RESOURCES = [
    {"id": "gateway", "kind": "service", "calls": ["servers"]},
    {"id": "servers", "kind": "model_replica"},
]


def _loops(client_acts_on: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "id": "client-retries",
            "layer": "runtime",
            "triggers": ["failure", "timeout"],
            "actuations": ["retry"],
            "acts_on": client_acts_on,
            "instances": "per_client",
            "retry": {"max_retries": 2, "retries_on": ["transient", "timeout"]},
        },
        {
            "id": "liveness",
            "layer": "orchestration",
            "triggers": ["health_check"],
            "actuations": ["restart"],
            "acts_on": ["servers"],
            "instances": "per_replica",
        },
        {
            "id": "gateway-timeout",
            "layer": "safety",
            "triggers": ["timeout"],
            "actuations": ["terminate"],
            "acts_on": ["gateway"],
            "deadline": "60s",
        },
    ]


def _shutdown_findings(client_acts_on: list[str]) -> dict[str, Any]:
    with Assessor(builtin_kb()) as ax:
        r = ax.assess(make(_loops(client_acts_on), RESOURCES))
    return {f.id: f for f in r.findings if f.rule == "shutdown-vs-retry"}


def test_a_pair_seen_on_two_resources_is_one_finding_on_the_one_both_act_on() -> None:
    found = _shutdown_findings(["gateway", "servers"])
    pairs = {
        fid: {tuple(m.loops) for m in f.members} or {tuple(f.loops)} for fid, f in found.items()
    }
    # The restart reaches the client on the servers and, through the call, on the gateway.
    holding = [fid for fid, ps in pairs.items() if ("client-retries", "liveness") in ps]
    assert holding == ["shutdown-vs-retry@servers"], pairs
    narrative = found["shutdown-vs-retry@servers"].narrative
    assert "also seen on gateway" in narrative
    # The gateway's own timeout against the client stays on the gateway.
    assert ("client-retries", "gateway-timeout") in pairs["shutdown-vs-retry@gateway"]


def test_a_pair_seen_on_one_resource_is_unchanged() -> None:
    found = _shutdown_findings(["servers"])
    assert "shutdown-vs-retry@servers" in found
    assert "also seen on" not in found["shutdown-vs-retry@servers"].narrative
