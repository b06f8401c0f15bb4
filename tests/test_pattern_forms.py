"""A pattern's `forms`: one mechanism matched on other facts (autoscaling on utilisation that
batching distorts, or that falls while the service waits on its calls). Each form compiles to
its own rules, explains with its own narrative, and its findings are the pattern's; what the
forms share (clears, asks, escalations) must name variables every form binds."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from expert.analysis.assess import Assessor
from expert.assessment.model import Assessment
from expert.engine.compiler import compile_kb
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.casetest import diagnose
from expert.knowledge.conditions import check_pattern
from expert.knowledge.patterns import Pattern
from tests.helpers import keda_to_zero

PID = "autoscale-on-distorted-metric"


def _web_tier(metric: str = "cpu_utilization", calls: bool = True) -> Assessment:
    return Assessment.model_validate(
        {
            "schema_version": 1,
            "system": {"name": "web"},
            "resources": [
                {
                    "id": "web",
                    "kind": "service",
                    "name": "Web tier",
                    **({"calls": ["db"]} if calls else {}),
                },
                {"id": "db", "kind": "service", "name": "Database"},
            ],
            "loops": [
                {
                    "id": "hpa",
                    "name": "Web autoscaler",
                    "triggers": ["threshold"],
                    "actuations": ["scale_out", "scale_in"],
                    "acts_on": ["web"],
                    "answers": {"scaler-metric": metric},
                }
            ],
        }
    )


def test_each_form_compiles_to_its_own_rules_of_the_one_pattern() -> None:
    kb = knowledge.load()
    p = kb.patterns[PID]
    assert [f.name for f in p.forms] == ["waits-on-calls"]
    variants = p.variants()
    assert len(variants) == 2 and variants[0] is p
    assert {v.id for v in variants} == {PID}
    assert "service" in variants[1].match and "service" not in p.match
    compiled = compile_kb(kb)
    forms = {m.form for name, m in compiled.meta.items() if m.pattern == PID}
    assert forms == {0, 1}
    assert all(
        name.startswith(f"{PID}~1#") == (m.form == 1)
        for name, m in compiled.meta.items()
        if m.pattern == PID
    )


def test_the_second_form_finds_the_pattern_and_tells_it_in_its_own_words() -> None:
    kb = knowledge.load()
    ax = Assessor(kb)
    try:
        results = ax.assess(_web_tier())
        quiet = ax.assess(_web_tier(calls=False))
        memory = ax.assess(_web_tier(metric="memory"))
    finally:
        ax.close()
    (f,) = [f for f in results.findings if f.rule == PID]
    assert f.status == "confirmed" and f.loops == ["hpa"]
    assert f.title == kb.patterns[PID].title
    assert "Web tier waits on calls to other services" in f.narrative
    assert "Web autoscaler" in f.narrative and "{" not in f.narrative
    said = [b.said for b in f.because]
    assert "Web tier calls other services and waits on their answers" in said
    # The shared clearing conditions name the form's own loop.
    assert f.would_clear_if[0].startswith("Web autoscaler scaled on a signal that follows demand")
    assert not [f for f in quiet.findings if f.rule == PID]
    assert not [f for f in memory.findings if f.rule == PID]


def test_diagnose_names_each_form() -> None:
    kb = knowledge.load()
    lines = diagnose(kb.patterns[PID], _web_tier(metric="memory"), kb)
    assert any(line.startswith("form first: ") for line in lines)
    assert any(line.startswith("form waits-on-calls: scaler:") for line in lines)


def _with_forms(forms: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    data = knowledge.load().patterns[PID].model_dump(by_alias=True, exclude_none=True)
    data.update(forms=forms, **changes)
    return data


_SERVICE_FORM = {
    "name": "waits",
    "match": {
        "scaler": {"fact": "loop", "where": [{"field": "actuations", "has": "scale_in"}]},
        "acts": {"fact": "acts", "where": [{"field": "loop", "same_as": "scaler.id"}]},
    },
    "narrative": "{scaler.name} sizes {acts.resource}.",
}


@pytest.mark.parametrize(
    ("forms", "changes", "message"),
    [
        ([_SERVICE_FORM, _SERVICE_FORM], {}, "each of a pattern's `forms` needs its own name"),
        ([_SERVICE_FORM], {"kind": "auditability"}, "only an incoherence pattern"),
        (
            [{**_SERVICE_FORM, "match": {f"v{i}": {"fact": "loop"} for i in range(4)}}],
            {},
            "forms[0] (waits): a pattern may match at most 3 facts",
        ),
    ],
)
def test_the_model_refuses_forms_it_cannot_use(
    forms: list[dict[str, Any]], changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Pattern.model_validate(_with_forms(forms, **changes))


def test_a_form_must_bind_what_the_shared_asks_name() -> None:
    kb = knowledge.load()
    form = {**_SERVICE_FORM, "match": {"hpa": _SERVICE_FORM["match"]["scaler"]}}
    form["narrative"] = "{hpa.name} scales."
    p = Pattern.model_validate(_with_forms([form]))
    first, second = (
        check_pattern(v, kb.vocabulary, kb.answer_fields(), set(kb.patterns)) for v in p.variants()
    )
    assert first == []
    assert "asks: 'scaler' is not a matched loop" in second


def test_two_forms_on_one_scaler_make_one_finding_as_the_oracle_says() -> None:
    """A model server both batching its GPU and waiting on a service it calls: the scaler is
    misled twice over, and the report says so once."""
    from tests import oracle
    from tests.test_fuzz_engine import check_against_oracle

    a = Assessment.model_validate(
        {
            "schema_version": 1,
            "system": {"name": "both"},
            "resources": [
                {"id": "vllm", "kind": "model_replica", "calls": ["retrieval"]},
                {"id": "retrieval", "kind": "service"},
            ],
            "loops": [
                {
                    "id": "hpa",
                    "triggers": ["threshold"],
                    "actuations": ["scale_out", "scale_in"],
                    "acts_on": ["vllm"],
                    "answers": {"scaler-metric": "gpu_utilization"},
                },
                {
                    "id": "batching",
                    "layer": "model",
                    "triggers": ["queue_depth"],
                    "actuations": ["resize_batch"],
                    "acts_on": ["vllm"],
                },
            ],
        }
    )
    kb = knowledge.load()
    ax = Assessor(kb)
    try:
        results = ax.assess(a)
        want: oracle.Expected = check_against_oracle(ax, a)
    finally:
        ax.close()
    found = [f for f in results.findings if f.rule == PID]
    assert [(f.loops, f.status) for f in found] == [(["batching", "hpa"], "confirmed")]
    assert "side effect" in found[0].narrative  # the first form explains it
    assert [fid for fid, rule in want.rule.items() if rule == PID] == [found[0].id]


def test_matches_of_two_forms_on_one_resource_group_into_one_finding() -> None:
    """A timeout on the model server itself (the first form) and a gateway's timeout up the
    call path (the second) both cut off the cold start of one scaled-to-zero server: one
    finding naming both, each match read in its own form's variables."""
    from tests.test_fuzz_engine import check_against_oracle

    a = Assessment.model_validate(
        {
            "schema_version": 1,
            "system": {"name": "cold"},
            "resources": [
                {"id": "gw", "kind": "service", "calls": ["llm"]},
                {"id": "llm", "kind": "model_replica", "startup_time": "3m"},
            ],
            "loops": [
                keda_to_zero(),
                {
                    "id": "interceptor",
                    "triggers": ["timeout"],
                    "actuations": ["terminate"],
                    "acts_on": ["llm"],
                    "deadline": "30s",
                },
                {
                    "id": "gateway",
                    "triggers": ["timeout"],
                    "actuations": ["terminate"],
                    "acts_on": ["gw"],
                    "deadline": "60s",
                },
            ],
        }
    )
    ax = Assessor(knowledge.load())
    try:
        results = ax.assess(a)
        check_against_oracle(ax, a)
    finally:
        ax.close()
    (f,) = [f for f in results.findings if f.rule == "scale-from-zero-vs-request-timeout"]
    assert f.loops == ["gateway", "interceptor", "keda"]
    assert sorted(m.loops for m in f.members) == [["gateway", "keda"], ["interceptor", "keda"]]
    assert {m.resource for m in f.members} == {"llm"}


def test_each_form_makes_its_own_terms_of_the_shared_escalation_comparisons() -> None:
    """An escalation's comparison becomes a term on the fact that hosts it, which differs
    between forms (a pair in one, an edge in another): a form must not inherit the first
    form's term on a variable it does not bind."""
    kb = knowledge.load()
    data = kb.patterns["pod-hold-outlasts-node-removal"].model_dump(
        by_alias=True, exclude_none=True
    )
    for fm in data["match"].values():  # back to the shape the file has
        fm["where"] = [t for t in fm["where"] if not t["field"].startswith("compare.")]
    for esc in data["escalate"]:
        esc["when"] = {}
    data["forms"] = [
        {
            "name": "via-edge",
            "match": {
                "podscaler": data["match"]["podscaler"],
                "nodescaler": data["match"]["nodescaler"],
                "edge": {
                    "fact": "edge",
                    "where": [
                        {"field": "source", "same_as": "nodescaler.id"},
                        {"field": "target", "same_as": "podscaler.id"},
                    ],
                },
            },
            "narrative": "{podscaler.name} and {nodescaler.name} on {edge.resource}.",
        }
    ]
    first, second = Pattern.model_validate(data).variants()
    assert list(first.escalate[0].when) == ["pair"]
    assert list(second.escalate[0].when) == ["edge"]
    for v in (first, second):
        assert check_pattern(v, kb.vocabulary, kb.answer_fields(), set(kb.patterns)) == []
