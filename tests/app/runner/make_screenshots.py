"""Render the runner screenshots for the README: a live run with a retry badge, and the timeline.

    QT_QPA_PLATFORM=offscreen python -m tests.app.runner.make_screenshots [OUT_DIR]

Uses the real main window, the real engine thread, a SQLite store in a temp
directory and the local test HTTP server (127.0.0.1 only).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication


def wait_until(app: QApplication, cond, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        app.processEvents()
        time.sleep(0.005)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    out = Path(args[0] if args else "docs/images")
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="pe-shots-"))
    os.environ["PROCESSENGINE_DATA_DIR"] = str(tmp / "data")
    os.environ["PROCESSENGINE_LOG_DIR"] = str(tmp / "logs")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))

    import qasync

    from app.main_window import MainWindow
    from app.runner.install import install_runner
    from engine import fileformat
    from tests.app.runner.helpers import workflow
    from tests.servers import HttpTestServer, Reply

    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app, already_running=True)
    asyncio.set_event_loop(loop)
    server = HttpTestServer()
    try:
        fail = Reply(status=503, json={"error": "busy"})
        ok = Reply(json={"items": [{"id": 1, "name": "anvil"}, {"id": 2, "name": "rope"}, {"id": 3, "name": "glue"}]})
        wf = workflow(
            [
                {"id": "start", "type": "manual_trigger", "name": "Start", "position": [0, 60]},
                {"id": "prep", "type": "set", "name": "Prepare query", "position": [260, 60], "config": {"values": {"limit": 3}}},
                {
                    "id": "get",
                    "type": "http_request",
                    "name": "Get items",
                    "position": [520, 60],
                    "config": {"method": "GET", "url": server.url_for("/items"), "timeout_s": 5},
                    "retry": {"max_attempts": 4, "initial_delay_s": 0.8, "multiplier": 2.0, "max_delay_s": 10, "jitter": False},
                },
                {"id": "many", "type": "if", "name": "Many?", "position": [780, 60], "config": {"condition": "{{ len(input.body['items']) > 2 }}"}},
                {"id": "big", "type": "set", "name": "Big order", "position": [1040, -40], "config": {"values": {"n": "{{ len(nodes['Get items'].body['items']) }}"}}},
                {"id": "small", "type": "set", "name": "Small order", "position": [1040, 170], "config": {"values": {"n": 0}}},
            ],
            [("start", "out", "prep"), ("prep", "out", "get"), ("get", "out", "many"), ("many", "true", "big"), ("many", "false", "small")],
            wf_id="docs-fetch",
            name="Fetch items",
        )
        path = tmp / "fetch.pe.json"
        fileformat.save(wf, path)
        window = MainWindow()
        window.resize(1500, 900)
        ui = install_runner(window, db=str(tmp / "runs.db"), recover=False)
        window.show()
        window.open_path(path, ask=False)
        c = ui.controller
        ended: list[str] = []
        c.run_ended.connect(lambda _eid, status: ended.append(status))
        # a few earlier runs for the durations chart
        for n, fails in enumerate((0, 1, 0), start=1):
            server.route("/items", *([fail] * fails), ok)
            c.run_action.trigger()
            wait_until(app, lambda n=n: len(ended) == n)
        # the live run: caught in back-off after the second failure
        server.route("/items", fail, fail, ok)
        ui.docks["log"].raise_()
        c.run_action.trigger()
        get = window.scene.node_item("get")
        wait_until(app, lambda: get.run_state == "retrying" and (get.run_badge or "").startswith("retry 3/4"))
        window.view.fit_all()
        window.scene.select_nodes(["get"])
        ui.docks["data"].raise_()
        t0 = time.monotonic()
        wait_until(app, lambda: ui.data.data is not None and len(ui.data.data["attempts"]) == 2 and time.monotonic() - t0 > 0.4)
        ui.data.tabs.setCurrentIndex(2)
        app.processEvents()
        c.canvas.settle()
        window.grab().save(str(out / "live_run.png"))
        wait_until(app, lambda: len(ended) == 4)
        ui.schedule_history()
        wait_until(app, lambda: [r["status"] for r in ui.timeline.durations] == ["completed"] * 4)
        dock = ui.docks["timeline"]
        dock.setFloating(True)
        dock.resize(1100, 560)
        dock.show()
        app.processEvents()
        ui.timeline.redraw()
        app.processEvents()
        dock.grab().save(str(out / "timeline.png"))
        ui.shutdown()
        window.document.undo_stack.setClean()
        window.close()
    finally:
        server.close()
        asyncio.events._set_running_loop(None)
    print(f"wrote {out / 'live_run.png'} and {out / 'timeline.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
