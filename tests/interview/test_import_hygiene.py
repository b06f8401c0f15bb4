"""The engine package never imports the UI: each expert module, imported alone in a fresh
process, leaves textual and interview out of sys.modules (harlequin's check).

A fresh interpreter per module spent most of its time importing the same third-party
libraries (pydantic, networkx, jinja2 ...), about 60 times over. One interpreter imports
those once, checks that they bring in no UI module, and forks a child per expert module:
each child starts with no expert module loaded, so every module is still imported alone
(an import cycle that only breaks when a module comes first still fails), and a UI import
is named by the module that made it."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import expert

ROOT = Path(__file__).resolve().parents[2]
# The third-party libraries expert imports; none of them may bring in the UI either.
LIBRARIES = ("click", "jinja2", "markupsafe", "networkx", "pydantic", "ruamel.yaml", "yaml")
PROBE = """
import importlib, json, os, sys, traceback
import pydantic

def ui():
    return sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "interview"))

for library in sys.argv[1].split(","):
    importlib.import_module(library)

class Loaded(pydantic.BaseModel):  # loads pydantic's plugins and lazy parts once, here
    x: int = 0

assert not [m for m in sys.modules if m.split(".")[0] == "expert"], "expert loaded early"
results = {"<libraries>": {"ui": ui()}}
running = {}
def reap():
    pid, _status = os.wait()
    name, fd = running.pop(pid)
    with os.fdopen(fd) as pipe:
        results[name] = json.loads(pipe.read() or '{"error": "the child died"}')
for name in sys.argv[2:]:
    if len(running) >= 2:
        reap()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            importlib.import_module(name)
            out = {"ui": ui()[:20]}  # a pipe holds 64 KB before the write waits
        except BaseException:
            out = {"error": traceback.format_exc()[-500:]}
        with os.fdopen(w, "w") as pipe:
            pipe.write(json.dumps(out))
        os._exit(0)
    os.close(w)
    running[pid] = (name, r)
while running:
    reap()
print(json.dumps(results))
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
    names = expert_modules()
    run = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(LIBRARIES), *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(run.stdout.strip().splitlines()[-1])
    assert sorted(results) == sorted([*names, "<libraries>"])
    failed = {name: r["error"] for name, r in results.items() if "error" in r}
    assert failed == {}, "modules that fail to import alone"
    offenders = {name: r["ui"][:5] for name, r in results.items() if r["ui"]}
    assert offenders == {}
