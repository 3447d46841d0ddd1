"""GUI input latency of the whole studio window while a big run streams events.

`bench_gui_events.py` measures the canvas and the bridge alone; here the real main
window with every run tool installed (history, log, timeline, run data docks, the
minimap) runs a chain of `set` nodes through the SQLite store, once with each bottom
dock in front, since a dock's cost depends on whether it is shown. A thread posts a
probe event every 5 ms; the table is how long each waited on the GUI thread, and the
CPU time the GUI thread itself used during the run (less sensitive than the waits to
other processes taking the cores).

`--stalls` also samples the GUI thread's Python stack every 2 ms while it has kept a
probe waiting over 20 ms, and prints where those samples were (the innermost frame of
the app or of pyqtgraph; "(Qt)" when no Python frame of theirs was running).

Run: QT_QPA_PLATFORM=offscreen python -m tests.perf.bench_gui_full_app [--nodes 5000] [--stalls]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from tests.perf.bench_gui_events import LatencyProbe, chain, stats


class StallSampler:
    """While `probe` has waited over `late_ms`, count the GUI thread's innermost frame of
    the app (or pyqtgraph) every `every_ms`."""

    def __init__(self, probe: LatencyProbe, late_ms: float = 20.0, every_ms: float = 2.0) -> None:
        self.probe = probe
        self.late_s, self.every_s = late_ms / 1000, every_ms / 1000
        self.where: Counter[str] = Counter()
        self._gui = threading.get_ident()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(self.every_s):
            if time.perf_counter() - self.probe.seen > self.late_s:
                frame = sys._current_frames().get(self._gui)
                self.where[_innermost(frame)] += 1


def _innermost(frame: object) -> str:
    while frame is not None:
        code = frame.f_code  # type: ignore[attr-defined]
        path = code.co_filename.replace(os.sep, "/")
        for root in ("/app/", "/pyqtgraph/"):
            if root in path:
                return f"{root.strip('/')}/{path.split(root, 1)[1]}:{code.co_name}"
        frame = frame.f_back  # type: ignore[attr-defined]
    return "(Qt)"


def measure_dock(app: QApplication, ui: Any, dock: str, stalls: Counter[str] | None) -> tuple[Any, ...]:
    """One run with `dock` in front: (dock, events/s, s, latency stats..., samples, GUI-thread CPU s)."""
    ui.docks[dock].raise_()
    app.processEvents()
    probe = LatencyProbe()
    done: list[float] = []
    waiting = QEventLoop()  # not app.exec(): quitting the app shuts the run tools down
    finished = ui.controller.run_ended.connect(lambda *_a, d=done, w=waiting: (d.append(time.perf_counter()), w.quit()))
    probe.timer.start()
    sampler = StallSampler(probe) if stalls is not None else None
    if sampler is not None:
        sampler.start()
    cpu0 = time.thread_time()  # this (the GUI) thread only
    t0 = time.perf_counter()
    QTimer.singleShot(0, ui.start_run)
    QTimer.singleShot(120_000, waiting.quit)
    waiting.exec()
    gui_cpu = time.thread_time() - cpu0
    if sampler is not None and stalls is not None:
        sampler.stop()
        stalls.update(sampler.where)
    probe.timer.stop()
    ui.controller.run_ended.disconnect(finished)
    elapsed = (done[0] if done else time.perf_counter()) - t0
    bridge = ui.controller.bridge
    events = bridge.events if bridge is not None else 0
    t = time.perf_counter()
    while time.perf_counter() - t < 0.5:  # the end-of-run repaints, before the next run
        app.processEvents()
    return (dock, events / elapsed if elapsed else 0.0, elapsed, *stats(probe.samples), len(probe.samples), gui_cpu)


def cancel_pending_tasks(app: QApplication, loop: asyncio.AbstractEventLoop, grace_s: float = 5.0) -> None:
    """As asyncio.run ends: what the run tools still have pending (a history refresh, the
    run's samples) is cancelled and takes its cancellation while the engine still runs;
    left pending, each was reported at exit ("Task was destroyed but it is pending!")."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    deadline = time.perf_counter() + grace_s
    while any(not task.done() for task in pending) and time.perf_counter() < deadline:
        app.processEvents()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--docks", default="history,log,timeline", help="bottom docks to put in front, one run each")
    parser.add_argument("--stalls", action="store_true", help="sample the GUI thread's stack while probes wait")
    args = parser.parse_args(argv)
    stalls: Counter[str] = Counter()
    tmp = Path(tempfile.mkdtemp(prefix="pe-bench-app-"))
    os.environ["PROCESSENGINE_DATA_DIR"] = str(tmp / "data")
    os.environ["PROCESSENGINE_LOG_DIR"] = str(tmp / "logs")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))

    import qasync

    from app.main_window import MainWindow
    from app.runner.install import install_runner
    from engine import fileformat

    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app, already_running=True)
    asyncio.set_event_loop(loop)
    path = tmp / "chain.pe.json"
    fileformat.save(chain(args.nodes, wf_id="bench-app"), path)
    window = MainWindow()
    window.resize(1500, 900)
    ui = install_runner(window, db=str(tmp / "runs.db"), recover=False)
    window.show()
    window.open_path(path, ask=False)
    settle = time.perf_counter()
    while time.perf_counter() - settle < 1.0:  # first paint, validation, history
        app.processEvents()
    rows = []
    for dock in args.docks.split(","):
        rows.append(measure_dock(app, ui, dock, stalls if args.stalls else None))
    cancel_pending_tasks(app, loop)
    ui.shutdown()
    window.document.undo_stack.setClean()
    window.close()
    asyncio.events._set_running_loop(None)

    print()
    print(f"Studio window, {args.nodes:,}-node chain on SQLite, minimap shown (probe every 5 ms)")
    print()
    print("| dock in front | events/s | run s | GUI thread CPU s | p50 ms | p99 ms | max ms | probes |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for dock, evs, secs, p50, p99, mx, n, cpu in rows:
        print(f"| {dock} | {evs:,.0f} | {secs:.1f} | {cpu:.2f} | {p50:.2f} | {p99:.2f} | {mx:.2f} | {n} |")
    print()
    if stalls:
        total = sum(stalls.values())
        print(f"Where the GUI thread was while a probe waited over 20 ms ({total} samples, every run)")
        print()
        print("| innermost frame | share |")
        print("| --- | ---: |")
        for where, count in stalls.most_common(15):
            print(f"| {where} | {100 * count / total:.1f} % |")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
