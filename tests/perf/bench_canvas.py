"""Canvas benchmark: load time and frame times while panning and zooming.

Run: `QT_QPA_PLATFORM=offscreen python tests/perf/bench_canvas.py [--sizes 100 1000]`

For each size it builds a workflow file (a trigger, then rows of set/if/http
nodes chained with some branches), then measures in the real main window:
- parse: reading the file into the model (engine.fileformat)
- scene: building the items (WorkflowScene.bind)
- first frame: fit to the window and paint the viewport once
- open total: MainWindow.open_path end to end, including the first paint
- validate: engine.graph.validate (runs debounced after each edit)
- pan / zoom frame: one scroll step or one zoom step plus a synchronous
  viewport repaint, at 100 % and at the zoom that fits the whole workflow.
It prints a Markdown table (the numbers go into docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication


def make_workflow(n: int) -> dict:
    """n nodes in rows of 25: a chain with an `if` every 10 nodes branching to the next row."""
    nodes = [{"id": "n0", "type": "manual_trigger", "name": "Start", "position": [0, 0], "config": {}}]
    conns = []
    for i in range(1, n):
        kind = "if" if i % 10 == 0 else ("http_request" if i % 7 == 0 else "set")
        config = {"condition": "{{ input.ok }}"} if kind == "if" else (
            {"url": "http://127.0.0.1:9/{{ input.id }}"} if kind == "http_request" else {"values": {"i": i, "id": "{{ input.id }}"}}
        )  # fmt: skip
        nodes.append({"id": f"n{i}", "type": kind, "name": f"Node {i}", "position": [260 * (i % 25), 160 * (i // 25)], "config": config})
        prev = nodes[i - 1]
        port = "true" if prev["type"] == "if" else "out"
        conns.append({"from": prev["id"], "from_port": port, "to": f"n{i}", "to_port": "in"})
        if prev["type"] == "if" and i + 24 < n:
            conns.append({"from": prev["id"], "from_port": "false", "to": f"n{i + 24}", "to_port": "in"})
    return {"format": "processengine/1", "id": f"bench-{n}", "name": f"Bench {n}", "variables": {}, "nodes": nodes, "connections": conns}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def frame_times(app: QApplication, view, step, count: int) -> list[float]:
    out = []
    vp = view.viewport()
    for i in range(count):
        t0 = time.perf_counter()
        step(i)
        vp.repaint()
        app.processEvents()
        out.append(time.perf_counter() - t0)
    return out


def summarize(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return f"{ms(statistics.mean(times))} / {ms(p95)}"


def bench(n: int, tmp: Path, app: QApplication) -> dict[str, str]:
    from app.canvas.scene import WorkflowScene
    from app.main_window import MainWindow
    from engine import fileformat
    from engine.graph import validate
    from engine.nodes.registry import all_specs

    all_specs()  # import the node types first: a one-off start-up cost, not load time

    path = tmp / f"bench-{n}.pe.json"
    path.write_text(json.dumps(make_workflow(n)), encoding="utf-8")
    t0 = time.perf_counter()
    wf = fileformat.load(path)
    parse = time.perf_counter() - t0
    t0 = time.perf_counter()
    validate(wf)
    validation = time.perf_counter() - t0
    scene = WorkflowScene()
    t0 = time.perf_counter()
    scene.bind(wf)
    build = time.perf_counter() - t0
    scene.unbind()

    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    view = window.view
    t0 = time.perf_counter()
    assert window.open_path(path, ask=False)
    app.processEvents()  # the deferred fit-to-window and the first paint
    view.viewport().repaint()
    total = time.perf_counter() - t0
    t0 = time.perf_counter()
    view.viewport().repaint()
    first = time.perf_counter() - t0
    fit_zoom = view.zoom

    results = {"nodes": str(n), "edges": str(len(wf.connections)), "parse ms": ms(parse), "scene ms": ms(build),
               "open total ms": ms(total), "validate ms": ms(validation)}  # fmt: skip
    results["frame at fit ms"] = ms(first)
    view.set_zoom(1.0)
    view.centerOn(scene_center := window.scene.content_rect().center())
    assert view.zoom == 1.0
    app.processEvents()
    # warm the item caches once, as a user's first look around does
    frame_times(app, view, lambda i: view.scroll_by(25, 10), 10)
    results["pan 100% mean/p95 ms"] = summarize(frame_times(app, view, lambda i: view.scroll_by(25 if i % 40 < 20 else -25, 10 if i % 20 < 10 else -10), 80))
    view.set_zoom(fit_zoom)
    view.centerOn(scene_center)
    results["pan fit mean/p95 ms"] = summarize(frame_times(app, view, lambda i: view.scroll_by(25 if i % 40 < 20 else -25, 0), 60))
    zooms = [0.2, 0.3, 0.45, 0.7, 1.0, 1.4, 1.0, 0.7, 0.45, 0.3]
    results["zoom step mean/p95 ms"] = summarize(frame_times(app, view, lambda i: view.set_zoom(zooms[i % len(zooms)]), 40))
    window.document.undo_stack.setClean()
    window.close()
    window.deleteLater()
    app.processEvents()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        os.environ["PROCESSENGINE_DATA_DIR"] = str(tmp / "data")
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
        app = QApplication.instance() or QApplication([])
        rows = [bench(n, tmp, app) for n in args.sizes]
    headers = list(rows[0])
    print(f"Canvas benchmark ({os.environ.get('QT_QPA_PLATFORM')} platform, 1600x1000 window, Python {sys.version.split()[0]})\n")
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---:" for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(row[h] for h in headers) + " |")


if __name__ == "__main__":
    main()
