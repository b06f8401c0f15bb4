"""Open the four-loop fixture at a given step of the interview."""

from __future__ import annotations

import shutil
from pathlib import Path

from interview import resume
from interview.flow import Step

FIXTURE = Path(__file__).parent / "fixtures" / "four-loops.yaml"


def at(tmp_path: Path, step: Step) -> Path:
    """A copy of the four-loop fixture, with the interview last seen at `step`."""
    path = tmp_path / "four.yaml"
    shutil.copy(FIXTURE, path)
    resume.save(path, resume.Position(step=step.key))
    return path
