"""The store's reads of a run record and of the history list use statements built once
(`engine.store.reads`): a statement built per call was garbage for the collector (about 74
SQLAlchemy objects per `load_record`, 10 per `rows`), which the studio has to put off."""

from __future__ import annotations

import gc
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.service import ExecutionService
from tests.engine.runtime.helpers import chain, workflow
from tests.servers import HttpTestServer


def _sqlalchemy_garbage() -> list[str]:
    """SQLAlchemy's objects a full collection finds unreachable (each described)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return [f"{type(o).__qualname__}: {repr(o)[:100]}" for o in gc.garbage if type(o).__module__.startswith("sqlalchemy.")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def _retried_call(url: str) -> Any:
    """A trigger, an HTTP call that fails once and is retried (two recorded attempts), a set."""
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"url": url}, "retry": {"max_attempts": 2, "initial_delay_s": 0, "jitter": False}},
            {"id": "end", "type": "set", "config": {"values": {"n": "{{ 1 + 1 }}"}}},
        ],
        [("start", "out", "get"), ("get", "out", "end")],
    )


async def test_reading_records_and_the_history_leaves_nothing_for_the_collector(svc: ExecutionService, http_server: HttpTestServer) -> None:
    http_server.fail_first("/flaky", 1)
    rec = await svc.run(_retried_call(http_server.url_for("/flaky")))
    await svc.run(chain(3))
    store = svc.store
    reads = [
        lambda: store.load_record(rec.execution_id),
        lambda: store.one(rec.execution_id),
        lambda: store.rows(statuses=None, workflow_id=None, since=None, limit=None),
        lambda: store.rows(statuses=["completed", "failed"], workflow_id=rec.workflow_id, since=0.0, limit=5),
    ]
    for read in reads:  # the first call of each fills SQLAlchemy's caches
        read()
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            for read in reads:
                read()
        left = _sqlalchemy_garbage()
    finally:
        if was:
            gc.enable()
    assert not left, "left for the garbage collector:\n" + "\n".join(left)
    loaded, _row = store.load_record(rec.execution_id)
    attempts = loaded.main.attempts["get"]
    assert [a["status"] for a in attempts] == ["failed", "succeeded"] and all("io" in a for a in attempts)
    assert loaded.main.outputs["end"] == rec.main.outputs["end"]


async def test_the_history_s_filters_in_every_combination(svc: ExecutionService) -> None:
    """`rows` has a statement per combination of filters: each gives what filtering every
    row of the workspace gives, newest first, with each execution's thread rows."""
    other = workflow([{"id": "start", "type": "manual_trigger"}, {"id": "bad", "type": "set", "config": {"values": {"x": "{{ 1 / 0 }}"}}}],
                     [("start", "out", "bad")])  # fmt: skip
    other.id = "wf-other"
    for wf in (chain(2), other, chain(3), other, chain(2)):
        await svc.run(wf)
    store = svc.store
    everything = store.rows(statuses=None, workflow_id=None, since=None, limit=None)
    assert len(everything) == 5
    times = sorted(row.created_at for row, _ in everything)
    threads = {row.id: [tuple(t) for t in store.one(row.id)[1]] for row, _ in everything}

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        statuses=st.none() | st.lists(st.sampled_from(["completed", "failed", "running", "paused"]), unique=True),
        workflow_id=st.none() | st.sampled_from([everything[-1][0].workflow_id, "wf-other", "wf-none"]),
        since=st.none() | st.sampled_from([times[0] - 1, times[1], times[3], times[-1] + 1]),
        limit=st.none() | st.integers(0, 6),
    )
    def check(statuses: list[str] | None, workflow_id: str | None, since: float | None, limit: int | None) -> None:
        got = store.rows(statuses=statuses, workflow_id=workflow_id, since=since, limit=limit)
        want = [
            row.id
            for row, _ in everything
            if (statuses is None or row.status in statuses)
            and (workflow_id is None or row.workflow_id == workflow_id)
            and (since is None or row.created_at >= since)
        ][:limit]
        assert [row.id for row, _ in got] == want
        assert all([tuple(t) for t in got_threads] == threads[row.id] for row, got_threads in got)

    check()
