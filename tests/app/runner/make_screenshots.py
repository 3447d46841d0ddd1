"""Render the README screenshots: the editor, a live run with a retry badge, the timeline.

    QT_QPA_PLATFORM=offscreen python -m tests.app.runner.make_screenshots [OUT_DIR] [--states DIR]

`--states DIR` also saves the other states for review (not for the README): a past
run viewed read-only, the history's delete question, an error notice and its dialog.
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


EDITOR_WORKFLOW = {
    "format": "processengine/1",
    "id": "c0a8e9f2-5d7b-4a5e-9a3c-1f1f3c2b7d10",
    "name": "Fetch and notify",
    "variables": {"base_url": "http://127.0.0.1:8080", "threshold": 2},
    "nodes": [
        {"id": "start", "type": "manual_trigger", "name": "Start", "position": [0, 60], "config": {}},
        {"id": "get", "type": "http_request", "name": "Get items", "position": [260, 40],
         "config": {"method": "GET", "url": "{{ vars.base_url }}/items", "timeout_s": 10},
         "retry": {"max_attempts": 4, "initial_delay_s": 0.5, "multiplier": 2.0, "max_delay_s": 30, "jitter": True},
         "on_error": "route"},
        {"id": "many", "type": "if", "name": "Many?", "position": [540, 40], "config": {"condition": "{{ len(input.body.items) > vars.threshold }}"}},
        {"id": "each", "type": "loop", "name": "Each item", "position": [820, -60], "config": {"items": "{{ input.body.items }}"}},
        {"id": "kind", "type": "switch", "name": "Kind", "position": [1100, -100],
         "config": {"value": "{{ loop.item.kind }}", "cases": {"order": "order", "refund": "refund"}}},
        {"id": "post", "type": "http_request", "name": "Post order", "position": [1380, -100],
         "config": {"method": "POST", "url": "{{ vars.base_url }}/orders", "json": "{{ loop.item }}"}},
        {"id": "mail", "type": "send_email", "name": "Notify", "position": [820, 180],
         "config": {"from": "robot@example.com", "to": ["ops@example.com"], "subject": "{{ len(input.body.items) }} items", "text": "Few items today."}},
        {"id": "log", "type": "set", "name": "Log error", "position": [540, 240], "config": {"values": {"error": "{{ input.message }}"}}},
    ],
    "connections": [
        {"from": "start", "from_port": "out", "to": "get", "to_port": "in"},
        {"from": "get", "from_port": "out", "to": "many", "to_port": "in"},
        {"from": "many", "from_port": "true", "to": "each", "to_port": "in"},
        {"from": "many", "from_port": "false", "to": "mail", "to_port": "in"},
        {"from": "each", "from_port": "loop", "to": "kind", "to_port": "in"},
        {"from": "kind", "from_port": "order", "to": "post", "to_port": "in"},
        {"from": "post", "from_port": "out", "to": "each", "to_port": "in"},
        {"from": "get", "from_port": "error", "to": "log", "to_port": "in"},
    ],
    "notes": [{"id": "n1", "text": "Fetch the items. Many: post each order. Few: mail the team.", "position": [0, 200], "size": [230, 100]}],
}  # fmt: skip


def editor_screenshot(app: QApplication, tmp: Path, out: Path) -> None:
    """The designer with a workflow that shows most node kinds, one problem and a note."""
    import json

    from app.main_window import MainWindow
    from app.runner.install import install_runner

    path = tmp / "fetch-and-notify.pe.json"
    path.write_text(json.dumps(EDITOR_WORKFLOW, indent=1), encoding="utf-8")
    window = MainWindow()
    window.resize(1600, 1000)
    ui = install_runner(window, db=str(tmp / "editor.db"), recover=False)
    window.problems_dock.raise_()
    window.show()
    window.open_path(path, ask=False)
    app.processEvents()
    window.view.fit_all()
    window.scene.select_nodes(["get"])
    t0 = time.monotonic()
    wait_until(app, lambda: time.monotonic() - t0 > 0.6)  # validation (debounced) and the minimap
    window.grab().save(str(out / "editor.png"))
    ui.shutdown()
    window.document.undo_stack.setClean()
    window.close()
    from app import settings

    settings.settings().clear()  # the next window starts from the default layout again


def main(argv: list[str] | None = None) -> int:
    args = list(argv if argv is not None else sys.argv[1:])
    states: Path | None = None
    if "--states" in args:
        i = args.index("--states")
        states = Path(args[i + 1])
        del args[i : i + 2]
        states.mkdir(parents=True, exist_ok=True)
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
        editor_screenshot(app, tmp, out)
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
        dock.setFloating(False)
        if states is not None:
            state_screenshots(app, window, ui, states)
        ui.shutdown()
        window.document.undo_stack.setClean()
        window.close()
    finally:
        server.close()
        asyncio.events._set_running_loop(None)
    print(f"wrote {out / 'editor.png'}, {out / 'live_run.png'} and {out / 'timeline.png'}" + (f"; states in {states}" if states else ""))
    return 0


def settle(app: QApplication, window, seconds: float = 0.4) -> None:
    """Let layouts and the (throttled) minimap catch up before a grab."""
    t0 = time.monotonic()
    wait_until(app, lambda: time.monotonic() - t0 > seconds and not window.view.minimap.pending)


def state_screenshots(app: QApplication, window, ui, out: Path) -> None:
    """A past run viewed read-only, the history's delete question, an error notice."""
    from app.crash_guard import install_error_reporter

    c = ui.controller
    ui.docks["history"].raise_()
    first = ui.history.runs[-1]
    c.spawn(ui.open_run(first["execution_id"], first.get("number")))
    wait_until(app, lambda: c.state == "viewing" and window.read_only)
    window.view.fit_all()
    window.scene.select_nodes(["get"])
    ui.docks["data"].raise_()
    # run #1 succeeded at once: one attempt (the live run's data had three)
    wait_until(app, lambda: ui.data.data is not None and ui.data.data["node_id"] == "get" and len(ui.data.data["attempts"]) == 1)
    ui.data.tabs.setCurrentIndex(0)
    c.canvas.settle()
    settle(app, window)
    window.grab().save(str(out / "run_view.png"))
    window.inspector_dock.raise_()
    settle(app, window, 0.2)
    window.grab().save(str(out / "run_view_inspector.png"))
    ui.docks["history"].raise_()
    ui.history.select_executions([r["execution_id"] for r in ui.history.runs[:2]])
    ui.history.delete_button.click()
    settle(app, window)
    window.grab().save(str(out / "history_delete.png"))
    ui.history.confirm.keep_button.click()
    c.leave_view()
    reporter = install_error_reporter(window)
    try:
        try:
            raise RuntimeError("a bug in a handler (shown for the screenshot)")
        except RuntimeError:
            reporter.excepthook(*sys.exc_info())  # type: ignore[arg-type]
        settle(app, window)
        window.grab().save(str(out / "error_notice.png"))
        if reporter.dialog is not None:
            reporter.dialog.grab().save(str(out / "error_dialog.png"))
            reporter.dialog.close()
    finally:
        reporter.uninstall()


if __name__ == "__main__":
    raise SystemExit(main())
