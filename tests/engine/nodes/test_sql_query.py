"""sql_query on a real SQLite file and the real PostgreSQL server (PROCESSENGINE_TEST_PG_URL)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from engine.errors import NodeError
from engine.model import Node
from engine.nodes import registry
from engine.nodes.sql_query import SqlQueryConfig
from tests.engine.store.fixtures import backend_params, pg_url

SECRET = "pw-Xq7Lm2"
ORDERS = [
    {"id": "A-1001", "customer": "ann@example.org", "total": "120.50", "placed": "2026-11-02"},
    {"id": "A-1002", "customer": "bob@example.org", "total": "42.00", "placed": "2026-11-03"},
    {"id": "A-1003", "customer": "ann@example.org", "total": "310.00", "placed": "2026-11-05"},
]


@dataclass
class Target:
    backend: str
    url: str  # what the node is given
    table: str  # qualified table name

    def scalar(self, sql: str) -> object:
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text(sql)).scalar()
        finally:
            engine.dispose()


@pytest.fixture(params=backend_params())
def target(request, tmp_path) -> Iterator[Target]:
    if request.param == "sqlite":
        url, table, cleanup = f"sqlite:///{tmp_path / 'shop.db'}", "orders", None
    else:
        schema = f"t_{uuid.uuid4().hex[:10]}"
        url, table, cleanup = pg_url(), f"{schema}.orders", schema
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if cleanup:
            conn.execute(sa.text(f"CREATE SCHEMA {cleanup}"))
        conn.execute(sa.text(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, customer TEXT, total NUMERIC(10, 2), placed DATE)"))
        cast = "CAST(:placed AS DATE)" if cleanup else ":placed"  # SQLite keeps dates as text
        conn.execute(sa.text(f"INSERT INTO {table} VALUES (:id, :customer, CAST(:total AS NUMERIC(10, 2)), {cast})"), ORDERS)
    try:
        yield Target(request.param, url, table)
    finally:
        if cleanup:
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {cleanup} CASCADE"))
        engine.dispose()


async def test_select_with_bound_params(harness, target):
    cfg = {"url": target.url, "query": f"SELECT id, total FROM {target.table} WHERE customer = :who ORDER BY id", "params": {"who": "ann@example.org"}}
    result = await harness.run("sql_query", cfg)
    rows = result.outputs["out"]["rows"]
    assert result.outputs["out"]["row_count"] == 2
    assert [r["id"] for r in rows] == ["A-1001", "A-1003"]
    if target.backend == "postgres":  # NUMERIC comes back as a JSON number
        assert [r["total"] for r in rows] == [120.5, 310]


async def test_dates_are_iso_text(harness, target):
    result = await harness.run("sql_query", {"url": target.url, "query": f"SELECT placed FROM {target.table} ORDER BY placed LIMIT 1"})
    assert result.outputs["out"]["rows"] == [{"placed": "2026-11-02"}]


async def test_params_are_bound_never_interpolated(harness, target):
    evil = "x' OR '1'='1"
    result = await harness.run("sql_query", {"url": target.url, "query": f"SELECT id FROM {target.table} WHERE customer = :who", "params": {"who": evil}})
    assert result.outputs["out"] == {"rows": [], "row_count": 0}
    drop = f"x'; DROP TABLE {target.table}; --"
    await harness.run("sql_query", {"url": target.url, "query": f"SELECT id FROM {target.table} WHERE id = :id", "params": {"id": drop}})
    assert target.scalar(f"SELECT count(*) FROM {target.table}") == 3


async def test_insert_many_commits_and_counts(harness, target):
    rows = [{"id": f"B-{i}", "customer": "dana@example.org", "total": i * 10} for i in range(1, 5)]
    result = await harness.run("sql_query", {"url": target.url, "query": f"INSERT INTO {target.table} (id, customer, total) VALUES (:id, :customer, :total)", "params": rows})
    assert result.outputs["out"] == {"rows": [], "row_count": 4}
    assert target.scalar(f"SELECT count(*) FROM {target.table}") == 7
    upd = await harness.run("sql_query", {"url": target.url, "query": f"UPDATE {target.table} SET total = total + 1 WHERE customer = :c", "params": {"c": "dana@example.org"}})
    assert upd.outputs["out"]["row_count"] == 4


async def test_read_only_is_enforced_by_the_database(harness, target):
    for sql in (f"DELETE FROM {target.table}", f"INSERT INTO {target.table} (id) VALUES ('Z')"):
        with pytest.raises(NodeError, match=r"node 'n1', config.query: .*refused by read_only") as err:
            await harness.run("sql_query", {"url": target.url, "query": sql, "read_only": True})
        assert not err.value.retryable
    assert target.scalar(f"SELECT count(*) FROM {target.table}") == 3
    ok = await harness.run("sql_query", {"url": target.url, "query": f"SELECT count(*) AS n FROM {target.table}", "read_only": True})
    assert ok.outputs["out"] == {"rows": [{"n": 3}], "row_count": 1}


async def test_max_rows_truncates_with_a_warning(harness, target, caplog):
    caplog.set_level(logging.INFO)
    result = await harness.run("sql_query", {"url": target.url, "query": f"SELECT id FROM {target.table} ORDER BY id", "max_rows": 2})
    assert result.outputs["out"] == {"rows": [{"id": "A-1001"}, {"id": "A-1002"}], "row_count": 2}
    assert "more than max_rows=2 rows" in caplog.text


async def test_sql_error_names_node_and_field(harness, target):
    with pytest.raises(NodeError, match=r"node 'n1', config.query: (sqlite|postgresql)://.*(no such table|does not exist)"):
        await harness.run("sql_query", {"url": target.url, "query": "SELECT * FROM no_such_table"})
    with pytest.raises(NodeError, match=r"config.query: .*bind parameter 'who'"):
        await harness.run("sql_query", {"url": target.url, "query": f"SELECT id FROM {target.table} WHERE customer = :who"})


async def test_credential_keeps_the_password_out_of_everything(harness, target, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    url = sa.engine.make_url(target.url)
    if target.backend == "postgres":  # the test server trusts local connections, so any password works
        url = url.set(password=SECRET)
    monkeypatch.setenv("PROCESSENGINE_CRED_SHOP_DB", json.dumps({"kind": "sql", "url": url.render_as_string(hide_password=False)}))
    result = await harness.run("sql_query", {"credential": "shop-db", "query": f"SELECT id FROM {target.table} ORDER BY id LIMIT 1", "read_only": True})
    assert result.outputs["out"]["rows"] == [{"id": "A-1001"}]
    with pytest.raises(NodeError) as err:
        await harness.run("sql_query", {"credential": "shop-db", "query": "SELEC 1"})
    for text in (caplog.text, str(err.value), json.dumps(result.outputs)):
        assert SECRET not in text


async def test_wrong_credential_kind(harness, monkeypatch):
    monkeypatch.setenv("PROCESSENGINE_CRED_API", json.dumps({"kind": "bearer", "token": SECRET}))
    with pytest.raises(NodeError, match=r"config.credential: credential 'api' is of kind 'bearer'; sql_query takes a sql credential") as err:
        await harness.run("sql_query", {"credential": "api", "query": "SELECT 1"})
    assert SECRET not in str(err.value)


async def test_bad_url_and_unsupported_backend_never_echo_the_url(harness):
    with pytest.raises(NodeError, match=r"config.url: not a valid database URL") as err:
        await harness.run("sql_query", {"url": f"::{SECRET}::", "query": "SELECT 1"})
    assert SECRET not in str(err.value)
    with pytest.raises(NodeError, match="unsupported database 'mysql'"):
        await harness.run("sql_query", {"url": f"mysql://u:{SECRET}@h/d", "query": "SELECT 1"})


async def test_sqlite_path_is_relative_to_the_workflow_and_confined(harness, tmp_path, monkeypatch):
    monkeypatch.delenv("PROCESSENGINE_FILE_ROOTS", raising=False)
    created = await harness.run("sql_query", {"url": "sqlite:///data.db", "query": "CREATE TABLE t (x INTEGER)"})
    assert created.outputs["out"]["row_count"] == 0 and (tmp_path / "data.db").exists()
    with pytest.raises(NodeError, match=r"config.url: .* is outside the folders"):
        await harness.run("sql_query", {"url": "sqlite:///../elsewhere.db", "query": "SELECT 1"})
    memory = await harness.run("sql_query", {"url": "sqlite://", "query": "SELECT 1 + :a AS two", "params": {"a": 1}})
    assert memory.outputs["out"] == {"rows": [{"two": 2}], "row_count": 1}


def test_schema_and_side_effects():
    with pytest.raises(ValidationError, match="set exactly one of `url` or `credential`"):
        SqlQueryConfig.model_validate({"query": "SELECT 1"})
    with pytest.raises(ValidationError, match="set exactly one of `url` or `credential`"):
        SqlQueryConfig.model_validate({"query": "SELECT 1", "url": "sqlite://", "credential": "x"})
    cfg = SqlQueryConfig.model_validate({"query": "SELECT 1", "url": "sqlite://"})
    assert (cfg.params, cfg.max_rows, cfg.read_only) == ({}, 1000, False)
    spec = registry.get_spec("sql_query")

    def node(**cfg: object) -> Node:
        return Node(id="q", type="sql_query", name="q", config={"url": "sqlite://", "query": "SELECT 1", **cfg})

    assert spec.has_side_effects(node()) and not spec.has_side_effects(node(read_only=True))
    assert spec.has_side_effects(node(read_only="{{ vars.ro }}"))


async def test_the_query_runs_off_the_event_loop(harness):
    import asyncio

    slow = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 2000000) SELECT count(*) AS n FROM c"
    task = asyncio.ensure_future(harness.run("sql_query", {"url": "sqlite://", "query": slow, "read_only": True}))
    ticks = 0
    while ticks < 20:  # the loop keeps turning while the statement runs on its worker thread
        await asyncio.sleep(0)
        ticks += 1
    assert not task.done()
    result = await task
    assert result.outputs["out"]["rows"] == [{"n": 2000000}]


async def test_refused_connection_is_retryable_and_hides_the_password(harness):
    with pytest.raises(NodeError) as err:
        await harness.run("sql_query", {"url": f"postgresql+psycopg://robot:{SECRET}@127.0.0.1:1/shop", "query": "SELECT 1"})
    assert err.value.retryable and err.value.error_type == "sql_connection"
    assert err.value.message.startswith("node 'n1', config.query: postgresql://127.0.0.1:1/shop: ")
    assert SECRET not in err.value.message and "robot" not in err.value.message.split(": ", 2)[1]


SLOW_SQLITE = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 200000000) SELECT count(*) FROM c"


async def test_timeout_interrupts_the_statement(harness, target):
    slow = SLOW_SQLITE if target.backend == "sqlite" else "SELECT pg_sleep(30)"
    with pytest.raises(NodeError, match=r"node 'n1', config.query: .*: timed out after 0.3 s") as err:
        await harness.run("sql_query", {"url": target.url, "query": slow, "timeout_s": 0.3})
    assert err.value.retryable and err.value.error_type == "timeout"
    if target.backend == "postgres":
        assert await _pg_sleepers_gone(target)


async def test_cancel_stops_the_statement_where_it_runs(harness, target):
    """Cancel must stop the statement itself, not only stop waiting: on PostgreSQL it leaves
    pg_stat_activity; on SQLite the long INSERT is rolled back and its write lock freed."""
    import asyncio

    if target.backend == "postgres":
        query = "SELECT pg_sleep(30) /* cancel-me */"
        running, stopped = (lambda: _pg_count(target, "cancel-me") == 1), (lambda: _pg_count(target, "cancel-me") == 0)
    else:
        query = f"INSERT INTO {target.table} (id) {SLOW_SQLITE.replace('count(*)', 'n')}"
        running, stopped = (lambda: _sqlite_locked(target)), (lambda: not _sqlite_locked(target))
    task = asyncio.ensure_future(harness.run("sql_query", {"url": target.url, "query": query}))
    assert await _wait_for(running)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _wait_for(stopped)
    assert target.scalar(f"SELECT count(*) FROM {target.table}") == 3


def _sqlite_locked(target: Target) -> bool:
    import sqlite3

    conn = sqlite3.connect(target.url.removeprefix("sqlite:///"), timeout=0)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.rollback()
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def _pg_count(target: Target, marker: str) -> int:
    sql = f"SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%{marker}%' AND query NOT LIKE '%pg_stat_activity%'"
    return int(target.scalar(sql))


async def _pg_sleepers_gone(target: Target) -> bool:
    return await _wait_for(lambda: _pg_count(target, "pg_sleep(30)") == 0)


async def _wait_for(condition, timeout: float = 10.0) -> bool:
    """Poll a condition on the real server until it holds (the statement's state is only visible there)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(condition):
            return True
        await asyncio.sleep(0.05)
    return False


def test_a_password_in_the_file_is_refused_at_load_time():
    from engine.nodes.registry import validate_node_config

    for url in (f"postgresql+psycopg://robot:{SECRET}@db/shop", f"postgresql://db/shop?password={SECRET}"):
        node = Node(id="q", type="sql_query", name="q", config={"url": url, "query": "SELECT 1"})
        (problem,) = validate_node_config(node, file="wf.pe.json")
        assert problem.field == "config" and problem.node_id == "q"
        assert "the URL holds a password" in problem.message and "--kind sql" in problem.message
        assert SECRET not in problem.message
    ok = Node(id="q", type="sql_query", name="q", config={"url": "postgresql+psycopg://robot@db/shop", "query": "SELECT 1"})
    assert validate_node_config(ok) == []
    from_vars = Node(id="q", type="sql_query", name="q", config={"url": "{{ vars.db }}", "query": "SELECT 1"})
    assert validate_node_config(from_vars) == []
