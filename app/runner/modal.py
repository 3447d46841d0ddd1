"""Modal questions asked from coroutines on the GUI loop, outside any task.

A modal dialog (`QDialog.exec`, `QMessageBox.question`, `MainWindow.maybe_save`) runs a
nested event loop. Called inside a task's step, that loop wakes other tasks while this
one is still being executed, and asyncio refuses them ("Cannot enter into task ...
while another task ... is being executed"): a history refresh woken there never runs
again. `await outside_task(fn)` calls `fn` from a Qt timer instead, where no task is
being executed, and resumes the caller with its result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QTimer

log = logging.getLogger(__name__)

T = TypeVar("T")


async def outside_task(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` called from a Qt timer (it may run a modal dialog); its result or error.

    Like `qasync.asyncWrap`, except that an answer arriving after the waiting task was
    cancelled (the app quitting while the dialog is open) is dropped, not raised in a slot.
    """
    result: asyncio.Future[T] = asyncio.get_running_loop().create_future()

    def call() -> None:
        if result.done():  # cancelled before its turn
            return
        try:
            value = fn(*args)
        except Exception as exc:
            if result.done():
                log.warning("%s failed after its caller was cancelled", getattr(fn, "__qualname__", fn), exc_info=exc)
            else:
                result.set_exception(exc)
            return
        if not result.done():
            result.set_result(value)

    QTimer.singleShot(0, call)
    return await result
