"""Feedback cycles are classified once, in graph.py, from the directions the vocabulary gives
the signals on their hops: the `cycle` facts the rules read and the risk map the reports
draw carry the same kind. A pack may give its own signals a direction, and only one of the
two the classification knows."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from expert.analysis import facts, graph
from expert.analysis.assess import Assessor
from expert.analysis.results import CycleOut
from expert.assessment.fields import FACT_KINDS
from expert.assessment.vocabulary import CYCLE_KINDS
from expert.deliverables import riskmap
from expert.errors import InputError
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.lint import lint
from tests.helpers import builtin_kb, make

THROTTLE_AND_BACKFILL = [
    {"id": "throttle", "actuations": ["throttle"], "triggers": ["rate_limit"], "acts_on": ["gpus"]},
    {
        "id": "backfill",
        "actuations": ["backfill"],
        "triggers": ["idle_capacity"],
        "acts_on": ["gpus"],
    },
]
REJECT_AND_RETRIES = [
    {"id": "limiter", "actuations": ["reject"], "triggers": ["rate_limit"], "acts_on": ["api"]},
    {"id": "retrier", "actuations": ["retry"], "triggers": ["failure"], "acts_on": ["api"]},
]
SCALE_IN_AND_RETRIES = [
    {"id": "scaler", "actuations": ["scale_in"], "triggers": ["threshold"], "acts_on": ["api"]},
    {"id": "retrier", "actuations": ["retry"], "triggers": ["failure"], "acts_on": ["api"]},
]


def _facts_and_map(loops: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
    vocab = builtin_kb().vocabulary
    a = make(loops)
    s = graph.derive(a, vocab)
    base = facts.build(a, s, vocab, "test")
    cycle_facts = [f for f in base.facts.values() if f["kind"] == "cycle"]
    return cycle_facts, riskmap.build(a, s, []).cycles


@pytest.mark.parametrize(
    ("loops", "kind", "amplifying"),
    [(THROTTLE_AND_BACKFILL, "oscillating", "no"), (REJECT_AND_RETRIES, "amplifying", "yes")],
    ids=["throttle-vs-backfill", "reject-vs-retries"],
)
def test_the_rules_and_the_map_see_one_kind(
    loops: list[dict[str, Any]], kind: str, amplifying: str
) -> None:
    (fact,) = _facts_and_map(loops)[0]
    (drawn,) = _facts_and_map(loops)[1]
    assert fact["cycle_kind"] == drawn.kind == kind
    assert fact["amplifying"] == amplifying
    assert drawn.amplifying == (amplifying == "yes")


def test_a_scale_in_does_not_answer_the_load_retries_add() -> None:
    # Retries raise the load a threshold scaler reads, and the tasks its scale-in ends are
    # retried: but a scaler scales in on falling load, not rising, so no cycle runs through
    # both (the map used to draw one, amplifying). With a scale-out it answers rising load,
    # and what that produces (capacity, a lower load per replica) does not feed the retries.
    vocab = builtin_kb().vocabulary
    assert graph.derive(make(SCALE_IN_AND_RETRIES), vocab).cycles == []
    both = [{**SCALE_IN_AND_RETRIES[0], "actuations": ["scale_out", "scale_in"]}]
    assert graph.derive(make(both + SCALE_IN_AND_RETRIES[1:]), vocab).cycles == []
    # A stated effect stands, whatever causes it.
    stated = [{**SCALE_IN_AND_RETRIES[0], "changes": ["task_terminated"]}]
    assert len(graph.derive(make(stated + SCALE_IN_AND_RETRIES[1:]), vocab).cycles) == 1


def test_throttle_against_backfill_is_no_longer_called_amplifying() -> None:
    # A load increase on one hop used to make the whole cycle amplifying; the throttle's
    # idle capacity relieves, so the loops pull the GPUs back and forth instead.
    vocab = builtin_kb().vocabulary
    (cyc,) = graph.derive(make(THROTTLE_AND_BACKFILL), vocab).cycles
    hops = dict(zip(cyc.loops, zip(cyc.directions, cyc.signals, strict=True), strict=True))
    assert hops == {
        "throttle": ("relieves", "idle_capacity"),
        "backfill": ("reinforces", "load_increase"),
    }
    assert cyc.kind == "oscillating" and cyc.amplifying == "no"


def test_amplifying_stays_open_only_where_a_hop_of_no_direction_could_make_it_so() -> None:
    assert graph.Cycle(["a", "b"], ["reinforces", None]).amplifying == "unknown"
    assert graph.Cycle(["a", "b"], [None, None]).amplifying == "unknown"
    assert graph.Cycle(["a", "b"], ["relieves", None]).amplifying == "no"
    assert graph.Cycle(["a", "b"], ["relieves", "relieves"]).amplifying == "no"
    assert graph.Cycle(["a", "b"], ["reinforces", "reinforces"]).amplifying == "yes"


def test_every_kind_the_classifier_gives_is_one_the_results_and_rules_know() -> None:
    assert get_args(CycleOut.model_fields["kind"].annotation) == CYCLE_KINDS
    (spec,) = [f for f in FACT_KINDS["cycle"] if f.name == "kind"]
    assert spec.values == CYCLE_KINDS


def test_directions_come_from_the_vocabulary() -> None:
    vocab = builtin_kb().vocabulary
    directions = {sid: s.direction for sid, s in vocab.signals.items()}
    assert directions["load_increase"] == "reinforces"
    assert directions["idle_capacity"] == "relieves"
    # Utilisation moving can mean more or less load: such a hop settles nothing.
    assert directions["utilization_change"] is None
    # Swapping a signal's direction in the data changes the cycle's kind, with no code.
    swapped = vocab.model_copy(deep=True)
    swapped.signals["idle_capacity"].direction = "reinforces"
    assert graph.classify([["idle_capacity"], ["load_increase"]], vocab) == "oscillating"
    assert graph.classify([["idle_capacity"], ["load_increase"]], swapped) == "amplifying"


def _pack(tmp_path: Path, signals: str) -> Path:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "vocabulary.yaml").write_text(f"signals:\n{signals}", encoding="utf-8")
    return pack


def test_a_pack_signal_with_a_direction_classifies_cycles(tmp_path: Path) -> None:
    pack = _pack(tmp_path, '  acme_quota_cut: {label: "quota cut", direction: relieves}\n')
    vocab = knowledge.load([pack]).vocabulary
    assert graph.classify([["acme_quota_cut"], ["load_increase"]], vocab) == "oscillating"
    # Without the pack the signal is unknown, so its hop settles nothing.
    assert graph.classify([["acme_quota_cut"], ["load_increase"]], builtin_kb().vocabulary) == (
        "unclassified"
    )


def test_a_pack_signal_with_another_direction_is_refused(tmp_path: Path) -> None:
    pack = _pack(tmp_path, '  acme_drift: {label: "drift", direction: sideways}\n')
    with pytest.raises(InputError) as exc:
        knowledge.load([pack])
    text = str(exc.value)
    assert "vocabulary.yaml" in text and "acme_drift" in text
    assert "'reinforces'" in text and "'relieves'" in text


def test_a_rule_reads_the_kind_the_map_draws(tmp_path: Path) -> None:
    pattern = {
        "id": "acme-oscillating-cycle",
        "kind": "incoherence",
        "title": "Loops pulling one resource back and forth",
        "summary": "Two loops undo each other on one resource.",
        "mechanism": "One loop relieves what the other reinforces.",
        "severity": "low",
        "match": {"c": {"fact": "cycle", "where": [{"field": "kind", "is": "oscillating"}]}},
        "narrative": "{c.first} and the loops after it pull the resource back and forth.",
        "sources": [{"title": "Issue 18", "url": "https://example.org/issue-18"}],
    }
    pack = tmp_path / "pack"
    (pack / "patterns" / "incoherence").mkdir(parents=True)
    (pack / "patterns" / "incoherence" / "acme-oscillating-cycle.yaml").write_text(
        yaml.safe_dump(pattern), encoding="utf-8"
    )
    with Assessor(knowledge.load([pack])) as ax:
        for loops, fires in ((THROTTLE_AND_BACKFILL, True), (REJECT_AND_RETRIES, False)):
            results = ax.assess(make(loops))
            found = [f for f in results.findings if f.rule == "acme-oscillating-cycle"]
            assert bool(found) == fires
            kinds = {c.kind for c in results.risk_map.cycles}
            assert kinds == {"oscillating" if fires else "amplifying"}
        # Any other value is refused by kb lint, naming the four.
        pattern["match"]["c"]["where"] = [{"field": "kind", "is": "oscilating"}]
        (pack / "patterns" / "incoherence" / "acme-oscillating-cycle.yaml").write_text(
            yaml.safe_dump(pattern), encoding="utf-8"
        )
    (vocabulary,) = [r for r in lint([pack]) if r.name == "vocabulary"]
    assert [p.message for p in vocabulary.problems] == [
        "match.c.where[0]: 'kind' has no value 'oscilating' (did you mean 'oscillating'?); "
        "known: amplifying, damping, "
        "oscillating, unclassified, unknown"
    ]
