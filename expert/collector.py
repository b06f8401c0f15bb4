"""Pausing Python's cyclic garbage collector around allocation-heavy work.

Assessing and rendering a large platform allocate millions of short-lived objects. Each
allocation burst sets off full collections, and each full collection walks every live
object (the whole assessment, facts and results): at 1,000 loops that was a sixth of an
assessment, and it grows faster than the platform does. What this work makes is freed by
reference counting; the few cycles it leaves are collected at the next full collection.

Resuming hands what the block left alive straight to the oldest generation. Otherwise the
first young collection after the block walks every object the block made (at 1,000 loops,
a quarter of a second of CPU after each assessment, and again after each report), only to
promote them.
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
        # freeze() then unfreeze() moves every tracked object into the oldest generation
        # without traversing it. Skipped if the program froze objects itself, since
        # unfreeze() would release those too.
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if enabled:
            gc.enable()
