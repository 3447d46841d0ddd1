"""The event bridge: engine-thread events folded into one batch per frame on the GUI thread.

Events are emitted from a real second thread (as the engine thread does); the GUI side is
waited for by signal, never by the clock.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.runner import bridge as br
from app.runner.bridge import Batch, EventBridge, LogLine
from engine import events as ev
from engine.runtime.record import MAIN_THREAD, RunRecord, ThreadRecord

EID = "exec-1"


def record() -> RunRecord:
    return RunRecord(execution_id=EID, workflow_id="wf", threads={MAIN_THREAD: ThreadRecord(MAIN_THREAD, "wf")})


def on_engine_thread(fn: Callable[[], None]) -> None:
    t = threading.Thread(target=fn)
    t.start()
    t.join()


def started(node: str, attempt: int = 1) -> ev.NodeStarted:
    return ev.NodeStarted(execution_id=EID, thread_id=MAIN_THREAD, node_id=node, attempt=attempt, side_effects=False)


def finished(node: str, status: str = "succeeded", attempt: int = 1) -> ev.NodeFinished:
    return ev.NodeFinished(
        execution_id=EID, thread_id=MAIN_THREAD, node_id=node, status=status, duration_ms=1.5, attempt=attempt, output_summary="{}"
    )


@pytest.fixture
def bridge(qtbot: QtBot) -> EventBridge:
    return EventBridge(frame_ms=1)


def collect(bridge: EventBridge) -> list[Batch]:
    batches: list[Batch] = []
    bridge.batch_ready.connect(batches.append)
    return batches


def test_the_latest_state_of_a_node_wins_within_a_batch(qtbot: QtBot, bridge: EventBridge) -> None:
    batches = collect(bridge)
    rec = record()

    def run() -> None:
        bridge.on_event(started("a"), rec)
        bridge.on_event(finished("a"), rec)
        bridge.on_event(started("b"), rec)

    with qtbot.waitSignal(bridge.batch_ready):
        on_engine_thread(run)
    assert len(batches) == 1
    batch = batches[0]
    assert batch.execution_id == EID and batch.events == 3
    assert batch.nodes["a"].state == "succeeded" and batch.nodes["a"].duration_ms == 1.5
    assert batch.nodes["b"].state == "running" and batch.current == "b"
    assert [s.key for s in batch.spans.values()] == [(MAIN_THREAD, "a", 1), (MAIN_THREAD, "b", 1)]
    assert batch.spans[(MAIN_THREAD, "a", 1)].end is not None


def test_many_events_make_one_wake_and_one_batch(qtbot: QtBot, bridge: EventBridge) -> None:
    wakes: list[None] = []
    bridge._wake.connect(lambda: wakes.append(None))
    batches = collect(bridge)
    rec = record()

    def run() -> None:
        for i in range(500):
            bridge.on_event(started(f"n{i}"), rec)
            bridge.on_event(finished(f"n{i}"), rec)

    with qtbot.waitSignal(bridge.batch_ready):
        on_engine_thread(run)
    qtbot.waitUntil(lambda: len(wakes) >= 1)
    assert len(wakes) == 1  # only the first event of an empty batch posts a wake-up
    assert len(batches) == 1 and batches[0].events == 1000 and len(batches[0].nodes) == 500
    assert bridge.flush() is None  # nothing left behind


def test_a_retry_carries_its_countdown_and_the_maximum(qtbot: QtBot, bridge: EventBridge) -> None:
    batches = collect(bridge)
    rec = record()
    retry = ev.NodeRetrying(execution_id=EID, thread_id=MAIN_THREAD, node_id="h", attempt=1, max_attempts=4, delay=3.0, error="503")
    with qtbot.waitSignal(bridge.batch_ready):
        on_engine_thread(lambda: (bridge.on_event(started("h"), rec), bridge.on_event(retry, rec)))
    live = batches[-1].nodes["h"]
    assert (live.state, live.attempt, live.max_attempts, live.error) == ("retrying", 1, 4, "503")
    assert live.retry_at is not None
    span = batches[-1].spans[(MAIN_THREAD, "h", 1)]
    assert (span.status, span.retry_delay) == ("failed", 3.0)
    with qtbot.waitSignal(bridge.batch_ready):
        on_engine_thread(lambda: bridge.on_event(started("h", 2), rec))
    assert batches[-1].nodes["h"].max_attempts == 4  # remembered for the next attempt


def test_run_status_and_failure_reach_the_gui(qtbot: QtBot, bridge: EventBridge) -> None:
    batches = collect(bridge)
    rec = record()
    rec.main.edge_counts = {0: 2}
    error = {"message": "boom", "node_id": "a"}
    with qtbot.waitSignal(bridge.batch_ready):
        on_engine_thread(lambda: bridge.on_event(ev.ExecutionFailed(execution_id=EID, error=error), rec))
    assert (batches[-1].run_status, batches[-1].error, batches[-1].edges) == ("failed", error, {0: 2})


def test_log_lines_beyond_a_batch_are_counted_not_kept(qtbot: QtBot, bridge: EventBridge, monkeypatch: Any) -> None:
    monkeypatch.setattr(br, "MAX_LOG_BATCH", 10)
    batches = collect(bridge)
    bridge.execution_id = EID

    def run() -> None:
        for i in range(25):
            bridge.add_log(LogLine(0.0, "INFO", f"line {i}", None, EID))
        bridge.add_log(LogLine(0.0, "INFO", "another run's line", None, "someone-else"))

    with qtbot.waitSignal(bridge.batch_ready):
        on_engine_thread(run)
    assert [line.message for line in batches[-1].logs] == [f"line {i}" for i in range(10)]
    assert batches[-1].dropped_logs == 15


def test_engine_log_records_of_this_run_become_log_lines(qtbot: QtBot, bridge: EventBridge) -> None:
    """The ids come from the records' structured fields (`extra=`), never from their text;
    the text keeps its `execution=… node=…` for the log file, the dock shows the rest."""
    batches = collect(bridge)
    bridge.execution_id = EID
    bridge.capture_logs()
    engine_log = logging.getLogger("engine.runtime")

    def run() -> None:
        engine_log.info("execution=%s node=%s started attempt %d", EID, "a", 1, extra={"execution_id": EID, "node_id": "a"})
        engine_log.info("execution=%s: pause requested through the database", EID, extra={"execution_id": EID})
        engine_log.warning("retry of %s", "b", extra={"execution_id": EID, "node_id": "b"})  # no ids in the text
        engine_log.info("text that only names execution=%s node=%s", EID, "c")  # no fields: no ids
        engine_log.info("execution=%s node=%s started attempt 1", "other", "d", extra={"execution_id": "other", "node_id": "d"})

    try:
        with qtbot.waitSignal(bridge.batch_ready):
            on_engine_thread(run)
    finally:
        bridge.close()
    assert [(ln.execution_id, ln.node_id, ln.level, ln.message) for ln in batches[-1].logs] == [
        (EID, "a", "INFO", "started attempt 1"),
        (EID, None, "INFO", "pause requested through the database"),
        (EID, "b", "WARNING", "retry of b"),
        (None, None, "INFO", f"text that only names execution={EID} node=c"),
    ]  # the other run's line is not this run's


def test_a_real_run_logs_node_lines_with_their_ids(qtbot: QtBot, bridge: EventBridge) -> None:
    """The orchestrator's own lines and a node's `ctx.log` lines (a JavaScript console.log)
    reach the bridge with both ids as fields; the node's own fields are kept."""
    from engine.fileformat import parse
    from engine.runtime.runner import run_workflow

    wf = parse({
        "format": "processengine/1", "id": "wf-log", "name": "log ids", "variables": {},
        "nodes": [
            {"id": "start", "type": "manual_trigger", "name": "Start", "position": [0, 0], "config": {}},
            {"id": "js", "type": "code", "name": "Say", "position": [260, 0],
             "config": {"language": "javascript", "code": "console.log('hello'); return {ok: 1};"}},
        ],
        "connections": [{"from": "start", "from_port": "out", "to": "js", "to_port": "in"}],
    })  # fmt: skip
    sources: list[object] = []
    tap = logging.Handler()
    tap.emit = lambda record: sources.append(getattr(record, "source", None))  # type: ignore[method-assign]
    logging.getLogger("engine").addHandler(tap)
    batches = collect(bridge)
    bridge.capture_logs()
    try:
        hooks = bridge.hooks()
        on_engine_thread(lambda: asyncio.run(run_workflow(wf, hooks=hooks, execution_id=EID)))
        qtbot.waitUntil(lambda: any(b.run_status == "completed" for b in batches))
    finally:
        bridge.close()
        logging.getLogger("engine").removeHandler(tap)
    lines = [ln for b in batches for ln in b.logs]
    said = [ln for ln in lines if ln.message == "console.log: hello"]
    assert [(ln.execution_id, ln.node_id) for ln in said] == [(EID, "js")]
    assert ("js", "succeeded") in {(ln.node_id, ln.message.split(" in ")[0]) for ln in lines}
    assert all(ln.execution_id == EID for ln in lines if ln.logger.startswith("engine"))
    assert "console" in sources


def test_a_closed_bridge_is_freed_without_the_collector_and_lets_go_of_its_run(qtbot: QtBot) -> None:
    """The bridge outlives its run until the next one starts: once closed it holds neither the
    run's record nor its finished attempts, and nothing of it waits for a full collection."""
    import gc
    import sys
    import weakref

    bridge = EventBridge(frame_ms=1)
    rec = record()

    def emit(to: EventBridge, *events: ev.Event) -> None:
        on_engine_thread(lambda: [to.on_event(e, rec) for e in events])

    emit(bridge, started("a"), finished("a"), started("b"))
    with qtbot.waitSignal(bridge.batch_ready):
        pass
    held = sys.getrefcount(rec)
    bridge.close()
    assert sys.getrefcount(rec) == held - 1  # the record is let go
    emit(bridge, finished("b"))  # a late event still closes its attempt
    batch = bridge.flush()
    assert batch is not None and batch.spans[(MAIN_THREAD, "b", 1)].end is not None
    gone = weakref.ref(bridge)
    gc.disable()
    try:
        del bridge, batch
        assert gone() is None  # freed by its reference count: no cycle through it
    finally:
        gc.enable()
