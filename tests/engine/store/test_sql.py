"""The run's statements: the SQLite ones written out in engine.store.sql are what
SQLAlchemy compiles from the schema, so the stdlib path writes exactly the same rows."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

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
