"""Pausing Python's cyclic garbage collector around allocation-heavy work.

Assessing and rendering a large platform allocate millions of short-lived objects. Each
allocation burst sets off full collections, and each full collection walks every live
object (the whole assessment, facts and results): at 1,000 loops that was a sixth of an
assessment, and it grows faster than the platform does. What this work makes is freed by
reference counting; the few cycles it leaves are collected once the collector resumes.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside the block; the collector's previous state after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
