"""Masks (a loop hides, delays or averages away a signal another loop reads): stated in an
assessment or implied by retries upstream of a failure-rate reader; validated with the
place of each mistake; matched by patterns as `mask` facts. Also: a pack's vocabulary adds
terms only, and narratives show a resource's name rather than its id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from expert.analysis import graph
from expert.assessment import model as assessment
from expert.assessment.masking import Mask
from expert.cli.main import main
from expert.errors import InputError
from expert.knowledge import knowledgebase as knowledge
from tests.helpers import builtin_kb, make

PACK = Path(__file__).parent / "packs" / "example-delivery"
GATE = {
    "id": "canary",
    "triggers": ["deployment", "error_rate"],
    "actuations": ["route", "gate"],
    "acts_on": ["checkout"],
}


def _masks(loops: list[dict[str, Any]], resources: list[dict[str, Any]] | None = None) -> list:
    a = make(loops, resources)
    return graph.derive(a, builtin_kb().vocabulary).masks


def test_a_stated_mask_names_its_reader_and_is_stated() -> None:
    retries = {
        "id": "retries",
        "actuations": ["retry"],
        "acts_on": ["checkout"],
        "masks": [{"signal": "task_failure", "how": "hides", "readers": ["canary"]}],
    }
    assert _masks([GATE, retries]) == [
        Mask("retries", "canary", "task_failure", "hides", "checkout", "yes")
    ]


def test_a_stated_mask_without_readers_reaches_every_reader_of_the_signal() -> None:
    cache = {
        "id": "cache",
        "actuations": ["route"],
        "acts_on": ["api"],
        "masks": [{"signal": "instance_unhealthy", "how": "hides"}],
    }
    probe = {"id": "probe", "triggers": ["health_check"], "actuations": ["restart"]}
    masks = _masks(
        [cache, {**probe, "acts_on": ["backend"]}, {**GATE, "acts_on": ["other"]}],
        [{"id": "api", "calls": ["backend"]}, {"id": "backend"}, {"id": "other"}],
    )
    assert masks == [Mask("cache", "probe", "instance_unhealthy", "hides", "backend", "yes")]


def test_retries_upstream_of_an_error_rate_reader_imply_a_possible_mask() -> None:
    retries = {"id": "gw-retries", "actuations": ["retry"], "acts_on": ["gateway"]}
    resources = [{"id": "gateway", "calls": ["checkout"]}, {"id": "checkout"}]
    assert _masks([GATE, retries], resources) == [
        Mask("gw-retries", "canary", "task_failure", "hides", "checkout", "unknown")
    ]
    # Below the reader, the retries see failures the reader has already counted.
    below = [{"id": "checkout", "calls": ["db"]}, {"id": "db"}]
    assert _masks([GATE, {**retries, "acts_on": ["db"]}], below) == []


def test_retried_failure_classes_decide_which_signal_is_hidden() -> None:
    reader = {**GATE, "triggers": ["deployment", "error_rate"]}
    retries = {
        "id": "r",
        "actuations": ["retry"],
        "acts_on": ["checkout"],
        "retry": {"retries_on": ["rate_limited"]},
    }
    assert [m.signal for m in _masks([reader, retries])] == ["rejection"]
    assert _masks([reader, {**retries, "retry": {"retries_on": []}}]) == []


def test_an_empty_masks_list_states_that_nothing_is_masked() -> None:
    retries = {"id": "retries", "actuations": ["retry"], "acts_on": ["checkout"], "masks": []}
    assert _masks([GATE, retries]) == []


@pytest.mark.parametrize(
    ("entry", "place", "message"),
    [
        ({"signal": "failures", "how": "hides"}, "masks[0].signal", "unknown signal 'failures'"),
        ({"signal": "task_failure", "how": "hide"}, "masks[0].how", "did you mean 'hides'"),
        (
            {"signal": "task_failure", "how": "hides", "readers": ["canery"]},
            "masks[0].readers[0]",
            "readers names loop 'canery', which is not declared",
        ),
        (
            {"signal": "task_failure", "how": "hides", "readers": ["retries"]},
            "masks[0].readers[0]",
            "cannot mask a signal from itself",
        ),
    ],
)
def test_a_mistake_in_masks_names_its_place(entry: dict, place: str, message: str) -> None:
    retries = {"id": "retries", "actuations": ["retry"], "acts_on": ["checkout"], "masks": [entry]}
    with pytest.raises(InputError) as exc:
        make([GATE, retries])
    text = str(exc.value)
    assert f"loops[1] (id retries).{place}" in text and message in text


def test_the_canary_pattern_fires_confirmed_on_a_stated_mask_and_names_the_resource(
    tmp_path: Path,
) -> None:
    platform = tmp_path / "platform.yaml"
    platform.write_text(
        """schema_version: 1
system: {name: shop}
resources: [{id: checkout, kind: service, name: Checkout API}]
loops:
  - {id: canary, name: Checkout canary, triggers: [deployment, error_rate],
     actuations: [route, gate], acts_on: [checkout]}
  - {id: retries, name: Mesh retries, triggers: [failure], actuations: [retry],
     acts_on: [checkout], masks: [{signal: task_failure, how: hides, readers: [canary]}]}
""",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["assess", str(platform), "--format", "json"])
    assert result.exit_code == 0, result.output
    findings = {f["id"]: f for f in json.loads(result.output)["findings"]}
    found = findings["retries-mask-canary-signal:canary+retries"]
    assert found["status"] == "confirmed"
    assert "Checkout API" in found["narrative"] and "checkout " not in found["narrative"]


# -- vocabulary in packs


def _pack(tmp_path: Path, vocabulary: str) -> Path:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "vocabulary.yaml").write_text(vocabulary, encoding="utf-8")
    return pack


def test_a_pack_may_not_redefine_a_built_in_term(tmp_path: Path) -> None:
    pack = _pack(tmp_path, 'actuations:\n  promote: {label: "x"}\n  retry: {label: "mine"}\n')
    with pytest.raises(InputError) as exc:
        knowledge.load([pack])
    text = str(exc.value)
    assert "vocabulary.yaml:3 (actuations.retry)" in text
    assert "actuations term 'retry' is already defined by" in text


def test_two_packs_may_not_define_the_same_term(tmp_path: Path) -> None:
    first = _pack(tmp_path, 'signals:\n  acme_drift: {label: "drift"}\n')
    second = tmp_path / "second"
    second.mkdir()
    (second / "vocabulary.yaml").write_text(
        'signals:\n  acme_drift: {label: "again"}\n', encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"already defined by .*pack.*vocabulary\.yaml"):
        knowledge.load([first, second])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("settings: {max_cycle_length: 3}\n", "cannot change the vocabulary's settings"),
        ("actuation:\n  promote: {label: x}\n", "'actuation' is not a vocabulary section"),
        ("layers: [mine]\n", "vocabulary section 'layers' cannot be replaced"),
    ],
)
def test_a_pack_vocabulary_only_adds_terms(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        knowledge.load([_pack(tmp_path, text)])


def test_the_example_pack_adds_actuations_and_a_role() -> None:
    kb = knowledge.load([PACK])
    assert {"promote", "roll_back"} <= set(kb.vocabulary.actuations)
    assert "acme_ships_versions" in kb.vocabulary.roles
    assert "promote" not in builtin_kb().vocabulary.actuations


def test_assess_with_the_example_pack_uses_its_terms() -> None:
    platform = str(PACK / "platform.yaml")
    refused = CliRunner().invoke(main, ["assess", platform])
    assert refused.exit_code == 2 and "unknown actuation 'promote'" in refused.output
    result = CliRunner().invoke(main, ["assess", platform, "--kb", str(PACK), "-f", "json"])
    assert result.exit_code == 0, result.output
    ids = [f["id"] for f in json.loads(result.output)["findings"]]
    assert "acme-promotion-behind-retries:release-bot+sdk-retries" in ids


def test_a_retry_layer_hides_nothing_from_another_that_reacts_to_each_failure() -> None:
    """Client retries above a gateway's retries: the gateway retries each failed attempt as it
    happens, before the client sees it, so nothing is kept from it (it judges no rate)."""
    client = {"id": "sdk", "actuations": ["retry"], "triggers": ["failure"], "acts_on": ["api"]}
    gateway = {"id": "envoy", "actuations": ["retry"], "triggers": ["failure"], "acts_on": ["gw"]}
    resources = [{"id": "api", "calls": ["gw"]}, {"id": "gw"}]
    assert _masks([client, gateway], resources) == []
    # A gate judging the error rate there is still read through the client's retries.
    gate = {**GATE, "acts_on": ["gw"]}
    assert [m.target for m in _masks([client, gate], resources)] == ["canary"]


def test_a_pack_trigger_marked_as_judging_is_read_through_retries(tmp_path: Path) -> None:
    """Which triggers decide on an aggregate (and so see what retries have cleaned) is the
    vocabulary's `judges`, so a pack's own trigger can say it too."""
    pack = _pack(
        tmp_path,
        "triggers:\n"
        '  acme_slo_burn: {label: "an error budget burns", reacts_to: [task_failure], '
        "judges: true}\n"
        '  acme_each_error: {label: "each error", reacts_to: [task_failure]}\n',
    )
    vocab = knowledge.load([pack]).vocabulary
    retries = {"id": "sdk", "actuations": ["retry"], "acts_on": ["api"]}
    resources = [{"id": "api", "calls": ["gw"]}, {"id": "gw"}]
    for trigger, readers in (("acme_slo_burn", ["slo-gate"]), ("acme_each_error", [])):
        gate = {"id": "slo-gate", "triggers": [trigger], "actuations": ["gate"], "acts_on": ["gw"]}
        data = {"schema_version": 1, "system": {"name": "t"}, "loops": [retries, gate]}
        a = assessment.validate({**data, "resources": resources}, vocab, "<test>")
        masks = graph.derive(a, vocab).masks
        assert [m.target for m in masks] == readers, trigger
