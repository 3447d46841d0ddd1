"""Whose run is it: each service keeps its own registry of live runs (engine.store.owner.LiveRuns).

No state is shared between services through the module: a service answers for the
rows it owns from its registry; another service - in this process or another, on the
same database or a copy of it - judges them like any other owner (process, heartbeat).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.errors import RunTakenOver
from engine.service import ExecutionService
from engine.store import owner
from engine.store import schema as t
from tests.engine.store.workflows import napping

FRESH, STALE = 0.0, owner.STALE_AFTER + 60  # heartbeat ages


def _alive(live: owner.LiveRuns | None, token: str | None, heartbeat_age: float, pid: int | None = None) -> bool:
    now = time.time()
    pid = os.getpid() if pid is None else pid
    return owner.owner_alive("run-1", owner.HOST, pid, token, now - heartbeat_age, now, live=live)


def test_a_service_answers_for_its_own_rows_from_its_registry() -> None:
    mine = owner.LiveRuns()
    assert not _alive(mine, mine.token, FRESH)  # not driven by it: dead at once, fresh heartbeat or not
    mine.add("run-1", "marker")
    assert _alive(mine, mine.token, STALE)  # driven: alive, however old its heartbeat (a stalled loop)
    mine.discard("run-1", "someone else")  # only the holder unregisters (a resume took it over)
    assert _alive(mine, mine.token, STALE)
    mine.discard("run-1", "marker")
    assert not _alive(mine, mine.token, FRESH) and len(mine) == 0


def test_another_service_of_this_process_is_judged_by_its_heartbeat() -> None:
    other, asking = owner.LiveRuns(), owner.LiveRuns()
    other.add("run-1", "marker")
    assert other.token != asking.token
    assert "run-1" not in asking
    assert _alive(asking, other.token, FRESH)
    assert not _alive(asking, other.token, STALE)
    assert _alive(None, other.token, FRESH) and not _alive(None, other.token, STALE)  # a bare reader


def test_a_row_of_an_earlier_process_with_our_pid_is_dead() -> None:
    """The pid was recycled: the token's start time is not ours, whatever the heartbeat says."""
    live = owner.LiveRuns()
    live.add("run-1", "marker")
    assert not _alive(live, f"1/{live.instance}", FRESH)
    assert not _alive(live, "1", FRESH)  # a token written by an older version: the start time alone


def test_another_process_is_asked_with_the_start_time_in_the_token() -> None:
    parent = os.getppid()
    start = owner.process_token(parent)
    assert start is not None
    assert _alive(None, f"{start}/any-service", STALE, pid=parent)
    assert _alive(None, start, STALE, pid=parent)
    assert not _alive(None, f"{int(start) + 1}/any-service", FRESH, pid=parent)


def _stale(url: str, execution_id: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            t.executions.update().where(t.executions.c.id == execution_id).values(heartbeat_at=time.time() - STALE)
        )
    engine.dispose()


async def test_a_run_in_a_copy_of_the_database_is_not_taken_for_ours(tmp_path: Path) -> None:
    """The same execution id in two databases: one service drives it in the first; a second
    service on the copy must not believe it drives the copy's row too."""
    first, copy = tmp_path / "first.db", tmp_path / "copy.db"
    runner = ExecutionService(f"sqlite:///{first}")
    try:
        handle = await runner.start(napping(0.5))
        src, dst = sqlite3.connect(first), sqlite3.connect(copy)
        try:
            src.backup(dst)  # a consistent copy, the run's row `running` in it
        finally:
            src.close()
            dst.close()
        _stale(f"sqlite:///{copy}", handle.execution_id)
        with ExecutionService(f"sqlite:///{copy}") as restored:
            assert restored.status(handle.execution_id)["status"] == "interrupted"
            resumed = await (await restored.resume(handle.execution_id)).task
            assert resumed.status == "completed"
        assert (await handle.task).status == "completed"
        assert runner.status(handle.execution_id)["status"] == "completed"
    finally:
        runner.close()


async def test_a_second_service_on_the_same_database_sees_the_run_alive_then_may_take_it_over(tmp_path: Path) -> None:
    """Like an owner on another host: alive while its heartbeat is fresh; once stale, a
    takeover wins and the first service's next checkpoint is fenced off."""
    url = f"sqlite:///{tmp_path / 'pe.db'}"
    first, second = ExecutionService(url), ExecutionService(url)
    try:
        handle = await first.start(napping(0.5))
        assert second.status(handle.execution_id)["status"] == "running"
        assert len(second.store.live) == 0 and handle.execution_id in first.store.live
        _stale(url, handle.execution_id)
        assert first.status(handle.execution_id)["status"] == "running"  # its own: it drives it
        assert second.status(handle.execution_id)["status"] == "interrupted"
        taken = await second.resume(handle.execution_id)
        with pytest.raises(RunTakenOver):
            await handle.task
        assert (await taken.task).status == "completed"
        assert first.status(handle.execution_id)["status"] == "completed"
    finally:
        first.close()
        second.close()
