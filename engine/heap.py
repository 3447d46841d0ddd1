"""Garbage collection paused while a workflow file is loaded and validated.

Why: loading builds tens of thousands of objects that all live on (the decoded file,
the nodes, every expression's syntax tree) and makes no reference cycles. Python's
collector counts those allocations and keeps scanning them - and, every hundred young
collections or so, everything else the process holds: half the CPU time of validating
a 2,020-node file went to collections that found nothing. Pausing it for the load and
switching it back on after leaves the new objects to the next collection, once.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collections_paused"]


@contextmanager
def collections_paused() -> Iterator[None]:
    """No automatic collection inside. Only the pause that found the collector on
    switches it back on, so a nested pause, or a caller that keeps it off, is kept."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
