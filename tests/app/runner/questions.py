"""Answer the window's questions only once a history refresh started while each was open
has completed: a question asked inside a task's step (a nested event loop there) makes
asyncio refuse the refresh ("Cannot enter into task ..."), and it never completes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox


class RefusedWakeUps(logging.Handler):
    """Collects asyncio's "Cannot enter into task" errors (logged by the loop's exception handler)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []
        self.on_refused: Callable[[], None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        text = f"{record.getMessage()} {exc or ''}"
        if "Cannot enter into task" in text:
            self.seen.append(text)
            if self.on_refused is not None:
                self.on_refused()


class Questions:
    """What happened while the questions were open."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.refreshes: list[asyncio.Future[None]] = []
        self.refused = RefusedWakeUps()

    def settled(self, count: int) -> bool:
        """`count` questions asked and each one's refresh done, or a refresh refused."""
        return bool(self.refused.seen) or (len(self.refreshes) == count and all(t.done() for t in self.refreshes))

    def refreshes_completed(self) -> bool:
        return all(t.done() and not t.cancelled() and t.exception() is None for t in self.refreshes)


@contextlib.contextmanager
def refresh_during_each_question(window: Any, runner: Any, answers: dict[str, QMessageBox.StandardButton]) -> Iterator[Questions]:
    """While inside: each question (by title) starts a history refresh and gets its answer once
    that refresh is done; a refused refresh closes the question instead (so the test ends)."""
    q = Questions()
    dialogs = window.dialogs
    dialogs.about_to_show.disconnect(window.answerer._on_dialog)
    logging.getLogger().addHandler(q.refused)

    def on_dialog(box: QMessageBox) -> None:
        q.asked.append(box.windowTitle())
        button = box.button(answers[box.windowTitle()])
        refresh = runner.controller.spawn(runner.refresh_history())
        q.refreshes.append(refresh)
        refresh.add_done_callback(lambda _t: QTimer.singleShot(0, button.click))
        q.refused.on_refused = lambda: QTimer.singleShot(0, box.reject)

    dialogs.about_to_show.connect(on_dialog)
    try:
        yield q
    finally:
        logging.getLogger().removeHandler(q.refused)
        dialogs.about_to_show.disconnect(on_dialog)
        dialogs.about_to_show.connect(window.answerer._on_dialog)
