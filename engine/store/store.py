"""The execution store: every query the service needs, always scoped by workspace.

Reads of one execution happen in one transaction (a consistent WAL snapshot on
SQLite), so a reader never sees half a checkpoint. A run record is rebuilt from
its rows: the journal of small states in `execution_state`, attempts from
`node_runs`, the latest output per node from `outputs`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from engine.errors import StoreError
from engine.jsonvalue import unstorable
from engine.model import Workflow
from engine.runtime.debug import DebugState
from engine.runtime.record import (
    INTERRUPTED,
    PAUSED,
    QUEUED,
    RUNNING,
    TERMINAL,
    RunRecord,
    ThreadRecord,
)
from engine.store import codec, owner
from engine.store.database import describe, open_store, sqlite_engine
from engine.store.deferred import Deferred
from engine.store.reads import LISTING_FILTERS, reads
from engine.store.sql import Prepared, RawTransaction, statements

if TYPE_CHECKING:
    import sqlalchemy as sa

    from engine.store import schema as t
else:  # imported by the first query that needs them: a run on an up-to-date SQLite file never does
    sa = Deferred("sqlalchemy")
    t = Deferred("engine.store.schema")

log = logging.getLogger("engine.store")

FINISHED = tuple(sorted(TERMINAL))


class ExecutionNotFound(StoreError, KeyError):
    """No execution with this id in this workspace."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "execution not found"


class InvalidExecutionState(StoreError):
    """The execution is not in a state that allows this (e.g. resuming a completed run)."""


@dataclass(slots=True)
class Owner:
    """Who drives a run: written into its row by create and claim, checked by the fence."""

    host: str
    pid: int
    token: str | None

    @classmethod
    def of(cls, live: owner.LiveRuns) -> Owner:
        """The owner of the runs `live` registers: this host, this process, that service."""
        return cls(owner.HOST, os.getpid(), live.token)


class _Guard:
    """A SQLAlchemy error inside becomes a StoreError naming the database and the step. One
    class for every call (a class made per call is a reference cycle, garbage for the collector)."""

    __slots__ = ("url", "what")

    def __init__(self, url: str, what: str) -> None:
        self.url = url
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: Any, exc: Any, tb: Any) -> Literal[False]:
        loaded = sys.modules.get("sqlalchemy")  # not loaded: no SQLAlchemy error can occur
        if exc is not None and loaded is not None and isinstance(exc, loaded.exc.SQLAlchemyError):
            raise StoreError(f"{describe(self.url)}: cannot {self.what}: {getattr(exc, 'orig', exc)}") from exc
        return False


def workflow_document(wf: Workflow) -> tuple[str, str]:
    """(the saved document: canonical processengine/1 JSON, its content hash) of a workflow version."""
    from engine import fileformat

    return fileformat.canonical(wf)


class ExecutionStore:
    """Tables of one database, seen from one workspace."""

    def __init__(
        self, url: str, *, workspace: str = "default", busy_timeout: float = 10.0, live: owner.LiveRuns | None = None
    ) -> None:
        self.url = url
        # the runs this store's service drives: its liveness answers for the rows it owns
        self.live = live if live is not None else owner.LiveRuns()
        self.busy_timeout = busy_timeout
        # `raw`: what a run writes through (engine.store.sql's statements on raw
        # connections); `engine`: SQLAlchemy's, for every other query, made on first use
        self.raw, self._engine = open_store(url, busy_timeout=busy_timeout)
        self._engine_lock = threading.Lock()
        self.dialect = self.raw.dialect.name
        self.sql = statements(self.raw.dialect)
        self.workspace = workspace
        self.ws_id = self._workspace_id(workspace)
        self._versions: dict[str, int] = {}

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (on an up-to-date SQLite file: made, and SQLAlchemy
        imported, by the first query that needs it)."""
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:
                    self._engine = sqlite_engine(self.url, self.busy_timeout)
        return self._engine

    # -- helpers -----------------------------------------------------------------
    def _read(self, what: str, stmt: Prepared, params: dict[str, Any]) -> Any:
        """The first row of one of engine.store.sql's statements (None: no row)."""
        try:
            conn = self.raw.raw_connection()
            try:
                cur = conn.cursor()
                try:
                    stmt.run(cur, params)
                    return cur.fetchone()
                finally:
                    cur.close()
                    if self.dialect != "sqlite":
                        conn.rollback()  # end the read's transaction
            finally:
                conn.close()
        except Exception as exc:
            raise StoreError(f"{describe(self.url)}: cannot {what}: {exc}") from exc

    def _write(self, what: str, stmt: Prepared, params: dict[str, Any]) -> int:
        """Run one of engine.store.sql's statements in a transaction of its own; the rows it changed."""
        try:
            conn = self.raw.raw_connection()
            try:
                with RawTransaction(conn, self.dialect == "sqlite", counted=False) as cur:
                    stmt.run(cur, params)
                    return int(cur.rowcount)
            finally:
                conn.close()
        except Exception as exc:
            raise StoreError(f"{describe(self.url)}: cannot {what}: {exc}") from exc

    def write(self) -> sa.Connection:
        """A connection whose transactions take the write lock up front (SQLite)."""
        return self.engine.connect().execution_options(pe_write=True)

    def _guard(self, what: str) -> AbstractContextManager[None]:
        return _Guard(self.url, what)

    def _insert_once(self, what: str, insert: Prepared, select: Prepared, params: dict[str, Any]) -> int:
        """The id `select` finds, inserting the row first when there is none (a unique row:
        when the insert fails because another process inserted it just now, theirs is used).
        A new row's id comes from the insert itself, not from reading it back."""
        row = self._read(what, select, params)
        if row is None:
            try:
                new_id = self._insert_returning_id(what, insert, params)
            except StoreError:
                row = self._read(what, select, params)
                if row is None:
                    raise
            else:
                if new_id is not None:
                    return new_id
                row = self._read(what, select, params)  # a driver that tells neither
        if row is None:
            raise StoreError(f"{describe(self.url)}: cannot {what}: the row written is not there")
        return int(row[0])

    def _insert_returning_id(self, what: str, insert: Prepared, params: dict[str, Any]) -> int | None:
        """Insert one row in a transaction of its own; its id as the insert tells it:
        the row the statement returns (PostgreSQL: SQLAlchemy compiles its inserts with
        `RETURNING id`), else the cursor's `lastrowid` (SQLite: the `id INTEGER PRIMARY KEY`)."""
        try:
            conn = self.raw.raw_connection()
            try:
                with RawTransaction(conn, self.dialect == "sqlite", counted=False) as cur:
                    insert.run(cur, params)
                    returned = cur.fetchone() if cur.description is not None else None
                    new_id = returned[0] if returned is not None else getattr(cur, "lastrowid", None)
            finally:
                conn.close()
        except Exception as exc:
            raise StoreError(f"{describe(self.url)}: cannot {what}: {exc}") from exc
        return int(new_id) if new_id else None

    def _workspace_id(self, name: str) -> int:
        sql = self.sql
        return self._insert_once("open the workspace", sql.workspace_insert, sql.workspace_id, {"name": name, "created_at": time.time()})

    def close(self) -> None:
        self.raw.dispose()
        if self._engine is not None:
            self._engine.dispose()

    # -- workflows ---------------------------------------------------------------
    def save_workflow(self, wf: Workflow, *, content_hash: str | None = None, document: str | None = None) -> int:
        """The id of this workflow version (by content hash), saving it when new.

        `content_hash` (and `document`): the canonical document's hash (and text) when the
        caller knows them already (`engine.compiled` keeps the hash with a file's verdict):
        a version saved before is then found without encoding and hashing the workflow."""
        if content_hash is None or (document is None and not self._saved(content_hash)):
            document, content_hash = workflow_document(wf)
        got = self._versions.get(content_hash)
        if got is not None:
            return got
        row = {
            "workspace_id": self.ws_id,
            "workflow_id": wf.id,
            "name": wf.name,
            "content_hash": content_hash,
            "document": document,
            "created_at": time.time(),
        }
        version = self._insert_once("save the workflow", self.sql.workflow_insert, self.sql.workflow_id, row)
        self._versions[content_hash] = version
        return version

    def _saved(self, content_hash: str) -> bool:
        """Whether a version with this content hash is saved (its id then remembered)."""
        if content_hash in self._versions:
            return True
        row = self._read("save the workflow", self.sql.workflow_id, {"workspace_id": self.ws_id, "content_hash": content_hash})
        if row is not None:
            self._versions[content_hash] = int(row[0])
        return row is not None

    def load_workflow_version(self, version: int) -> Workflow:
        from engine import fileformat

        w = t.workflows
        with self._guard("read the workflow"), self.engine.connect() as conn:
            doc = conn.execute(
                sa.select(w.c.document).where(w.c.id == version, w.c.workspace_id == self.ws_id)
            ).scalar_one_or_none()
        if doc is None:
            raise StoreError(f"workflow version {version} is missing from {describe(self.url)}")
        return fileformat.loads(doc, file=f"<saved workflow version {version}>", check_configs=False)

    def workflow_names(self, workflow_ids: list[str]) -> dict[str, str]:
        """Workflow id -> the name of its newest saved version (one query, no parsing)."""
        if not workflow_ids:
            return {}
        w = t.workflows
        names: dict[str, str] = {}
        with self._guard("read workflow names"), self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(w.c.workflow_id, w.c.name)
                .where(w.c.workspace_id == self.ws_id, w.c.workflow_id.in_(sorted(set(workflow_ids))))
                .order_by(w.c.id)
            )
            for wid, name in rows:
                names[wid] = name  # later versions overwrite earlier ones
        return names

    def latest_workflow(self, workflow_id: str) -> Workflow | None:
        """The newest saved version of a workflow id in this workspace (sub-workflow calls by id)."""
        w = t.workflows
        with self._guard("read the workflow"), self.engine.connect() as conn:
            version = conn.execute(
                sa.select(w.c.id)
                .where(w.c.workspace_id == self.ws_id, w.c.workflow_id == workflow_id)
                .order_by(w.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        return None if version is None else self.load_workflow_version(int(version))

    # -- executions ----------------------------------------------------------------
    def new_execution_row(self, rec: RunRecord, version: int, who: Owner) -> dict[str, Any]:
        """The `executions` row of a new run (inserted with its first checkpoint)."""
        problem = unstorable(rec.trigger_payload)
        if problem:
            raise StoreError(f"the run's input cannot be stored: {problem}")
        now = time.time()
        return {
            "id": rec.execution_id,
            "workspace_id": self.ws_id,
            "workflow_version": version,
            "workflow_id": rec.workflow_id,
            "status": RUNNING,
            "trigger_node": rec.trigger_node,
            "trigger_payload": codec.dumps(rec.trigger_payload),
            "workflow_file": rec.workflow_file,
            "owner_host": who.host,
            "owner_pid": who.pid,
            "owner_token": who.token,
            "heartbeat_at": now,
            "created_at": now,
            "started_at": now,
            "total": rec.main.total,
            "debug": codec.dumps(rec.debug.to_json()),
            "rerun_of": rec.debug.rerun_of,
            "capture_email": rec.io.capture_email,
            "replay": codec.dumps_opt(rec.io.replay_spec),
        }

    def row(self, execution_id: str, conn: sa.Connection | None = None) -> sa.Row[Any]:
        q, params = reads().execution, {"eid": execution_id, "ws": self.ws_id}
        with self._guard("read the execution"):
            if conn is None:
                with self.engine.connect() as c:
                    row = c.execute(q, params).first()
            else:
                row = conn.execute(q, params).first()
        if row is None:
            raise ExecutionNotFound(f"no execution {execution_id!r} in workspace {self.workspace!r}")
        return row

    @property
    def me(self) -> Owner:
        """The owner this store writes into the rows of the runs it creates or claims."""
        return Owner.of(self.live)

    def effective_status(self, row: Any, now: float | None = None) -> str:
        """The row's status, `interrupted` for a `running` row whose owner is gone."""
        if row.status == RUNNING and not owner.owner_alive(
            row.id, row.owner_host, row.owner_pid, row.owner_token, row.heartbeat_at, now, live=self.live
        ):
            return INTERRUPTED
        return str(row.status)

    def claim(self, execution_id: str, who: Owner, *, worker: str | None = None) -> sa.Row[Any]:
        """Take over a paused, queued or interrupted run (atomically: one resumer wins)."""
        e = t.executions
        row = self.row(execution_id)
        status = self.effective_status(row)
        if status in (PAUSED, QUEUED):
            cond = e.c.status == status
        elif status == INTERRUPTED:
            cond = sa.and_(
                e.c.status == row.status,
                e.c.owner_host.is_not_distinct_from(row.owner_host),
                e.c.owner_pid.is_not_distinct_from(row.owner_pid),
                e.c.heartbeat_at.is_not_distinct_from(row.heartbeat_at),
            )
        elif status == RUNNING:
            raise InvalidExecutionState(
                f"execution {execution_id} is running (owner {row.owner_host} pid {row.owner_pid}); pause it first"
            )
        else:
            raise InvalidExecutionState(f"execution {execution_id} is {status}; only paused or interrupted runs can be resumed")
        started: dict[str, Any] = {"started_at": time.time()} if status == QUEUED else {}
        if status == PAUSED and row.stopped_at is not None:  # the pause ends now: not run time
            started["paused_ms"] = sa.func.coalesce(e.c.paused_ms, 0.0) + max(0.0, time.time() - row.stopped_at) * 1000
        with self._guard("claim the execution"), self.write() as conn, conn.begin():
            n = conn.execute(
                e.update()
                .where(e.c.id == execution_id, e.c.workspace_id == self.ws_id, cond)
                .values(
                    status=RUNNING,
                    owner_host=who.host,
                    owner_pid=who.pid,
                    owner_token=who.token,
                    heartbeat_at=time.time(),
                    control_request=None,
                    in_flight=None,
                    stopped_at=None,
                    worker=worker,
                    **started,
                )
            ).rowcount
        if n != 1:
            raise InvalidExecutionState(f"execution {execution_id} was taken over by another process")
        return row

    def next_seq(self, execution_id: str) -> int:
        with self.engine.connect() as conn:
            return max(
                conn.execute(sa.select(sa.func.max(tab.c.seq)).where(tab.c.execution_id == execution_id)).scalar() or 0
                for tab in (t.node_runs, t.outputs, t.execution_state)
            )

    def add_interrupted_attempts(self, rec: RunRecord, in_flight: str | None, seq: int) -> int:
        """Record the attempts a dead owner left in flight (they run again), so history says so."""
        flight = codec.loads(in_flight) or {}
        rows = []
        for tid, (node, side) in flight.items():
            th = rec.threads.get(tid)
            if th is None:
                continue
            prior = th.attempts.setdefault(node, [])
            number = prior[-1]["attempt"] + 1 if prior and prior[-1]["status"] == "failed" else 1
            what = "with side effects " if side else ""
            err = {
                "message": f"the process running this node {what}stopped before it finished; the node runs again",
                "type": "Interrupted",
                "node_id": node,
                "attempt": number,
                "traceback": None,
            }
            att = {"attempt": number, "status": "interrupted", "started_at": None, "duration_ms": None, "error": err}
            prior.append(att)
            seq += 1
            rows.append(
                {"execution_id": rec.execution_id, "seq": seq, "thread_id": tid, "node_id": node, "attempt": number,
                 "status": "interrupted", "started_at": None, "duration_ms": None, "error": codec.dumps(err), "output_seq": None}
            )
        if rows:
            with self._guard("record the interrupted attempt"), self.write() as conn, conn.begin():
                conn.execute(t.node_runs.insert(), rows)
        return seq

    def thread_ids(self, execution_id: str) -> set[str]:
        te = t.thread_executions
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(te.c.thread_id).where(te.c.execution_id == execution_id)).scalars())

    def request_control(self, execution_id: str, what: str) -> bool:
        """Ask the owner of a running run to pause or cancel (picked up by its poller)."""
        e = t.executions
        with self._guard("record the request"), self.write() as conn, conn.begin():
            return (
                conn.execute(
                    e.update()
                    .where(e.c.id == execution_id, e.c.workspace_id == self.ws_id, e.c.status == RUNNING)
                    .values(control_request=what)
                ).rowcount
                == 1
            )

    def request_retry(self, execution_id: str, what: str) -> bool:
        """Ask the owner to end a retry back-off (`retry_now` / `give_up`); never over a pause or cancel."""
        e = t.executions
        with self._guard("record the request"), self.write() as conn, conn.begin():
            return (
                conn.execute(
                    e.update()
                    .where(e.c.id == execution_id, e.c.workspace_id == self.ws_id, e.c.status == RUNNING)
                    .where(sa.or_(e.c.control_request.is_(None), e.c.control_request == what))
                    .values(control_request=what)
                ).rowcount
                == 1
            )

    def clear_request(self, execution_id: str, what: str) -> None:
        """Drop a one-shot request once the owner acted on it (a newer pause/cancel stays)."""
        e = t.executions
        with self._guard("clear the request"), self.write() as conn, conn.begin():
            conn.execute(e.update().where(e.c.id == execution_id, e.c.control_request == what).values(control_request=None))

    def retrying_node(self, execution_id: str) -> str | None:
        """The in-flight node whose last stored attempt failed (it waits to retry), if any."""
        e, nr = t.executions, t.node_runs
        with self._guard("read the execution"), self.engine.connect() as conn:
            flight = codec.loads(conn.execute(sa.select(e.c.in_flight).where(e.c.id == execution_id)).scalar_one_or_none())
            for tid, (node, _side) in (flight or {}).items():
                last = conn.execute(
                    sa.select(nr.c.status)
                    .where(nr.c.execution_id == execution_id, nr.c.thread_id == tid, nr.c.node_id == node)
                    .order_by(nr.c.seq.desc())
                    .limit(1)
                ).scalar_one_or_none()
                if last == "failed":
                    return str(node)
        return None

    def save_debug(self, execution_id: str, debug: Any) -> None:
        """Store a stopped run's debug state (breakpoints changed while it is not running)."""
        e = t.executions
        with self._guard("store the breakpoints"), self.write() as conn, conn.begin():
            conn.execute(
                e.update().where(e.c.id == execution_id, e.c.workspace_id == self.ws_id).values(debug=codec.dumps(debug.to_json()))
            )

    def poll(self, execution_id: str, *, heartbeat: bool) -> str | None:
        """The pending control request of a run (and refresh its heartbeat)."""
        sql = self.sql
        if heartbeat:  # only while this service still owns it (a takeover is not refreshed)
            me = self.me
            fence = {"w_eid": execution_id, "w_host": me.host, "w_pid": me.pid, "w_token": me.token}
            self._write("refresh the heartbeat", sql.exec_heartbeat, {**fence, "heartbeat_at": time.time()})
        row = self._read("read the control request", sql.control_request, {"w_eid": execution_id})
        return None if row is None else row[0]

    def set_stopped(self, execution_id: str, status: str, *, error: dict[str, Any] | None = None, only_from: Iterable[str] | None = None, row: Any = None) -> bool:
        e = t.executions
        # a finished run's status is never overwritten (by a late owner, a cancel, a mark-failed)
        cond = [e.c.id == execution_id, e.c.workspace_id == self.ws_id, e.c.status.not_in(FINISHED)]
        if only_from is not None:
            cond.append(e.c.status.in_(list(only_from)))
        if row is not None:  # compare-and-swap on the owner we judged gone
            cond += [
                e.c.owner_pid.is_not_distinct_from(row.owner_pid),
                e.c.heartbeat_at.is_not_distinct_from(row.heartbeat_at),
            ]
        values: dict[str, Any] = {"status": status, "control_request": None}
        if status in TERMINAL:
            values["stopped_at"] = time.time()
            values["in_flight"] = None
        if error is not None:
            values["error"] = codec.dumps(error)
        with self._guard("update the execution"), self.write() as conn, conn.begin():
            return conn.execute(e.update().where(*cond).values(**values)).rowcount == 1

    def delete(self, execution_ids: list[str]) -> int:
        if not execution_ids:
            return 0
        e = t.executions
        n = 0
        with self._guard("delete executions"), self.write() as conn, conn.begin():
            for i in range(0, len(execution_ids), 500):
                chunk = execution_ids[i : i + 500]
                owned = list(
                    conn.execute(sa.select(e.c.id).where(e.c.id.in_(chunk), e.c.workspace_id == self.ws_id)).scalars()
                )
                for tab in (t.recordings, t.node_runs, t.outputs, t.execution_state, t.thread_executions):
                    conn.execute(tab.delete().where(tab.c.execution_id.in_(owned)))
                n += conn.execute(e.delete().where(e.c.id.in_(owned))).rowcount
        return n

    def finished_before(self, cutoff: float, *, keep_failed: bool) -> list[str]:
        e = t.executions
        statuses = [s for s in FINISHED if not (keep_failed and s == "failed")]
        with self._guard("find old executions"), self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(e.c.id).where(
                        e.c.workspace_id == self.ws_id,
                        e.c.status.in_(statuses),
                        sa.func.coalesce(e.c.stopped_at, e.c.created_at) < cutoff,
                    )
                ).scalars()
            )

    def running_rows(self) -> list[Any]:
        e = t.executions
        with self._guard("list executions"), self.engine.connect() as conn:
            return list(conn.execute(sa.select(e).where(e.c.workspace_id == self.ws_id, e.c.status == RUNNING)))

    def rows(self, *, statuses: list[str] | None, workflow_id: str | None, since: float | None, limit: int | None) -> list[tuple[Any, list[Any]]]:
        """Execution rows (newest first) with their thread rows."""
        stmts = reads()
        given = {"statuses": statuses, "workflow_id": workflow_id, "since": since, "limit": limit}
        filters = {name: given[name] for name in LISTING_FILTERS if given[name] is not None}
        with self._guard("list executions"), self.engine.connect() as conn:
            rows = list(conn.execute(stmts.listing(tuple(filters)), {"ws": self.ws_id, **filters}))
            ids = [r.id for r in rows]
            threads: dict[str, list[Any]] = {i: [] for i in ids}
            for i in range(0, len(ids), 500):
                for tr in conn.execute(stmts.threads_of, {"ids": ids[i : i + 500]}):
                    threads[tr.execution_id].append(tr)
        return [(r, threads[r.id]) for r in rows]

    def one(self, execution_id: str) -> tuple[Any, list[Any]]:
        with self._guard("read the execution"), self.engine.connect() as conn:
            row = self.row(execution_id, conn)
            threads = list(conn.execute(reads().threads, {"eid": execution_id}))
        return row, threads

    # -- the record ----------------------------------------------------------------
    def load_record(self, execution_id: str) -> tuple[RunRecord, Any]:
        """Rebuild the run record exactly as the run left it at its last commit."""
        stmts, params = reads(), {"eid": execution_id}
        with self._guard("read the execution"), self.engine.connect() as conn, conn.begin():
            row = self.row(execution_id, conn)
            trows = list(conn.execute(stmts.threads, params))
            journal = list(conn.execute(stmts.journal, params))
            attempts = list(conn.execute(stmts.attempts, params))
            outs = list(conn.execute(stmts.outputs, params))
        threads = _threads(trows, *_fold_journal(journal))
        for tid, node, attempt, status, started, duration, error in attempts:
            th = threads.get(tid)
            if th is not None:
                th.attempts.setdefault(node, []).append(
                    {"attempt": attempt, "status": status, "started_at": started, "duration_ms": duration, "error": codec.loads(error)}
                )
        for tid, node, enc, data in outs:
            th = threads.get(tid)
            if th is not None:
                th.outputs[node] = codec.decode_value(enc, data)
        status = self.effective_status(row)
        rec = RunRecord(
            execution_id=row.id,
            workflow_id=row.workflow_id,
            workspace=self.workspace,
            status=status,
            trigger_node=row.trigger_node,
            trigger_payload=codec.loads(row.trigger_payload),
            started_at=row.started_at,
            stopped_at=row.stopped_at,
            threads=threads,
            error=codec.loads(row.error),
            response=codec.loads(row.response),
            workflow_file=row.workflow_file,
            paused_ms=row.paused_ms or 0.0,
            debug=DebugState.from_json(codec.loads(row.debug), codec.loads(row.paused_at)),
        )
        rec.io.capture_email = bool(row.capture_email)
        self._attach_recordings(rec)
        if row.replay:  # (a claimed run reads as running here)
            self._replay_again(rec, codec.loads(row.replay), row.workflow_version)
        return rec, row

    def _replay_again(self, rec: RunRecord, spec: dict[str, Any], version: int) -> None:
        """A resumed replaying re-run answers from the recordings again (never the network)."""
        from engine import replay

        plan = replay.replay_plan(self, spec["source"], self.load_workflow_version(version), spec.get("nodes"))
        replay.apply(rec.io, spec, plan)

    # -- recorded I/O ----------------------------------------------------------------
    def recordings(self, execution_id: str, node_id: str | None = None) -> list[dict[str, Any]]:
        """An execution's recorded attempts in run order (`seq`, `thread_id`, `node_id`,
        `attempt`, `kind`, `captured`, `request`, `response`, `replayed`)."""
        r = t.recordings
        q = sa.select(r).where(r.c.execution_id == execution_id).order_by(r.c.seq)
        if node_id is not None:
            q = q.where(r.c.node_id == node_id)
        with self._guard("read the recordings"), self.engine.connect() as conn:
            self.row(execution_id, conn)  # unknown id (or another workspace's): ExecutionNotFound
            rows = list(conn.execute(q))
        out = []
        for row in rows:
            data = codec.decode_value(row.encoding, row.data)
            out.append({"seq": row.seq, "thread_id": row.thread_id, "node_id": row.node_id,
                        "attempt": row.attempt, "kind": row.kind, "captured": bool(row.captured),
                        "request": data.get("request"), "response": data.get("response"),
                        "replayed": bool(data.get("replayed")), "mismatch": data.get("mismatch")})
        return out

    def replay_warnings(self, execution_id: str) -> list[str]:
        """The warnings of a replaying re-run, from its replayed recordings that differed."""
        from engine.recorded_io import mismatch_warning

        return [mismatch_warning(r["node_id"], r["mismatch"]) for r in self.recordings(execution_id) if r.get("mismatch")]

    def _attach_recordings(self, rec: RunRecord) -> None:
        """Put each recording on its attempt (`attempt["io"]`), matched through the
        attempt's `node_runs` seq."""
        stmts = reads()
        with self._guard("read the recordings"), self.engine.connect() as conn:
            recs = {row.seq: row for row in conn.execute(stmts.recordings, {"eid": rec.execution_id})}
            if not recs:
                return
            nodes = sorted({row.node_id for row in recs.values()})
            seqs = list(conn.execute(stmts.recorded_seqs, {"eid": rec.execution_id, "nodes": nodes}))
        index: dict[tuple[str, str], int] = {}
        for seq, tid, node in seqs:
            i = index[(tid, node)] = index.get((tid, node), -1) + 1
            row = recs.get(seq)
            th = rec.threads.get(tid)
            if row is None or th is None or i >= len(th.attempts.get(node, [])):
                continue
            data = codec.decode_value(row.encoding, row.data)
            th.attempts[node][i]["io"] = data


def _join_increments(state: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """A journal row holds the stack above its first `stack_from` frames, each waiting map
    after its first `waiting_from` entries, each loop's results from `results_from` on, and
    a loop's items and the thread's variables only the first time: take the rest from the
    rows before it (a full row has them all)."""
    keep = state.pop("stack_from", 0)
    if keep:
        state["stack"] = (previous or {}).get("stack", [])[:keep] + state.get("stack", [])
    before_waiting = (previous or {}).get("waiting", {})
    for merge, n in state.pop("waiting_from", {}).items():  # a waiting map's first n entries
        state["waiting"][merge] = before_waiting.get(merge, [])[:n] + state["waiting"].get(merge, [])
    if "variables" not in state:  # written once per run (segment); rows after it leave them out
        state["variables"] = (previous or {}).get("variables", {})
    before = (previous or {}).get("loops", {})
    for node, loop in state.get("loops", {}).items():
        prior = before.get(node, {})
        start = loop.pop("results_from", 0)
        if start:
            loop["results"] = prior.get("results", [])[:start] + loop["results"]
        if "items" not in loop:  # written once, in an earlier row
            loop["items"] = prior.get("items", [])


def _fold_journal(journal: list[Any]) -> tuple[dict[str, Any], dict[str, dict[str, str]], dict[str, dict[int, int]]]:
    """A run's checkpoint journal, folded in order: per thread its latest small state, node
    statuses and edge counts (a full row replaces, a journal row adds its deltas)."""
    states: dict[str, dict[str, Any]] = {}
    node_status: dict[str, dict[str, str]] = {}
    edges: dict[str, dict[int, int]] = {}
    for full, data in journal:
        d = codec.loads(data)
        for tid, st in d.get("threads", {}).items():
            if full:
                node_status[tid] = st.pop("node_status", {})
                edges[tid] = {int(k): v for k, v in st.pop("edge_counts", [])}
            _join_increments(st, states.get(tid))
            states[tid] = st
        for tid, delta in d.get("status", {}).items():
            node_status.setdefault(tid, {}).update(delta)
        for tid, pairs in d.get("edges", {}).items():
            edges.setdefault(tid, {}).update({int(k): v for k, v in pairs})
    return states, node_status, edges


def _threads(
    trows: list[Any], states: dict[str, Any], node_status: dict[str, dict[str, str]], edges: dict[str, dict[int, int]]
) -> dict[str, ThreadRecord]:
    """Thread records in their stored order (a thread with no journal state yet: from its row)."""
    threads: dict[str, ThreadRecord] = {}
    known = {tr.thread_id for tr in trows}
    order = [tr.thread_id for tr in trows] + [tid for tid in states if tid not in known]
    meta = {tr.thread_id: tr for tr in trows}
    for tid in order:
        st = states.get(tid)
        if st is None:
            tr = meta[tid]
            st = {"thread_id": tid, "workflow_id": tr.workflow_id, "parent_thread_id": tr.parent_thread_id,
                  "parent_node_id": tr.parent_node_id, "status": tr.status, "total": tr.total}
        th = ThreadRecord.from_json(st)
        th.node_status = node_status.get(tid, {})
        th.edge_counts = edges.get(tid, {})
        threads[tid] = th
    return threads

