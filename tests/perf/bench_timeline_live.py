"""The Timeline dock alone during a live 5,000-attempt run, with a thread that keeps the
interpreter lock busy as the engine does.

`bench_gui_full_app.py` measures the whole studio, where the machine's other work blurs
the timeline's share. Here the timeline gets the attempts as the studio feeds them (a
batch every 16 ms: the attempts that started, and the previous batch's as finished),
a probe thread posts an event every 5 ms, and "busy" runs a pure-Python thread beside
the GUI thread all along (the engine thread of a run: the GUI thread has to wait for
the interpreter lock each time it calls into Python from Qt, up to the switch
interval). Per run: how often the Gantt was redrawn and painted, the GUI thread's CPU
time per paint (the Gantt's view paints in one call into Python: the longer it runs,
the more often the busy thread takes the lock from it), and the probes' waits.
`--entries` also counts the calls into Python during the paints (the view's paint and
every item's paint, boundingRect... called from it).

Run: QT_QPA_PLATFORM=offscreen python -m tests.perf.bench_timeline_live [--attempts 5000] [--rounds 3] [--entries]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections import Counter
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pyqtgraph as pg
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from tests.perf.bench_gui_events import LatencyProbe, stats

BATCH_MS = 16
SPACING_S = 0.0004  # between two attempts' starts: 5,000 attempts in 2 s


class PaintClock:
    """Times the paints of one plot widget (CPU of this thread and wall), and counts the
    calls into Python made during them when asked."""

    def __init__(self, widget: Any, entries: bool) -> None:
        self.widget = widget
        self.cpu: list[float] = []
        self.wall: list[float] = []
        self.entries: Counter[str] | None = Counter() if entries else None
        self._calls = 0
        original = pg.PlotWidget.paintEvent

        def paint_event(view: Any, event: Any, clock: PaintClock = self) -> None:
            if view is not clock.widget:
                original(view, event)
                return
            if clock.entries is not None:
                sys.setprofile(clock._count)
            c, w = time.thread_time(), time.perf_counter()
            original(view, event)
            clock.cpu.append((time.thread_time() - c) * 1000)
            clock.wall.append((time.perf_counter() - w) * 1000)
            sys.setprofile(None)

        pg.PlotWidget.paintEvent = paint_event

    def _count(self, frame: Any, event: str, _arg: Any) -> None:
        if event == "call" and self.entries is not None:
            code = frame.f_code
            self.entries[f"{os.path.basename(code.co_filename)}:{code.co_name}"] += 1

    def clear(self) -> None:
        self.cpu, self.wall = [], []


def _busy(stop: threading.Event) -> None:
    x = 0
    while not stop.is_set():
        x += 1


def live_run(app: QApplication, panel: Any, clock: PaintClock, attempts: int, busy: bool) -> dict[str, Any]:
    """Feed `attempts` attempts as a live run does, then its end; return what it cost."""
    from app.runner.bridge import AttemptSpan

    panel.clear()
    app.processEvents()
    clock.clear()
    t0 = time.time()
    per_batch = max(1, round(BATCH_MS / 1000 / SPACING_S))
    state: dict[str, Any] = {"next": 0, "open": []}
    done = QEventLoop()

    def span(i: int, finished: bool) -> AttemptSpan:
        start = t0 + i * SPACING_S
        return AttemptSpan("main", f"n{i}", 1, start, start + SPACING_S * 0.7 if finished else None, "succeeded" if finished else "running")

    def feed() -> None:
        i = state["next"]
        if i >= attempts:
            timer.stop()
            done.quit()
            return
        fresh = list(range(i, min(attempts, i + per_batch)))
        panel.add_spans([span(k, True) for k in state["open"]] + [span(k, False) for k in fresh])
        state["open"], state["next"] = fresh, i + len(fresh)

    timer = QTimer()
    timer.setInterval(BATCH_MS)
    timer.timeout.connect(feed)
    stop = threading.Event()
    hog = threading.Thread(target=_busy, args=(stop,), daemon=True)
    probe = LatencyProbe()
    redraws: list[float] = []  # CPU ms of each
    counted = panel.redraw

    def redraw() -> None:
        c = time.thread_time()
        counted()
        redraws.append((time.thread_time() - c) * 1000)

    panel._redraw.timeout.disconnect()
    panel._redraw.timeout.connect(redraw)
    if busy:
        hog.start()
    probe.timer.start()
    started = time.perf_counter()
    timer.start()
    done.exec()
    elapsed = time.perf_counter() - started
    panel.set_spans([span(k, True) for k in range(attempts)])  # the run's record
    app.processEvents()
    probe.timer.stop()
    stop.set()
    if busy:
        hog.join()
    panel._redraw.timeout.disconnect()
    panel._redraw.timeout.connect(counted)
    return {
        "busy": busy, "run s": elapsed, "redraws": redraws, "paints": len(clock.cpu),
        "paint cpu": list(clock.cpu), "paint wall": list(clock.wall), "probe": stats(probe.samples),
    }


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def _print(rows: list[dict[str, Any]]) -> None:
    print("| engine thread | run s | redraws | redraw CPU ms, median (max) | paints | paint CPU ms, median (max) | paint wall ms, median (max) "
          "| p50 ms | p99 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        cpu, wall = r["paint cpu"], r["paint wall"]
        p50, p99, mx = r["probe"]
        red = r["redraws"] or [0.0]
        print(f"| {'busy' if r['busy'] else 'idle'} | {r['run s']:.1f} | {len(r['redraws'])} | {statistics.median(red):.1f} ({max(red):.1f}) | {r['paints']} "
              f"| {statistics.median(cpu):.1f} ({max(cpu):.1f}) | {statistics.median(wall):.1f} ({max(wall):.1f}) "
              f"| {p50:.1f} | {p99:.1f} | {mx:.1f} |")
    print()
    busy = [r for r in rows if r["busy"]]
    if len(busy) > 1:
        print(f"Busy runs ({len(busy)}): p99 {_spread([r['probe'][1] for r in busy])} ms, max {_spread([r['probe'][2] for r in busy])} ms, "
              f"paint CPU per run's worst {_spread([max(r['paint cpu']) for r in busy])} ms")
        print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3, help="runs with the busy thread (each after one without)")
    parser.add_argument("--entries", action="store_true", help="count calls into Python during the paints (slows them)")
    parser.add_argument("--height", type=int, default=260, help="the dock's height in pixels")
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    from app.panels.timeline import TimelinePanel

    panel = TimelinePanel()
    panel.resize(1400, args.height)
    panel.set_names({f"n{i}": f"Set {i}" for i in range(args.attempts)})
    panel.show()
    clock = PaintClock(panel.gantt, args.entries)
    app.processEvents()
    rows = [live_run(app, panel, clock, args.attempts, busy) for _ in range(args.rounds) for busy in (False, True)]
    print()
    print(f"Timeline dock, {args.attempts:,} live attempts, {panel.width()}x{panel.height()} px "
          f"(probe every 5 ms; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end)")
    print()
    _print(rows)
    if clock.entries is not None:
        paints = sum(r["paints"] for r in rows)
        print(f"Calls into Python during the Gantt's paints: {sum(clock.entries.values()) / paints:,.0f} a paint")
        print()
        print("| called | a paint |")
        print("| --- | ---: |")
        for where, n in clock.entries.most_common(20):
            print(f"| {where} | {n / paints:.1f} |")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
