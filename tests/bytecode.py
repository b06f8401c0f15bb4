"""Where bytecode goes when the environment forbids writing it beside the source.

Imports nothing but the standard library: it must run before any project module is
imported (the test configuration and the benchmark both call it first)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def keep_bytecode() -> None:
    """With PYTHONDONTWRITEBYTECODE set, every Python process the tests start (the engine's
    children, the CLI, the interview, the test processes themselves: several hundred) compiled
    each module it imports again from source, which doubled the start-up of each (~0.7 s of
    ~1.4 s for the CLI and the interview's modules). Their bytecode is kept in the pytest
    cache folder instead, which leaves no __pycache__ in the source tree or the environment,
    as the variable intends. PYTHONPYCACHEPREFIX, if set, is left as it is."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    prefix = str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "bytecode")
    # read at start-up: set here, it reaches the test processes and every child they start
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    sys.pycache_prefix = prefix
    sys.dont_write_bytecode = False
