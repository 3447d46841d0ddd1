"""Entry point of the desktop app: `processengine studio [FILE] [--run] [--screenshot PNG]`.

The Qt event loop is driven by qasync, so the GUI can await engine work
(`asyncio.wrap_future(...)`) on the same loop that paints. `--screenshot`
loads FILE, saves the window as a PNG and exits (for tests, docs and bug
reports); `--run` asks the window to start the workflow (`MainWindow.start_run`,
provided by the run tools — until they are installed it reports that running
is not available and the screenshot is taken right away).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from app.settings import APPLICATION, ORGANIZATION

log = logging.getLogger(__name__)
SCREENSHOT_SETTLE_MS = 250
SHUTDOWN_GRACE_S = 5.0  # how long the tasks left at exit get to take their cancellation


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="processengine studio", description="ProcessEngine Studio: the workflow designer")
    parser.add_argument("file", nargs="?", help="a workflow file (.pe.json) to open")
    parser.add_argument("--run", action="store_true", help="start the loaded workflow once the window is up")
    parser.add_argument("--screenshot", metavar="PNG", help="save the window as a PNG once FILE is loaded (with --run: once the run has ended), then exit")
    parser.add_argument("--db", metavar="URL", help="execution database: SQLite path or SQLAlchemy URL (default: PROCESSENGINE_DB, else the per-user file)")
    parser.add_argument("--workspace", metavar="NAME", default="default", help="workspace of the execution history (default: default)")
    return parser


def release_clipboard_on_quit(app: QApplication) -> None:
    """Empty the clipboard as the app quits if it holds our copy.

    With PySide6 6.11, a QMimeData the app put on the clipboard that is still there
    when the interpreter exits crashes the process (segfault on the way out).
    """

    def release() -> None:
        clip = app.clipboard()
        if clip.ownsClipboard() or (clip.mimeData() is not None and clip.mimeData().formats()):
            clip.clear()

    app.aboutToQuit.connect(release)


def show_first(app: QApplication, window: QWidget) -> None:
    """Show the window and paint its first frame now: until the event loop runs, a shown
    window is an unpainted (black) rectangle, so everything slow comes after this."""
    window.show()
    app.processEvents()
    log.info("window shown", extra={"event": "window_shown"})


class Startup:
    """What happens once the window is painted: run tools, the file (or the recovery
    offer), `--run`, `--screenshot`. `exit_code` is what `main` returns."""

    def __init__(self, app: QApplication, window: Any, args: argparse.Namespace) -> None:
        self.app, self.window, self.args = app, window, args
        self.exit_code = 0

    def load(self) -> None:
        from app.runner.install import install_runner  # run tools: toolbar, docks, --run
        from app.team_store import team_db_url

        args, window = self.args, self.window
        db = args.db or os.environ.get("PROCESSENGINE_DB") or team_db_url()  # Settings > Team store
        install_runner(window, db=db, workspace=args.workspace, recover=not args.screenshot)
        if args.file:
            if not window.open_path(args.file, ask=False) and args.screenshot:
                self.exit_code = 2
                self.app.quit()
                return
            log.info("opened %s", args.file, extra={"file": str(args.file)})
        elif not args.screenshot:
            QTimer.singleShot(0, window.offer_recovery)
        if args.screenshot:
            run_ended = getattr(window, "run_ended", None)
            started = window.start_run() if args.run else False
            if started and run_ended is not None:
                run_ended.connect(lambda *_a: QTimer.singleShot(SCREENSHOT_SETTLE_MS, self.take_screenshot))
            else:
                QTimer.singleShot(SCREENSHOT_SETTLE_MS, self.take_screenshot)
        elif args.run:
            QTimer.singleShot(0, window.start_run)

    def take_screenshot(self) -> None:
        window = self.window
        window.view.fit_all()
        window.runner.controller.canvas.settle()  # every run state painted, also on a huge canvas
        self.app.processEvents()
        target = Path(self.args.screenshot)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(target)):
            print(f"cannot write screenshot {target}", file=sys.stderr)
            self.exit_code = 1
        window.document.undo_stack.setClean()  # nothing to ask about on the way out
        window.close()
        self.app.quit()


def finish_pending_tasks(loop: asyncio.AbstractEventLoop, grace_s: float = SHUTDOWN_GRACE_S) -> None:
    """Cancel the tasks still pending as the app quits and run the loop until each has taken
    its cancellation, as `asyncio.run` does before closing its loop.

    Closed at once instead, a task started just before quitting (a history refresh) is left
    pending: its `finally` never runs and the garbage collector reports "Task was destroyed
    but it is pending!". A task that ignores its cancellation gets `grace_s`, then is logged.
    """
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        _, stuck = loop.run_until_complete(asyncio.wait(pending, timeout=grace_s))
        for task in stuck:
            log.warning("task still pending at exit: %r", task, extra={"event": "task_pending_at_exit"})
    loop.run_until_complete(loop.shutdown_asyncgens())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import qasync

    from app.main_window import MainWindow
    from engine.errors import WorkflowInvalid

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "processengine"])
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("ProcessEngine Studio")
    app.setDesktopFileName("processengine")  # Wayland docks match the window to the .desktop entry
    release_clipboard_on_quit(app)

    if args.screenshot and args.file:
        # non-interactive: a broken file is an error on stderr, never a dialog nobody can close
        from engine import fileformat

        try:
            fileformat.load(args.file, check_configs=False)  # config problems show in the window
        except WorkflowInvalid as exc:
            print(str(exc), file=sys.stderr)
            return 2

    loop = qasync.QEventLoop(app)  # before the window: the runner schedules work on it
    asyncio.set_event_loop(loop)
    from app.crash_guard import disable_fault_log, enable_fault_log, install_error_reporter
    from app.panels.log_dock import install_file_logging

    enable_fault_log(install_file_logging())  # a hard crash leaves its stacks in the app log
    reporter = install_error_reporter(loop=loop)  # a bug is logged and shown, never fatal
    window = MainWindow()
    reporter.attach(window)
    from app.team_store import install_menu

    install_menu(window)  # Settings > Team store
    show_first(app, window)  # painted before the slow part: run tools, database, the file
    startup = Startup(app, window, args)
    QTimer.singleShot(0, startup.load)
    done = asyncio.Event()
    app.aboutToQuit.connect(done.set)
    with loop:
        loop.run_until_complete(done.wait())
        finish_pending_tasks(loop)
    reporter.uninstall()
    disable_fault_log()
    return startup.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
