"""Database backends for the store tests (import the `*_fixture` names to use them): a SQLite file per test, and PostgreSQL.

PostgreSQL is the throw-away server `.ci/start_postgres.sh` starts; `.ci/run`
exports its URL as PROCESSENGINE_TEST_PG_URL. The PostgreSQL parameters exist
when that variable is set, and always in CI (CI=true), where a missing URL
fails those tests instead of silently running SQLite alone.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from engine.service import ExecutionService
from tests.pg import fresh_database

PG_ENV = "PROCESSENGINE_TEST_PG_URL"


def postgres_enabled() -> bool:
    """PostgreSQL tests exist when its URL is given, and always in CI (where no URL fails them)."""
    return bool(os.environ.get(PG_ENV) or os.environ.get("CI"))


def backend_params() -> list[Any]:
    params = [pytest.param("sqlite", id="sqlite")]
    if postgres_enabled():
        params.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))
    return params


def pg_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.fail(
            f"CI is set but {PG_ENV} is not: .ci/run must start PostgreSQL with "
            ".ci/start_postgres.sh so the store tests also run against it"
        )
    return url


@dataclass
class Db:
    """Where a test's executions live: a URL and a workspace of its own."""

    backend: str
    url: str
    workspace: str

    def service(self, **kw: Any) -> ExecutionService:
        kw.setdefault("workspace", self.workspace)
        return ExecutionService(self.url, **kw)


@pytest.fixture(params=backend_params(), name="db")
def db_fixture(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Db]:
    if request.param == "sqlite":
        yield Db("sqlite", str(tmp_path / "pe.db"), "default")
    else:  # one shared server: a fresh workspace per test keeps tests apart
        yield Db("postgres", pg_url(), f"t-{uuid.uuid4().hex[:12]}")


@pytest.fixture(name="svc")
def svc_fixture(db: Db) -> Iterator[ExecutionService]:
    service = db.service()
    yield service
    service.close()


@pytest.fixture(name="pg_fresh_url")
def pg_fresh_url_fixture() -> Iterator[str]:
    """A brand-new empty PostgreSQL database (for migration tests), dropped afterwards."""
    with fresh_database(pg_url(), "pe_fresh") as url:
        yield url
