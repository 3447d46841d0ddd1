"""Keep Python's full garbage collections out of a live run.

A full (generation 2) collection walks every tracked object: with a 5,000-node
workflow on the canvas and a run's records in memory that is 300,000 objects
and 30-110 ms with the GIL held, on whichever thread happens to allocate —
the GUI thread stalls even when the engine thread triggered it. Measured with
`tests/perf/bench_gui_events.py`, these pauses were most of the GUI's p99
input latency during a big run.

While any run is active, `run_started()`:
- freezes what is alive now (the document, the scene's item wrappers: long-lived,
  never garbage in the middle of a run) so no collection walks it again, and
- stops automatic full collections; young collections (generations 0 and 1) go
  on as usual, so short-lived cycles are still freed at once.
`run_stopped()` undoes both once the last run ended: frozen objects rejoin the
oldest generation and collections are back to Python's defaults. A run longer
than `FULL_EVERY_S` still gets one full collection per interval (a single short
pause), so memory held by long-lived cycles stays bounded.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)

FULL_EVERY_S = 120.0
_NO_FULL = 1 << 30  # a generation-2 threshold that is never reached

_active = 0
_saved: tuple[int, int, int] | None = None
_last_full = 0.0


def run_started() -> None:
    """A run began (nested calls are counted)."""
    global _active, _saved, _last_full
    _active += 1
    if _active > 1:
        return
    _saved = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(_saved[0], _saved[1], _NO_FULL)
    _last_full = time.monotonic()
    log.debug("full garbage collections paused for a run")


def run_stopped() -> None:
    """A run ended, paused or failed to start (matches one `run_started`)."""
    global _active, _saved
    if _active == 0:
        return
    _active -= 1
    if _active:
        return
    if _saved is not None:
        gc.set_threshold(*_saved)
        _saved = None
    gc.unfreeze()


def tick() -> None:
    """Call now and then during a run: a full collection after `FULL_EVERY_S`."""
    global _last_full
    if _active and time.monotonic() - _last_full >= FULL_EVERY_S:
        _last_full = time.monotonic()
        gc.collect()


def active() -> bool:
    return _active > 0
