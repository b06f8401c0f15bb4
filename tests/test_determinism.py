"""The same assessment gives the same report, byte for byte, in every run.

Python randomises string hashing per process (PYTHONHASHSEED), so anything that iterates a
set of loop ids can change between runs. A platform with more feedback cycles than the
report keeps (graph.MAX_CYCLES) once exposed this: which cycles were kept changed per run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from expert.analysis import graph
from expert.analysis.assess import load_assessment
from expert.knowledge import knowledgebase as knowledge
from tests.benchmarks.generate import generate_yaml

ROOT = Path(__file__).resolve().parent.parent


def _report(path: Path, fmt: str, hash_seed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    proc = subprocess.run(
        [sys.executable, "-m", "expert", "assess", str(path), "--format", fmt],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_a_platform_with_many_cycles_truncates_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = knowledge.load([])
    path = tmp_path / "platform.yaml"
    path.write_text(generate_yaml(30, 1, kb), encoding="utf-8")
    a = load_assessment(path, kb)
    structure = graph.derive(a, kb.vocabulary)
    # The premise of the test below: more cycles than are kept, so the choice matters.
    assert structure.cycles_truncated
    assert len(structure.cycles) == graph.MAX_CYCLES
    # The shortest cycles are the ones kept: every two-loop cycle there is, counted without
    # the cap, is there.
    monkeypatch.setattr(graph, "MAX_CYCLES", 10**6)
    every = graph.derive(a, kb.vocabulary).cycles
    two = {tuple(sorted(c.loops)) for c in every if len(c.loops) == 2}
    kept = {tuple(sorted(c.loops)) for c in structure.cycles if len(c.loops) == 2}
    assert two and two <= kept
    assert max(len(c.loops) for c in structure.cycles) > 2


def test_reports_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    kb = knowledge.load([])
    path = tmp_path / "platform.yaml"
    path.write_text(generate_yaml(30, 1, kb), encoding="utf-8")
    for fmt in ("json", "markdown"):
        first = _report(path, fmt, "1")
        assert first == _report(path, fmt, "2"), f"{fmt} differs between two runs"
