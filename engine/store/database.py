"""Opening a store database: check it is ours, migrate it, tune SQLite.

Checks come first and only read (a read-only SQLite connection), so a file
that is garbage, belongs to another program, comes from a newer ProcessEngine,
is read-only or is locked is reported with a clear `StoreError` and left
byte-for-byte untouched. Only then is the file opened for writing (WAL,
synchronous=NORMAL, busy timeout, foreign keys) and migrated to the newest
Alembic revision shipped in `engine/store/migrations`. A SQLite file already at
that revision needs neither Alembic nor SQLAlchemy: `open_store` hands it out as a
`SqliteFile` (stdlib connections), which is all a run writes through.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import StoreError

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

log = logging.getLogger("engine.store")

SQLITE_MAGIC = b"SQLite format 3\x00"
MIGRATIONS = Path(__file__).parent / "migrations"
PG_LOCK_KEY = 0x5E5E_0001  # advisory lock serializing first-time migrations on PostgreSQL

# Known without importing SQLAlchemy (engine.store.schema re-exports them)
VERSION_TABLE = "processengine_alembic_version"
TABLES = (
    "workspaces",
    "workflows",
    "executions",
    "thread_executions",
    "node_runs",
    "outputs",
    "execution_state",
    "schedule_fires",
    "recordings",
)


@cache
def _script() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS))


# The newest migration, known without importing Alembic: opening an up-to-date
# database (every CLI call) skips Alembic entirely. A test pins it to Alembic's head.
HEAD_REVISION = "0005_time_travel"


def head_revision() -> str:
    return str(_script().get_current_head())


def known_revision(rev: str) -> bool:
    from alembic.util import CommandError

    try:
        return _script().get_revision(rev) is not None
    except (CommandError, KeyError, Exception):
        return False


# Connections are held per transaction (never for a run's life), so a few serve any
# number of concurrent runs; the overflow covers reader threads, and a checkout that
# still finds none fails after pool_timeout instead of stalling the event loop for 30 s.
POOL: dict[str, Any] = {"pool_size": 5, "max_overflow": 20, "pool_timeout": 5.0}


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    if plain_sqlite_file(url) is not None:
        return url  # a file has no password (and needs no SQLAlchemy to say so)
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def plain_sqlite_file(url: str) -> Path | None:
    """The file of a plain `sqlite:///PATH` URL, read without SQLAlchemy; None for anything
    else (other backends, in-memory, a query string or %-escapes: SQLAlchemy reads those)."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            if not rest or rest == ":memory:" or rest.startswith("file:") or "?" in rest or "%" in rest:
                return None
            return Path(rest)
    return None


def open_store(url: str, *, busy_timeout: float = 10.0) -> tuple[Any, Engine | None]:
    """(the engine a run writes through, the SQLAlchemy engine when one was made).

    A plain SQLite file is checked with sqlite3 (`_check_sqlite_file`); at the head
    revision it is used through `SqliteFile` and SQLAlchemy is not imported (the store
    makes its engine when a query needs it). Any other file is migrated first, and
    other databases are SQLAlchemy's throughout.
    """
    path = plain_sqlite_file(url)
    if path is None:
        engine = open_database(url, busy_timeout=busy_timeout)
        return engine, engine
    made = None
    if _check_sqlite_file(path, busy_timeout) != HEAD_REVISION:
        made = open_database(url, busy_timeout=busy_timeout)  # creates or migrates it
    return SqliteFile(path, busy_timeout), made


class _Dialect:
    name = "sqlite"
    precompiled = True  # engine.store.sql uses its written-out statements


class _PooledConnection(sqlite3.Connection):
    """A connection of a `SqliteFile`: `close()` gives it back, `invalidate()` closes it
    (as a SQLAlchemy pooled connection behaves, which the checkpointer also gets)."""

    home: SqliteFile | None = None
    generation = 0  # the pool's generation when it was opened (see SqliteFile.dispose)

    def close(self) -> None:
        home = self.home
        if home is None or not home.give_back(self):
            self.invalidate()

    def invalidate(self) -> None:
        self.home = None
        super().close()


class SqliteFile:
    """An up-to-date SQLite store through the stdlib `sqlite3` only: what a run needs of
    an engine (`dialect`, `raw_connection()`, `dispose()`) for the statements of
    engine.store.sql. Connections are tuned as the SQLAlchemy engine's are (`_tune`)
    and up to `POOL["pool_size"]` idle ones are kept."""

    dialect = _Dialect()

    def __init__(self, path: Path, busy_timeout: float) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._idle: list[_PooledConnection] = []
        self._lock = threading.Lock()
        self._generation = 0

    def raw_connection(self) -> _PooledConnection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, check_same_thread=False, factory=_PooledConnection, isolation_level=None
        )
        _tune(conn, int(self.busy_timeout * 1000))
        conn.home = self
        conn.generation = self._generation
        return conn

    def give_back(self, conn: _PooledConnection) -> bool:
        """Keep `conn` for the next caller (False: the pool is full or gone; close it)."""
        if conn.in_transaction:
            conn.rollback()
        with self._lock:
            if conn.generation != self._generation or len(self._idle) >= POOL["pool_size"]:
                return False
            self._idle.append(conn)
        return True

    def dispose(self) -> None:
        """Close the idle connections; those in use are closed when given back (as
        SQLAlchemy's `Engine.dispose` does). It can be used again afterwards."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        for conn in idle:
            conn.invalidate()


def open_database(url: str, *, busy_timeout: float = 10.0) -> Engine:
    """An engine on a checked and migrated database; raises StoreError for bad ones."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from engine.paths import sqlite_path

    path = sqlite_path(url)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        revision = _check_sqlite_file(path, busy_timeout) if path is not None else None
        engine = sqlite_engine(url, busy_timeout)
        if revision == HEAD_REVISION:
            return engine  # the read-only check already saw an up-to-date schema
    else:
        try:
            engine = sa.create_engine(url, pool_pre_ping=True, future=True, **POOL)
        except Exception as exc:  # bad URL, missing driver
            raise StoreError(f"cannot use database {describe(url)}: {exc}") from exc
    try:
        _migrate(engine, url)
    except StoreError:
        engine.dispose()
        raise
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise StoreError(_operational_message(url, exc)) from exc
    except Exception as exc:
        engine.dispose()
        raise StoreError(f"cannot open database {describe(url)}: {exc}") from exc
    return engine


def _operational_message(url: str, exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc))
    if "locked" in text or "busy" in text:
        return f"database {describe(url)} is locked by another process ({text})"
    if "readonly" in text or "read-only" in text:
        return f"database {describe(url)} is read-only ({text})"
    return f"cannot open database {describe(url)}: {text}"


def _check_sqlite_file(path: Path, busy_timeout: float) -> str | None:
    """Refuse files that are not ours or cannot be written, without writing to them.

    Returns the schema revision found (None for a new or empty database).
    """
    if not path.exists():
        parent = path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the database directory {parent}: {exc}") from exc
        if not _writable(parent, os.X_OK):
            raise StoreError(f"cannot create database {path}: directory {parent} is read-only")
        return None
    if path.is_dir():
        raise StoreError(f"database path {path} is a directory")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"cannot read database {path}: {exc}") from exc
    if head and head != SQLITE_MAGIC:
        raise StoreError(f"{path} is not a ProcessEngine database (not a SQLite file); left untouched")
    if not _writable(path) or not _writable(path.parent, os.X_OK):
        raise StoreError(f"database {path} is read-only (no write permission on the file or its directory); left untouched")
    if not head:
        return None  # an empty file: a fresh database
    try:
        ro = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=busy_timeout)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    try:
        names = {r[0] for r in ro.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not names:
            return None
        if VERSION_TABLE not in names:
            raise StoreError(
                f"{path} is a SQLite database of another program (no {VERSION_TABLE} table); "
                "refusing to add tables to it; left untouched"
            )
        row = ro.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
        revision = row[0] if row else None
        _check_revision(str(path), revision)
        return revision
    except sqlite3.DatabaseError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise StoreError(f"database {path} is locked by another process ({text}); left untouched") from exc
        raise StoreError(f"{path} is not a usable SQLite database ({text}); left untouched") from exc
    finally:
        ro.close()


def _writable(path: Path, extra: int = 0) -> bool:
    if os.access in os.supports_effective_ids:
        return os.access(path, os.W_OK | extra, effective_ids=True)
    return os.access(path, os.W_OK | extra)


def _check_revision(where: str, rev: str | None) -> None:
    if rev is None or rev == HEAD_REVISION or known_revision(rev):
        return
    raise StoreError(
        f"database {where} has schema revision {rev!r}, newer than this ProcessEngine "
        f"understands (newest known: {head_revision()!r}); upgrade ProcessEngine; left untouched"
    )


def sqlite_engine(url: str, busy_timeout: float) -> Engine:
    """A SQLAlchemy engine on a SQLite file (checked and migrated already), tuned by `_tune`."""
    import sqlalchemy as sa
    from sqlalchemy import event

    engine = sa.create_engine(
        url,
        connect_args={"timeout": busy_timeout, "check_same_thread": False},
        future=True,
        **POOL,
    )
    busy_ms = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
        _tune(dbapi_conn, busy_ms)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # writers take the write lock up front (waits up to busy_timeout instead of
        # failing on a lock upgrade); readers get a consistent WAL snapshot
        write = conn.get_execution_options().get("pe_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _tune(dbapi_conn: sqlite3.Connection, busy_ms: int) -> None:
    """Every SQLite connection of the store, SQLAlchemy's or not: WAL, synchronous=NORMAL,
    a busy timeout, foreign keys; no implicit transactions (BEGIN is issued explicitly)."""
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        _switch_to_wal(cur, busy_ms)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA wal_autocheckpoint=10000")
    finally:
        cur.close()


def _switch_to_wal(cur: sqlite3.Cursor, busy_ms: int) -> None:
    """Put a file in WAL mode, waiting up to `busy_ms` for other connections to let go.

    SQLite refuses the switch at once, without calling its busy handler, when another
    connection holds a lock on the file (it upgrades its own read lock, which could
    deadlock): two processes opening a new file together would see "database is locked".
    So it is tried again until the busy timeout, unless another connection switched it.
    """
    deadline = time.monotonic() + busy_ms / 1000
    pause = 0.001
    while cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _current_revision(conn: sa.Connection) -> str | None:
    import sqlalchemy as sa

    insp = sa.inspect(conn)
    if not insp.has_table(VERSION_TABLE):
        return None
    row = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
    return row[0] if row else None


def _migrate(engine: Engine, url: str) -> None:
    import sqlalchemy as sa

    with engine.connect() as conn:
        current = _current_revision(conn)
        conn.rollback()
        if current == HEAD_REVISION:
            return
    head = head_revision()
    with engine.connect() as conn:
        if current == head:
            return
        _check_revision(describe(url), current)
        if current is None:
            _refuse_foreign(conn, engine, url, head)
    pg = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        if pg:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": PG_LOCK_KEY})
            conn.commit()
        try:
            _upgrade(conn)
        except sa.exc.OperationalError as exc:
            # another process may have migrated the same fresh file at the same moment
            conn.rollback()
            if not _wait_for_other_migration(engine, head):
                raise
            log.debug("migration raced with another process: %s", exc)
        finally:
            if pg:
                conn.rollback()
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
                conn.commit()
    log.info("store %s migrated to %s", describe(url), head)


def _refuse_foreign(conn: sa.Connection, engine: Engine, url: str, head: str) -> None:
    """A database (schema) without our version table must be empty: tables of another
    application are never added to - as a SQLite file of another program is refused."""
    import sqlalchemy as sa

    names = set(sa.inspect(conn).get_table_names())
    conn.rollback()
    if not names:
        return
    ours = set(TABLES) | {VERSION_TABLE}
    if names <= ours and _wait_for_other_migration(engine, head):
        return  # another ProcessEngine process was creating this database just now
    if names & set(TABLES):
        raise StoreError(
            f"database {describe(url)} already has tables {sorted(names & set(TABLES))} that are not "
            "managed by ProcessEngine; refusing to touch them; left untouched"
        )
    shown = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
    raise StoreError(
        f"database {describe(url)} holds tables of another application ({shown}) and no "
        f"{VERSION_TABLE} table; refusing to add tables to it; left untouched. Use an empty "
        "database, or a schema of its own (e.g. add ?options=-csearch_path%3Dprocessengine to the URL)"
    )


def _wait_for_other_migration(engine: Engine, head: str, timeout: float = 10.0) -> bool:
    """True once another process's migration of a fresh database has committed its version.

    Two processes opening a new file at once (a run and a `list`, say) both start
    migrating; the loser sees tables without a version row for a moment.
    """
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            current = _current_revision(conn)
            conn.rollback()
        if current == head:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _upgrade(conn: sa.Connection) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn.execution_options(pe_write=True)
    command.upgrade(cfg, "head")
    conn.commit()
