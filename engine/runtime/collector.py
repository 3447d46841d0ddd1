"""What was alive before a run is kept out of the garbage collector's way while it runs.

Why: a full (generation 2) collection walks every object the collector tracks. What a
run finds in memory (imported modules, the workflow model, the host's own objects) is
long-lived and is not garbage in the middle of the run, yet every full collection during
the run walked it again: in a 50,000-node chain, the collections of the larger heap were
about half of the rise in the cost per node over a 2,000-node chain.

While any run is active, what was alive when the first of them began is frozen
(`gc.freeze`, a constant-time move to the permanent generation); collections go on as
usual over everything made since, so the run's own short-lived cycles are freed as
before. When the last active run ends, the frozen objects rejoin the oldest generation
(`gc.unfreeze`), where the next full collection sees them again: nothing is kept alive
that would have been freed, only freed later (cycles that were garbage before a run
began, at the first full collection after the last run ends). Thresholds are left as
they are.

A host with a policy of its own keeps it: when the first run begins with the heap
already frozen (the CLI freezes it for its one run and its report, the studio's pacer
while a run streams events and until the studio is idle), runs leave the heap alone
and never unfreeze it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["active_runs", "frozen_for_run"]

_lock = threading.Lock()
_active = 0
_owned = False  # the runs froze the heap themselves (and unfreeze it when the last ends)


def _begin() -> None:
    global _active, _owned
    with _lock:
        _active += 1
        if _active == 1:
            _owned = gc.get_freeze_count() == 0  # else the host's freeze: the host's to end
            if _owned:
                gc.freeze()


def _end() -> None:
    global _active, _owned
    with _lock:
        _active -= 1
        if _active == 0 and _owned:
            _owned = False
            gc.unfreeze()


@contextmanager
def frozen_for_run() -> Iterator[None]:
    """Around one run (counted: concurrent and nested runs share one freeze)."""
    _begin()
    try:
        yield
    finally:
        _end()


def active_runs() -> int:
    """Runs going on now (in this process)."""
    return _active
