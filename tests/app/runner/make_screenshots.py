"""Render the README screenshots from shipped examples: the editor, a live run with a retry
badge, the timeline. A picture that would show a traceback, a path of this machine or a
temp file name is refused (`check_clean`).

    QT_QPA_PLATFORM=offscreen python -m tests.app.runner.make_screenshots [OUT_DIR] [--states DIR]

`--states DIR` also saves the other states for review (not for the README): a past
run viewed read-only, the history's delete question, an error notice and its dialog.
Uses the real main window, the real engine thread and a SQLite store in a temp
directory; the retry example's requests go to 127.0.0.1 port 9, where nothing listens.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QSettings
from PySide6.QtWidgets import QApplication

from tests.demo import example_path


def wait_until(app: QApplication, cond, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        app.processEvents()
        time.sleep(0.005)


def check_clean(window, *, tmp: Path) -> None:
    """Stop before saving a picture that shows a traceback, a file path of this machine or
    a temp file name: the README's images show what any user sees with the shipped examples."""
    from PySide6.QtWidgets import QLabel, QLineEdit, QPlainTextEdit, QStatusBar, QTextEdit

    root = str(Path(__file__).resolve().parents[3])
    texts = [window.statusBar().currentMessage()]
    for kind, read in ((QLabel, "text"), (QLineEdit, "text"), (QPlainTextEdit, "toPlainText"), (QTextEdit, "toPlainText")):
        texts += [getattr(w, read)() for w in window.findChildren(kind) if w.isVisible()]
    texts += [w.currentMessage() for w in window.findChildren(QStatusBar)]
    for text in texts:
        for bad in ("Traceback", root, str(tmp), tempfile.gettempdir() + "/"):
            if bad in text:
                raise SystemExit(f"not saving a screenshot showing {bad!r}: {text[:300]!r}")


def editor_screenshot(app: QApplication, tmp: Path, out: Path) -> None:
    """The designer on a shipped example (a loop and a branch), ready to run, a node selected."""
    from app.main_window import MainWindow
    from app.runner.install import install_runner

    window = MainWindow()
    window.resize(1600, 1000)
    ui = install_runner(window, db=str(tmp / "editor.db"), recover=False)
    window.problems_dock.raise_()
    window.show()
    window.open_path(example_path("branch_and_loop"), ask=False)
    app.processEvents()
    window.view.fit_all()
    window.scene.select_nodes(["many"])
    wait_until(app, lambda: not window.validator.timer.isActive() and window.problem_label.text() == "✓ ready to run")
    window.statusBar().clearMessage()  # "Opened <path>": a path of this machine
    settle(app, window)
    check_clean(window, tmp=tmp)
    window.grab().save(str(out / "editor.png"))
    ui.shutdown()
    window.document.undo_stack.setClean()
    window.close()
    from app import settings

    settings.settings().clear()  # the next window starts from the default layout again


def live_run_screenshots(app: QApplication, tmp: Path, out: Path) -> tuple:
    """The shipped retry example: three finished runs for the charts, then a live run caught
    in its back-off after the second failed attempt; then the timeline of all four."""
    from app.main_window import MainWindow
    from app.runner.install import install_runner

    window = MainWindow()
    window.resize(1500, 900)
    ui = install_runner(window, db=str(tmp / "runs.db"), recover=False)
    window.show()
    window.open_path(example_path("retry_fallback"), ask=False)
    c = ui.controller
    ended: list[str] = []
    c.run_ended.connect(lambda _eid, status: ended.append(status))
    for n in (1, 2, 3):  # earlier runs for the durations chart
        c.run_action.trigger()
        wait_until(app, lambda n=n: len(ended) == n)
    ui.docks["log"].raise_()
    c.run_action.trigger()
    get = window.scene.node_item("get")
    wait_until(app, lambda: get.run_state == "retrying" and (get.run_badge or "").startswith("retry 3/3"))
    window.view.fit_all()
    window.scene.select_nodes(["get"])
    ui.docks["data"].raise_()
    wait_until(app, lambda: ui.data.data is not None and len(ui.data.data["attempts"]) == 2)
    ui.data.tabs.setCurrentIndex(2)
    ui.data.attempts.clearSelection()  # the attempts table, not one attempt's traceback
    wait_until(app, lambda: not ui.logs.painting_held())  # the log's latest lines painted
    app.processEvents()
    app.sendPostedEvents(None, QEvent.Type.LayoutRequest)  # status bar labels placed for their new text
    c.canvas.settle()
    check_clean(window, tmp=tmp)
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
    return window, ui


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

    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        editor_screenshot(app, tmp, out)
        window, ui = live_run_screenshots(app, tmp, out)
        if states is not None:
            state_screenshots(app, window, ui, states)
        ui.shutdown()
        window.document.undo_stack.setClean()
        window.close()
    finally:
        asyncio.events._set_running_loop(None)
        shutil.rmtree(tmp, ignore_errors=True)
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
    # run #1 ended: its three attempts (the live run's data had two when it was caught)
    wait_until(app, lambda: ui.data.data is not None and ui.data.data["node_id"] == "get" and len(ui.data.data["attempts"]) == 3)
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
