"""Fixtures for runner tests: the engine thread, a qasync loop on the test's QApplication,
a real SQLite execution store in tmp_path, and a controller installed in a real window."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
import qasync

from app.runner.controller import RunController
from app.runner.engine_thread import EngineThread
from engine.service import ExecutionService
from tests.app.runner.helpers import HostWindow

log = logging.getLogger(__name__)


@pytest.fixture(autouse=True)
def _log_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PROCESSENGINE_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("PROCESSENGINE_DB", str(tmp_path / "default.db"))


@pytest.fixture
def qloop(qapp, qtbot) -> Iterator[qasync.QEventLoop]:
    """A qasync loop that runs whenever Qt processes events (qtbot.waitUntil / waitSignal).

    At the end, like asyncio.run: the tasks still pending are cancelled and the loop runs
    until each has taken its cancellation. A task spawned just before the test ended (a
    history refresh from its timer) has not started yet; closed with the loop instead, its
    coroutine would be dropped unstarted ("coroutine ... was never awaited").
    """
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    _cancel_pending_tasks(loop, qtbot)
    # no loop.stop(): it calls QApplication.exit()
    asyncio.events._set_running_loop(None)
    loop._QEventLoop__is_running = False  # already_running loops are never run_forever'd
    loop.close()
    asyncio.set_event_loop(None)


def _cancel_pending_tasks(loop: qasync.QEventLoop, qtbot: Any) -> None:
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    try:
        qtbot.waitUntil(lambda: all(task.done() for task in pending), timeout=5000)
    except qtbot.TimeoutError:
        # a task whose wake-up qasync refused ("Cannot enter into task ... while another task
        # is being executed": a nested event loop inside a task) never runs again; closing its
        # coroutine here is what the garbage collector would do later
        stuck = [task for task in pending if not task.done()]
        log.warning("tasks that never ran again: %s", stuck)
        for task in stuck:
            with contextlib.suppress(RuntimeError):  # one that ignores GeneratorExit
                task.get_coro().close()


@pytest.fixture
def engine() -> Iterator[EngineThread]:
    thread = EngineThread()
    yield thread
    thread.stop()


@pytest.fixture
def db_path(tmp_path) -> str:
    return str(tmp_path / "runs.db")


@pytest.fixture
def runner(window, qloop, engine, db_path):
    """The run tools installed on the test's main window, shut down after the test."""
    from app.runner.install import install_runner

    ui = install_runner(window, db=db_path, engine=engine, recover=False)
    yield ui
    ui.shutdown()


@pytest.fixture
def make_controller(qtbot, qloop, engine, db_path):
    """make_controller(workflow) -> (controller, window): a real window with toolbar and status bar."""
    made: list[tuple[RunController, HostWindow]] = []

    def make(wf, path: str | None = None) -> tuple[RunController, HostWindow]:
        win = HostWindow(wf, path)
        qtbot.addWidget(win)
        ctl = RunController(engine, lambda: ExecutionService(db_path), win)
        tb = win.addToolBar("Run")
        tb.addActions(ctl.actions)
        ctl.install_status_bar(win.statusBar())
        win.show()
        made.append((ctl, win))
        return ctl, win

    yield make
    for ctl, _win in made:
        if ctl.active and ctl.execution_id:
            with contextlib.suppress(Exception):
                ctl.call_blocking(lambda s, e=ctl.execution_id: s.cancel(e), 5)
        ctl.shutdown()
        with contextlib.suppress(Exception):
            ctl.call_blocking(lambda s: s.close(), 5)


def on_ci() -> bool:
    return bool(os.environ.get("CI"))
