"""The knowledge base, templates and examples ship inside a non-editable wheel: install it
into a fresh environment and assess an example from another directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv to build the wheel")


def test_wheel_installs_and_runs_from_elsewhere(tmp_path: Path) -> None:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    dist = tmp_path / "dist"
    subprocess.run(
        ["uv", "build", "--wheel", "--out-dir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        env=env,
    )
    (wheel,) = dist.glob("control_coherence-*.whl")
    venv = tmp_path / "venv"
    subprocess.run(
        ["uv", "venv", "--python", sys.executable, str(venv)],
        check=True,
        capture_output=True,
        env=env,
    )
    subprocess.run(
        ["uv", "pip", "install", "--python", str(venv / "bin" / "python"), str(wheel)],
        check=True,
        capture_output=True,
        env=env,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    coherence = str(venv / "bin" / "coherence")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [coherence, *args], cwd=elsewhere, capture_output=True, text=True, env=env, check=False
        )

    assert run("example", "training-cluster", "-o", "t.yaml").returncode == 0
    proc = run("assess", "t.yaml", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert results["knowledge_base"]["patterns"] >= 14
    assert any(f["rule"] == "load-shedding-vs-global-sync" for f in results["findings"])
    # the package must not be importable from the source tree by accident
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import knowledge_base, expert; print(expert.__file__)",
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(ROOT) not in where
