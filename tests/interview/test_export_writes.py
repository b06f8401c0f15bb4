"""The interview's export writes as safely as the command line: never over a file the user
wrote by hand, never half a set."""

from __future__ import annotations

from pathlib import Path

import pytest

from expert.analysis.assess import Assessor, load_assessment
from expert.errors import InputError
from expert.knowledge.knowledgebase import load
from interview.export import report_path, write_reports

EXAMPLE = Path(__file__).parents[2] / "expert" / "examples" / "llm-platform.yaml"


@pytest.fixture(scope="module")
def run() -> tuple:
    kb = load([])
    a = load_assessment(EXAMPLE, kb)
    with Assessor(kb) as ax:
        return ax.assess(a, deliverables=False), a, kb


def test_a_hand_written_file_is_never_replaced_and_nothing_is_written(
    tmp_path: Path, run: tuple
) -> None:
    results, a, kb = run
    assessment_path = tmp_path / "platform.yaml"
    notes = report_path(assessment_path, tmp_path, "markdown")
    notes.write_text("my own notes\n")
    with pytest.raises(InputError, match="not written by coherence"):
        write_reports(results, a, kb, assessment_path, tmp_path, ["json", "markdown"])
    assert notes.read_text() == "my own notes\n"
    assert not report_path(assessment_path, tmp_path, "json").exists()


def test_its_own_reports_are_replaced_on_the_next_export(tmp_path: Path, run: tuple) -> None:
    results, a, kb = run
    assessment_path = tmp_path / "platform.yaml"
    first = write_reports(results, a, kb, assessment_path, tmp_path, ["markdown", "html"])
    again = write_reports(results, a, kb, assessment_path, tmp_path, ["markdown", "html"])
    assert first == again and all(p.stat().st_size > 0 for p in again)
