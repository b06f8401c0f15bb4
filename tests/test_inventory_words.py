"""The inventory speaks the vocabulary's words, not its ids: resource kinds by their labels,
and a list answered in part with its known members labelled."""

from __future__ import annotations

from pathlib import Path

from expert.analysis.assess import Assessor, load_assessment
from expert.analysis.plainwords import value_words
from expert.deliverables import inventory
from expert.knowledge import knowledgebase as knowledge

EXAMPLE = Path(__file__).resolve().parent.parent / "expert" / "examples" / "llm-platform.yaml"


def test_resource_kinds_and_partial_lists_read_as_words() -> None:
    kb = knowledge.load()
    a = load_assessment(EXAMPLE, kb)
    with Assessor(kb) as ax:
        r = ax.assess(a, deliverables=False)
    inv = inventory.build(a, kb, r.findings)
    kinds = {res.id: res.kind for res in inv.resources}
    assert kinds["vllm-replicas"] == "model server replica"
    assert "_" not in "".join(kinds.values())
    envoy = next(lp for layer in inv.layers for lp in layer.loops if lp.id == "gateway-retries")
    retries_on = next(f for f in envoy.fields if f.field == "retry.retries_on")
    assert retries_on.value.startswith("transient errors"), retries_on.value
    assert retries_on.value.endswith("unknown")


def test_a_partly_known_list_keeps_its_labels() -> None:
    kb = knowledge.load()
    assert value_words(kb, "transient, unknown").endswith(", unknown")
    assert not value_words(kb, "transient, unknown").startswith("transient,")


def test_resource_rows_name_callees_and_say_what_was_not_asked() -> None:
    """Calls read as the callees' names; a question not asked of a kind (whether a service's
    members run in lockstep) reads "does not apply", not "not answered"; and a resource with
    no calls given is not said to call nothing, since the file cannot tell the two apart."""
    kb = knowledge.load()
    a = load_assessment(EXAMPLE, kb)
    with Assessor(kb) as ax:
        r = ax.assess(a)
    assert r.inventory is not None
    rows = {res.id: res for res in r.inventory.resources}
    assert rows["inference-gateway"].calls == "vLLM model servers"
    assert rows["inference-gateway"].synchronized == "does not apply"
    assert rows["gpu-pool"].synchronized == "not answered"  # asked of a pool, never answered
    assert rows["vllm-replicas"].synchronized == "no"
    assert rows["gpu-pool"].calls == "none named"


def test_a_knowledge_base_questions_answer_reads_as_its_choice() -> None:
    """An answer stored under answers.<question> reads as the choice the interview offered,
    not the id the file keeps; "unknown" and "does not apply" stay as they are."""
    kb = knowledge.load()
    a = load_assessment(EXAMPLE, kb)
    hpa = next(lp for lp in a.loops if lp.id == "replica-hpa")
    assert hpa.answers["scaler-metric"] == "gpu_utilization"
    other = hpa.model_copy(update={"id": "other-hpa", "answers": {"scaler-metric": "unknown"}})
    none = hpa.model_copy(
        update={"id": "none-hpa", "answers": {}, "not_applicable": ["answers.scaler-metric"]}
    )
    words = {
        lp.id: next(f for f in inventory.loop_fields(lp, kb) if f.field == "answers.scaler-metric")
        for lp in (hpa, other, none)
    }
    assert words["replica-hpa"].value == "GPU utilisation (time a kernel was running)"
    assert words["replica-hpa"].label == "scales on"
    assert words["other-hpa"].value == "unknown"
    assert words["other-hpa"].state == "unknown"
    assert words["none-hpa"].value == "does not apply"
