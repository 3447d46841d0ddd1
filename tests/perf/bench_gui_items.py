"""The GUI thread's share of a big run, piece by piece, without a run: relabelling every
edge, re-badging every node, a live timeline redraw, the minimap's picture after a frame
of run-state changes and a run start's log-dock update,
each on a 5,000-node chain. `bench_gui_full_app.py` measures them together, where other
work on the machine blurs them; these are steady enough to compare two versions.

Run: QT_QPA_PLATFORM=offscreen python -m tests.perf.bench_gui_items [--nodes 5000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from tests.perf.bench_gui_events import chain


def _edge_labels(nodes: int) -> Callable[[], None]:
    from app.canvas.scene import WorkflowScene

    scene = WorkflowScene()
    scene.bind(chain(nodes))
    edges = scene.edge_items()

    def relabel(scene: WorkflowScene = scene) -> None:  # as a run does: a count, the data preview, cleared
        for e in edges:
            e.set_flow_label("1 item", True)
        for i, e in enumerate(edges):
            e.set_flow_label(f'{{"n": {i % 50}, "x": "abc"}}', True)
        for e in edges:
            e.set_flow_label(None, None)

    return relabel


def _node_states(nodes: int, app: QApplication) -> Callable[[], None]:
    from app.canvas.scene import WorkflowScene

    scene = WorkflowScene()
    scene.bind(chain(nodes))
    items = scene.node_items()

    def rebadge(scene: WorkflowScene = scene) -> None:  # the scene is kept alive with its items
        for n in items:
            n.set_run_state("pending")
        for n in items:
            n.set_run_state("running")
        for i, n in enumerate(items):
            n.set_run_state("succeeded", f"{i % 40} ms", "output: x")
        for n in items:
            n.set_run_state(None)
        app.processEvents()  # the scene's repaint bookkeeping

    return rebadge


def _timeline(nodes: int, app: QApplication) -> Callable[[], None]:
    from app.panels.timeline import TimelinePanel
    from app.runner.bridge import AttemptSpan

    panel = TimelinePanel()
    panel.resize(1200, 250)
    panel.show()
    t0 = time.time() - nodes * 0.0007

    def span(i: int) -> AttemptSpan:
        start = t0 + i * 0.0007
        return AttemptSpan("main", f"n{i}", 1, start, start + 0.0004, "succeeded")

    panel.add_spans([span(i) for i in range(nodes - 1)])
    panel.redraw()
    last = [nodes - 1]

    def redraw() -> None:  # one attempt more, as in a live run
        panel.add_spans([span(last[0])])
        last[0] += 1
        panel.redraw()
        app.processEvents()  # the Gantt paints what changed

    return redraw


def _minimap(nodes: int, app: QApplication) -> Callable[[], None]:
    from app.canvas.scene import WorkflowScene
    from app.canvas.view import CanvasView

    scene = WorkflowScene()
    scene.bind(chain(nodes))
    view = CanvasView(scene)
    view.resize(1000, 600)
    view.set_minimap_visible(True)
    view.show()
    app.processEvents()
    items = scene.node_items()
    for n in items:
        n.set_run_state("pending")
    minimap = view.minimap
    minimap.refresh()
    at = [0]

    def recolour(view: CanvasView = view) -> None:  # one frame of a run: 80 more nodes done, then the picture
        for _ in range(80):
            i = at[0] % len(items)
            items[i].set_run_state("succeeded" if at[0] // len(items) % 2 == 0 else "running")
            at[0] += 1
        minimap._rebuild()  # what its throttling timer calls

    return recolour


def _log_run_start(nodes: int) -> Callable[[], None]:
    from app.panels.log_dock import LogPanel
    from app.runner.bridge import LogLine

    panel = LogPanel()
    panel.resize(900, 300)
    panel.show()
    panel.set_workflow(chain(nodes))
    panel.append([LogLine(float(i), "INFO", f"n{i % nodes} succeeded", f"n{i % nodes}", "e1") for i in range(20_000)])
    again = chain(nodes)
    return lambda: panel.set_workflow(again)


def _time(fn: Callable[[], None], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    cases = [
        (f"relabel {args.nodes:,} edges three times", _edge_labels(args.nodes)),
        (f"{4 * args.nodes:,} node run-state changes", _node_states(args.nodes, app)),
        (f"live timeline redraw and paint at {args.nodes:,} attempts", _timeline(args.nodes, app)),
        (f"minimap after 80 run-state changes ({args.nodes:,} nodes)", _minimap(args.nodes, app)),
        (f"log dock at a run start ({args.nodes:,} nodes, 20,000 lines)", _log_run_start(args.nodes)),
    ]
    print()
    print(f"GUI-thread pieces of a {args.nodes:,}-node run ({args.rounds} rounds each)")
    print()
    print("| piece | median ms | min ms | max ms |")
    print("| --- | ---: | ---: | ---: |")
    for name, fn in cases:
        app.processEvents()
        ms = _time(fn, args.rounds)
        print(f"| {name} | {statistics.median(ms):.1f} | {min(ms):.1f} | {max(ms):.1f} |")
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
