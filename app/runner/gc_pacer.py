"""Keep Python's full garbage collections out of a live run and out of its end.

A full (generation 2) collection walks every tracked object: with a 5,000-node
workflow on the canvas and a run's records in memory that is 300,000 objects
and 30-230 ms with the GIL held, on whichever thread happens to allocate —
the GUI thread stalls even when the engine thread triggered it. Measured with
`tests/perf/bench_gui_events.py`, these pauses were most of the GUI's p99
input latency during a big run.

While any run is active, `run_started()`:
- freezes what is alive now (the document, the scene's item wrappers: long-lived,
  never garbage in the middle of a run) so no collection walks it again, and
- stops automatic full collections; young collections (generations 0 and 1) go
  on as usual, so short-lived cycles are still freed at once.
`run_stopped()` (the last run ended) keeps automatic full collections off: handing the
run's 300,000 survivors to the collector there made the next allocations walk them all,
twice in the seconds after a 5,000-node run (while the docks show its end, or the next run
starts). What is owed is collected once nobody has touched the studio for `IDLE_S` (no run
active), in two steps, each after `IDLE_S` without input, so a click meets at most one:
1. the objects made since the run began: what of them is garbage in cycles goes here
   (a finished run itself is freed by reference counting; after three 5,000-node runs
   about 1,300 objects were left, statements the store built for its reads), without
   walking the heap frozen at its start; the
   survivors are then frozen and Python's thresholds come back. A run that starts while
   this step is owed freezes nothing more, so back-to-back runs leave their garbage to
   this step, not to the next;
2. the rest: everything is unfrozen and collected, so cycles that became garbage while
   frozen (a replaced document, an earlier run's objects frozen by the next run's start)
   are freed too.
A run longer than `FULL_EVERY_S` still gets one full collection per interval (of the
objects made since the freeze), so memory held by long-lived cycles stays bounded.
"""

from __future__ import annotations

import gc
import logging
import time

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer

log = logging.getLogger(__name__)

FULL_EVERY_S = 120.0
IDLE_S = 30.0  # no input for this long (and no run): the collection a run put off runs
_NO_FULL = 1 << 30  # a generation-2 threshold that is never reached
_INPUT = frozenset({
    QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease, QEvent.Type.MouseButtonDblClick,
    QEvent.Type.MouseMove, QEvent.Type.HoverMove, QEvent.Type.Wheel, QEvent.Type.KeyPress,
    QEvent.Type.KeyRelease, QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate, QEvent.Type.ShortcutOverride,
})

_active = 0
_saved: tuple[int, int, int] | None = None
_last_full = 0.0
_owed = 0  # steps of the owed collection still to come (2: the run's objects, then the rest; 1: the rest)


class _IdleCollector(QObject):
    """Runs the owed collection after `IDLE_S` without input. The application-wide event
    filter is only installed while a collection is owed and no run is active."""

    def __init__(self, app: QCoreApplication) -> None:
        super().__init__(app)
        self._app = app
        self._watching = False
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._due)

    def arm(self) -> None:
        if not self._watching:
            self._app.installEventFilter(self)
            self._watching = True
        self.timer.start(round(IDLE_S * 1000))

    def disarm(self) -> None:
        self.timer.stop()
        if self._watching:
            self._app.removeEventFilter(self)
            self._watching = False

    def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
        if event.type() in _INPUT:
            self.timer.start()  # the countdown starts again
        return False

    def _due(self) -> None:
        self.disarm()
        collect_owed()


_idle: _IdleCollector | None = None


def _idle_collector() -> _IdleCollector | None:
    global _idle
    app = QCoreApplication.instance()
    if app is None:
        return None
    if _idle is None or _idle.parent() is not app:
        _idle = _IdleCollector(app)
    return _idle


def run_started() -> None:
    """A run began (nested calls are counted)."""
    global _active, _saved, _last_full
    _active += 1
    if _active > 1:
        return
    if _idle is not None:
        _idle.disarm()  # the owed collection waits for the end of this run too
    if _saved is None:  # (still set while an earlier run's collection is owed)
        _saved = gc.get_threshold()
    if _owed < 2:
        gc.freeze()
    # else the last run's objects are not collected yet: frozen now, its garbage would wait
    # for the costly second step; left as they are, this run's first step frees them too
    gc.set_threshold(_saved[0], _saved[1], _NO_FULL)
    _last_full = time.monotonic()
    log.debug("full garbage collections paused for a run")


def run_stopped() -> None:
    """A run ended, paused or failed to start (matches one `run_started`)."""
    global _active, _owed
    if _active == 0:
        return
    _active -= 1
    if _active:
        return
    _owed = 2  # full collections stay off until the owed ones ran
    _arm_idle()


def _arm_idle() -> None:
    idle = _idle_collector()
    if idle is None:  # no Qt application: nobody's input to wait for
        while collect_owed():
            pass
    else:
        idle.arm()


def collect_owed() -> float:
    """The next step of the collection a run put off, now (unless a run is active); returns
    its ms (0.0: nothing was owed). Another step still owed waits for the next idle moment."""
    global _owed, _saved
    if not _owed or _active:
        return 0.0
    t0 = time.perf_counter()
    if _owed == 2:  # the objects made since the run began: the heap frozen at its start is not walked
        found = gc.collect()
        gc.freeze()
        if _saved is not None:
            gc.set_threshold(*_saved)
            _saved = None
    else:  # the rest of the heap
        gc.unfreeze()
        found = gc.collect()
    step, _owed = _owed, _owed - 1
    ms = (time.perf_counter() - t0) * 1000
    log.debug("owed garbage collection", extra={"step": 3 - step, "ms": round(ms, 1), "collected": found})
    if _owed and _idle is not None:
        _arm_idle()
    return ms


def release() -> None:
    """The run tools shut down: give the heap back to the collector, collecting nothing now."""
    global _owed, _saved
    if _idle is not None:
        _idle.disarm()
    if not _active and _owed:
        _owed = 0
        gc.unfreeze()
        if _saved is not None:
            gc.set_threshold(*_saved)
            _saved = None


def tick() -> None:
    """Call now and then during a run: a full collection after `FULL_EVERY_S`."""
    global _last_full
    if _active and time.monotonic() - _last_full >= FULL_EVERY_S:
        _last_full = time.monotonic()
        gc.collect()


def active() -> bool:
    return _active > 0


def owed() -> bool:
    """Whether a run left a collection owed (some of its steps still to come)."""
    return _owed > 0
