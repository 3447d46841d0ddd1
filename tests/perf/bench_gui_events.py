"""GUI responsiveness while a run streams engine events (issue 5: < 50 ms p99 at 5,000 events/s).

A probe thread posts a QEvent to a GUI-thread object every 5 ms and the GUI
records how long each waited before Qt delivered it (the latency a click or
key press would see, including while the GUI thread is busy).
Scenarios, each on a real window with a real canvas:

- idle: no run (baseline);
- paced: the engine thread emits real lifecycle events (NodeStarted /
  NodeFinished pairs, plus a log line each) at 5,000 events/s through the
  EventBridge onto a 200-node canvas;
- real run: the RunController runs a chain of `set` nodes through
  ExecutionService on a SQLite file, as fast as the engine goes (its event
  rate is printed).

Run: QT_QPA_PLATFORM=offscreen python -m tests.perf.bench_gui_events [--seconds 4]
Prints a table; numbers for docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

PROBE_TYPE = QEvent.Type(QEvent.registerEventType())
PROBE_MS = 5


class _Probe(QEvent):
    def __init__(self, t: float) -> None:
        super().__init__(PROBE_TYPE)
        self.t = t


class LatencyProbe(QObject):
    """A thread posts a probe event every PROBE_MS (like input arriving from the OS, whether or
    not the GUI thread is free); the GUI thread records how long each waited (ms)."""

    def __init__(self) -> None:
        super().__init__()
        self.samples: list[float] = []
        self.seen = time.perf_counter()  # when the GUI thread last took a probe
        self.posted = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.timer = self  # start()/stop() like a QTimer

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._post_loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        QCoreApplication.sendPostedEvents(self, PROBE_TYPE)  # count the ones still queued

    def _post_loop(self) -> None:
        while not self._stop.wait(PROBE_MS / 1000):
            QCoreApplication.postEvent(self, _Probe(time.perf_counter()))
            self.posted += 1

    def event(self, ev: QEvent) -> bool:
        if ev.type() == PROBE_TYPE:
            self.seen = time.perf_counter()
            self.samples.append((self.seen - ev.t) * 1000)  # type: ignore[attr-defined]
            return True
        return super().event(ev)


def run_for(app: QApplication, seconds: float) -> None:
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()


def chain(n: int, wf_id: str = "bench-chain"):
    from tests.app.runner.helpers import workflow

    nodes = [{"id": "start", "type": "manual_trigger", "name": "Start"}]
    conns = []
    prev = "start"
    for i in range(1, n):
        nodes.append({"id": f"s{i}", "type": "set", "name": f"Set {i}", "config": {"values": {"i": i}}})
        conns.append((prev, "out", f"s{i}"))
        prev = f"s{i}"
    return workflow(nodes, conns, wf_id=wf_id, name="bench")


def paced_producer(bridge, record, node_ids: list[str], rate: float, stop: threading.Event, counter: list[int]) -> None:
    """Engine-side: emit NodeStarted/NodeFinished (+ a log line) at `rate` events/s through the hook."""
    from app.runner.bridge import LogLine
    from engine import events as ev

    period = 1.0 / rate
    t_next = time.perf_counter()
    i = 0
    n = len(node_ids)
    while not stop.is_set():
        node = node_ids[(i // 2) % n]
        if i % 2 == 0:
            e = ev.NodeStarted(execution_id=record.execution_id, thread_id="main", node_id=node, attempt=1, side_effects=False)
        else:
            e = ev.NodeFinished(execution_id=record.execution_id, thread_id="main", node_id=node, status="succeeded", duration_ms=0.05, attempt=1, output_summary="{i}", ports=("out",))
            record.main.edge_counts[(i // 2) % max(1, n - 1)] = i
        bridge.on_event(e, record)
        bridge.add_log(LogLine(time.time(), "INFO", f"execution={record.execution_id} node={node} event {i}", node, record.execution_id))
        i += 1
        counter[0] = i
        t_next += period
        delay = t_next - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.05:
            t_next = time.perf_counter()  # fell behind: do not burst to catch up


def stats(samples: list[float]) -> tuple[float, float, float]:
    if not samples:
        return (float("nan"),) * 3
    s = sorted(samples)
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))]
    return statistics.median(s), p99, s[-1]


Row = tuple[str, float, float, float, float, float, int]


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--switch-interval", type=float, default=None, help="sys.setswitchinterval (s); the app's own setting when omitted")
    return parser.parse_args(argv)


def _idle(app: QApplication, seconds: float) -> Row:
    """The baseline: the window is shown, nothing runs."""
    probe = LatencyProbe()
    probe.timer.start()
    run_for(app, min(2.0, seconds))
    probe.timer.stop()
    return ("idle (no run)", 0.0, 0.0, *stats(probe.samples), len(probe.samples))


def _paced(app: QApplication, engine: Any, win: Any, wf: Any, args: argparse.Namespace) -> Row:
    """Real lifecycle events at `args.rate` through the bridge onto the canvas."""
    from app.runner.bridge import EventBridge
    from app.runner.canvas_state import RunCanvas
    from engine.runtime.orchestrator import new_record

    bridge = EventBridge(call_in_engine=engine.call_soon)
    canvas = RunCanvas(win.scene)
    canvas.begin(wf)
    flushes = [0]

    def on_batch(batch: Any) -> None:
        flushes[0] += 1
        canvas.apply(batch)

    bridge.batch_ready.connect(on_batch)
    record = new_record(wf, execution_id="bench-paced")
    stop = threading.Event()
    counter = [0]
    node_ids = [n.id for n in wf.nodes]
    producer = threading.Thread(target=paced_producer, args=(bridge, record, node_ids, args.rate, stop, counter), daemon=True)
    probe = LatencyProbe()
    probe.timer.start()
    t0 = time.perf_counter()
    producer.start()
    run_for(app, args.seconds)
    stop.set()
    producer.join()
    elapsed = time.perf_counter() - t0
    probe.timer.stop()
    canvas.clear()
    return (f"paced {args.rate:.0f} events/s + log lines", counter[0] / elapsed, flushes[0] / elapsed, *stats(probe.samples), len(probe.samples))


def _real_run(app: QApplication, engine: Any, seconds: float, minimap: bool) -> Row:
    """A 5,000-node chain through the RunController and a SQLite store, as fast as the engine goes."""
    from app.runner.controller import RunController
    from engine.service import ExecutionService
    from tests.app.runner.helpers import HostWindow

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        win = HostWindow(chain(5000, wf_id="bench-real"))
        win.view().set_minimap_visible(minimap)
        win.show()
        win.view().fit_all()
        ctl = RunController(engine, lambda db=db: ExecutionService(db), win)
        probe = LatencyProbe()
        probe.timer.start()
        t0 = time.perf_counter()
        done: list[float] = []
        ctl.run_ended.connect(lambda *_, d=done: (d.append(time.perf_counter()), app.quit()))
        ctl.spawn(ctl.start())
        QTimer.singleShot(int((seconds + 30) * 1000), app.quit)
        app.exec()
        probe.timer.stop()
        elapsed = (done[0] if done else time.perf_counter()) - t0
        events = ctl.bridge.events if ctl.bridge is not None else 0
        flush_count = ctl.bridge.flushes if ctl.bridge is not None else 0
        label = "real run: 5,000-node chain, SQLite, " + ("minimap shown" if minimap else "minimap hidden")
        ctl.shutdown()
        ctl.call_blocking(lambda s: s.close())
        win.close()
    return (label, events / elapsed, flush_count / elapsed, *stats(probe.samples), len(probe.samples))


def _print_table(rows: list[Row], seconds: float) -> None:
    print()
    print(f"GUI input latency while engine events stream (probe every {PROBE_MS} ms, {seconds:.0f} s per paced scenario, GIL switch interval {sys.getswitchinterval() * 1000:.1f} ms)")
    print()
    print("| scenario | events/s | GUI flushes/s | p50 ms | p99 ms | max ms | probes |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, evs, fl, p50, p99, mx, n in rows:
        print(f"| {name} | {evs:,.0f} | {fl:.0f} | {p50:.2f} | {p99:.2f} | {mx:.2f} | {n} |")
    print()


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)

    import qasync

    from app.runner.engine_thread import EngineThread
    from tests.app.runner.helpers import HostWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app, already_running=True)
    asyncio.set_event_loop(loop)
    wf = chain(args.nodes)
    win = HostWindow(wf)
    win.show()
    win.view().fit_all()
    rows = [_idle(app, args.seconds)]
    engine = EngineThread()
    rows.append(_paced(app, engine, win, wf, args))
    rows += [_real_run(app, engine, args.seconds, minimap) for minimap in (True, False)]
    engine.stop()
    _print_table(rows, args.seconds)
    asyncio.events._set_running_loop(None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
