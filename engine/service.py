"""ExecutionService: start, watch, pause, resume, cancel and read back executions.

The one public entry to running workflows for the CLI and the GUI. Each run is
an `Orchestrator` task on the caller's running asyncio loop; the store's
`Checkpointer` subscribes to its hooks, so every finished node is durable
(DESIGN "store"). Other processes reach a run through the database: `pause`
and `cancel` record a request that the owner's poller picks up within
`POLL_EVERY` seconds, and a run whose owner died reads `interrupted` and can be
resumed anywhere. `in_memory=True` keeps the same API with no database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from engine import events as ev
from engine.errors import StoreError
from engine.model import Workflow, WorkflowVersion
from engine.recorded_io import attach_pending
from engine.runtime.control import RunControl
from engine.runtime.orchestrator import Orchestrator, iso, new_record
from engine.runtime.record import (
    INTERRUPTED,
    MAIN_THREAD,
    PAUSED,
    QUEUED,
    RUNNING,
    TERMINAL,
    RunRecord,
)
from engine.runtime.status import duration_ms, progress, status_object
from engine.service_debug import Breakpoints, DebugVerbs
from engine.store import owner
from engine.store.checkpoint import Checkpointer
from engine.store.codec import loads
from engine.store.store import ExecutionNotFound, ExecutionStore, InvalidExecutionState

log = logging.getLogger("engine.service")

POLL_EVERY = 0.2  # seconds between checks for pause/cancel requests from other processes

__all__ = ["ExecutionNotFound", "ExecutionService", "InvalidExecutionState", "RunHandle"]


@dataclass
class RunHandle:
    """A run started in this process."""

    execution_id: str
    task: asyncio.Task[RunRecord]
    control: RunControl
    record: RunRecord
    loop: asyncio.AbstractEventLoop
    side_effects: dict[str, bool] = field(default_factory=dict)  # in-memory in-flight tracking
    in_flight: dict[str, str] = field(default_factory=dict)
    orchestrator: Any = None  # the Orchestrator running it (its debugger takes live breakpoints)


def retention_from_env() -> float | None:
    """`PROCESSENGINE_RETENTION_DAYS`: finished runs older than this are pruned when a store opens."""
    raw = os.environ.get("PROCESSENGINE_RETENTION_DAYS", "").strip()
    if not raw:
        return None
    try:
        days = float(raw)
    except ValueError:
        raise StoreError(f"PROCESSENGINE_RETENTION_DAYS must be a number of days, got {raw!r}") from None
    if days <= 0:
        raise StoreError(f"PROCESSENGINE_RETENTION_DAYS must be positive, got {raw!r}")
    return days


class ExecutionService(DebugVerbs):
    """Runs workflows durably (SQLite/PostgreSQL) or in memory, with the DESIGN.md verbs.

    `pins`: whether pinned nodes use their pin by default (the app and `run` turn it
    on; `serve`, the API and queue workers keep the default off: production runs).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        workspace: str = "default",
        in_memory: bool = False,
        retention_days: float | None = None,
        busy_timeout: float = 10.0,
        pins: bool = False,
    ) -> None:
        self.workspace = workspace
        self.in_memory = in_memory
        self.pins = pins
        self._workflows: dict[str, Workflow] = {}  # in-memory mode: the workflow each run used (re-runs)
        self._handles: dict[str, RunHandle] = {}
        self._records: dict[str, RunRecord] = {}  # in-memory mode only
        self._store: ExecutionStore | None = None
        # the runs this service drives: its own, never shared with another service
        self._live = owner.LiveRuns()
        if not in_memory:
            from engine.paths import resolve_db_url

            self._store = ExecutionStore(resolve_db_url(url), workspace=workspace, busy_timeout=busy_timeout, live=self._live)
            if retention_days is None:
                retention_days = retention_from_env()
            if retention_days is not None:
                pruned = self.prune(older_than_days=retention_days)
                if pruned:
                    log.info("retention: pruned %d execution(s) older than %s days", pruned, retention_days)

    @property
    def url(self) -> str | None:
        return None if self._store is None else self._store.url

    @property
    def store(self) -> ExecutionStore:
        if self._store is None:
            raise StoreError("this service keeps executions in memory; it has no store")
        return self._store

    # -- running ---------------------------------------------------------------------
    async def start(
        self,
        workflow: Workflow,
        inputs: Any = None,
        *,
        variables: dict[str, Any] | None = None,
        trigger: str | None = None,
        workflow_file: str | None = None,
        hooks: ev.LifecycleHooks | None = None,
        pins: bool | None = None,
        breakpoints: Breakpoints | None = None,
        step: bool = False,
        to: str | None = None,
        capture_email: bool = False,
        content_hash: str | None = None,
        document: str | None = None,
    ) -> RunHandle:
        """Create the execution and start it as a task on the running loop.

        Debugging: `pins` (None: the service's default), `breakpoints` (`"NODE[:EXPR]"`),
        `step` (pause before the second node), `to` (run only that node and its ancestors).
        `capture_email`: send_email nodes store their messages in the execution's inbox
        instead of sending them (kept with the execution, so a resume captures too).
        `content_hash` (and `document`): the workflow's canonical document hash (and text)
        when the caller has them (`engine.compiled`), so its version is not encoded again.
        """
        rec = self._new_record(workflow, inputs, variables=variables, trigger=trigger, workflow_file=workflow_file, capture_email=capture_email)
        self._debug_on_start(rec, workflow, pins=pins, breakpoints=breakpoints, step=step, to=to)
        return self._launch_new(workflow, rec, hooks, version=(content_hash, document))

    def _new_record(
        self,
        workflow: Workflow,
        inputs: Any,
        *,
        variables: dict[str, Any] | None,
        trigger: str | None,
        workflow_file: str | None,
        capture_email: bool,
    ) -> RunRecord:
        """A fresh execution's record, as `start` and `create_queued` both begin one."""
        rec = new_record(
            workflow,
            execution_id=str(uuid.uuid4()),
            inputs=inputs,
            variables=variables,
            trigger=trigger,
            workspace=self.workspace,
            workflow_file=workflow_file,
        )
        rec.io.capture_email = capture_email
        return rec

    def _launch_new(
        self, workflow: Workflow, rec: RunRecord, hooks: ev.LifecycleHooks | None, *, collect: bool = False,
        version: WorkflowVersion = (None, None),
    ) -> RunHandle:  # fmt: skip
        """Store a new execution (its first checkpoint) and start it; `version`: the
        workflow's (content hash, canonical document) where known (`start`)."""
        checkpointer = None
        if self._store is not None:
            version_id = self._store.save_workflow(workflow, content_hash=version[0], document=version[1])
            me = self._store.me
            checkpointer = Checkpointer(self._store.raw, rec, owner_token=me.token)
            checkpointer.initial(create=self._store.new_execution_row(rec, version_id, me), collect=collect)
        else:
            self._records[rec.execution_id] = rec
            self._workflows[rec.execution_id] = workflow
        return self._launch(workflow, rec, checkpointer, hooks)

    def _plan_replay(self, rec: RunRecord, workflow: Workflow, spec: dict[str, Any]) -> None:
        """Answer the re-run's HTTP and email nodes from `spec["source"]`'s recordings (engine.replay)."""
        from engine import replay

        replay.apply(rec.io, spec, replay.replay_plan(self.store, spec["source"], workflow, spec.get("nodes")))

    def create_queued(
        self,
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
        """Store a new execution as `queued` (its first checkpoint, no owner) for a worker to claim.

        `capture_email` is stored with the execution, so the worker that claims it captures too.
        `content_hash` (and `document`): as for `start`.
        """
        rec = self._new_record(workflow, inputs, variables=variables, trigger=trigger, workflow_file=workflow_file, capture_email=capture_email)
        store = self.store
        # written as this process's run (the checkpoint writer only writes its own runs),
        # then handed to the queue: no owner, not started
        me = store.me
        checkpointer = Checkpointer(store.raw, rec, owner_token=me.token)
        try:
            version_id = store.save_workflow(workflow, content_hash=content_hash, document=document)
            checkpointer.initial(create=store.new_execution_row(rec, version_id, me))
        finally:
            checkpointer.close()
        e = executions_table()
        with store.write() as conn, conn.begin():
            conn.execute(
                e.update()
                .where(e.c.id == rec.execution_id)
                .values(status=QUEUED, owner_host=None, owner_pid=None, owner_token=None, heartbeat_at=None, started_at=None)
            )
        return rec.execution_id

    async def execute(self, workflow: Workflow, inputs: Any = None, **kw: Any) -> str:
        """Start a run and return its execution id (DESIGN's verb)."""
        return (await self.start(workflow, inputs, **kw)).execution_id

    async def run(self, workflow: Workflow, inputs: Any = None, **kw: Any) -> RunRecord:
        """Start a run and wait for its end (or pause)."""
        handle = await self.start(workflow, inputs, **kw)
        return await handle.task

    async def wait(self, execution_id: str) -> RunRecord:
        """Wait for a run to end or pause; runs of other processes are polled."""
        handle = self._handles.get(execution_id)
        if handle is not None:
            return await asyncio.shield(handle.task)
        if self._store is None:
            return self._memory_record(execution_id)
        while True:
            row = self._store.row(execution_id)
            if self._store.effective_status(row) not in (RUNNING, QUEUED):
                return self.record(execution_id)
            await asyncio.sleep(POLL_EVERY)

    async def resume(
        self,
        execution_id: str,
        *,
        hooks: ev.LifecycleHooks | None = None,
        workflow: Workflow | None = None,
        worker: str | None = None,
        **debug: Any,
    ) -> RunHandle:
        """Continue a paused, queued or interrupted run in this process from its last checkpoint.

        `worker`: the queue worker taking it (queue mode). `debug`: the options of
        `_debug_on_resume` (breakpoints, clear_breaks, step, to, and the edits made while
        paused: variables, set_input), stored before it goes on.
        """
        running = self._handles.get(execution_id)
        if running is not None and not running.task.done():
            raise InvalidExecutionState(f"execution {execution_id} is already running in this process")
        if self._store is None:
            rec = self._memory_record(execution_id)
            if rec.status != PAUSED:
                raise InvalidExecutionState(f"execution {execution_id} is {rec.status}; only paused runs can be resumed")
            workflow = workflow or self._workflows.get(execution_id)
            if workflow is None:
                raise StoreError("an in-memory service needs the workflow to resume a run")
            self._debug_on_resume(rec, workflow, **debug)
            return self._launch(workflow, rec, None, hooks)
        row = self._store.claim(execution_id, self._store.me, worker=worker)
        claiming = object()
        self._live.add(execution_id, claiming)  # ours from the claim on (readers of this service)
        try:
            rec, _ = self._store.load_record(execution_id)
            rec.status = PAUSED if row.status == PAUSED else INTERRUPTED
            if row.status == QUEUED:  # its first start: ExecutionStarted, started now
                rec.status, rec.started_at = RUNNING, None
            wf = workflow if workflow is not None else self._store.load_workflow_version(row.workflow_version)
            seq = self._store.next_seq(execution_id)
            if rec.status == INTERRUPTED:
                seq = self._store.add_interrupted_attempts(rec, row.in_flight, seq)
            existing = self._store.thread_ids(execution_id)
            edited = self._debug_on_resume(rec, wf, **debug)
        except BaseException:
            # give the run back: it stays resumable
            self._live.discard(execution_id, claiming)
            back = row.status if row.status in (PAUSED, QUEUED) else INTERRUPTED
            self._store.set_stopped(execution_id, back, only_from=[RUNNING])
            raise
        log.info("execution=%s resuming from %s (seq %d)", execution_id, rec.status, seq, extra={"execution_id": execution_id})
        checkpointer = Checkpointer(self._store.raw, rec, seq=seq, existing_threads=existing, owner_token=self._store.me.token)
        if edited:  # breakpoints, step mode, edited variables or input: stored before anything runs
            checkpointer.initial()
        return self._launch(wf, rec, checkpointer, hooks)

    def _launch(
        self,
        workflow: Workflow,
        rec: RunRecord,
        checkpointer: Checkpointer | None,
        hooks: ev.LifecycleHooks | None,
    ) -> RunHandle:
        loop = asyncio.get_running_loop()
        all_hooks = ev.LifecycleHooks()
        if checkpointer is not None:
            checkpointer.subscribe(all_hooks)
        control = RunControl()
        handle = RunHandle(rec.execution_id, None, control, rec, loop)  # type: ignore[arg-type]
        if checkpointer is None:  # the handlers hold the handle's maps, not the handle (it holds them: a cycle)
            in_flight, side_effects = handle.in_flight, handle.side_effects

            def note_started(e: ev.NodeStarted, r: RunRecord) -> None:
                in_flight[e.thread_id] = e.node_id
                side_effects[e.node_id] = e.side_effects

            all_hooks.on(ev.NodeStarted, note_started)
            all_hooks.on(ev.NodeFinished, lambda e, r: in_flight.pop(e.thread_id, None))
            all_hooks.on(ev.NodeFinished, lambda e, r: attach_pending(r, e.thread_id, e.node_id))
        if hooks is not None:
            all_hooks.extend(hooks)
        from engine import metrics

        if metrics.enabled():
            metrics.observe(all_hooks, workflow)
        orch = Orchestrator(workflow, rec, hooks=all_hooks, control=control, load_workflow=self._loader(rec), recorder=checkpointer)
        handle.orchestrator = orch
        self._live.add(rec.execution_id, control)
        handle.task = loop.create_task(self._drive(orch, checkpointer, control), name=f"execution-{rec.execution_id}")
        self._handles[rec.execution_id] = handle
        return handle

    async def _drive(self, orch: Orchestrator, checkpointer: Checkpointer | None, control: RunControl) -> RunRecord:
        rec = orch.record
        poller = None
        if self._store is not None:
            poller = asyncio.get_running_loop().create_task(self._poll(rec.execution_id, control))
        try:
            return await orch.run()
        finally:
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await poller
            if checkpointer is not None:
                checkpointer.close()
            self._live.discard(rec.execution_id, control)
            handle = self._handles.get(rec.execution_id)
            if handle is not None and handle.record is rec:
                del self._handles[rec.execution_id]

    async def _poll(self, execution_id: str, control: RunControl) -> None:
        """Pick up pause/cancel requests from other processes; keep the heartbeat fresh."""
        store = self._store
        assert store is not None
        last_beat = time.monotonic()
        while True:
            await asyncio.sleep(POLL_EVERY)
            now = time.monotonic()
            beat = now - last_beat >= owner.HEARTBEAT_EVERY
            try:
                request = store.poll(execution_id, heartbeat=beat)
            except Exception:  # a busy database must not kill the run; try again next tick
                log.warning("execution=%s: control poll failed", execution_id, exc_info=True, extra={"execution_id": execution_id})
                continue
            if beat:
                last_beat = now
            if request == "cancel" and not control.cancel_requested:
                log.info("execution=%s: cancel requested through the database", execution_id, extra={"execution_id": execution_id})
                control.cancel()
            elif request == "pause" and not control.interrupted:
                log.info("execution=%s: pause requested through the database", execution_id, extra={"execution_id": execution_id})
                control.pause()
            elif request in ("retry_now", "give_up"):
                log.info("execution=%s: %s requested through the database", execution_id, request, extra={"execution_id": execution_id})
                (control.retry_now if request == "retry_now" else control.give_up)()
                store.clear_request(execution_id, request)

    def _loader(self, rec: RunRecord) -> Any:
        """Sub-workflow loading: `id:<workflow id>`, the newest saved version of this workspace,
        else a file beside the parent with that id; a path, its file (saved as a version)."""

        def load(ref: str) -> Workflow:
            from engine.runtime.sub_workflows import load_file, load_sub_workflow

            if ref.startswith("id:"):
                find = self._store.latest_workflow if self._store is not None else None
                return load_sub_workflow(ref, workflow_file=rec.workflow_file, find_workflow=find)
            if self._store is not None:
                saved = self._store.latest_workflow(ref)
                if saved is not None:
                    return saved
            base = Path(rec.workflow_file).parent if rec.workflow_file else Path.cwd()
            path = Path(ref)
            if not path.is_absolute():
                path = base / path
            loaded = load_file(path)
            if self._store is not None:
                self._store.save_workflow(loaded.workflow, content_hash=loaded.content_hash, document=loaded.document)
            return loaded.workflow

        return load

    # -- control ---------------------------------------------------------------------
    def _signal(self, handle: RunHandle, what: str) -> None:
        self._on_loop(handle, handle.control.pause if what == "pause" else handle.control.cancel)

    def pause(self, execution_id: str) -> None:
        """Pause a running run (in this process at once, in another through the database)."""
        handle = self._handles.get(execution_id)
        if handle is not None and not handle.task.done():
            self._signal(handle, "pause")
        if self._store is None:
            if handle is None:
                self._memory_record(execution_id)
                raise InvalidExecutionState(f"execution {execution_id} is not running")
            return
        if not self._store.request_control(execution_id, "pause") and handle is None:
            status = self._store.effective_status(self._store.row(execution_id))
            raise InvalidExecutionState(f"execution {execution_id} is {status}; only a running execution can be paused")

    def cancel(self, execution_id: str) -> None:
        """Cancel a run; a paused or interrupted run is cancelled directly in the database."""
        handle = self._handles.get(execution_id)
        if handle is not None and not handle.task.done():
            self._signal(handle, "cancel")
        if self._store is None:
            if handle is None:
                rec = self._memory_record(execution_id)
                if rec.status != PAUSED:
                    raise InvalidExecutionState(f"execution {execution_id} is {rec.status}; it cannot be cancelled")
                rec.status = "cancelled"
                rec.stopped_at = time.time()
            return
        if handle is not None:
            self._store.request_control(execution_id, "cancel")
            return
        row = self._store.row(execution_id)
        status = self._store.effective_status(row)
        if status == RUNNING:
            if self._store.request_control(execution_id, "cancel"):
                return
            row = self._store.row(execution_id)
            status = self._store.effective_status(row)
        if status in (PAUSED, QUEUED) and self._store.set_stopped(execution_id, "cancelled", only_from=[status]):
            return
        if status == INTERRUPTED and self._store.set_stopped(execution_id, "cancelled", only_from=[RUNNING, INTERRUPTED], row=row):
            return
        raise InvalidExecutionState(f"execution {execution_id} is {status}; it cannot be cancelled")

    # -- reading ---------------------------------------------------------------------
    def _memory_record(self, execution_id: str) -> RunRecord:
        rec = self._records.get(execution_id)
        if rec is None:
            raise ExecutionNotFound(f"no execution {execution_id!r} in workspace {self.workspace!r}")
        return rec

    def status(self, execution_id: str) -> dict[str, Any]:
        """The DESIGN status object, plus `in_flight`: {node_id, side_effects, thread_id} | None."""
        if self._store is None:
            rec = self._memory_record(execution_id)
            obj = status_object(rec, now=time.time())
            handle = self._handles.get(execution_id)
            obj["in_flight"] = None
            if handle is not None and handle.in_flight:
                tid, node = list(handle.in_flight.items())[-1]
                obj["in_flight"] = {"node_id": node, "side_effects": handle.side_effects.get(node, False), "thread_id": tid}
            return obj
        row, threads = self._store.one(execution_id)
        obj = _status_from_rows(row, threads, self._store.effective_status(row))
        if row.replay:  # a replaying re-run: requests that differed from their recordings
            warnings = self._store.replay_warnings(execution_id)
            if warnings:
                obj["warnings"] = warnings
        return obj

    def list_runs(
        self,
        *,
        status: str | None = None,
        workflow_id: str | None = None,
        since: datetime | float | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Status objects, newest first, filtered by status, workflow id and start time."""
        since_ts = since.timestamp() if isinstance(since, datetime) else since
        if self._store is None:
            recs = sorted(self._records.values(), key=lambda r: r.started_at or 0, reverse=True)
            out = []
            for rec in recs:
                if status is not None and rec.status != status:
                    continue
                if workflow_id is not None and rec.workflow_id != workflow_id:
                    continue
                if since_ts is not None and (rec.started_at or 0) < since_ts:
                    continue
                out.append(self.status(rec.execution_id))
                if limit is not None and len(out) >= limit:
                    break
            return out
        live_states = {RUNNING, INTERRUPTED}
        statuses = None if status is None else ([RUNNING, INTERRUPTED] if status in live_states else [status])
        post = status in live_states
        now = time.time()
        result = []
        for row, threads in self._store.rows(statuses=statuses, workflow_id=workflow_id, since=since_ts, limit=None if post else limit):
            eff = self._store.effective_status(row, now)
            if post and eff != status:
                continue
            result.append(_status_from_rows(row, threads, eff, now))
            if limit is not None and len(result) >= limit:
                break
        return result

    def record(self, execution_id: str) -> RunRecord:
        """The full run record (outputs, attempts), rebuilt from the store."""
        if self._store is None:
            return self._memory_record(execution_id)
        return self._store.load_record(execution_id)[0]

    def workflow_names(self, workflow_ids: list[str]) -> dict[str, str]:
        """Workflow id -> name of its newest saved version, for lists of runs (no parsing)."""
        if self._store is None:
            return {}
        return self._store.workflow_names(workflow_ids)

    def workflow_of(self, execution_id: str) -> Workflow:
        """The workflow version the run ran with."""
        if self._store is None:
            raise StoreError("an in-memory service does not keep workflow versions")
        row = self._store.row(execution_id)
        return self._store.load_workflow_version(row.workflow_version)

    # -- housekeeping --------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Mark running rows whose owner is gone as interrupted; return their ids."""
        if self._store is None:
            return []
        found = []
        now = time.time()
        for row in self._store.running_rows():
            if self._store.effective_status(row, now) == INTERRUPTED and self._store.set_stopped(
                row.id, INTERRUPTED, only_from=[RUNNING], row=row
            ):
                found.append(row.id)
        for row, _ in self._store.rows(statuses=[INTERRUPTED], workflow_id=None, since=None, limit=None):
            if row.id not in found:
                found.append(row.id)
        return found

    def mark_failed(self, execution_id: str, message: str) -> None:
        """Give up on a run (e.g. its workflow cannot be loaded any more)."""
        handle = self._handles.get(execution_id)
        if handle is not None and not handle.task.done():
            raise InvalidExecutionState(f"execution {execution_id} is running in this process; cancel it instead")
        error = {"message": message, "traceback": None, "node_id": None}
        if self._store is None:
            rec = self._memory_record(execution_id)
            rec.status, rec.error, rec.stopped_at = "failed", error, time.time()
            return
        row = self._store.row(execution_id)
        if self._store.effective_status(row) == RUNNING:
            raise InvalidExecutionState(f"execution {execution_id} is running (pid {row.owner_pid}); cancel it instead")
        if not self._store.set_stopped(execution_id, "failed", error=error):  # never over a finished run
            raise InvalidExecutionState(f"execution {execution_id} is {row.status}; a finished run keeps its status")

    def delete(self, execution_id: str) -> None:
        handle = self._handles.get(execution_id)
        if handle is not None and not handle.task.done():
            raise InvalidExecutionState(f"execution {execution_id} is running; cancel it first")
        if self._store is None:
            self._memory_record(execution_id)
            del self._records[execution_id]
            return
        row = self._store.row(execution_id)
        if self._store.effective_status(row) == RUNNING:
            raise InvalidExecutionState(f"execution {execution_id} is running; cancel it first")
        self._store.delete([execution_id])

    def prune(self, *, older_than_days: float, keep_failed: bool = False) -> int:
        """Delete finished runs (completed, failed, cancelled) that stopped before the cutoff."""
        cutoff = time.time() - older_than_days * 86400.0
        if self._store is None:
            old = [
                i for i, r in self._records.items()
                if r.status in TERMINAL and (r.stopped_at or 0) < cutoff and not (keep_failed and r.status == "failed")
            ]
            for i in old:
                del self._records[i]
            return len(old)
        return self._store.delete(self._store.finished_before(cutoff, keep_failed=keep_failed))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> ExecutionService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def executions_table() -> Any:
    from engine.store.schema import executions

    return executions


def _status_from_rows(row: Any, threads: list[Any], status: str, now: float | None = None) -> dict[str, Any]:
    """The status object of `engine.runtime.status.status_object`, read from store rows."""
    now = time.time() if now is None else now

    err = loads(row.error)
    flight = loads(row.in_flight) if status in (RUNNING, INTERRUPTED) else None
    in_flight = None
    if flight:
        tid, (node, side) = list(flight.items())[-1]
        in_flight = {"node_id": node, "side_effects": bool(side), "thread_id": tid}
    stopped = row.stopped_at if status not in (RUNNING, INTERRUPTED) else None
    obj = {
        "execution_id": row.id,
        "workflow_id": row.workflow_id,
        "status": status,
        "resumable": status in (PAUSED, INTERRUPTED),
        "progress": progress(row.total, row.completed, row.failed, row.skipped),
        "timing": {
            "started_at": iso(row.started_at),
            "stopped_at": iso(stopped),
            "duration_ms": duration_ms(row.started_at, stopped, now if status == RUNNING else None, paused_ms=row.paused_ms or 0.0),
        },
        "threads": [
            {
                "thread_id": tr.thread_id,
                "workflow_id": tr.workflow_id,
                "parent_thread_id": tr.parent_thread_id,
                "node_id": tr.parent_node_id,
                "status": status if tr.thread_id == MAIN_THREAD else tr.status,
                "progress": progress(tr.total, tr.completed, tr.failed, tr.skipped),
                "in_flight": tr.in_flight,
            }
            for tr in threads
        ],
        "error": None if not err else {"message": err.get("message"), "traceback": err.get("traceback"), "node_id": err.get("node_id")},
        "in_flight": in_flight,
        "paused_at": loads(row.paused_at) if status == PAUSED else None,
        "rerun_of": row.rerun_of,
    }
    if row.worker is not None:  # queue mode: the worker running (or that last ran) it
        obj["worker"] = row.worker
    return obj

