"""The engine package never imports the UI: each expert module, imported alone in a fresh
interpreter, leaves textual and interview out of sys.modules (harlequin's check)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import expert

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "interview"))))
"""


def expert_modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(expert.__path__, "expert.")
        # both run as programs, not imports
        if m.name not in ("expert.__main__", "expert.engine.child")
    )


def test_the_module_list_is_complete() -> None:
    names = expert_modules()
    for wanted in (
        "expert.analysis.assess",
        "expert.engine.process",
        "expert.render.reports",
        "expert.cli.main",
    ):
        assert wanted in names


def test_expert_modules_never_import_the_ui() -> None:
    # One fresh interpreter per module: an import done by one must not hide another's.
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", PROBE, name],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in expert_modules()
    }
    offenders = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{name} failed to import: {err[-500:]}"
        ui = json.loads(out.strip().splitlines()[-1])
        if ui:
            offenders[name] = ui[:5]
    assert offenders == {}
