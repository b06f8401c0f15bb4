"""The built wheel holds the four packages and nothing else: no tests, no __pycache__, no
report someone wrote into a package folder; the report templates (partials included) are in."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("expert", "interview", "knowledge_base", "reports")

pytestmark = pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv to build the wheel")

# Left in package folders the way a user or a run would leave them.
STRAYS = (
    "reports/platform.md",
    "reports/platform.html",
    "reports/coherence-reports/results.json",
    "expert/results.sarif",
    "knowledge_base/notes.txt",
    "interview/__pycache__/app.cpython-311.pyc",
    "expert/__pycache__/stale.py",
)


def _tracked_package_files() -> set[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know the package files")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *PACKAGES],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    # a file deleted in the working tree but not yet in the index is not part of the build
    return {f for f in listed.split("\0") if f and (ROOT / f).is_file()}


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Build from a copy of the project with stray files planted in its packages."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", *PACKAGES):
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    for name in ("LICENSE", ".gitignore"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    for stray in STRAYS:
        (src / stray).parent.mkdir(parents=True, exist_ok=True)
        (src / stray).write_text("x = 1\n", encoding="utf-8")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    dist = work / "dist"
    proc = subprocess.run(
        ["uv", "build", "--wheel", "--out-dir", str(dist), str(src)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = dist.glob("control_coherence-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def test_the_wheel_holds_only_the_packages(wheel_files: list[str]) -> None:
    tops = {name.split("/")[0] for name in wheel_files}
    info = {t for t in tops if t.endswith(".dist-info")}
    assert len(info) == 1
    assert tops - info == set(PACKAGES)


def test_nothing_generated_or_left_behind_ships(wheel_files: list[str]) -> None:
    names = set(wheel_files)
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n]
    assert not names & set(STRAYS)


def test_every_package_file_ships(wheel_files: list[str]) -> None:
    missing = _tracked_package_files() - set(wheel_files)
    assert not missing, f"package files left out of the wheel: {sorted(missing)}"


def test_the_report_templates_ship_with_their_partials(wheel_files: list[str]) -> None:
    names = set(wheel_files)
    templates = {p.relative_to(ROOT).as_posix() for p in (ROOT / "reports").rglob("*.j2")}
    assert any(t.startswith("reports/sections/") for t in templates)
    assert templates <= names
