"""The `waits` fact: a loop with a deadline and each resource further down its call path that
some loop acts on, so a timeout in front of a service can be compared with what happens
behind it (a gateway's request timeout against a model server's cold start)."""

from __future__ import annotations

from expert.analysis import facts as facts_mod
from expert.analysis import graph
from expert.assessment.model import Assessment
from tests.helpers import builtin_kb, keda_to_zero, make


def _platform(deadline: str | None = "60s") -> Assessment:
    gateway = {
        "id": "gw",
        "triggers": ["timeout"],
        "actuations": ["terminate"],
        "acts_on": ["edge"],
    }
    if deadline is not None:
        gateway["deadline"] = deadline
    return make(
        [
            gateway,
            {"id": "keda", "actuations": ["scale_out", "scale_in"], "acts_on": ["llm"]},
            {"id": "cache", "actuations": ["throttle"], "acts_on": ["kv"]},
        ],
        [
            {"id": "edge", "kind": "service", "calls": ["router"]},
            {"id": "router", "kind": "service", "calls": ["llm"]},
            {"id": "llm", "kind": "model_replica", "startup_time": "4m"},
            {"id": "kv", "kind": "kv_cache"},
        ],
    )


def test_a_deadline_waits_on_every_acted_on_resource_down_its_path() -> None:
    kb = builtin_kb()
    s = graph.derive(_platform(), kb.vocabulary)
    # through the router, which no loop acts on; not the KV cache, which it does not call
    assert s.waits == [("gw", "llm")]
    base = facts_mod.build(_platform(), s, kb.vocabulary, "t", kb.answer_fields())
    (fact,) = [f for f in base.facts.values() if f["kind"] == "waits"]
    assert fact["loop"] == "gw" and fact["resource"] == "llm"
    assert (fact["deadline_vs_startup_lo"], fact["deadline_vs_startup_hi"]) == (25, 25)
    assert fact["triggers__timeout"] == "yes"
    assert base.loops_of[fact["id"]] == ["gw"]


def test_a_loop_without_a_deadline_waits_on_nothing() -> None:
    s = graph.derive(_platform(deadline=None), builtin_kb().vocabulary)
    assert s.waits == []


def test_an_unknown_trigger_of_a_waiting_loop_reads_as_a_sentence_not_a_field() -> None:
    from expert.analysis.assess import Assessor

    a = make(
        [
            keda_to_zero(),
            {
                "id": "gw",
                "name": "Gateway timeout",
                "actuations": ["terminate"],
                "acts_on": ["edge"],
                "deadline": "60s",
            },
        ],
        [
            {"id": "edge", "kind": "service", "calls": ["llm"]},
            {"id": "llm", "kind": "model_replica", "startup_time": "3m"},
        ],
    )
    with Assessor(builtin_kb()) as assessor:
        results = assessor.assess(a, deliverables=False)
    (f,) = [f for f in results.findings if f.rule == "scale-from-zero-vs-request-timeout"]
    said = [b.said for b in f.because if b.field == "waits.triggers"]
    assert said == ["Gateway timeout acts when: not known"]
