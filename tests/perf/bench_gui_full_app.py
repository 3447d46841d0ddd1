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

`--entries` counts the GUI thread's calls into Python from Qt during each run (a slot, an
event handler, a virtual such as a pyqtgraph item's paint), by function: those from the
event loop take the interpreter lock, and wait for it while the engine thread has it;
those nested in a call Python made into Qt do not. The counting slows the GUI thread, so
take the run's numbers from a call without it.

The probes go on after the run until the studio has done what a run's end sets off
(the final record on the canvas and in the docks, the Steps list, the history): the
"end" columns are those waits. `--rounds N` repeats the docks in turn N times and adds a
summary per dock. Modules are imported with bytecode caching on (in a cache under the
temp directory), as in an installed package: this machine's PYTHONDONTWRITEBYTECODE
would make the first run's lazy imports compile their source on the GUI thread.

Run: QT_QPA_PLATFORM=offscreen python -m tests.perf.bench_gui_full_app [--nodes 5000] [--rounds 3] [--stalls] [--entries]
"""

from __future__ import annotations

import os
import sys
import tempfile

sys.dont_write_bytecode = False  # before any of the app is imported
sys.pycache_prefix = os.path.join(tempfile.gettempdir(), "pe-bench-pycache")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from tests.perf.bench_gui_events import LatencyProbe, chain, stats  # noqa: E402

END_WAIT_S = 20.0  # at most this long for the end of a run to settle


class StallSampler:
    """While `probe` has waited over `late_ms`, count the GUI thread's innermost frame of
    the app (or pyqtgraph) every `every_ms`, and how much CPU the GUI and the engine
    threads used meanwhile: a GUI thread off the CPU while the engine's is on it waits
    for the interpreter lock (or for a core)."""

    def __init__(self, probe: LatencyProbe, engine_ident: int | None = None, late_ms: float = 20.0, every_ms: float = 2.0) -> None:
        self.probe = probe
        self.late_s, self.every_s = late_ms / 1000, every_ms / 1000
        self.where: Counter[str] = Counter()
        self.cpu = {"wall": 0.0, "gui": 0.0, "engine": 0.0, "gui queued": 0.0}
        self._gui = threading.get_ident()
        self._schedstat = f"/proc/self/task/{threading.get_native_id()}/schedstat"  # on a CPU, waiting for one (ns)
        self._clocks = {"gui": time.pthread_getcpuclockid(self._gui)}
        if engine_ident is not None:
            self._clocks["engine"] = time.pthread_getcpuclockid(engine_ident)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _times(self) -> dict[str, float]:
        out = {"wall": time.perf_counter()}
        for name, clock in self._clocks.items():
            try:
                out[name] = time.clock_gettime(clock)
            except OSError:  # the thread ended
                out[name] = 0.0
        try:
            with open(self._schedstat) as f:
                out["gui queued"] = int(f.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):  # not Linux
            pass
        return out

    def _watch(self) -> None:
        last = self._times()
        while not self._stop.wait(self.every_s):
            now = self._times()
            if now["wall"] - self.probe.seen > self.late_s:
                frame = sys._current_frames().get(self._gui)
                self.where[_innermost(frame)] += 1
                for name in now:
                    self.cpu[name] = self.cpu.get(name, 0.0) + max(0.0, now[name] - last.get(name, now[name]))
            last = now


class EntryCounter:
    """Counts the GUI thread's entries into Python from Qt (a slot, an event handler, a
    virtual such as a pyqtgraph item's paint), by function. An entry from the event loop
    takes the interpreter lock and waits for it while the engine thread has it (up to the
    switch interval); one nested in a call Python made into Qt (an item's paint inside the
    view's Python paintEvent) does not: PySide keeps the lock across that call, as a
    paint of 20 Python items beside a busy Python thread showed (no slower)."""

    def __init__(self) -> None:
        self.entries: Counter[str] = Counter()  # from the event loop
        self.nested: Counter[str] = Counter()
        self._stack: list[bool] = []  # per open call: True for a Qt function

    def start(self) -> None:
        self._stack = []  # the next Qt call is the event loop's (QEventLoop.exec)
        sys.setprofile(self._profile)

    def stop(self) -> None:
        sys.setprofile(None)

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        stack = self._stack
        if event == "call":
            if not stack or stack[-1]:
                (self.entries if len(stack) <= 1 else self.nested)[_where(frame)] += 1
            stack.append(False)
        elif event == "c_call":
            stack.append(_is_qt(arg))
        elif stack:  # return, c_return, c_exception
            stack.pop()


def _is_qt(func: Any) -> bool:
    """Whether a C function called from Python is Qt's (it may call back into Python):
    a method of a Qt object or class, also through super() in a subclass."""
    from shiboken6 import Shiboken

    owner = getattr(func, "__self__", None)
    return isinstance(owner, Shiboken.Object) or (isinstance(owner, type) and issubclass(owner, Shiboken.Object))


def _where(frame: Any) -> str:
    code = frame.f_code
    path = code.co_filename.replace(os.sep, "/")
    for root in ("/app/", "/pyqtgraph/", "/tests/", "/qasync/", "/engine/"):
        if root in path:
            return f"{root.strip('/')}/{path.split(root, 1)[1]}:{code.co_name}"
    return f"{path.rsplit('/', 1)[-1]}:{code.co_name}"


def _innermost(frame: object) -> str:
    while frame is not None:
        code = frame.f_code  # type: ignore[attr-defined]
        path = code.co_filename.replace(os.sep, "/")
        for root in ("/app/", "/pyqtgraph/"):
            if root in path:
                return f"{root.strip('/')}/{path.split(root, 1)[1]}:{code.co_name}"
        frame = frame.f_back  # type: ignore[attr-defined]
    return "(Qt)"


def _settled(ui: Any, execution_id: str | None) -> bool:
    """Whether what the end of a run sets off is done: the Steps list shows the run, no
    coroutine of the runner is pending and no history refresh is due."""
    steps = getattr(ui, "time_travel", None)
    listed = steps is None or execution_id is None or steps.execution_id == execution_id
    return listed and not ui.controller._tasks and not ui._history_timer.isActive()


def _wait_settled(app: QApplication, ui: Any, execution_id: str | None) -> None:
    t = time.perf_counter()
    while time.perf_counter() - t < END_WAIT_S and not _settled(ui, execution_id):
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 20)
    t = time.perf_counter()
    while time.perf_counter() - t < 0.3:  # the end's last repaints
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 20)


def measure_dock(app: QApplication, ui: Any, dock: str, stalls: Counter[str] | None, stall_cpu: Counter[str] | None = None,
                 entries: bool = False) -> dict[str, Any]:
    """One run with `dock` in front, then its end until the studio settled."""
    ui.docks[dock].raise_()
    app.processEvents()
    probe = LatencyProbe()
    done: list[float] = []
    waiting = QEventLoop()  # not app.exec(): quitting the app shuts the run tools down
    finished = ui.controller.run_ended.connect(lambda *_a, d=done, w=waiting: (d.append(time.perf_counter()), w.quit()))
    probe.timer.start()
    sampler = StallSampler(probe, ui.engine.thread.ident) if stalls is not None else None
    if sampler is not None:
        sampler.start()
    counter = EntryCounter() if entries else None
    cpu0 = time.thread_time()  # this (the GUI) thread only
    t0 = time.perf_counter()
    QTimer.singleShot(0, ui.start_run)
    QTimer.singleShot(120_000, waiting.quit)
    if counter is not None:
        counter.start()
    waiting.exec()
    if counter is not None:
        counter.stop()
    gui_cpu = time.thread_time() - cpu0
    during = len(probe.samples)
    ui.controller.run_ended.disconnect(finished)
    elapsed = (done[0] if done else time.perf_counter()) - t0
    _wait_settled(app, ui, ui.controller.execution_id)
    end_s = time.perf_counter() - t0 - elapsed
    if sampler is not None and stalls is not None:
        sampler.stop()
        stalls.update(sampler.where)
        if stall_cpu is not None:
            stall_cpu.update(sampler.cpu)
    probe.timer.stop()
    bridge = ui.controller.bridge
    events = bridge.events if bridge is not None else 0
    return {
        "dock": dock, "events/s": events / elapsed if elapsed else 0.0, "run s": elapsed, "cpu": gui_cpu,
        "run": stats(probe.samples[:during]), "probes": during, "end": stats(probe.samples[during:]), "end s": end_s,
        "entries": counter.entries if counter is not None else None,
        "nested": counter.nested if counter is not None else None,
    }


def _owed_collection() -> list[float]:
    """The collection the runs left owed, each of its steps run now and timed (ms)."""
    from app.runner import gc_pacer

    steps: list[float] = []
    while gc_pacer.owed():
        steps.append(gc_pacer.collect_owed())
    return steps


def _idle_s() -> float:
    from app.runner import gc_pacer

    return float(getattr(gc_pacer, "IDLE_S", 0.0))


def _print_runs(rows: list[dict[str, Any]]) -> None:
    print("| dock in front | events/s | run s | GUI thread CPU s | p50 ms | p99 ms | max ms | probes | end s | end p99 ms | end max ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        p50, p99, mx = r["run"]
        _e50, e99, emx = r["end"]
        print(f"| {r['dock']} | {r['events/s']:,.0f} | {r['run s']:.1f} | {r['cpu']:.2f} | {p50:.2f} | {p99:.2f} | {mx:.2f} | {r['probes']} "
              f"| {r['end s']:.1f} | {e99:.1f} | {emx:.1f} |")


def _print_summary(rows: list[dict[str, Any]], docks: list[str]) -> None:
    """Per dock: the median and range over the rounds."""

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"

    print("| dock in front | runs | p99 ms | max ms | p50 ms | run s | GUI thread CPU s | end p99 ms | end max ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for dock in docks:
        mine = [r for r in rows if r["dock"] == dock]
        print(f"| {dock} | {len(mine)} | {spread([r['run'][1] for r in mine])} | {spread([r['run'][2] for r in mine])} "
              f"| {spread([r['run'][0] for r in mine])} | {spread([r['run s'] for r in mine])} | {spread([r['cpu'] for r in mine])} "
              f"| {spread([r['end'][1] for r in mine])} | {spread([r['end'][2] for r in mine])} |")


def _print_entries(rows: list[dict[str, Any]], docks: list[str], top: int = 60) -> None:
    """Per dock: the GUI thread's entries into Python from the event loop (each waits for
    the interpreter lock) and nested in calls into Qt, per run, and the functions most entered."""
    for dock in docks:
        mine = [r for r in rows if r["dock"] == dock]
        loop: Counter[str] = Counter()
        nested: Counter[str] = Counter()
        for r in mine:
            loop.update(r["entries"])
            nested.update(r["nested"])
        runs, seconds = len(mine), sum(r["run s"] for r in mine)
        print(f"Entries into Python on the GUI thread, {dock} in front: from the event loop {sum(loop.values()) / runs:,.0f} a run "
              f"({sum(loop.values()) / seconds:,.0f} a second, slowed by the counting), nested {sum(nested.values()) / runs:,.0f} a run")
        print()
        print("| entered | from the loop, a run | nested, a run |")
        print("| --- | ---: | ---: |")
        for where, _count in (loop + nested).most_common(top):
            print(f"| {where} | {loop[where] / runs:,.0f} | {nested[where] / runs:,.0f} |")
        print()


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
    parser.add_argument("--rounds", type=int, default=1, help="the docks take turns this many times")
    parser.add_argument("--stalls", action="store_true", help="sample the GUI thread's stack while probes wait")
    parser.add_argument("--entries", action="store_true", help="count the GUI thread's entries into Python during each run (slows it)")
    parser.add_argument("--switch-interval", type=float, default=None, help="sys.setswitchinterval in ms, set after the studio set its own")
    args = parser.parse_args(argv)
    stalls: Counter[str] = Counter()
    stall_cpu: Counter[str] = Counter()
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
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval / 1000)
    window.show()
    window.open_path(path, ask=False)
    settle = time.perf_counter()
    while time.perf_counter() - settle < 1.0:  # first paint, validation, history
        app.processEvents()
    docks = args.docks.split(",")
    rows = [measure_dock(app, ui, dock, stalls if args.stalls else None, stall_cpu, args.entries) for _ in range(args.rounds) for dock in docks]
    owed_ms = _owed_collection()
    cancel_pending_tasks(app, loop)
    ui.shutdown()
    window.document.undo_stack.setClean()
    window.close()
    asyncio.events._set_running_loop(None)

    print()
    print(f"Studio window, {args.nodes:,}-node chain on SQLite, minimap shown (probe every 5 ms; interpreter switch interval "
          f"{sys.getswitchinterval() * 1000:.1f} ms; load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end)")
    print()
    _print_runs(rows)
    print()
    if args.rounds > 1:
        _print_summary(rows, docks)
        print()
    if owed_ms:
        print(f"The garbage collection the runs put off, step by step (the studio runs each after {_idle_s():.0f} s without input): "
              + ", ".join(f"{ms:.0f} ms" for ms in owed_ms))
        print()
    if args.entries:
        _print_entries(rows, docks)
    if stalls:
        total = sum(stalls.values())
        print(f"Where the GUI thread was while a probe waited over 20 ms ({total} samples, every run)")
        print()
        wall = stall_cpu["wall"] or 1.0
        print(f"Meanwhile ({stall_cpu['wall']:.2f} s): the GUI thread was on a CPU {100 * stall_cpu['gui'] / wall:.0f} % of the time, "
              f"the engine thread {100 * stall_cpu['engine'] / wall:.0f} %; the GUI thread waited for a free CPU "
              f"{100 * stall_cpu['gui queued'] / wall:.0f} % (the rest of its time off a CPU it waited for the interpreter lock)")
        print()
        print("| innermost frame | share |")
        print("| --- | ---: |")
        for where, count in stalls.most_common(15):
            print(f"| {where} | {100 * count / total:.1f} % |")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
