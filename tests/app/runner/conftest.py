"""Fixtures for runner tests: the engine thread, a qasync loop on the test's QApplication,
a real SQLite execution store in tmp_path, and a controller installed in a real window."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator

import pytest
import qasync

from app.runner.controller import RunController
from app.runner.engine_thread import EngineThread
from engine.service import ExecutionService
from tests.app.runner.helpers import HostWindow


@pytest.fixture(autouse=True)
def _log_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PROCESSENGINE_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("PROCESSENGINE_DB", str(tmp_path / "default.db"))


@pytest.fixture
def qloop(qapp) -> Iterator[qasync.QEventLoop]:
    """A qasync loop that runs whenever Qt processes events (qtbot.waitUntil / waitSignal)."""
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    for task in asyncio.all_tasks(loop):
        task.cancel()
    pass  # no loop.stop(): it calls QApplication.exit()
    asyncio.events._set_running_loop(None)
    loop._QEventLoop__is_running = False  # already_running loops are never run_forever'd
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def engine() -> Iterator[EngineThread]:
    thread = EngineThread()
    yield thread
    thread.stop()


@pytest.fixture
def db_path(tmp_path) -> str:
    return str(tmp_path / "runs.db")


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
