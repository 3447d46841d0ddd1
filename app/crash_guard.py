"""An unexpected exception never takes the app down: it is logged and shown, and work goes on.

PySide6 hands an exception raised in a slot or in a Qt virtual override (a mouse
handler, `paint`) to `sys.excepthook` when Qt called it from the event loop, but
raises it in whatever Python code made Qt call the override (`show()`, `push()`,
`sendEvent`), where it can unwind code that was never written to expect it. So:

- `ErrorReporter.install()` sets `sys.excepthook`, `threading.excepthook` and the
  asyncio loop's exception handler: each logs the traceback (the `app` logger, so
  it reaches the app's log file) and shows a notice — a status-bar message, a
  "⚠ errors" button in the status bar and a non-modal dialog with "Copy details".
  A repeated error (a `paint` failing on every frame) is counted, not re-shown.
- `@guarded` wraps the most exposed overrides (canvas mouse, key, drag and drop
  handlers, item `paint`): the exception stops there and goes to `sys.excepthook`.
- What never reaches an excepthook is still written down: Qt's own warnings and
  fatal messages (a `qFatal` aborts the process right after) go to the `app.qt`
  logger, exceptions Python cannot raise (`__del__`, finalisers) to
  `sys.unraisablehook`, and a hard crash (segfault, abort, C stack overflow) makes
  `faulthandler` write every thread's Python stack into the app's log file
  (`enable_fault_log`, called by `app.main`).
"""

from __future__ import annotations

import asyncio
import faulthandler
import functools
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar, overload

from PySide6.QtCore import (
    QCoreApplication,
    QMessageLogContext,
    QObject,
    Qt,
    QtMsgType,
    Signal,
    qInstallMessageHandler,
)
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)
qt_log = logging.getLogger("app.qt")
QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}
_fault_file: IO[str] | None = None

F = TypeVar("F", bound=Callable[..., Any])
REPEAT_LOG_S = 10.0  # a repeated error is logged again (with its count) at most this often


@overload
def guarded(method: F, *, cleanup: Callable[[Any], None] | None = None) -> F: ...
@overload
def guarded(method: None = None, *, cleanup: Callable[[Any], None] | None = None) -> Callable[[F], F]: ...
def guarded(method: F | None = None, *, cleanup: Callable[[Any], None] | None = None) -> F | Callable[[F], F]:
    """Decorator for Qt overrides: an exception is reported (via `sys.excepthook`) instead
    of escaping into Qt; `cleanup(self)` then puts the object back in a sane state."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, *args, **kwargs)
            except Exception:
                exc_type, exc, tb = sys.exc_info()
                try:
                    if cleanup is not None:
                        cleanup(self)
                finally:
                    sys.excepthook(exc_type, exc, tb)  # type: ignore[arg-type]
                return None

        return run  # type: ignore[return-value]

    return wrap(method) if method is not None else wrap


def enable_fault_log(path: str | Path) -> None:
    """On a hard crash (no Python exception: segfault, abort, C stack overflow) write
    every thread's Python stack to `path` (the app's log file), so a crash is never silent.
    Called again after the log file rotates, so the stacks land in the current file."""
    global _fault_file
    old = _fault_file
    _fault_file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for faulthandler
    faulthandler.enable(file=_fault_file, all_threads=True)
    if old is not None:
        old.close()


def disable_fault_log() -> None:
    global _fault_file
    if _fault_file is not None:
        faulthandler.disable()
        _fault_file.close()
        _fault_file = None


def fault_log_enabled() -> bool:
    return _fault_file is not None


def _qt_message(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    """Qt's warnings and fatal messages into the log (stderr is invisible in a desktop app)."""
    where = f" ({context.file}:{context.line})" if context.file else ""
    qt_log.log(QT_LEVELS.get(kind, logging.WARNING), "%s%s", message, where, extra={"qt_category": context.category})
    if kind == QtMsgType.QtFatalMsg:
        for handler in (*qt_log.handlers, *logging.getLogger("app").handlers, *logging.getLogger().handlers):
            handler.flush()  # Qt aborts the process right after this returns


@dataclass
class ErrorRecord:
    """One distinct error (same type, message and place) and how often it happened."""

    summary: str
    details: str
    count: int = 1
    first_at: float = 0.0
    logged_at: float = 0.0


def _key(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> tuple[str, str, str]:
    frames = traceback.extract_tb(tb) if tb is not None else []
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return (exc_type.__name__, str(exc)[:200], where)


def _summary(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> str:
    frames = traceback.extract_tb(tb) if tb is not None else []
    where = f" (in {frames[-1].name}, {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc_type.__name__}{': ' + text[:160] if text else ''}{where}"


class ErrorDialog(QDialog):
    """Non-modal: lists the errors seen so far with their tracebacks; "Copy details"."""

    def __init__(self, reporter: ErrorReporter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reporter = reporter
        self.setObjectName("error_dialog")
        self.setWindowTitle("Unexpected error")
        self.setModal(False)
        self.resize(720, 420)
        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        buttons = QDialogButtonBox()
        self.copy_button = QPushButton("Copy details")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.close)
        self.close_button.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)

    def refresh(self) -> None:
        records = self.reporter.records
        latest = records[-1] if records else None
        total = sum(r.count for r in records)
        lead = "ProcessEngine Studio ran into a bug and carried on; your work is still open (saving it now is a good idea)."
        if latest is not None:
            more = f" {total} errors so far." if total > 1 else ""
            self.headline.setText(f"{lead}\n\nLatest: {latest.summary}.{more}")
        self.details.setPlainText(self.reporter.details_text())

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.reporter.details_text())
        self.copy_button.setText("Copied")


class ErrorReporter(QObject):
    """Logs unexpected exceptions from any thread and shows them in the window."""

    reported = Signal(str)  # summary of a new (or repeated) error, on the GUI thread
    _from_thread = Signal(object, object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.records: list[ErrorRecord] = []
        self._by_key: dict[tuple[str, str, str], ErrorRecord] = {}
        self.window: QMainWindow | None = None
        self.dialog: ErrorDialog | None = None
        self.button: QToolButton | None = None
        self._saved: tuple[Any, Any, Any] | None = None
        self._saved_qt_handler: Any = None
        self._reporting = False
        self._gui_thread = threading.get_ident()
        self._from_thread.connect(self._handle, Qt.ConnectionType.QueuedConnection)

    # -- hooks -------------------------------------------------------------------------
    def install(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Become `sys.excepthook` and `threading.excepthook` (and `loop`'s handler)."""
        if self._saved is None:
            self._saved = (sys.excepthook, threading.excepthook, sys.unraisablehook)
            self._saved_qt_handler = qInstallMessageHandler(_qt_message)
        sys.excepthook = self.excepthook
        threading.excepthook = self.thread_excepthook
        sys.unraisablehook = self.unraisablehook
        if loop is not None:
            loop.set_exception_handler(self.asyncio_handler)

    def uninstall(self) -> None:
        if self._saved is not None:
            if sys.excepthook == self.excepthook:
                sys.excepthook = self._saved[0]
            if threading.excepthook == self.thread_excepthook:
                threading.excepthook = self._saved[1]
            if sys.unraisablehook == self.unraisablehook:
                sys.unraisablehook = self._saved[2]
            qInstallMessageHandler(self._saved_qt_handler)
            self._saved = None

    def excepthook(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
            (self._saved[0] if self._saved else sys.__excepthook__)(exc_type, exc, tb)
            return
        if threading.get_ident() == self._gui_thread:
            self._handle(exc_type, exc, tb)
        else:
            self._from_thread.emit(exc_type, exc, tb)

    def thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        self.excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    def unraisablehook(self, unraisable: Any) -> None:
        """An exception Python could not raise (in `__del__`, a finaliser, a GC callback)."""
        exc = unraisable.exc_value
        if exc is None:
            log.error("unraisable error: %s", unraisable.err_msg or "", extra={"object": repr(unraisable.object)[:200]})
            return
        log.error("%s: %r", unraisable.err_msg or "Exception ignored in", unraisable.object, exc_info=(type(exc), exc, unraisable.exc_traceback))

    def asyncio_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, BaseException) and not isinstance(exc, asyncio.CancelledError):
            self.excepthook(type(exc), exc, exc.__traceback__)
        else:
            log.error("event loop: %s", context.get("message", context))

    # -- the GUI side --------------------------------------------------------------------------
    def attach(self, window: QMainWindow) -> None:
        """Show notices in `window` (errors seen before are shown now)."""
        self.window = window
        button = QToolButton()
        button.setObjectName("error_button")
        button.setAutoRaise(True)
        button.setToolTip("Unexpected errors: click for details")
        button.setStyleSheet("QToolButton { color: #dc2626; font-weight: 600; border: none; padding: 0px 6px; }")
        button.setMaximumHeight(window.statusBar().fontMetrics().height() + 4)  # the bar keeps its height
        button.clicked.connect(self.show_dialog)
        button.hide()
        window.statusBar().addPermanentWidget(button)
        self.button = button
        if self.records:
            self._update_notice(self.records[-1], new=True)

    def _handle(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if self._reporting:  # the notice itself failed: log only, never loop
            log.error("error while reporting an error", exc_info=(exc_type, exc, tb))
            return
        self._reporting = True
        try:
            key = _key(exc_type, exc, tb)
            now = time.monotonic()
            record = self._by_key.get(key)
            if record is None:
                details = "".join(traceback.format_exception(exc_type, exc, tb))
                record = ErrorRecord(_summary(exc_type, exc, tb), details, 1, now, now)
                self._by_key[key] = record
                self.records.append(record)
                log.error("unexpected error: %s", record.summary, exc_info=(exc_type, exc, tb))
                new = True
            else:
                record.count += 1
                new = False
                if now - record.logged_at >= REPEAT_LOG_S:
                    record.logged_at = now
                    log.error("unexpected error again (%d times): %s", record.count, record.summary)
            self._update_notice(record, new=new)
            self.reported.emit(record.summary)
        except Exception:
            log.exception("reporting an error failed")
        finally:
            self._reporting = False

    def _update_notice(self, record: ErrorRecord, *, new: bool) -> None:
        window = self.window
        if window is None:
            return
        total = sum(r.count for r in self.records)
        if self.button is not None:
            self.button.setText(f"⚠ {total} error{'s' if total != 1 else ''}")
            self.button.show()
        if new:
            window.statusBar().showMessage(f"Unexpected error: {record.summary}", 15000)
            self.show_dialog()
        elif self.dialog is not None and self.dialog.isVisible():
            self.dialog.refresh()

    def show_dialog(self) -> ErrorDialog:
        if self.dialog is None:
            self.dialog = ErrorDialog(self, self.window)
        self.dialog.refresh()
        if not self.dialog.isVisible():
            self.dialog.show()  # non-modal: the window stays usable
        return self.dialog

    def details_text(self) -> str:
        parts = []
        for r in self.records:
            times = f" ({r.count} times)" if r.count > 1 else ""
            parts.append(f"{r.summary}{times}\n\n{r.details}")
        return ("\n" + "-" * 72 + "\n").join(parts)


def install_error_reporter(window: QMainWindow | None = None, loop: asyncio.AbstractEventLoop | None = None) -> ErrorReporter:
    """What `app.main` calls: hooks on, notices in `window`."""
    reporter = ErrorReporter(QCoreApplication.instance())  # outlives the window: hooks stay valid
    reporter.install(loop)
    if window is not None:
        reporter.attach(window)
    return reporter
