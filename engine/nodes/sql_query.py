"""SQL query: one statement on SQLite or PostgreSQL through SQLAlchemy → {rows, row_count}.

Why this shape:
- `params` are always bound (`:name` in the query), never put into the SQL text, so
  values from a webhook cannot inject SQL. A list of objects runs the statement once
  per object (a bulk insert).
- `read_only` is enforced by the database, not by looking at the SQL: SQLite's
  `PRAGMA query_only`, PostgreSQL's `SET TRANSACTION READ ONLY`; the transaction is
  rolled back at the end anyway. Only a read-only node counts as free of side effects.
- The database is reached with its own short-lived connection (no pool kept between
  runs) on a worker thread, so a slow query never blocks the event loop.
- The URL may hold a password, so it is never logged or put in a message; a `sql`
  credential keeps it out of the workflow file altogether.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import decimal
import logging
import threading
import time
import uuid
from typing import Any

from pydantic import Field, ValidationInfo, model_validator

from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, NodeSpec
from engine.nodes.common import deferred_keys
from engine.nodes.files import resolve_path

__all__ = ["BACKENDS", "SPEC", "SqlQueryConfig", "SqlQuerySpec", "Statement", "safe_target", "to_json"]

BACKENDS = ("sqlite", "postgresql")
log = logging.getLogger(__name__)


class SqlQueryConfig(NodeConfig):
    url: str | None = Field(
        None,
        description="SQLAlchemy URL, e.g. 'sqlite:///data/shop.db' (relative to the workflow "
        "file's folder) or 'postgresql+psycopg://user@host/db'. Prefer `credential` when it holds a password.",
    )
    credential: str | None = Field(None, description="Name of a stored credential of kind sql (its URL).")
    query: str = Field(description="One SQL statement; values as :name placeholders bound from `params`.")
    params: dict[str, Any] | list[dict[str, Any]] = Field(
        default_factory=dict,
        description="Values for the :name placeholders; a list of objects runs the statement once per object.",
    )
    max_rows: int = Field(1000, ge=1, description="At most this many rows are returned (the rest are dropped, with a warning).")
    read_only: bool = Field(
        False, description="Enforce a read-only transaction (the node then has no side effects)."
    )
    timeout_s: float = Field(
        60.0, gt=0, description="Time limit for connecting and running the statement, in seconds."
    )

    @model_validator(mode="after")
    def _one_source(self, info: ValidationInfo) -> SqlQueryConfig:
        if deferred_keys(info) & {"url", "credential"}:
            return self
        if (self.url is None) == (self.credential is None):
            raise ValueError("set exactly one of `url` or `credential`")
        if info.context is not None and self.url is not None and _has_password(self.url):
            # checked when the file is loaded: a password written into a workflow file
            raise ValueError(
                "the URL holds a password, which would be saved in the workflow file; store it "
                "as a credential (processengine credentials set NAME --kind sql) and set `credential`"
            )
        return self


def _has_password(raw: str) -> bool:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(raw)
    except ArgumentError:
        return False  # reported at run time as an invalid URL, without echoing it
    return bool(url.password) or "password" in {k.lower() for k in url.query}


def safe_target(url: Any) -> str:
    """backend://host/database without user, password or query, for logs and messages."""
    host = f"{url.host}{':' + str(url.port) if url.port else ''}" if url.host else ""
    return f"{url.get_backend_name()}://{host}/{url.database or ''}"


def to_json(v: Any) -> Any:
    """A database value as JSON: numbers, text, ISO dates, base64 bytes, lists and objects."""
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() and abs(v) < 2**63 else float(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, list | tuple):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {str(k): to_json(x) for k, x in v.items()}
    return str(v)


def _url(ctx: NodeContext, cfg: SqlQueryConfig) -> Any:
    """The parsed URL (from the config or the credential), SQLite paths resolved and checked."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    field = "url" if cfg.url is not None else "credential"
    raw = cfg.url
    if raw is None:
        cred = ctx.services.credential(cfg.credential or "")
        if cred.get("kind") != "sql":
            raise NodeError(
                f"node {ctx.node.id!r}, config.credential: credential {cfg.credential!r} is of kind "
                f"{cred.get('kind')!r}; sql_query takes a sql credential",
                error_type="CredentialInvalid",
            )
        raw = cred["url"]
    try:
        url = make_url(raw)
    except ArgumentError:
        raise NodeError(f"node {ctx.node.id!r}, config.{field}: not a valid database URL") from None
    backend = url.get_backend_name()
    if backend not in BACKENDS:
        raise NodeError(f"node {ctx.node.id!r}, config.{field}: unsupported database {backend!r} (use sqlite or postgresql)")
    if backend == "sqlite" and url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        url = url.set(database=str(resolve_path(ctx, url.database, field)))
    return url


class Statement:
    """The driver connection of a running statement, so the event loop can interrupt it.

    On a timeout or a cancelled run the worker thread cannot be killed; instead the
    statement is interrupted where it runs (sqlite3 `interrupt()`, psycopg `cancel()`,
    which asks the server to stop it), and the thread then ends with an error nobody
    waits for.
    """

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.driver: Any = None
        self.cancelled = False
        self._lock = threading.Lock()

    def attach(self, driver: Any) -> None:
        with self._lock:
            self.driver = driver
            if self.cancelled:  # cancelled while connecting: do not start the statement
                raise RuntimeError("the statement was cancelled before it started")

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            driver = self.driver
        if driver is None:
            return
        try:
            driver.interrupt() if self.backend == "sqlite" else driver.cancel()
        except Exception:  # already finished or closed: nothing left to stop
            log.debug("interrupting a statement failed", exc_info=True)


def _engine(url: Any, cfg: SqlQueryConfig) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    if url.get_backend_name() == "postgresql":  # the server enforces the limit too
        ms = max(1, int(cfg.timeout_s * 1000))
        args = {"connect_timeout": max(1, int(cfg.timeout_s)), "options": f"-c statement_timeout={ms}"}
        return create_engine(url, poolclass=NullPool, connect_args=args)
    return create_engine(url, poolclass=NullPool, connect_args={"timeout": cfg.timeout_s})


def _run_sql(url: Any, cfg: SqlQueryConfig, stmt: Statement) -> tuple[list[dict[str, Any]], int, bool]:
    """Run the statement on a fresh connection: (rows, row_count, truncated). Blocking."""
    from sqlalchemy import text

    engine = _engine(url, cfg)
    try:
        with engine.connect() as conn:
            stmt.attach(conn.connection.driver_connection)
            if cfg.read_only:
                if url.get_backend_name() == "sqlite":
                    conn.exec_driver_sql("PRAGMA query_only = ON")
                else:
                    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            result = conn.execute(text(cfg.query), cfg.params or None)
            truncated = False
            if result.returns_rows:
                got = result.mappings().fetchmany(cfg.max_rows + 1)
                truncated = len(got) > cfg.max_rows
                rows = [{k: to_json(v) for k, v in r.items()} for r in got[: cfg.max_rows]]
                count = len(rows)
            else:
                rows, count = [], max(result.rowcount, 0)
            result.close()
            if cfg.read_only:
                conn.rollback()
            else:
                conn.commit()
            return rows, count, truncated
    finally:
        engine.dispose()


def _db_error(ctx: NodeContext, exc: Exception, target: str, read_only: bool) -> NodeError:
    from sqlalchemy.exc import DBAPIError, OperationalError, StatementError

    orig = getattr(exc, "orig", None)
    detail = (str(orig) if orig is not None else str(exc).split("\n", 1)[0]).strip().split("\n")[0]
    prefix = f"node {ctx.node.id!r}, config.query: {target}"
    if read_only and ("readonly" in detail or "read-only" in detail):
        return NodeError(f"{prefix}: refused by read_only: {detail}", error_type="sql_read_only")
    connect = isinstance(exc, OperationalError) and getattr(exc, "connection_invalidated", False)
    if isinstance(exc, OperationalError) and ("connect" in detail or "locked" in detail or connect):
        return NodeError(f"{prefix}: {detail}", retryable=True, error_type="sql_connection")
    if isinstance(exc, DBAPIError | StatementError):
        return NodeError(f"{prefix}: {detail}", error_type="sql")
    return NodeError(f"{prefix}: {type(exc).__name__}: {detail}", error_type="sql")


class SqlQuerySpec(NodeSpec):
    type = "sql_query"
    title = "SQL query"
    category = "Database"
    description = (
        "Runs one SQL statement on SQLite or PostgreSQL with bound parameters; outputs "
        "{rows, row_count}. Read-only queries are enforced by the database."
    )
    icon = "database"
    config_model = SqlQueryConfig
    side_effects = True

    def has_side_effects(self, node: Any) -> bool:
        ro = node.config.get("read_only", False) if isinstance(node.config, dict) else False
        return ro is not True  # an expression is unknown until rendered: assume the worst

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:
        from sqlalchemy.exc import SQLAlchemyError

        cfg: SqlQueryConfig = ctx.config
        url = _url(ctx, cfg)
        target = safe_target(url)
        started = time.perf_counter()
        stmt = Statement(url.get_backend_name())
        try:
            async with asyncio.timeout(cfg.timeout_s):
                rows, count, truncated = await asyncio.to_thread(_run_sql, url, cfg, stmt)
        except TimeoutError:
            stmt.cancel()
            raise NodeError(
                f"node {ctx.node.id!r}, config.query: {target}: timed out after {cfg.timeout_s:g} s",
                retryable=True,
                error_type="timeout",
            ) from None
        except asyncio.CancelledError:
            stmt.cancel()  # the run was cancelled: stop the statement where it runs
            raise
        except (SQLAlchemyError, OSError) as exc:
            raise _db_error(ctx, exc, target, cfg.read_only) from None
        if truncated:
            ctx.log.warning("%s: more than max_rows=%d rows; the rest were dropped", target, cfg.max_rows)
        ctx.log.info(
            "%s: %d row(s)%s in %.0f ms",
            target, count, " (read only)" if cfg.read_only else "", (time.perf_counter() - started) * 1000,
        )  # fmt: skip
        return NodeResult.out({"rows": rows, "row_count": count})


SPEC = registry.register(SqlQuerySpec())

