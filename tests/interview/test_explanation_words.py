"""The interview explains a finding in the words the reports use: derived facts as sentences
with the user's names, an influence as what one loop does to another, never an arrow or a
field name."""

from __future__ import annotations

import shutil
from pathlib import Path

from expert.analysis.assess import Assessor
from expert.analysis.results import Results
from expert.knowledge.knowledgebase import KnowledgeBase
from interview.session import Session
from interview.widgets.explanation import explain

EXAMPLE = Path(__file__).resolve().parents[2] / "expert" / "examples" / "llm-platform.yaml"


def _example(tmp_path: Path, kb: KnowledgeBase) -> tuple[Session, Results]:
    """The llm-platform example opened as the interview opens it, and its results."""
    path = tmp_path / "platform.yaml"
    shutil.copy(EXAMPLE, path)
    session = Session.open(path, kb)
    assert session.assessment is not None
    with Assessor(kb) as assessor:
        return session, assessor.assess(session.assessment, deliverables=False)


def test_the_answers_a_finding_rests_on_read_as_in_the_reports(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    session, results = _example(tmp_path, kb)
    texts = {f.rule: explain(f, results, session).plain for f in results.findings}
    slow_start = texts["liveness-kills-slow-start"]
    assert (
        "the deadline of Liveness probe restarts is 0.375x the start-up time of "
        "vLLM model servers" in slow_start
    )
    assert "Liveness probe restarts: the deadline of" not in slow_start  # named once
    shutdown = texts["shutdown-vs-retry"]
    assert "leads to “task is terminated by a control action”" in shutdown
    for text in texts.values():
        assert "->" not in text and "influence:" not in text, text


def test_a_symptom_names_its_causes_by_title_only_never_by_id(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    session, results = _example(tmp_path, kb)
    derived = [f for f in results.effects if f.derived_from]
    assert derived
    for f in derived:
        text = explain(f, results, session).plain
        for cause in f.derived_from:
            assert cause not in text, f"{f.id} shows the id {cause}"
        assert results.by_id()[f.derived_from[0]].title in text  # in the chain, by title
