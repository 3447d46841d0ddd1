"""`processengine worker`: a Procrastinate worker that runs queued executions.

Each job names an execution; the worker claims its row (one claimer wins: a job
delivered twice runs once) and runs it from its last checkpoint, so a job that
comes back from a killed worker continues where that worker's last checkpoint
left it (the node that was in flight runs again). SIGTERM/SIGINT pause the
running executions (state saved) and put them back on the queue for another
worker, then stop. Pause and cancel requests reach a run through the store, as
for any run of another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Any

from engine.errors import EngineError
from engine.queue.client import QueueClient, queued_row_count
from engine.queue.jobs import QUEUE, ensure_schema, queue_app
from engine.runtime.record import INTERRUPTED, PAUSED, QUEUED, RUNNING
from engine.store import owner
from engine.store.store import ExecutionNotFound, InvalidExecutionState

log = logging.getLogger("engine.queue.worker")

WAIT_FOR_OWNER_S = 1.0  # re-check of a run whose previous owner still looks alive


class QueueWorker:
    """Runs execution jobs with at most `concurrency` executions at once."""

    def __init__(self, url: str, *, concurrency: int = 1, name: str | None = None, stalled_after: float = 30.0, metrics_port: int | None = None, metrics_host: str = "127.0.0.1") -> None:
        self.url = url
        self.concurrency = concurrency
        self.name = name or f"{owner.HOST}:{os.getpid()}"
        self.stalled_after = stalled_after
        self.metrics_port = metrics_port
        self.metrics_host = metrics_host
        self.app = queue_app(url, stalled_after=stalled_after, run=self.handle)
        self.client = QueueClient(url, self.app)
        self._services: dict[str, Any] = {}
        self._running: dict[str, Any] = {}
        self._stopping = False

    def service(self, workspace: str) -> Any:
        from engine.service import ExecutionService

        svc = self._services.get(workspace)
        if svc is None:
            svc = self._services[workspace] = ExecutionService(self.url, workspace=workspace)
        return svc

    async def handle(self, context: Any, execution_id: str, workspace: str) -> None:
        """One job: claim the execution and run it to its end (or pause)."""
        svc = self.service(workspace)
        if not await self._wait_claimable(svc, execution_id):
            return
        try:
            handle = await svc.resume(execution_id, worker=self.name)
        except InvalidExecutionState as exc:
            log.info("not mine to run: %s", exc, extra={"execution_id": execution_id})
            return
        except EngineError as exc:  # e.g. its saved workflow cannot be read any more: fail it, visibly
            log.error("cannot start: %s", exc, extra={"execution_id": execution_id})
            svc.mark_failed(execution_id, f"worker {self.name} could not start it: {exc}")
            return
        self._running[execution_id] = handle
        log.info("running", extra={"execution_id": execution_id, "worker": self.name})
        try:
            rec = await asyncio.shield(handle.task)
        except asyncio.CancelledError:  # the job was aborted: cancel the run, keep its state
            handle.control.cancel()
            await asyncio.wait([handle.task])
            raise
        finally:
            self._running.pop(execution_id, None)
        if rec.status == PAUSED and self._stopping:
            await self.client.resume(svc, execution_id)  # back on the queue for another worker
            log.info("handed back to the queue", extra={"execution_id": execution_id})

    async def _wait_claimable(self, svc: Any, execution_id: str) -> bool:
        """True once the execution is queued or interrupted; False when there is nothing to run."""
        while True:
            try:
                row = svc.store.row(execution_id)
            except ExecutionNotFound:
                return False
            status = svc.store.effective_status(row)
            if status in (QUEUED, INTERRUPTED):
                return True
            if status != RUNNING:
                return False  # finished, paused or cancelled meanwhile
            await asyncio.sleep(WAIT_FOR_OWNER_S)  # a live owner elsewhere: wait for it to finish or die

    def request_stop(self) -> None:
        """Pause the running executions (they go back on the queue), then stop taking jobs."""
        if self._stopping:
            return
        self._stopping = True
        sys.stderr.write(f"worker {self.name}: stopping, pausing {len(self._running)} execution(s)\n")
        for handle in list(self._running.values()):
            handle.control.pause(cut_short=False)  # the node in flight finishes: another worker goes on

    async def run(self) -> int:
        from engine import metrics

        self.service("default")  # the store first: it migrates an empty database before the queue adds its tables
        await ensure_schema(self.url)
        metrics.enable(queue_depth=lambda: float(queued_row_count(self.service("default"))))
        site = await self._metrics_site() if self.metrics_port is not None else None
        loop = asyncio.get_running_loop()
        async with self.app.open_async():
            beat = max(0.5, self.stalled_after / 3)
            common: dict[str, Any] = {"install_signal_handlers": False, "update_heartbeat_interval": beat, "stalled_worker_timeout": self.stalled_after,
                      "fetch_job_polling_interval": 2.0, "abort_job_polling_interval": 1.0}
            executions = asyncio.create_task(self.app.run_worker_async(queues=[QUEUE], concurrency=self.concurrency, name=self.name, **common))
            sweeps = asyncio.create_task(self.app.run_worker_async(queues=["maintenance"], concurrency=1, name=f"{self.name}/sweep", **common))
            stopped = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stopped.set)
            sys.stdout.write(f"worker {self.name} ready (concurrency {self.concurrency})\n")
            sys.stdout.flush()
            await stopped.wait()
            self.request_stop()
            for task in (executions, sweeps):
                task.cancel()  # Procrastinate stops gracefully on cancel: running jobs finish first
            await asyncio.gather(executions, sweeps, return_exceptions=True)
        if site is not None:
            await site.cleanup()
        for svc in self._services.values():
            svc.close()
        return 0

    async def _metrics_site(self) -> Any:
        from aiohttp import web

        from engine import metrics

        async def serve_metrics(request: web.Request) -> web.Response:
            body, ctype = metrics.render()
            return web.Response(body=body, headers={"Content-Type": ctype})

        async def healthz(request: web.Request) -> web.Response:
            return web.json_response({"status": "ok", "worker": self.name, "running": len(self._running)})

        app = web.Application()
        app.router.add_get("/metrics", serve_metrics)
        app.router.add_get("/healthz", healthz)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, self.metrics_host, self.metrics_port)
        await site.start()
        host, port = runner.addresses[0][:2]
        sys.stdout.write(f"worker {self.name}: metrics on http://{host}:{port}/metrics\n")
        return runner
