"""Putting executions on the queue, and taking them off: what serve, the API and `run --queue` use.

An execution is stored `queued` first (with its first checkpoint), then a job is
deferred for it; the job id is kept on the row so a cancel can drop a job that
no worker took yet. A workflow with `"concurrency": N` gets one of N job locks
(`<workspace>/<workflow id>#k`, the least busy one): Procrastinate runs jobs that
share a lock one at a time, so at most N of its runs are in a worker at once.
"""

from __future__ import annotations

import logging
from typing import Any

import procrastinate
import sqlalchemy as sa

from engine.model import Workflow
from engine.queue.jobs import QUEUE, RUN_TASK, ensure_schema, queue_app
from engine.runtime.record import PAUSED, QUEUED
from engine.store import schema as t
from engine.store.store import InvalidExecutionState

log = logging.getLogger("engine.queue")


class QueueClient:
    """The job queue of one PostgreSQL store, seen from a process that enqueues."""

    def __init__(self, url: str, app: procrastinate.App | None = None) -> None:
        self.url = url
        self.app = app if app is not None else queue_app(url)
        self._opened = False

    async def open(self) -> QueueClient:
        await ensure_schema(self.url)
        await self.app.open_async()
        self._opened = True
        return self

    async def close(self) -> None:
        if self._opened:
            await self.app.close_async()
            self._opened = False

    async def enqueue(
        self,
        service: Any,
        workflow: Workflow,
        inputs: Any = None,
        *,
        variables: dict[str, Any] | None = None,
        trigger: str | None = None,
        workflow_file: str | None = None,
        capture_email: bool = False,
        content_hash: str | None = None,
        document: str | None = None,
    ) -> str:
        """Store a queued execution and defer its job; returns the execution id.

        `capture_email` (`run --queue --capture-email`) goes with the execution's row: the
        worker that runs it keeps its email in the inbox instead of sending it.
        `content_hash`, `document`: the workflow version's, when known (`create_queued`).
        """
        eid = service.create_queued(
            workflow, inputs, variables=variables, trigger=trigger, workflow_file=workflow_file, capture_email=capture_email,
            content_hash=content_hash, document=document,
        )
        await self.defer(service, eid, workflow)
        return str(eid)

    async def defer(self, service: Any, execution_id: str, workflow: Workflow) -> int:
        lock = await self._lock_slot(service.workspace, workflow) if workflow.concurrency else None
        job_id = await self.app.configure_task(RUN_TASK, lock=lock).defer_async(
            execution_id=execution_id, workspace=service.workspace
        )
        e = t.executions
        with service.store.write() as conn, conn.begin():
            conn.execute(e.update().where(e.c.id == execution_id).values(queue_job=job_id))
        log.info("queued", extra={"execution_id": execution_id, "job_id": job_id, "lock": lock})
        return int(job_id)

    async def _lock_slot(self, workspace: str, workflow: Workflow) -> str:
        """The least busy of the workflow's N job locks."""
        prefix = f"{workspace}/{workflow.id}#"
        rows = await self.app.connector.execute_query_all_async(
            "SELECT lock, count(*) AS n FROM procrastinate_jobs "
            "WHERE status IN ('todo', 'doing') AND lock LIKE %(p)s GROUP BY lock",
            p=prefix.replace("%", r"\%").replace("_", r"\_") + "%",
        )
        busy = {r["lock"]: r["n"] for r in rows}
        slots = [f"{prefix}{k}" for k in range(int(workflow.concurrency or 1))]
        return min(slots, key=lambda s: (busy.get(s, 0), slots.index(s)))

    async def resume(self, service: Any, execution_id: str) -> None:
        """Put a paused execution back on the queue (any worker continues it)."""
        row = service.store.row(execution_id)
        status = service.store.effective_status(row)
        if status != PAUSED or not service.store.set_stopped(execution_id, QUEUED, only_from=[PAUSED]):
            raise InvalidExecutionState(f"execution {execution_id} is {status}; only a paused execution can be resumed")
        await self.defer(service, execution_id, service.workflow_of(execution_id))

    async def requeue_interrupted(self, service: Any, execution_id: str) -> None:
        """An interrupted execution (its owner died outside any worker): back to the queue."""
        row = service.store.row(execution_id)
        if not service.store.set_stopped(execution_id, QUEUED, only_from=[row.status], row=row):
            raise InvalidExecutionState(f"execution {execution_id} was taken over by another process")
        await self.defer(service, execution_id, service.workflow_of(execution_id))

    async def cancel(self, service: Any, execution_id: str) -> None:
        """Cancel through the store (any worker's poller sees it); drop a job no worker took yet."""
        row = service.store.row(execution_id)
        service.cancel(execution_id)
        if row.queue_job is not None:
            await self.app.job_manager.cancel_job_by_id_async(int(row.queue_job), abort=False)

    async def depth(self) -> int:
        """Execution jobs waiting for a worker."""
        row = await self.app.connector.execute_query_one_async(
            "SELECT count(*) AS n FROM procrastinate_jobs WHERE queue_name = %(q)s AND status = 'todo'",
            q=QUEUE,
        )
        return int(row["n"])


def queued_row_count(service: Any) -> int:
    """Executions stored as queued in this workspace (for a depth without the queue app)."""
    e = t.executions
    with service.store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).where(e.c.status == QUEUED)).scalar_one())
