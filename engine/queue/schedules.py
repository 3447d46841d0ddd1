"""Schedules that fire once per due time, however many processes serve the workflow.

Every process computes the same due times (cron times, or multiples of `every_s`
since the Unix epoch, so processes started at different moments agree) and
races to insert the `(workflow, node, due time)` row of `schedule_fires`; the
one insert that succeeds starts the run. Works on SQLite and PostgreSQL, with
or without the queue.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from engine.model import Workflow
from engine.store import schema as t

log = logging.getLogger("engine.schedules")

Start = Callable[[dict[str, Any]], Awaitable[str | None]]


def next_due(config: dict[str, Any], now: datetime) -> datetime:
    """The next due time strictly after `now`: epoch-aligned for `every_s`, croniter for `cron`."""
    from engine.nodes.schedule_trigger import ScheduleTriggerConfig, next_fire_times

    cfg = ScheduleTriggerConfig.model_validate(config)
    if cfg.every_s is not None:
        ts = now.timestamp()
        k = math.floor(ts / cfg.every_s) + 1
        return datetime.fromtimestamp(k * cfg.every_s, UTC)
    (when,) = next_fire_times(cfg, now.astimezone(), 1)
    return when


def claim_fire(store: Any, workflow_id: str, node_id: str, due_at: float) -> bool:
    """True for the one process that records this due time first."""
    f = t.schedule_fires
    try:
        with store.write() as conn, conn.begin():
            conn.execute(
                f.insert().values(workspace_id=store.ws_id, workflow_id=workflow_id, node_id=node_id, due_at=due_at, fired_at=time.time())
            )
    except sa.exc.IntegrityError:
        return False
    return True


def record_execution(store: Any, workflow_id: str, node_id: str, due_at: float, execution_id: str) -> None:
    f = t.schedule_fires
    with store.write() as conn, conn.begin():
        conn.execute(
            f.update()
            .where(f.c.workspace_id == store.ws_id, f.c.workflow_id == workflow_id, f.c.node_id == node_id, f.c.due_at == due_at)
            .values(execution_id=execution_id)
        )


async def schedule_loop(service: Any, wf: Workflow, node_id: str, start: Start) -> None:
    """Fire `node_id` at each due time this process wins, until cancelled."""
    config = wf.node(node_id).config
    while True:
        due = next_due(config, datetime.now(UTC))
        await asyncio.sleep(max(0.0, due.timestamp() - time.time()))
        due_at = due.timestamp()
        try:
            if not claim_fire(service.store, wf.id, node_id, due_at):
                continue  # another process fired this one
            eid = await start({"fired_at": due.isoformat()})
            if eid:
                record_execution(service.store, wf.id, node_id, due_at, eid)
        except Exception:
            log.exception("scheduled run failed", extra={"workflow_id": wf.id, "node_id": node_id})
