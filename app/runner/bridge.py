"""Engine lifecycle events -> Qt signals, coalesced to one batch per frame.

Hook handlers run on the engine thread. They only fold the event into a
pending batch under a lock (the latest state per node wins) and, when the
batch was empty, post one queued wake-up to the GUI thread. The GUI thread
flushes at most once per `FRAME_MS`, so a run streaming thousands of events
per second costs the GUI a handful of small updates per second, and input
events never wait behind a flood of signals. The run's `engine` log lines come
in the same batches; their ids are the records' `execution_id` / `node_id`
fields (`extra=`), never read back out of the text.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from engine import events as ev
from engine.runtime.record import MAIN_THREAD, RunRecord

log = logging.getLogger(__name__)

FRAME_MS = 16
EDGE_SNAPSHOT_S = 0.016  # copy the edge counters at most this often on the engine thread
MAX_LOG_BATCH = 2000  # log lines per batch beyond this are counted, not kept

_RUN_STATUS = {
    ev.ExecutionStarted: "running",
    ev.ExecutionResumed: "running",
    ev.ExecutionPaused: "paused",
    ev.ExecutionCancelled: "cancelled",
    ev.ExecutionCompleted: "completed",
    ev.ExecutionFailed: "failed",
}


@dataclass(slots=True)
class NodeLive:
    """What the canvas shows for one node right now."""

    state: str
    attempt: int = 0
    max_attempts: int = 0
    retry_at: float | None = None  # time.monotonic() of the next attempt while retrying
    error: str | None = None
    summary: str = ""
    duration_ms: float | None = None
    side_effects: bool = False


@dataclass(slots=True)
class AttemptSpan:
    """One attempt of one node, for the timeline (epoch seconds)."""

    thread_id: str
    node_id: str
    attempt: int
    start: float
    end: float | None = None
    status: str = "running"
    error: str | None = None
    retry_delay: float | None = None  # back-off after this attempt, when it was retried

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.thread_id, self.node_id, self.attempt)


@dataclass(slots=True)
class LogLine:
    ts: float
    level: str
    message: str
    node_id: str | None = None
    execution_id: str | None = None
    logger: str = ""


@dataclass
class Batch:
    """Everything that changed since the last flush."""

    execution_id: str | None = None
    run_status: str | None = None
    total: int | None = None
    nodes: dict[str, NodeLive] = field(default_factory=dict)
    edges: dict[int, int] | None = None
    spans: dict[tuple[str, str, int], AttemptSpan] = field(default_factory=dict)
    logs: list[LogLine] = field(default_factory=list)
    dropped_logs: int = 0
    current: str | None = None
    error: dict[str, Any] | None = None
    events: int = 0

    def empty(self) -> bool:
        return not self.events and not self.logs and self.run_status is None


class _LogHandler(logging.Handler):
    """Feeds `engine.*` log records of this run into the bridge (any thread)."""

    def __init__(self, bridge: EventBridge) -> None:
        super().__init__(logging.DEBUG)
        self.bridge = bridge

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except Exception:  # a broken format string must not break the run
            msg = str(record.msg)
        execution = _field(record, "execution_id")
        node = _field(record, "node_id")
        text = _without_ids(msg, execution, node)
        self.bridge.add_log(LogLine(record.created, record.levelname, text, node, execution, record.name))


def _field(record: logging.LogRecord, name: str) -> str | None:
    """A structured field the engine set with `extra={...}` (absent on other records)."""
    value = getattr(record, name, None)
    return None if value is None or value == "" else str(value)


def _without_ids(text: str, execution_id: str | None, node_id: str | None) -> str:
    """The message without the leading `execution=… node=…` written for people reading the
    log file: in the Log dock the ids have their own columns."""
    if execution_id is not None:
        head = f"execution={execution_id}"
        if text.startswith((head + " ", head + ": ")):
            text = text[len(head) + 1 :].lstrip()
    if node_id is not None:
        text = text.removeprefix(f"node={node_id} ")
    return text


class EventBridge(QObject):
    """Subscribe `hooks()` to a run; connect to `batch_ready` on the GUI thread."""

    batch_ready = Signal(object)  # Batch
    _wake = Signal()

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        frame_ms: int = FRAME_MS,
        call_in_engine: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._call_in_engine = call_in_engine  # EngineThread.call_soon: late edge snapshots
        self._edges_dirty = False
        self._lock = threading.Lock()
        self._pending = Batch()
        self._scheduled = False
        self._spans: dict[tuple[str, str, int], AttemptSpan] = {}
        self._max_attempts: dict[str, int] = {}
        self._edges_at = 0.0
        self._record: RunRecord | None = None
        self.execution_id: str | None = None
        self.flushes = 0
        self.events = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.flush)
        self._frame_ms = frame_ms
        self._last_flush = 0.0
        self._wake.connect(self._arm, Qt.ConnectionType.QueuedConnection)
        self._log_handler: _LogHandler | None = None

    # -- wiring ----------------------------------------------------------------
    def hooks(self) -> ev.LifecycleHooks:
        hooks = ev.LifecycleHooks()
        hooks.on_any(self.on_event)
        return hooks

    def capture_logs(self, logger_name: str = "engine") -> None:
        """Also collect this run's log lines from the `engine` loggers."""
        if self._log_handler is None:
            self._log_handler = _LogHandler(self)
            lg = logging.getLogger(logger_name)
            lg.addHandler(self._log_handler)
            if lg.getEffectiveLevel() > logging.INFO:
                lg.setLevel(logging.INFO)

    def close(self) -> None:
        """Stop collecting (the last batch is still flushed). The run's record and its
        finished attempts are let go: the bridge outlives its run until the next one starts."""
        if self._log_handler is not None:
            logging.getLogger("engine").removeHandler(self._log_handler)
            self._log_handler = None
        with self._lock:
            self._record = None
            self._spans = {key: span for key, span in self._spans.items() if span.end is None}

    # -- engine thread -----------------------------------------------------------
    def on_event(self, event: ev.Event, record: RunRecord) -> None:
        """Hook handler (engine thread): fold the event into the pending batch; the first
        event of a batch posts the one wake-up to the GUI thread."""
        now = time.time()
        fold = _FOLDS.get(type(event))  # exact type, as LifecycleHooks.on matches
        with self._lock:
            p = self._pending
            p.events += 1
            self.events += 1
            if self.execution_id is None:
                self.execution_id = event.execution_id
            p.execution_id = event.execution_id
            self._record = record
            if fold is not None:
                fold(self, p, event, record, now)
            wake = not self._scheduled
            self._scheduled = True
        if wake:
            self._wake.emit()

    # one fold per event type; each runs under the lock, on the engine thread
    def _fold_started(self, p: Batch, event: ev.NodeStarted, record: RunRecord, now: float) -> None:
        if event.thread_id == MAIN_THREAD:
            p.nodes[event.node_id] = NodeLive(
                "running", event.attempt, self._max_attempts.get(event.node_id, 0), side_effects=event.side_effects
            )
            p.current = event.node_id
        span = AttemptSpan(event.thread_id, event.node_id, event.attempt, now)
        self._spans[span.key] = span
        p.spans[span.key] = span
        self._maybe_edges(p, record, now)

    def _fold_finished(self, p: Batch, event: ev.NodeFinished, record: RunRecord, now: float) -> None:
        error = (event.error or {}).get("message") if event.error else None
        if event.thread_id == MAIN_THREAD:
            p.nodes[event.node_id] = NodeLive(
                event.status,
                event.attempt,
                self._max_attempts.get(event.node_id, 0),
                error=error,
                summary=event.output_summary,
                duration_ms=event.duration_ms,
                side_effects=event.side_effects,
            )
            if p.current == event.node_id:
                p.current = None
        span = self._spans.get((event.thread_id, event.node_id, event.attempt))
        if span is not None and span.end is None:
            span.end = now
            span.status = event.status
            span.error = error
            p.spans[span.key] = span
        self._maybe_edges(p, record, now)

    def _fold_retrying(self, p: Batch, event: ev.NodeRetrying, record: RunRecord, now: float) -> None:
        self._max_attempts[event.node_id] = event.max_attempts
        if event.thread_id == MAIN_THREAD:
            p.nodes[event.node_id] = NodeLive(
                "retrying", event.attempt, event.max_attempts, retry_at=time.monotonic() + event.delay, error=event.error
            )
        span = self._spans.get((event.thread_id, event.node_id, event.attempt))
        if span is not None:
            span.end = now
            span.status = "failed"
            span.error = event.error
            span.retry_delay = event.delay
            p.spans[span.key] = span

    def _fold_run_status(self, p: Batch, event: ev.Event, record: RunRecord, now: float) -> None:
        p.run_status = _RUN_STATUS[type(event)]
        if isinstance(event, ev.ExecutionStarted):
            p.total = event.total
        elif isinstance(event, ev.ExecutionFailed):
            p.error = dict(event.error)
        if MAIN_THREAD in record.threads:
            p.edges = dict(record.main.edge_counts)
            self._edges_dirty = False
        if not isinstance(event, ev.ExecutionStarted | ev.ExecutionResumed):
            p.current = None

    def _fold_thread(self, p: Batch, event: ev.ThreadStarted | ev.ThreadFinished, record: RunRecord, now: float) -> None:
        what = "started" if isinstance(event, ev.ThreadStarted) else f"finished: {event.status}"
        node_id = event.node_id if isinstance(event, ev.ThreadStarted) else None
        self._add_log_locked(LogLine(now, "INFO", f"sub-workflow thread {event.thread_id} {what}", node_id, event.execution_id, "engine.runtime"))

    def _maybe_edges(self, p: Batch, record: RunRecord, now: float) -> None:
        if now - self._edges_at >= EDGE_SNAPSHOT_S:
            self._edges_at = now
            self._edges_dirty = False
            main = record.threads.get(MAIN_THREAD)
            if main is not None:
                p.edges = dict(main.edge_counts)
        else:
            self._edges_dirty = True

    def _snapshot_edges(self) -> None:
        """Engine thread, between events: copy counters a throttled snapshot skipped."""
        record = self._record
        if record is None or MAIN_THREAD not in record.threads:
            return
        with self._lock:
            if not self._edges_dirty:
                return
            self._edges_dirty = False
            self._edges_at = time.time()
            self._pending.edges = dict(record.main.edge_counts)
            self._pending.events += 1
            wake = not self._scheduled
            self._scheduled = True
        if wake:
            self._wake.emit()

    def add_log(self, line: LogLine) -> None:
        """Any thread: queue one log line of this run."""
        if line.execution_id is not None and self.execution_id is not None and line.execution_id != self.execution_id:
            return
        with self._lock:
            self._add_log_locked(line)
            wake = not self._scheduled
            self._scheduled = True
        if wake:
            self._wake.emit()

    def _add_log_locked(self, line: LogLine) -> None:
        if len(self._pending.logs) < MAX_LOG_BATCH:
            self._pending.logs.append(line)
        else:
            self._pending.dropped_logs += 1

    # -- GUI thread --------------------------------------------------------------
    def _arm(self) -> None:
        if self._timer.isActive():
            return
        since = (time.monotonic() - self._last_flush) * 1000
        self._timer.start(max(0, int(self._frame_ms - since)))

    def flush(self) -> Batch | None:
        """Deliver the pending batch now (GUI thread)."""
        self._timer.stop()
        with self._lock:
            batch, self._pending = self._pending, Batch()
            self._scheduled = False
            if batch.empty():
                return None
            # spans keep changing on the engine thread: hand the GUI copies
            batch.spans = {k: replace(s) for k, s in batch.spans.items()}
            stale_edges = self._edges_dirty
        if stale_edges and self._call_in_engine is not None:
            self._call_in_engine(self._snapshot_edges)
        self._last_flush = time.monotonic()
        self.flushes += 1
        self.batch_ready.emit(batch)
        return batch


# one fold per event type (plain functions: a table of the bridge's bound methods would make
# every bridge a reference cycle, kept with its run's attempts until a full collection)
_FOLDS: dict[type[ev.Event], Callable[[EventBridge, Batch, Any, RunRecord, float], None]] = {
    ev.NodeStarted: EventBridge._fold_started,
    ev.NodeFinished: EventBridge._fold_finished,
    ev.NodeRetrying: EventBridge._fold_retrying,
    ev.ThreadStarted: EventBridge._fold_thread,
    ev.ThreadFinished: EventBridge._fold_thread,
    **dict.fromkeys(_RUN_STATUS, EventBridge._fold_run_status),
}
