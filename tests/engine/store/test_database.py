"""Opening databases: fresh files are migrated; bad files get a clear error and stay untouched."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.errors import StoreError
from engine.paths import DB_ENV, resolve_db_url, sqlite_url
from engine.service import ExecutionService
from engine.store.database import head_revision
from engine.store.schema import TABLES, VERSION_TABLE
from tests.engine.store.fixtures import postgres_enabled

ROOT = Path(__file__).resolve().parents[3]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_a_fresh_file_gets_every_table_and_the_head_revision(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "pe.db"
    ExecutionService(str(path)).close()
    assert set(TABLES) | {VERSION_TABLE} <= tables(sqlite_url(path))
    con = sqlite3.connect(path)
    try:
        assert con.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall() == [(head_revision(),)]
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()
    ExecutionService(str(path)).close()  # a second open finds it at head and changes nothing


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    ExecutionService(str(path)).close()
    assert "executions" in tables(sqlite_url(path))


def test_garbage_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(os.urandom(4096))
    before = digest(path)
    with pytest.raises(StoreError, match="not a SQLite file"):
        ExecutionService(str(path))
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.db"]


def test_sqlite_file_of_another_program_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE contacts (name TEXT)")
    con.execute("INSERT INTO contacts VALUES ('ada')")
    con.commit()
    con.close()
    before = digest(path)
    with pytest.raises(StoreError, match="another program"):
        ExecutionService(str(path))
    assert digest(path) == before
    assert tables(sqlite_url(path)) == {"contacts"}


def test_newer_schema_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "pe.db"
    ExecutionService(str(path)).close()
    con = sqlite3.connect(path)
    con.execute(f"UPDATE {VERSION_TABLE} SET version_num = '9999_from_the_future'")
    con.commit()
    con.close()
    before = digest(path)
    with pytest.raises(StoreError, match=r"9999_from_the_future.*newer"):
        ExecutionService(str(path))
    assert digest(path) == before


@contextlib.contextmanager
def as_nobody() -> Iterator[None]:
    """Drop the effective uid (root ignores file modes) for the length of the block."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_read_only_file_is_refused_and_untouched() -> None:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        folder.chmod(0o755)
        path = folder / "pe.db"
        ExecutionService(str(path)).close()
        for extra in folder.glob("pe.db-*"):
            extra.unlink()
        path.chmod(0o444)
        before = digest(path)
        with as_nobody(), pytest.raises(StoreError, match="read-only"):
            ExecutionService(str(path))
        assert digest(path) == before
        assert sorted(p.name for p in folder.iterdir()) == ["pe.db"]


@pytest.mark.parametrize("ours", [True, False], ids=["store", "foreign"])
def test_locked_file_gives_a_clear_error_and_stays_untouched(tmp_path: Path, ours: bool) -> None:
    path = tmp_path / "pe.db"
    if ours:
        ExecutionService(str(path)).close()
    else:
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE t (x)")
        con.commit()
        con.close()
    before = digest(path)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("SELECT count(*) FROM sqlite_master").fetchall()
        with pytest.raises(StoreError, match="locked"):
            ExecutionService(str(path), busy_timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert digest(path) == before


def test_a_directory_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        ExecutionService(str(tmp_path))


def test_paths_plain_path_url_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)
    assert resolve_db_url(str(tmp_path / "a.db")) == "sqlite:///" + str(tmp_path / "a.db")
    assert resolve_db_url("postgresql://u@h:5/db") == "postgresql+psycopg://u@h:5/db"
    assert resolve_db_url("sqlite:////x/y.db") == "sqlite:////x/y.db"
    monkeypatch.setenv(DB_ENV, str(tmp_path / "env.db"))
    assert resolve_db_url(None) == sqlite_url(tmp_path / "env.db")
    assert resolve_db_url(str(tmp_path / "explicit.db")) == sqlite_url(tmp_path / "explicit.db")


def test_default_database_is_in_the_user_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    url = resolve_db_url(None)
    assert url.endswith("/processengine.db")
    path = Path(url.removeprefix("sqlite:///"))
    assert tmp_path in path.parents and path.parent.is_dir()
    ExecutionService().close()
    assert path.is_file()


if postgres_enabled():  # defined only where PostgreSQL runs (always in CI)

    @pytest.mark.postgres
    def test_postgres_database_with_foreign_tables_of_our_names_is_refused(pg_fresh_url: str) -> None:
        engine = sa.create_engine(pg_fresh_url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE executions (id text primary key, note text)"))
        engine.dispose()
        with pytest.raises(StoreError, match="not managed by ProcessEngine"):
            ExecutionService(pg_fresh_url)
        assert tables(pg_fresh_url) == {"executions"}


    @pytest.mark.postgres
    def test_postgres_newer_schema_is_refused(pg_fresh_url: str) -> None:
        ExecutionService(pg_fresh_url).close()
        engine = sa.create_engine(pg_fresh_url)
        with engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999_from_the_future'"))
        engine.dispose()
        with pytest.raises(StoreError, match="newer"):
            ExecutionService(pg_fresh_url)


    @pytest.mark.postgres
    def test_postgres_database_of_another_application_is_refused_and_untouched(pg_fresh_url: str) -> None:
        """As a SQLite file of another program: tables, no version table -> refused, left alone."""
        engine = sa.create_engine(pg_fresh_url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE someone_elses (x int)"))
            conn.execute(sa.text("INSERT INTO someone_elses VALUES (1)"))
        engine.dispose()
        with pytest.raises(StoreError, match=r"holds tables of another application \(someone_elses\).*left untouched"):
            ExecutionService(pg_fresh_url)
        assert tables(pg_fresh_url) == {"someone_elses"}
        env = {**os.environ, "PROCESSENGINE_DB": pg_fresh_url}
        out = subprocess.run([sys.executable, "-m", "engine.cli", "list"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False)
        assert out.returncode != 0 and "another application" in out.stderr and "Traceback" not in out.stderr
        assert tables(pg_fresh_url) == {"someone_elses"}

    @pytest.mark.postgres
    def test_postgres_schema_of_its_own_in_a_shared_database_is_used(pg_fresh_url: str) -> None:
        engine = sa.create_engine(pg_fresh_url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE someone_elses (x int)"))
            conn.execute(sa.text("CREATE SCHEMA pe"))
        engine.dispose()
        in_schema = pg_fresh_url + ("&" if "?" in pg_fresh_url else "?") + "options=-csearch_path%3Dpe"
        ExecutionService(in_schema).close()
        assert set(TABLES) | {VERSION_TABLE} <= tables(in_schema)
        assert tables(pg_fresh_url) == {"someone_elses"}  # the public schema is left alone


def test_head_revision_constant_matches_alembic() -> None:
    """The fast path that skips Alembic on open must name the real newest migration."""
    from engine.store.database import HEAD_REVISION, head_revision

    assert head_revision() == HEAD_REVISION


# each child loads what opening a database needs, says so, and opens it when told: the six
# opens start together however long the machine takes to start six interpreters
OPEN_WHEN_TOLD = """
import sys
import alembic.command
from engine.store.database import open_database
print("ready", flush=True)
sys.stdin.readline()
open_database(sys.argv[1]).dispose()
"""


def test_many_processes_opening_a_fresh_database_at_once(tmp_path) -> None:
    """A run and a `list` starting together on a new file must both open it (race on migration)."""
    from tests.together import run_together

    db = tmp_path / "fresh.db"
    results = run_together(OPEN_WHEN_TOLD, [f"sqlite:///{db}"], 6)
    assert [rc for rc, _out, _err in results] == [0] * 6, [err for _rc, _out, err in results]


def _writer_of_a_fresh_file(path: Path) -> sqlite3.Connection:
    """Another connection beginning to write a new, empty file (as another process switching
    it to WAL or migrating it does): it holds SQLite's RESERVED lock."""
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    return writer


def test_the_switch_to_wal_is_retried_while_another_connection_writes_the_fresh_file(tmp_path: Path) -> None:
    """SQLite refuses a switch to WAL at once, without its busy handler, while another connection
    holds the RESERVED lock (the switch upgrades a read lock, which could deadlock): what made
    processes opening a new file together fail with "database is locked" however long their busy
    timeout. The switch is tried again within the busy timeout; the writer lets go as it is."""
    from engine.store.database import _tune

    path = tmp_path / "fresh.db"
    writer = _writer_of_a_fresh_file(path)
    switches: list[str] = []

    def traced(sql: str) -> None:
        if sql == "PRAGMA journal_mode=WAL":
            switches.append(sql)
            if len(switches) == 2:
                writer.execute("ROLLBACK")

    conn = sqlite3.connect(path, timeout=10)
    try:
        conn.set_trace_callback(traced)
        _tune(conn, 10_000)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert len(switches) == 2
    finally:
        conn.close()
        writer.close()


def test_a_fresh_file_written_by_another_connection_for_longer_than_the_busy_timeout_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    writer = _writer_of_a_fresh_file(path)
    try:
        with pytest.raises(StoreError, match="locked by another process"):
            ExecutionService(str(path), busy_timeout=0.2)
    finally:
        writer.close()


def _at_revision(path: Path, revision: str) -> None:
    """A store file as an older ProcessEngine left it: migrated up to `revision` only."""
    from alembic import command
    from alembic.config import Config

    from engine.store.database import MIGRATIONS

    engine = sa.create_engine(sqlite_url(path))
    try:
        with engine.connect() as conn:
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
    finally:
        engine.dispose()


def _revision(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as con:
        return str(con.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()[0])


def test_a_file_of_an_older_version_is_migrated_before_a_run(tmp_path: Path) -> None:
    from tests.engine.store.test_migrations import drift
    from tests.engine.test_cli import EXAMPLES, pe

    path = tmp_path / "old.db"
    _at_revision(path, "0004_hardening")
    assert _revision(path) == "0004_hardening"
    out = pe("run", str(EXAMPLES / "hello.pe.json"), "--json", db=path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert _revision(path) == head_revision()
    assert drift(sqlite_url(path)) == []
    listed = pe("list", "--json", db=path)
    assert [r["status"] for r in json.loads(listed.stdout)] == ["completed"]


def test_an_up_to_date_file_is_opened_without_sqlalchemy_until_a_query_needs_it(tmp_path: Path) -> None:
    from engine.store.database import SqliteFile
    from engine.store.store import ExecutionStore

    url = sqlite_url(tmp_path / "pe.db")
    ExecutionStore(url).close()  # creates it (through SQLAlchemy and Alembic)
    store = ExecutionStore(url)
    try:
        assert isinstance(store.raw, SqliteFile) and store._engine is None
        assert store.rows(statuses=None, workflow_id=None, since=None, limit=None) == []
        assert store._engine is not None  # made by the first query that needed it
    finally:
        store.close()


def test_a_fresh_file_is_created_by_a_run(tmp_path: Path) -> None:
    from tests.engine.test_cli import EXAMPLES, pe

    path = tmp_path / "new" / "pe.db"
    out = pe("run", str(EXAMPLES / "hello.pe.json"), "--json", db=path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert _revision(path) == head_revision()
    assert set(TABLES) <= tables(sqlite_url(path))


def test_stdlib_connections_are_tuned_and_pooled_as_sqlalchemy_s_are(tmp_path: Path) -> None:
    from engine.store.database import SqliteFile, sqlite_engine
    from engine.store.store import ExecutionStore

    url = sqlite_url(tmp_path / "pe.db")
    ExecutionStore(url).close()
    pragmas = ("journal_mode", "synchronous", "busy_timeout", "foreign_keys", "wal_autocheckpoint")

    def tuning(conn: sqlite3.Connection) -> list[object]:
        return [conn.execute(f"PRAGMA {p}").fetchone()[0] for p in pragmas] + [conn.isolation_level]

    engine = sqlite_engine(url, 3.0)
    lite = SqliteFile(tmp_path / "pe.db", 3.0)
    try:
        theirs = engine.raw_connection()
        ours = lite.raw_connection()
        assert tuning(ours) == tuning(theirs.driver_connection)  # type: ignore[arg-type]
        theirs.close()
        ours.close()  # given back, not closed
        assert lite.raw_connection() is ours
        ours.invalidate()  # closed for good
        with pytest.raises(sqlite3.ProgrammingError):
            ours.execute("SELECT 1")
        fresh = lite.raw_connection()
        assert fresh is not ours
        lite.dispose()  # in use: closed when given back, and the file stays usable
        fresh.close()
        with pytest.raises(sqlite3.ProgrammingError):
            fresh.execute("SELECT 1")
        assert lite.raw_connection().execute("SELECT count(*) FROM workspaces").fetchone() == (1,)
    finally:
        engine.dispose()
        lite.dispose()


@pytest.mark.parametrize(
    "url",
    ["sqlite:////tmp/a.db", "sqlite:///rel/a.db", "sqlite+pysqlite:////tmp/a.db", "sqlite:////tmp/a%20b.db",
     "sqlite:////tmp/a.db?timeout=3", "sqlite://", "sqlite:///:memory:", "postgresql+psycopg://u:p@h/db"],
)
def test_a_plain_sqlite_file_is_read_as_sqlalchemy_reads_it(url: str) -> None:
    """The URL read without SQLAlchemy names the same file, or leaves the URL to SQLAlchemy."""
    from engine.paths import sqlite_path
    from engine.store.database import plain_sqlite_file

    plain = plain_sqlite_file(url)
    assert plain is None or plain == sqlite_path(url)
    assert (plain is not None) == (url in ("sqlite:////tmp/a.db", "sqlite:///rel/a.db", "sqlite+pysqlite:////tmp/a.db"))
