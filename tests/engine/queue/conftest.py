"""Queue tests: a fresh PostgreSQL database per test, real worker and serve subprocesses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests import waiting
from tests.engine.api.helpers import ServeProcess
from tests.engine.store.fixtures import pg_url
from tests.pg import fresh_database

STALLED_AFTER = "2"  # seconds: a killed worker's jobs come back within ~3 s


@pytest.fixture
def queue_db() -> Iterator[str]:
    """A brand-new PostgreSQL database (the store and the job queue), dropped afterwards."""
    with fresh_database(pg_url(), "pe_queue") as url:
        yield url


@pytest.fixture
def procs() -> Iterator[list[ServeProcess]]:
    """Every subprocess a test starts; all stopped at the end."""
    started: list[ServeProcess] = []
    yield started
    for p in started:
        p.stop()


@pytest.fixture
def start_worker(queue_db: str, procs: list[ServeProcess]) -> Callable[..., ServeProcess]:
    def start(name: str, concurrency: int = 1, *extra: str) -> ServeProcess:
        p = ServeProcess("worker", "--db", queue_db, "--name", name, "--concurrency", str(concurrency),
                         "--stalled-after", STALLED_AFTER, *extra)
        procs.append(p)
        p.wait_line("ready")
        return p

    return start


def wait_until(check: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy (the state lives in other processes)."""
    return waiting.wait_until(check, timeout, what, every=0.05)
