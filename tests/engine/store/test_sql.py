"""The run's statements: the SQLite ones written out in engine.store.sql are what
SQLAlchemy compiles from the schema, so the stdlib path writes exactly the same rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.store import sql
from engine.store.database import SqliteFile
from engine.store.sql import SQLITE_AT_HEAD, Prepared, Statements, compile_statements, statements


def as_source(compiled: dict[str, Prepared]) -> str:
    """`SQLITE_AT_HEAD` as it should read (paste it into engine/store/sql.py after a schema change)."""
    lines = ["SQLITE_AT_HEAD: dict[str, tuple[str, tuple[str, ...] | None]] = {"]
    for name, p in compiled.items():
        keys = None if p.keys is None else tuple(p.keys)
        lines += [f'    "{name}": (', f"        {p.sql!r},", f"        {keys!r},", "    ),"]
    return "\n".join([*lines, "}"])


def test_the_written_out_sqlite_statements_are_what_sqlalchemy_compiles() -> None:
    compiled = compile_statements(sa.create_engine("sqlite://").dialect)
    written = {name: Prepared(sql, keys) for name, (sql, keys) in SQLITE_AT_HEAD.items()}
    assert written == compiled, "engine/store/sql.py should read:\n" + as_source(compiled)


def test_the_written_out_source_is_the_module_s() -> None:
    """What the failure message offers to paste is the form the module holds."""
    source = (Path(sql.__file__)).read_text(encoding="utf-8")
    assert as_source(compile_statements(sa.create_engine("sqlite://").dialect)) in source


def test_a_changed_statement_is_seen() -> None:
    """The comparison itself can fail: a column the written-out insert lacks is a difference."""
    compiled = compile_statements(sa.create_engine("sqlite://").dialect)
    sql, keys = SQLITE_AT_HEAD["workspace_insert"]
    assert Prepared(sql.replace("name, ", ""), keys) != compiled["workspace_insert"]


def test_every_field_of_statements_is_compiled_and_written_out() -> None:
    fields = set(Statements.__annotations__)
    assert set(SQLITE_AT_HEAD) == fields
    assert set(compile_statements(sa.create_engine("sqlite://").dialect)) == fields


def test_a_sqlite_file_uses_the_written_out_statements_and_sqlalchemy_its_own() -> None:
    lite = statements(SqliteFile.dialect)
    assert lite.exec_progress.sql == SQLITE_AT_HEAD["exec_progress"][0]
    pg = statements(sa.create_engine("postgresql+psycopg://user@localhost/db").dialect)  # connects to nothing
    assert pg.exec_progress.keys is None and "%(w_eid)s" in pg.exec_progress.sql


def test_the_checkpoint_row_tuples_follow_the_tables_columns() -> None:
    from engine.store import schema

    for columns, table in ((sql.NODE_RUN_ROW, schema.node_runs), (sql.OUTPUT_ROW, schema.outputs), (sql.RECORDING_ROW, schema.recordings)):
        assert columns == tuple(c.name for c in table.columns)


@pytest.mark.parametrize("count", [1, 2, 31, 63, 64, 65, 127, 128, 129, 200])
def test_multi_row_inserts_write_what_one_row_at_a_time_writes(tmp_path: Path, count: int) -> None:
    """The multi-row statements (64, 32, ..., 1 rows each) insert every row, in order, with
    its values as given, as `executemany` of the one-row statement does."""
    import sqlite3

    con = sqlite3.connect(tmp_path / "rows.db", isolation_level=None)
    one_row = Prepared("INSERT INTO t (a, b, c) VALUES (?, ?, ?)", ["a", "b", "c"])
    rows = [(i, f"ü{i}", None if i % 3 else b"\x00" * i) for i in range(count)]
    tables = {}
    for name, multi in (("multi", True), ("single", False)):
        con.execute("DROP TABLE IF EXISTS t")
        con.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, a, b, c)")
        insert = sql.RowInsert(one_row, ("a", "b", "c"), multi_row=multi)
        assert insert.multi is multi
        cur = con.cursor()
        insert.run(cur, rows)
        tables[name] = con.execute("SELECT n, a, b, c FROM t ORDER BY n").fetchall()
    assert tables["multi"] == tables["single"] == [(i + 1, *r) for i, r in enumerate(rows)]


def test_rows_for_a_statement_of_another_order_or_named_parameters_are_mapped(tmp_path: Path) -> None:
    """Tuples in the table's order reach a statement that wants another order, or names
    (as PostgreSQL's driver does; SQLite takes named parameters too)."""
    import sqlite3

    con = sqlite3.connect(tmp_path / "rows.db", isolation_level=None)
    con.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, a, b)")
    reordered = sql.RowInsert(Prepared("INSERT INTO t (b, a) VALUES (?, ?)", ["b", "a"]), ("a", "b"), multi_row=True)
    named = sql.RowInsert(Prepared("INSERT INTO t (a, b) VALUES (:a, :b)", None), ("a", "b"), multi_row=True)
    assert not reordered.multi and not named.multi
    reordered.run(con.cursor(), [(1, 2), (3, 4)])
    named.run(con.cursor(), [(5, 6)])
    assert con.execute("SELECT a, b FROM t ORDER BY n").fetchall() == [(1, 2), (3, 4), (5, 6)]


@pytest.mark.parametrize("count", [1, 63, 64, 65, 200])
def test_zero_null_columns_store_null_for_zero_and_the_value_otherwise(tmp_path: Path, count: int) -> None:
    """A multi-row insert whose rows hold 0 for NULL in its `zero_null` columns (NULLIF(?, 0))
    writes what `executemany` of the one-row statement writes with None there."""
    import sqlite3

    con = sqlite3.connect(tmp_path / "rows.db", isolation_level=None)
    one_row = Prepared("INSERT INTO t (a, b, c) VALUES (?, ?, ?)", ["a", "b", "c"])
    rows = [(i, f"ü{i}" if i % 2 else None, None if i % 3 else i + 1) for i in range(count)]  # never 0 itself
    tables = {}
    for name, multi in (("zero", True), ("single", False)):
        con.execute("DROP TABLE IF EXISTS t")
        con.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, a, b TEXT, c INTEGER)")
        insert = sql.RowInsert(one_row, ("a", "b", "c"), multi_row=multi, zero_null=("b", "c"))
        assert insert.none == (0 if multi else None)
        none = insert.none
        insert.run(con.cursor(), [tuple(none if v is None else v for v in r) for r in rows])
        tables[name] = con.execute("SELECT n, a, b, c, typeof(b), typeof(c) FROM t ORDER BY n").fetchall()
    assert tables["zero"] == tables["single"]
    assert tables["zero"][0][2:] == (None, 1, "null", "integer")
    if count > 2:
        assert tables["zero"][2][2:] == (None, None, "null", "null")


SQL_VALUES = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",))),  # quotes, NUL, any plane
    st.binary().map(bytearray),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
@given(
    shared=st.tuples(SQL_VALUES, SQL_VALUES),
    rows=st.lists(st.tuples(SQL_VALUES, SQL_VALUES, st.one_of(st.just(0), st.integers(min_value=1, max_value=2**40))), max_size=140),
)
def test_rows_with_shared_columns_write_what_whole_rows_write(tmp_path: Path, shared: tuple[Any, Any], rows: list[tuple[Any, ...]]) -> None:
    """The numbered-parameter statements (the shared columns bound once per statement) store
    every row exactly as `executemany` of the one-row statement with whole rows does: same
    values, same storage classes, same order; a zero-null column's 0 is NULL in both."""
    import sqlite3

    con = sqlite3.connect(tmp_path / f"shared{len(rows)}.db", isolation_level=None)
    one_row = Prepared("INSERT INTO t (a, b, c, d, e) VALUES (?, ?, ?, ?, ?)", ["a", "b", "c", "d", "e"])
    columns = ("a", "b", "c", "d", "e")
    whole = [(shared[0], r[0], shared[1], r[1], None if r[2] == 0 else r[2]) for r in rows]
    got = {}
    for name in ("shared", "single"):
        con.execute("DROP TABLE IF EXISTS t")
        con.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, a, b, c TEXT, d BLOB, e INTEGER)")
        if name == "shared":
            insert = sql.RowInsert(one_row, columns, multi_row=True, zero_null=("e",), shared=("a", "c"))
            assert insert.multi
            insert.run(con.cursor(), rows, shared)
        else:
            sql.RowInsert(one_row, columns, multi_row=False).run(con.cursor(), whole)
        got[name] = con.execute(
            "SELECT n, a, b, c, d, e, typeof(a), typeof(b), typeof(c), typeof(d), typeof(e) FROM t ORDER BY n"
        ).fetchall()
    assert got["shared"] == got["single"]
    assert len(got["shared"]) == len(rows)


def test_rows_with_shared_columns_reach_a_driver_without_multi_row_statements_whole(tmp_path: Path) -> None:
    """Without multi-row statements (PostgreSQL's path) the shared values are put back into
    each row in the table's order."""
    import sqlite3

    con = sqlite3.connect(tmp_path / "rows.db", isolation_level=None)
    con.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, a, b, c)")
    insert = sql.RowInsert(Prepared("INSERT INTO t (a, b, c) VALUES (:a, :b, :c)", None), ("a", "b", "c"), multi_row=True, shared=("b",))
    assert not insert.multi
    insert.run(con.cursor(), [(1, 3), (4, 6)], ("it's",))
    assert con.execute("SELECT a, b, c FROM t ORDER BY n").fetchall() == [(1, "it's", 3), (4, "it's", 6)]
