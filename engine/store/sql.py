"""The checkpointer's statements, compiled once per dialect and run on the raw DBAPI connection.

A checkpoint is on the hot path of every node, and SQLAlchemy's per-execute
bookkeeping (statement construction, cache-key generation, result setup)
costs several times the SQLite commit itself. The statements are still
written as SQLAlchemy Core (so SQLite and PostgreSQL get their own SQL from the
same code); only their execution skips the ORM-free-but-not-free layers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import sqlalchemy as sa

from engine.store import schema as t


class Prepared:
    """One compiled statement: SQL text plus how to order its parameters."""

    __slots__ = ("keys", "sql")

    def __init__(self, stmt: Any, dialect: sa.Dialect, column_keys: Sequence[str] | None = None) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(column_keys) if column_keys is not None else None)
        self.sql = compiled.string
        self.keys: list[str] | None = list(compiled.positiontup) if compiled.positional else None

    def args(self, params: dict[str, Any]) -> Any:
        keys = self.keys
        return params if keys is None else [params[k] for k in keys]

    def run(self, cur: Any, params: dict[str, Any]) -> None:
        cur.execute(self.sql, self.args(params))

    def run_many(self, cur: Any, rows: Iterable[dict[str, Any]]) -> None:
        cur.executemany(self.sql, [self.args(r) for r in rows])


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


class Statements:
    """Every statement the checkpointer runs, for one dialect."""

    def __init__(self, dialect: sa.Dialect) -> None:
        te, e, js = t.thread_executions, t.executions, t.execution_state
        self.node_runs = Prepared(t.node_runs.insert(), dialect, _cols(t.node_runs))
        self.outputs = Prepared(t.outputs.insert(), dialect, _cols(t.outputs))
        self.recordings = Prepared(t.recordings.insert(), dialect, _cols(t.recordings))
        self.state = Prepared(js.insert(), dialect, _cols(js))
        self.clear_state = Prepared(js.delete().where(js.c.execution_id == sa.bindparam("w_eid")), dialect)
        self.thread_insert = Prepared(te.insert(), dialect, _cols(te))
        self.thread_update = Prepared(
            te.update().where(te.c.execution_id == sa.bindparam("w_eid"), te.c.thread_id == sa.bindparam("w_tid")),
            dialect,
            THREAD_VALUES,
        )
        # fenced: only the run's owner writes, and only while the run is running, so a
        # process whose run was taken over (or finished) can never overwrite it
        where = sa.and_(
            e.c.id == sa.bindparam("w_eid"),
            e.c.status == sa.literal_column("'running'"),
            e.c.owner_host == sa.bindparam("w_host"),
            e.c.owner_pid == sa.bindparam("w_pid"),
            e.c.owner_token.is_not_distinct_from(sa.bindparam("w_token")),
        )
        self.exec_create = Prepared(e.insert(), dialect, EXEC_CREATE)
        self.exec_progress = Prepared(e.update().where(where), dialect, EXEC_PROGRESS)
        self.exec_response = Prepared(e.update().where(where), dialect, ["response"])
        self.exec_debug = Prepared(e.update().where(where), dialect, ["debug"])
        self.exec_final = Prepared(e.update().where(where), dialect, EXEC_FINAL)


@cache
def statements(dialect: sa.Dialect) -> Statements:
    return Statements(dialect)


class RawTransaction:
    """BEGIN (IMMEDIATE on SQLite) ... COMMIT on a pooled DBAPI connection; rollback on error."""

    committed = 0  # commits made by every checkpointer of this process (benchmarks and tests read it)

    def __init__(self, dbapi_conn: Any, sqlite: bool) -> None:
        self.conn = dbapi_conn
        self.sqlite = sqlite
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
