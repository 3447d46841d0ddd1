"""The queue app's execution task runs jobs with the handler bound to that app.

No module-level handler: two apps in one process (a worker's and a client's, or two
workers') never run each other's jobs. The connector is not opened here: building the
app and calling its task function needs no database.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.queue.jobs import RUN_TASK, QueueError, queue_app

URL = "postgresql+psycopg://robot@127.0.0.1:1/queue"  # never connected to


async def test_each_app_runs_jobs_with_its_own_handler() -> None:
    seen: list[tuple[str, str, str]] = []

    def handler(name: str) -> Any:
        async def run(context: Any, execution_id: str, workspace: str) -> None:
            seen.append((name, execution_id, workspace))

        return run

    first, second = queue_app(URL, run=handler("first")), queue_app(URL, run=handler("second"))
    await first.tasks[RUN_TASK].func(None, "e1", "default")
    await second.tasks[RUN_TASK].func(None, "e2", "team")
    assert seen == [("first", "e1", "default"), ("second", "e2", "team")]


async def test_an_app_without_a_handler_refuses_to_run_a_job() -> None:
    client = queue_app(URL)
    with pytest.raises(QueueError, match="not a worker"):
        await client.tasks[RUN_TASK].func(None, "e1", "default")
