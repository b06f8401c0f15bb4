"""The assessment's own process: when it dies, the message says why."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from expert.analysis.assess import load_assessment
from expert.errors import EngineError
from expert.knowledge import knowledgebase as knowledge
from interview.assessproc import ProcessAssessor
from tests.helpers import OUTLASTING_RETRIES

EXAMPLE = Path(__file__).parents[2] / "expert" / "examples" / "training-cluster.yaml"


def test_a_child_that_dies_at_start_is_reported_with_its_last_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for the interpreter that fails as a broken install or import would.
    dying = tmp_path / "python"
    dying.write_text(
        "#!/bin/sh\necho 'Traceback (most recent call last):' >&2\n"
        "echo \"NameError: name 'field_validator' is not defined\" >&2\n"
        # what -X dev or PYTHONWARNINGS=default print after it, on the way out
        "echo 'sys:1: ResourceWarning: unclosed file' >&2\nexit 1\n",
        encoding="utf-8",
    )
    dying.chmod(0o755)
    kb = knowledge.load([])
    assessment = load_assessment(EXAMPLE, kb)
    monkeypatch.setattr(sys, "executable", str(dying))
    assessor = ProcessAssessor(kb)
    try:
        with pytest.raises(EngineError) as caught:
            assessor.assess(assessment)
    finally:
        assessor.close()
    assert "stopped unexpectedly" in str(caught.value)
    assert "NameError: name 'field_validator' is not defined" in str(caught.value)


def test_the_child_finds_what_rests_on_a_declared_comparison(tmp_path: Path) -> None:
    """The child receives the knowledge base pickled, in a process that never loaded it: the
    fields its patterns' comparisons derive must be known there too."""
    case = tmp_path / "route.yaml"
    case.write_text(OUTLASTING_RETRIES)
    kb = knowledge.load([])
    assessor = ProcessAssessor(kb)
    try:
        results = assessor.assess(load_assessment(case, kb), deliverables=False)
    finally:
        assessor.close()
    assert "retries-outlast-timeout" in {f.rule for f in results.findings}
