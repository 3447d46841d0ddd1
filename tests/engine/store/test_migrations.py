"""The migrations and the models describe one schema: a freshly migrated database has no
drift from `engine.store.schema.metadata` (Alembic's own comparison, column by column)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.paths import sqlite_url
from engine.service import ExecutionService
from engine.store.schema import VERSION_TABLE, metadata
from tests.engine.store.fixtures import postgres_enabled


def drift(url: str) -> list[object]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_name": lambda name, kind, _parent: kind != "table" or name != VERSION_TABLE,
                },
            )
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()


def test_a_migrated_sqlite_file_matches_the_models(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "store.db")
    ExecutionService(url).close()
    assert drift(url) == []


def test_drift_is_seen(tmp_path: Path) -> None:
    """The comparison itself can fail: a column the models lack is reported."""
    url = sqlite_url(tmp_path / "store.db")
    ExecutionService(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE executions ADD COLUMN stray TEXT"))
    engine.dispose()
    assert any("stray" in repr(d) for d in drift(url))


if postgres_enabled():

    @pytest.mark.postgres
    def test_a_migrated_postgres_database_matches_the_models(pg_fresh_url: str) -> None:
        ExecutionService(pg_fresh_url).close()
        assert drift(pg_fresh_url) == []


from tests.engine.store.fixtures import pg_fresh_url_fixture  # noqa: E402,F401
