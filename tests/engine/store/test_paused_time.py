"""Durations leave out the time a run spent paused: the pause ends at the resume (counted
atomically with the takeover), and every surface reads the same duration."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from engine import events as ev
from engine.service import ExecutionService
from engine.store import schema as t
from tests.engine.runtime.helpers import workflow

LONG_PAUSE_S = 100.0


def waiting() -> Any:
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "w", "type": "wait", "config": {"seconds": 2}},
            {"id": "end", "type": "set", "config": {"values": {"ok": True}}},
        ],
        [("start", "out", "w"), ("w", "out", "end")],
    )


async def _paused_in_the_wait(svc: ExecutionService) -> str:
    started = asyncio.Event()
    hooks = ev.LifecycleHooks()
    hooks.on(ev.NodeStarted, lambda e, r: started.set() if e.node_id == "w" else None)
    handle = await svc.start(waiting(), hooks=hooks)
    await started.wait()
    svc.pause(handle.execution_id)
    rec = await svc.wait(handle.execution_id)
    assert rec.status == "paused"
    return handle.execution_id


async def test_time_spent_paused_is_not_part_of_the_duration(svc: ExecutionService) -> None:
    eid = await _paused_in_the_wait(svc)
    # the pause began LONG_PAUSE_S ago (as if the user came back later): shift the run back
    e = t.executions
    with svc.store.engine.begin() as conn:
        conn.execute(
            e.update().where(e.c.id == eid).values(started_at=e.c.started_at - LONG_PAUSE_S, stopped_at=e.c.stopped_at - LONG_PAUSE_S)
        )
    handle = await svc.resume(eid)
    rec = await handle.task
    assert rec.status == "completed"
    assert rec.paused_ms >= LONG_PAUSE_S * 1000
    status = svc.status(eid)
    assert status["timing"]["duration_ms"] < LONG_PAUSE_S * 1000 / 2, status["timing"]
    stored = svc.store.load_record(eid)[0]
    assert stored.paused_ms == rec.paused_ms  # kept with the execution


async def test_an_in_memory_resume_leaves_out_the_pause_too() -> None:
    svc = ExecutionService(in_memory=True)
    eid = await _paused_in_the_wait(svc)
    rec = svc.record(eid)
    rec.started_at -= LONG_PAUSE_S
    rec.stopped_at -= LONG_PAUSE_S
    handle = await svc.resume(eid)
    done = await handle.task
    assert done.status == "completed" and done.paused_ms >= LONG_PAUSE_S * 1000
    assert svc.status(eid)["timing"]["duration_ms"] < LONG_PAUSE_S * 1000 / 2


def test_the_column_is_there(svc: ExecutionService) -> None:
    with svc.store.engine.connect() as conn:
        assert "paused_ms" in {c["name"] for c in sa.inspect(conn).get_columns("executions")}


from tests.engine.store.fixtures import db_fixture, svc_fixture  # noqa: E402,F401
