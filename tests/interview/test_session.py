"""Every change is validated before it is saved; an invalid one changes nothing."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from expert.analysis.assess import load_assessment
from expert.assessment.model import UNKNOWN
from expert.errors import InputError
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.knowledge.patterns import Question
from expert.knowledge.templates import LoopTemplate
from interview import flow, resume
from interview.session import Session

FIXTURE = Path(__file__).parent / "fixtures" / "four-loops.yaml"


def question(kb: KnowledgeBase, about: str, field: str) -> Question:
    """The knowledge base's question for a field, or a stand-in if it asks none."""
    found = next((q for q in kb.questions.values() if q.about == about and q.field == field), None)
    return found or Question(
        id=f"t-{field.replace('.', '-').replace('_', '-')}",
        about=about,  # type: ignore[arg-type]
        field=field,
        text=field,
        help=field,
    )


def test_nothing_is_written_before_the_platform_has_a_name(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    path = tmp_path / "new.yaml"
    session = Session.open(path, kb)
    assert session.assessment is None
    with pytest.raises(InputError, match="needs a name"):
        session.answer(question(kb, "system", "description"), "", "a platform")
    assert not path.exists()
    session.answer(question(kb, "system", "name"), "", "Chat API")
    assert load_assessment(path, kb).system.name == "Chat API"


def test_an_empty_file_is_a_new_assessment(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("\n")
    assert Session.open(path, kb).assessment is None


def test_an_invalid_file_is_refused_not_overwritten(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("schema_version: 1\nsystem: {name: x}\nloops:\n- id: Bad Id\n")
    with pytest.raises(InputError, match="not a valid id"):
        Session.open(path, kb)
    assert "Bad Id" in path.read_text()


def test_an_invalid_answer_changes_nothing(four: Session, kb: KnowledgeBase) -> None:
    before = four.path.read_text()
    with pytest.raises(InputError):
        four.answer(question(kb, "loop", "timescale"), "replica-hpa", "soon")
    with pytest.raises(InputError):
        four.answer(question(kb, "loop", "retry.max_retries"), "sdk-retries", 5000)
    assert four.path.read_text() == before
    assert four.assessment is not None and four.assessment.loop("replica-hpa").timescale == "15s"


def test_answers_are_saved_at_once(four: Session, kb: KnowledgeBase) -> None:
    four.answer(question(kb, "loop", "timescale"), "replica-hpa", "30s")
    four.answer(question(kb, "loop", "owner"), "replica-hpa", UNKNOWN)
    four.answer(question(kb, "economics", "accelerator_count"), "", 64)
    saved = load_assessment(four.path, kb)
    loop = saved.loop("replica-hpa")
    assert loop is not None and loop.timescale == "30s" and loop.owner == UNKNOWN
    assert saved.economics is not None and saved.economics.accelerator_count == 64
    four.answer(question(kb, "loop", "owner"), "replica-hpa", None)  # clearing an answer
    assert load_assessment(four.path, kb).loop("replica-hpa").owner is None


def test_loop_ids_are_checked(four: Session) -> None:
    assert "already has the id" in (four.check_loop_id("sdk-retries") or "")
    assert "cannot be used as an id" in (four.check_loop_id("SDK Retries") or "")
    assert four.check_loop_id("sdk-retries", replacing="sdk-retries") is None
    assert four.check_loop_id("new-loop") is None
    with pytest.raises(InputError):
        four.add_loop("sdk-retries", "Twice")
    assert [lp.id for lp in four.assessment.loops].count("sdk-retries") == 1


def test_add_from_a_template(four: Session, kb: KnowledgeBase) -> None:
    template = LoopTemplate(
        id="t",
        title="Kubernetes HPA",
        description="d",
        loop={"id": "ignored", "layer": "orchestration", "actuations": ["scale_out"]},
    )
    four.add_loop("hpa-2", "Second HPA", template)
    loop = load_assessment(four.path, kb).loop("hpa-2")
    assert loop is not None and loop.name == "Second HPA" and loop.layer == "orchestration"
    bad = LoopTemplate(id="b", title="B", description="d", loop={"layer": "no-such-layer"})
    with pytest.raises(InputError, match="unknown layer"):
        four.add_loop("hpa-3", "Broken", bad)


def test_a_timeout_loops_timescale_follows_its_deadline(four: Session, kb: KnowledgeBase) -> None:
    """The NCCL watchdog's template proposes a 10m timescale and a 10m deadline: raising the
    deadline to 30m moves the timescale with it (the loop acts when the deadline expires),
    and says so; a timescale the respondent set apart from the deadline stays theirs."""
    nccl = next(t for t in kb.templates.values() if t.id == "nccl-watchdog")
    notices: list[str] = []
    four.on_notice = notices.append
    four.add_loop("nccl", "NCCL watchdog", nccl)
    deadline = question(kb, "loop", "deadline")
    four.answer(deadline, "nccl", "30m")
    loop = load_assessment(four.path, kb).loop("nccl")
    assert loop is not None and str(loop.timescale) == "30m" and str(loop.deadline) == "30m"
    assert notices and "30m" in notices[-1] and "10m" in notices[-1]
    four.answer(question(kb, "loop", "timescale"), "nccl", "1s")
    four.answer(deadline, "nccl", "20m")
    loop = load_assessment(four.path, kb).loop("nccl")
    assert loop is not None and str(loop.timescale) == "1s" and str(loop.deadline) == "20m"


def test_duplicate_rename_and_delete_keep_references(four: Session, kb: KnowledgeBase) -> None:
    four.answer(question(kb, "loop", "controls"), "replica-hpa", ["continuous-batching"])
    four.duplicate_loop("sdk-retries", "sdk-retries-2", "Mobile SDK retries")
    saved = load_assessment(four.path, kb)
    ids = [lp.id for lp in saved.loops]
    assert ids.index("sdk-retries-2") == ids.index("sdk-retries") + 1
    twin = saved.loop("sdk-retries-2")
    assert twin is not None and twin.retry == saved.loop("sdk-retries").retry

    four.rename_loop("continuous-batching", "batching", "Batching")
    assert load_assessment(four.path, kb).loop("replica-hpa").controls == ["batching"]
    four.delete_loop("batching")
    saved = load_assessment(four.path, kb)
    assert saved.loop("batching") is None
    assert saved.loop("replica-hpa").controls == []


def test_resource_answers_declare_every_resource(four: Session, kb: KnowledgeBase) -> None:
    q = next((q for q in kb.questions.values() if q.about == "resource"), None)
    if q is None:
        pytest.skip("the knowledge base asks nothing about resources")
    spec_value = "unknown"
    four.answer(q, "vllm-replicas", spec_value)
    saved = load_assessment(four.path, kb)
    assert saved.resources is not None
    assert {r.id for r in saved.resources} == {"inference-gateway", "vllm-replicas"}
    # With resources declared, a loop acting on a new one declares it too.
    four.answer(question(kb, "loop", "acts_on"), "replica-hpa", ["vllm-replicas", "gpu-pool"])
    assert "gpu-pool" in {r.id for r in load_assessment(four.path, kb).resources or []}


def test_steps_follow_the_answers(four: Session, kb: KnowledgeBase) -> None:
    steps = flow.build(four, [])
    keys = [s.key for s in steps]
    assert keys[0] == flow.WELCOME.key and keys[-1] == flow.REVIEW.key
    retry = "question:loop:replica-hpa:retry-max-retries"
    assert retry not in keys  # it does not retry ...
    four.answer(question(kb, "loop", "actuations"), "replica-hpa", ["scale_out", "retry"])
    assert retry in [s.key for s in flow.build(four, [])]  # ... now it does


def test_position_file_is_tolerant(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    assert resume.load(path) == resume.Position()
    resume.sidecar_path(path).write_text("{not json")
    assert resume.load(path) == resume.Position()
    resume.save(path, resume.Position("review:::", {"k": "typed"}, {"loop": "tpl"}))
    data = json.loads(resume.sidecar_path(path).read_text())
    assert data["step"] == "review:::"
    assert resume.load(path) == resume.Position("review:::", {"k": "typed"}, {"loop": "tpl"})
    assert resume.sidecar_path(path).name == ".a.yaml.interview.json"


def test_opening_removes_temporaries_a_killed_save_left(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "four.yaml"
    shutil.copy(FIXTURE, path)
    stale = [
        tmp_path / ".four.yaml.k3x_9qzt.tmp",
        tmp_path / ".four.yaml.interview.json.a1b2c3d4.tmp",
    ]
    fresh = tmp_path / ".four.yaml.zzzzzzzz.tmp"  # a live writer's, a moment old: not ours
    others = [tmp_path / ".other.yaml.k3x_9qzt.tmp", tmp_path / "four.yaml.bak"]
    for p in [*stale, fresh, *others]:
        p.write_text("partial")
    for p in [*stale, *others]:
        os.utime(p, (time.time() - 60, time.time() - 60))
    Session.open(path, kb)
    assert [p.exists() for p in stale] == [False, False]
    assert fresh.exists() and all(p.exists() for p in others)
