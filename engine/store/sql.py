"""The statements of a run (the checkpointer's and the store's few), compiled once per
dialect and run on the raw DBAPI connection.

A checkpoint is on the hot path of every node, and SQLAlchemy's per-execute
bookkeeping (statement construction, cache-key generation, result setup)
costs several times the SQLite commit itself. The statements are still
written as SQLAlchemy Core (so SQLite and PostgreSQL get their own SQL from the
same code); only their execution skips the ORM-free-but-not-free layers.

An up-to-date SQLite file is run without importing SQLAlchemy at all (its import
is a third of a short CLI run): its statements are `SQLITE_AT_HEAD`, the SQL
SQLAlchemy compiles for SQLite at the head schema revision, written out; a test
compiles them again and compares, so a schema change cannot leave them stale.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa


class Prepared:
    """One compiled statement: SQL text plus how to order its parameters."""

    __slots__ = ("keys", "sql")

    def __init__(self, sql: str, keys: Sequence[str] | None) -> None:
        self.sql = sql
        self.keys: list[str] | None = list(keys) if keys is not None else None

    @classmethod
    def compile(cls, stmt: Any, dialect: sa.Dialect, column_keys: Sequence[str] | None = None) -> Prepared:
        compiled = stmt.compile(dialect=dialect, column_keys=list(column_keys) if column_keys is not None else None)
        return cls(compiled.string, list(compiled.positiontup) if compiled.positional else None)

    def args(self, params: dict[str, Any]) -> Any:
        keys = self.keys
        return params if keys is None else [params[k] for k in keys]

    def run(self, cur: Any, params: dict[str, Any]) -> None:
        cur.execute(self.sql, self.args(params))

    def run_many(self, cur: Any, rows: Iterable[dict[str, Any]]) -> None:
        cur.executemany(self.sql, [self.args(r) for r in rows])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Prepared) and (self.sql, self.keys) == (other.sql, other.keys)

    def __repr__(self) -> str:
        return f"Prepared({self.sql!r}, {self.keys!r})"


# The columns of the rows a checkpoint inserts, in the tables' own order (`RowInsert` maps
# them onto any other). `SHARED`: the columns every row of one insert has the same value in
# (one run, one thread); the checkpointer's rows leave them out (`RUN_ROW`, `OUT_ROW`).
NODE_RUN_ROW = ("execution_id", "seq", "thread_id", "node_id", "attempt", "status", "started_at", "duration_ms", "error", "output_seq")
OUTPUT_ROW = ("execution_id", "seq", "thread_id", "node_id", "encoding", "size", "data")
RECORDING_ROW = ("execution_id", "seq", "thread_id", "node_id", "attempt", "kind", "captured", "encoding", "size", "data")
SHARED = ("execution_id", "thread_id")
RUN_ROW = tuple(c for c in NODE_RUN_ROW if c not in SHARED)
OUT_ROW = tuple(c for c in OUTPUT_ROW if c not in SHARED)

MULTI_ROWS = 64  # the most rows one multi-row INSERT holds (SQLite: 640 parameters at most here)


class RowInsert:
    """An INSERT of many rows given as tuples (or lists) in `columns` order: no dict per row.

    On SQLite the rows go in multi-row statements (`INSERT ... VALUES (...), (...)`) of
    64, 32, ..., 1 rows, each compiled once and kept in sqlite3's statement cache: a
    SQLite `executemany` steps, resets and binds the statement once per row, which was
    a quarter of the checkpointer's SQLite time. Elsewhere: `executemany` of the
    prepared statement (positional or named parameters as the driver wants them).

    `shared`: columns whose value is the same in every row of a call to `run` given
    `values` (rows then leave them out). On SQLite those are bound once per statement,
    as numbered parameters every row's group names (`(?1, ?3, ?2, ...)`): a text
    parameter costs sqlite3 a copy and two mutex round trips per row it is bound in."""

    __slots__ = ("_group", "_head", "_layout", "_texts", "as_given", "columns", "multi", "none", "prepared", "shared")

    def __init__(
        self, prepared: Prepared, columns: Sequence[str], *, multi_row: bool, zero_null: Sequence[str] = (), shared: Sequence[str] = ()
    ) -> None:
        self.prepared = prepared
        self.columns = tuple(columns)
        self.shared = tuple(shared)
        # where a full row's values come from: (True, i) the i-th shared value, (False, i) the row's i-th
        kept = [c for c in self.columns if c not in self.shared]
        self._layout = [(True, self.shared.index(c)) if c in self.shared else (False, kept.index(c)) for c in self.columns]
        self.as_given = prepared.keys is not None and tuple(prepared.keys) == self.columns  # positional, same order
        self.multi = multi_row and self.as_given and prepared.sql.endswith(")") and " VALUES (" in prepared.sql
        self._texts: dict[tuple[int, bool], str] = {}
        sql = prepared.sql
        at = sql.rfind(" VALUES (") + len(" VALUES ")
        self._head, self._group = sql[:at], sql[at:]  # the statement up to its rows; one row's "(?, ?, ...)"
        # `zero_null`: columns whose rows hold 0 for NULL (`none`), written `NULLIF(?, 0)`: sqlite3
        # binds None only after an adapter lookup (about 3,300 instructions), an int at once
        self.none: Any = None
        plain = self._group == "(" + ", ".join(["?"] * len(self.columns)) + ")"
        if self.multi and not plain:
            self.multi = False  # a statement this class cannot repeat row by row
        self._group = "(" + ", ".join("NULLIF(?, 0)" if c in zero_null and self.multi else "?" for c in self.columns) + ")"
        if self.multi and zero_null:
            self.none = 0

    def run(self, cur: Any, rows: Sequence[Sequence[Any]], values: Sequence[Any] | None = None) -> None:
        """Insert `rows`: full rows in `columns` order, or (`values` given: the shared
        columns' values) rows without the shared columns."""
        if not rows:
            return
        if self.multi:
            self._run_multi(cur, rows, values)
            return
        if values is not None:
            layout = self._layout
            rows = [tuple(values[i] if shared else r[i] for shared, i in layout) for r in rows]
        if self.as_given:
            cur.executemany(self.prepared.sql, rows)
        else:
            self.prepared.run_many(cur, [dict(zip(self.columns, r, strict=True)) for r in rows])

    def _run_multi(self, cur: Any, rows: Sequence[Sequence[Any]], values: Sequence[Any] | None) -> None:
        flat = itertools.chain.from_iterable
        head = list(values) if values is not None else []
        shared = values is not None
        full = len(rows) - len(rows) % MULTI_ROWS
        if full:
            cur.executemany(
                self._text(MULTI_ROWS, shared), [head + list(flat(rows[i : i + MULTI_ROWS])) for i in range(0, full, MULTI_ROWS)]
            )
        start, size = full, MULTI_ROWS // 2
        while start < len(rows):
            if len(rows) - start >= size:
                cur.execute(self._text(size, shared), head + list(flat(rows[start : start + size])))
                start += size
            size //= 2

    def _text(self, n: int, shared: bool) -> str:
        text = self._texts.get((n, shared))
        if text is None:
            text = self._texts[(n, shared)] = self._head + ", ".join(self._groups(n) if shared else [self._group] * n)
        return text

    def _groups(self, n: int) -> list[str]:
        """n rows' groups with the shared columns as the first numbered parameters (`?1`, `?2`)
        and each row's own values numbered on from there."""
        nshared = len(self.shared)
        own = len(self.columns) - nshared
        groups = []
        for row in range(n):
            first = nshared + 1 + row * own
            numbers = [f"?{i + 1}" if shared else f"?{first + i}" for shared, i in self._layout]
            groups.append(self._group.replace("?", "{}").format(*numbers))
        return groups


def _cols(table: sa.Table, skip: Iterable[str] = ()) -> list[str]:
    return [c.name for c in table.columns if c.name not in set(skip)]


THREAD_VALUES = ["status", "total", "in_flight", "started_at", "stopped_at", "error", "completed", "failed", "skipped"]
EXEC_PROGRESS = ["in_flight", "heartbeat_at", "total", "completed", "failed", "skipped", "paused_at"]
EXEC_FINAL = [*EXEC_PROGRESS, "status", "started_at", "stopped_at", "error", "response", "control_request", "debug", "paused_ms"]
EXEC_CREATE = [
    "id", "workspace_id", "workflow_version", "workflow_id", "status", "trigger_node", "trigger_payload",
    "workflow_file", "owner_host", "owner_pid", "owner_token", "heartbeat_at", "created_at", "started_at", "total",
    "debug", "rerun_of",
    "capture_email", "replay",
]
WORKFLOW_INSERT = ["workspace_id", "workflow_id", "name", "content_hash", "document", "created_at"]


class Statements:
    """Every statement a run executes, for one dialect (a plain class: a dataclass of
    these fields costs milliseconds of every CLI start to build)."""

    # the checkpointer's
    node_runs: Prepared
    outputs: Prepared
    recordings: Prepared
    state: Prepared
    clear_state: Prepared
    thread_insert: Prepared
    thread_update: Prepared
    exec_create: Prepared
    exec_progress: Prepared
    exec_response: Prepared
    exec_debug: Prepared
    exec_final: Prepared
    # the store's, for opening a workspace, saving the workflow and polling a run
    workspace_id: Prepared
    workspace_insert: Prepared
    workflow_id: Prepared
    workflow_insert: Prepared
    exec_heartbeat: Prepared
    control_request: Prepared

    def __init__(self, prepared: dict[str, Prepared]) -> None:
        fields = set(type(self).__annotations__)
        if set(prepared) != fields:
            raise ValueError(f"statements: expected {sorted(fields)}, got {sorted(prepared)}")
        self.__dict__.update(prepared)


def compile_statements(dialect: sa.Dialect) -> dict[str, Prepared]:
    """`Statements`' fields compiled from the schema's SQLAlchemy Core tables."""
    import sqlalchemy as sa

    from engine.store import schema as t

    te, e, js, ws, w = t.thread_executions, t.executions, t.execution_state, t.workspaces, t.workflows

    def prep(stmt: Any, column_keys: Sequence[str] | None = None) -> Prepared:
        return Prepared.compile(stmt, dialect, column_keys)

    # fenced: only the run's owner writes, and only while the run is running, so a
    # process whose run was taken over (or finished) can never overwrite it
    where = sa.and_(
        e.c.id == sa.bindparam("w_eid"),
        e.c.status == sa.literal_column("'running'"),
        e.c.owner_host == sa.bindparam("w_host"),
        e.c.owner_pid == sa.bindparam("w_pid"),
        e.c.owner_token.is_not_distinct_from(sa.bindparam("w_token")),
    )
    return {
        "node_runs": prep(t.node_runs.insert(), _cols(t.node_runs)),
        "outputs": prep(t.outputs.insert(), _cols(t.outputs)),
        "recordings": prep(t.recordings.insert(), _cols(t.recordings)),
        "state": prep(js.insert(), _cols(js)),
        "clear_state": prep(js.delete().where(js.c.execution_id == sa.bindparam("w_eid"))),
        "thread_insert": prep(te.insert(), _cols(te)),
        "thread_update": prep(
            te.update().where(te.c.execution_id == sa.bindparam("w_eid"), te.c.thread_id == sa.bindparam("w_tid")),
            THREAD_VALUES,
        ),
        "exec_create": prep(e.insert(), EXEC_CREATE),
        "exec_progress": prep(e.update().where(where), EXEC_PROGRESS),
        "exec_response": prep(e.update().where(where), ["response"]),
        "exec_debug": prep(e.update().where(where), ["debug"]),
        "exec_final": prep(e.update().where(where), EXEC_FINAL),
        "workspace_id": prep(sa.select(ws.c.id).where(ws.c.name == sa.bindparam("name"))),
        "workspace_insert": prep(ws.insert(), ["name", "created_at"]),
        "workflow_id": prep(
            sa.select(w.c.id).where(w.c.workspace_id == sa.bindparam("workspace_id"), w.c.content_hash == sa.bindparam("content_hash"))
        ),
        "workflow_insert": prep(w.insert(), WORKFLOW_INSERT),
        "exec_heartbeat": prep(e.update().where(where), ["heartbeat_at"]),
        "control_request": prep(sa.select(e.c.control_request).where(e.c.id == sa.bindparam("w_eid"))),
    }


@cache
def statements(dialect: Any) -> Statements:
    """The statements for `dialect` (an up-to-date SQLite file opened without SQLAlchemy:
    the written-out ones)."""
    if getattr(dialect, "precompiled", False):
        return Statements({name: Prepared(sql, keys) for name, (sql, keys) in SQLITE_AT_HEAD.items()})
    return Statements(compile_statements(dialect))


@cache
def row_inserts(sql: Statements, multi_row: bool) -> tuple[RowInsert, RowInsert, RowInsert]:
    """The checkpoint's row inserts (node_runs, outputs, recordings) for `sql`'s dialect;
    `multi_row` on SQLite. The first two take rows without the `SHARED` columns."""
    return (
        RowInsert(sql.node_runs, NODE_RUN_ROW, multi_row=multi_row, zero_null=("error", "output_seq"), shared=SHARED),
        RowInsert(sql.outputs, OUTPUT_ROW, multi_row=multi_row, shared=SHARED),
        RowInsert(sql.recordings, RECORDING_ROW, multi_row=multi_row),
    )


class RawTransaction:
    """BEGIN (IMMEDIATE on SQLite) ... COMMIT on a pooled DBAPI connection; rollback on error."""

    committed = 0  # commits made by every checkpointer of this process (benchmarks and tests read it)

    def __init__(self, dbapi_conn: Any, sqlite: bool, *, counted: bool = True) -> None:
        self.conn = dbapi_conn
        self.sqlite = sqlite
        self.counted = counted  # the store's own writes are not checkpoints
        self.cur: Any = None

    def __enter__(self) -> Any:
        self.cur = self.conn.cursor()
        if self.sqlite:
            self.cur.execute("BEGIN IMMEDIATE")
        return self.cur

    def __exit__(self, et: Any, exc: Any, tb: Any) -> None:
        try:
            if exc is None:
                try:
                    if self.sqlite:
                        self.cur.execute("COMMIT")
                    else:
                        self.conn.commit()
                    if self.counted:
                        RawTransaction.committed += 1
                except BaseException:
                    self._rollback()
                    raise
            else:
                self._rollback()
        finally:
            self.cur.close()

    def _rollback(self) -> None:
        try:
            if self.sqlite:
                if self.conn.in_transaction:
                    self.cur.execute("ROLLBACK")
            else:
                self.conn.rollback()
        except Exception:  # the original error is the one that matters
            pass


# The SQL SQLAlchemy compiles for SQLite from the schema at `database.HEAD_REVISION`, written
# out (tests/engine/store/test_sql.py compiles it again and compares): used only on a file
# whose schema is at that revision.
SQLITE_AT_HEAD: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "node_runs": (
        'INSERT INTO node_runs (execution_id, seq, thread_id, node_id, attempt, status, started_at, duration_ms, error, output_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        ('execution_id', 'seq', 'thread_id', 'node_id', 'attempt', 'status', 'started_at', 'duration_ms', 'error', 'output_seq'),
    ),
    "outputs": (
        'INSERT INTO outputs (execution_id, seq, thread_id, node_id, encoding, size, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
        ('execution_id', 'seq', 'thread_id', 'node_id', 'encoding', 'size', 'data'),
    ),
    "recordings": (
        'INSERT INTO recordings (execution_id, seq, thread_id, node_id, attempt, kind, captured, encoding, size, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        ('execution_id', 'seq', 'thread_id', 'node_id', 'attempt', 'kind', 'captured', 'encoding', 'size', 'data'),
    ),
    "state": (
        'INSERT INTO execution_state (execution_id, seq, "full", data) VALUES (?, ?, ?, ?)',
        ('execution_id', 'seq', 'full', 'data'),
    ),
    "clear_state": (
        'DELETE FROM execution_state WHERE execution_state.execution_id = ?',
        ('w_eid',),
    ),
    "thread_insert": (
        'INSERT INTO thread_executions (execution_id, thread_id, ordinal, workflow_id, parent_thread_id, parent_node_id, status, total, completed, failed, skipped, in_flight, started_at, stopped_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        ('execution_id', 'thread_id', 'ordinal', 'workflow_id', 'parent_thread_id', 'parent_node_id', 'status', 'total', 'completed', 'failed', 'skipped', 'in_flight', 'started_at', 'stopped_at', 'error'),
    ),
    "thread_update": (
        'UPDATE thread_executions SET status=?, total=?, completed=?, failed=?, skipped=?, in_flight=?, started_at=?, stopped_at=?, error=? WHERE thread_executions.execution_id = ? AND thread_executions.thread_id = ?',
        ('status', 'total', 'completed', 'failed', 'skipped', 'in_flight', 'started_at', 'stopped_at', 'error', 'w_eid', 'w_tid'),
    ),
    "exec_create": (
        'INSERT INTO executions (id, workspace_id, workflow_version, workflow_id, status, trigger_node, trigger_payload, workflow_file, owner_host, owner_pid, owner_token, heartbeat_at, created_at, started_at, total, debug, rerun_of, capture_email, replay) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        ('id', 'workspace_id', 'workflow_version', 'workflow_id', 'status', 'trigger_node', 'trigger_payload', 'workflow_file', 'owner_host', 'owner_pid', 'owner_token', 'heartbeat_at', 'created_at', 'started_at', 'total', 'debug', 'rerun_of', 'capture_email', 'replay'),
    ),
    "exec_progress": (
        "UPDATE executions SET heartbeat_at=?, in_flight=?, total=?, completed=?, failed=?, skipped=?, paused_at=? WHERE executions.id = ? AND executions.status = 'running' AND executions.owner_host = ? AND executions.owner_pid = ? AND executions.owner_token IS ?",
        ('heartbeat_at', 'in_flight', 'total', 'completed', 'failed', 'skipped', 'paused_at', 'w_eid', 'w_host', 'w_pid', 'w_token'),
    ),
    "exec_response": (
        "UPDATE executions SET response=? WHERE executions.id = ? AND executions.status = 'running' AND executions.owner_host = ? AND executions.owner_pid = ? AND executions.owner_token IS ?",
        ('response', 'w_eid', 'w_host', 'w_pid', 'w_token'),
    ),
    "exec_debug": (
        "UPDATE executions SET debug=? WHERE executions.id = ? AND executions.status = 'running' AND executions.owner_host = ? AND executions.owner_pid = ? AND executions.owner_token IS ?",
        ('debug', 'w_eid', 'w_host', 'w_pid', 'w_token'),
    ),
    "exec_final": (
        "UPDATE executions SET status=?, heartbeat_at=?, control_request=?, started_at=?, stopped_at=?, error=?, response=?, in_flight=?, total=?, completed=?, failed=?, skipped=?, debug=?, paused_at=?, paused_ms=? WHERE executions.id = ? AND executions.status = 'running' AND executions.owner_host = ? AND executions.owner_pid = ? AND executions.owner_token IS ?",
        ('status', 'heartbeat_at', 'control_request', 'started_at', 'stopped_at', 'error', 'response', 'in_flight', 'total', 'completed', 'failed', 'skipped', 'debug', 'paused_at', 'paused_ms', 'w_eid', 'w_host', 'w_pid', 'w_token'),
    ),
    "workspace_id": (
        'SELECT workspaces.id \nFROM workspaces \nWHERE workspaces.name = ?',
        ('name',),
    ),
    "workspace_insert": (
        'INSERT INTO workspaces (name, created_at) VALUES (?, ?)',
        ('name', 'created_at'),
    ),
    "workflow_id": (
        'SELECT workflows.id \nFROM workflows \nWHERE workflows.workspace_id = ? AND workflows.content_hash = ?',
        ('workspace_id', 'content_hash'),
    ),
    "workflow_insert": (
        'INSERT INTO workflows (workspace_id, workflow_id, name, content_hash, document, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        ('workspace_id', 'workflow_id', 'name', 'content_hash', 'document', 'created_at'),
    ),
    "exec_heartbeat": (
        "UPDATE executions SET heartbeat_at=? WHERE executions.id = ? AND executions.status = 'running' AND executions.owner_host = ? AND executions.owner_pid = ? AND executions.owner_token IS ?",
        ('heartbeat_at', 'w_eid', 'w_host', 'w_pid', 'w_token'),
    ),
    "control_request": (
        'SELECT executions.control_request \nFROM executions \nWHERE executions.id = ?',
        ('w_eid',),
    ),
}
