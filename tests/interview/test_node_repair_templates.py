"""Node health remediation on GPU clusters has templates of its own: a node health checker
described as a scale-in drew inference questions and "scale-down discards queued work". The
templates load and validate, sit under the layers a user looks in, propose only values the
interview asks about, and propose a drain deadline only where the product documents one,
citing where it comes from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from expert.analysis.assess import check_answers
from expert.assessment.model import validate
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.knowledgebase import KnowledgeBase
from interview import flow
from interview.session import Session

NODE_REPAIR = {"nvsentinel-gpu-remediation": "safety", "gke-node-auto-repair": "orchestration"}
URL = re.compile(r"https://\S+")


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.load([])


def _on_a_job(tmp_path: Path, kb: KnowledgeBase, template_id: str) -> Session:
    """A platform with one loop from the template, acting on a training job."""
    session = Session.open(tmp_path / f"{template_id}.yaml", kb)
    session.answer(kb.questions["system-name"], "", "P")
    session.add_loop("loop", "", kb.templates[template_id])
    session.answer(kb.questions["loop-acts-on"], "loop", ["train"])
    session.answer(kb.questions["resource-kind"], "train", "job")
    return session


@pytest.mark.parametrize("template_id", sorted(NODE_REPAIR))
def test_a_node_repair_template_loads_and_validates(kb: KnowledgeBase, template_id: str) -> None:
    t = kb.templates[template_id]
    data = {"schema_version": 1, "system": {"name": "t"}, "loops": [{"id": "t", **t.loop}]}
    assert not check_answers(validate(data, kb.vocabulary, template_id), kb)
    # offered under the layer a user looks in, and found by what they would type
    assert t.loop["layer"] == NODE_REPAIR[template_id]
    assert "node" in t.title.lower() and "drain" in t.title.lower()
    # a health check that cordons (out of rotation) and drains (evicts), not a scale-in
    assert t.loop["triggers"] == ["health_check"]
    assert {"eject", "evict"} <= set(t.loop["actuations"])
    assert "scale_in" not in t.loop["actuations"]
    assert URL.search(t.notes[0]), "the first note says where the defaults come from"


@pytest.mark.parametrize("template_id", sorted(NODE_REPAIR))
def test_a_node_repair_template_proposes_only_what_the_interview_asks(
    tmp_path: Path, kb: KnowledgeBase, template_id: str
) -> None:
    session = _on_a_job(tmp_path, kb, template_id)
    own, _later = flow.loop_steps(session, "loop", [])
    asked = {s.question for s in own}
    proposed = flow.proposed_values(kb, kb.templates[template_id])
    assert set(proposed) <= asked
    # no scale-down or serving questions for a loop that drains a broken node
    assert not {"drains-before-removal", "scaler-metric", "scales-to-zero"} & asked
    session.close()


def test_gke_node_auto_repair_proposes_its_drain_deadline_with_a_source(
    kb: KnowledgeBase,
) -> None:
    t = kb.templates["gke-node-auto-repair"]
    proposed = flow.proposed_values(kb, t)
    # the deadline is the time the drain is given before the node is shut down: asked as a
    # grace period, not as a timeout
    assert str(proposed["loop-grace-period"]) == "1h" and "loop-deadline" not in proposed
    cited = [n for n in t.notes if "(deadline)" in n]
    assert cited and "one hour" in cited[0]
    assert "https://cloud.google.com/kubernetes-engine/docs/how-to/node-auto-repair" in cited[0]


def test_nvsentinel_proposes_no_deadline_since_its_default_drain_has_none(
    kb: KnowledgeBase,
) -> None:
    """Its default drain (AllowCompletion) waits for pods to end on their own; the deadlines of
    the other modes are in a note, for the user to give if they set one."""
    t = kb.templates["nvsentinel-gpu-remediation"]
    assert "deadline" not in t.loop
    assert "loop-grace-period" not in flow.proposed_values(kb, t)
    modes = next(n for n in t.notes if "AllowCompletion" in n)
    assert "60 s" in modes and "60 minutes" in modes
    assert "https://docs.nvidia.com/nvsentinel/configuration/node-drainer" in modes
