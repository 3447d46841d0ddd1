"""The Procrastinate app of queue mode: its connector, schema and tasks.

One app per worker or client (`queue_app(url, run=...)`, the worker's job handler bound
to its app, no module-level state); its tasks are the execution job
(`processengine.run_execution`) and the periodic sweep that gives a dead
worker's jobs back to the queue (`processengine.retry_stalled`). Procrastinate
keeps its own tables (`procrastinate_*`), created from its shipped schema the
first time a process opens the database (under an advisory lock, so many
processes starting together apply it once).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import procrastinate
from sqlalchemy.engine import make_url

from engine.errors import EngineError

log = logging.getLogger("engine.queue")

RUN_TASK = "processengine.run_execution"
SWEEP_TASK = "processengine.retry_stalled"
QUEUE = "executions"
SCHEMA_LOCK_KEY = 0x5E5E_0003  # advisory lock serializing Procrastinate's schema creation

# the worker's job handler: (context, execution id, workspace) -> None (engine.queue.worker)
RunHandler = Callable[[Any, str, str], Awaitable[None]]


class QueueError(EngineError):
    """Queue mode cannot be used (no PostgreSQL store, or the queue is unreachable)."""


def conninfo(url: str) -> str:
    """A libpq connection string from the store's SQLAlchemy URL (PostgreSQL only)."""
    try:
        u = make_url(url)
    except Exception as exc:
        raise QueueError(f"queue mode needs a PostgreSQL URL, got {url!r}") from exc
    if not u.drivername.startswith("postgresql"):
        raise QueueError(f"queue mode needs a PostgreSQL store (--db postgresql://...), got {u.drivername}")
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def queue_app(url: str, *, stalled_after: float = 30.0, run: RunHandler | None = None) -> procrastinate.App:
    """The Procrastinate app on the store's database, with the engine's tasks registered.

    `run`: the worker's job handler, bound to this app (an app without one, like a
    client's, only enqueues). The sweep runs every half `stalled_after` (at least every
    second), so a dead worker's jobs are back in the queue within about 1.5 x `stalled_after`.
    """
    sweep_every_s = max(1, int(stalled_after // 2))
    connector = procrastinate.PsycopgConnector(conninfo=conninfo(url), min_size=1, max_size=4)
    app = procrastinate.App(connector=connector)

    @app.task(name=RUN_TASK, queue=QUEUE, pass_context=True)
    async def run_execution(context: Any, execution_id: str, workspace: str = "default") -> None:
        if run is None:
            raise QueueError("this process is not a worker: it cannot run executions")
        await run(context, execution_id, workspace)

    @app.periodic(cron=f"* * * * * */{max(1, int(sweep_every_s))}", periodic_id="sweep")
    @app.task(name=SWEEP_TASK, queue="maintenance")
    async def retry_stalled(timestamp: int) -> None:
        """Give the jobs of workers that stopped beating back to the queue."""
        for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
            log.warning("retrying a stalled job", extra={"job_id": job.id, "task": job.task_name})
            await app.job_manager.retry_job(job)
        await app.job_manager.prune_stalled_workers(seconds_since_heartbeat=stalled_after)

    return app


async def ensure_schema(url: str) -> None:
    """Create Procrastinate's tables once (its own schema file), if they are missing.

    Call it after the ProcessEngine store was opened (migrated) on the same database:
    the store refuses a database holding another application's tables and not its own.

    One transaction on one connection holds an advisory lock, so processes starting
    together apply it once. Upgrading Procrastinate later is done with the SQL
    migrations it ships (`procrastinate schema --migrations-path`), see docs/team.md.
    """
    import psycopg

    async with await psycopg.AsyncConnection.connect(conninfo(url)) as conn, conn.transaction():
        await conn.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK_KEY})")
        cur = await conn.execute("SELECT to_regclass('procrastinate_jobs')")
        row = await cur.fetchone()
        if row is None or row[0] is None:
            log.info("creating the job queue's tables")
            await conn.execute(procrastinate.schema.SchemaManager.get_schema())
