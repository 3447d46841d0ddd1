"""ExecutionService: run, wait, status, pause/resume/cancel in-process, across threads and via the DB."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import events as ev
from engine.service import ExecutionNotFound, ExecutionService, InvalidExecutionState
from tests.engine.runtime.helpers import chain, workflow
from tests.engine.store.fixtures import Db, db_fixture, svc_fixture  # noqa: F401 - fixtures
from tests.engine.store.workflows import mixed, waits
from tests.servers import Reply


def succeeded_counts(rec: Any) -> dict[str, int]:
    return {n: sum(a["status"] == "succeeded" for a in lst) for n, lst in rec.main.attempts.items()}


async def test_execute_wait_status(svc: ExecutionService) -> None:
    eid = await svc.execute(chain(3))
    rec = await svc.wait(eid)
    assert rec.status == "completed" and rec.main.outputs["s3"] == {"i": 3}
    st_ = svc.status(eid)
    assert st_["status"] == "completed" and st_["progress"]["percent"] == 100.0
    assert st_["timing"]["duration_ms"] >= 0
    # wait() on a finished run reads it back from the store
    assert (await svc.wait(eid)).to_json() == rec.to_json()


async def test_pause_then_resume_gives_the_uninterrupted_outputs(svc: ExecutionService) -> None:
    ref = await svc.run(mixed())
    hooks = ev.LifecycleHooks()
    handle_box: dict[str, Any] = {}
    hooks.on(ev.NodeFinished, lambda e, r: handle_box["h"].control.pause() if e.node_id == "w" else None)
    handle = await svc.start(mixed(), hooks=hooks)
    handle_box["h"] = handle
    paused = await handle.task
    assert paused.status == "paused"
    st_ = svc.status(handle.execution_id)
    assert st_["status"] == "paused" and st_["resumable"] is True
    seen: list[str] = []
    hooks2 = ev.LifecycleHooks()
    hooks2.on_any(lambda e, r: seen.append(type(e).__name__))
    done = await (await svc.resume(handle.execution_id, hooks=hooks2)).task
    assert done.status == "completed"
    assert seen[0] == "ExecutionResumed" and seen[-1] == "ExecutionCompleted"
    assert done.main.outputs == ref.main.outputs
    assert succeeded_counts(done) == succeeded_counts(ref)
    assert svc.record(handle.execution_id).to_json() == done.to_json()


async def test_pause_and_cancel_from_another_thread(svc: ExecutionService) -> None:
    handle = await svc.start(waits(20, 0.05))
    threading.Timer(0.12, svc.pause, args=(handle.execution_id,)).start()
    rec = await asyncio.wait_for(handle.task, 10)
    assert rec.status == "paused"
    handle = await svc.resume(handle.execution_id)
    threading.Timer(0.12, svc.cancel, args=(handle.execution_id,)).start()
    rec = await asyncio.wait_for(handle.task, 10)
    assert rec.status == "cancelled"
    assert svc.status(handle.execution_id)["status"] == "cancelled"


def backoff_workflow(url: str) -> Any:
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"url": url}, "retry": {"max_attempts": 5, "initial_delay_s": 30, "jitter": False}},
        ],
        [("start", "out", "get")],
    )


def hanging_workflow(url: str) -> Any:
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "post", "type": "http_request", "config": {"method": "POST", "url": url, "json": {}, "timeout_s": 60}, "retry": "none"},
        ],
        [("start", "out", "post")],
    )


@pytest.mark.parametrize("where", ["backoff", "hanging"])
@pytest.mark.parametrize("via", ["this_process", "database"])
async def test_cancel_stops_in_flight(db: Db, http_server: Any, where: str, via: str) -> None:
    http_server.route("/down", Reply(503))
    wf = backoff_workflow(http_server.url_for("/down")) if where == "backoff" else hanging_workflow(http_server.url_for("/hang"))
    runner, other = db.service(), db.service()
    try:
        reached = asyncio.Event()
        hooks = ev.LifecycleHooks()
        hooks.on(ev.NodeRetrying, lambda e, r: reached.set())
        handle = await runner.start(wf, hooks=hooks)
        if where == "backoff":
            await asyncio.wait_for(reached.wait(), 10)
        else:
            await asyncio.to_thread(http_server.wait_for_requests, 1, 10.0, "/hang")
        (runner if via == "this_process" else other).cancel(handle.execution_id)
        # cut short in flight: the backoff (30 s) or the request (60 s) would outlast this bound
        rec = await asyncio.wait_for(handle.task, 10)
        assert rec.status == "cancelled"
        assert other.status(handle.execution_id)["status"] == "cancelled"
    finally:
        runner.close()
        other.close()


async def test_pause_through_the_database_and_resume_elsewhere(db: Db) -> None:
    runner, other = db.service(), db.service()
    try:
        underway = asyncio.Event()
        hooks = ev.LifecycleHooks()
        hooks.on(ev.NodeFinished, lambda e, r: underway.set() if e.node_id == "w3" else None)
        handle = await runner.start(waits(40, 0.02), hooks=hooks)
        await asyncio.wait_for(underway.wait(), 10)  # a few waits done: the pause lands mid-run
        other.pause(handle.execution_id)
        rec = await asyncio.wait_for(handle.task, 10)
        assert rec.status == "paused"
        assert other.status(handle.execution_id)["status"] == "paused"
        done = await (await other.resume(handle.execution_id)).task
        assert done.status == "completed"
        assert succeeded_counts(done) == {"start": 1, **{f"w{i}": 1 for i in range(1, 41)}}
    finally:
        runner.close()
        other.close()


async def test_cancelling_a_paused_run_is_done_in_the_database(db: Db) -> None:
    runner, other = db.service(), db.service()
    try:
        handle = await runner.start(waits(5, 0.05))
        runner.pause(handle.execution_id)
        assert (await handle.task).status == "paused"
        other.cancel(handle.execution_id)
        assert runner.status(handle.execution_id)["status"] == "cancelled"
        with pytest.raises(InvalidExecutionState):
            await runner.resume(handle.execution_id)
    finally:
        runner.close()
        other.close()


async def test_unknown_ids(svc: ExecutionService) -> None:
    with pytest.raises(ExecutionNotFound):
        await svc.resume("no-such-run")
    with pytest.raises(ExecutionNotFound):
        await svc.wait("no-such-run")
    with pytest.raises(KeyError):
        svc.pause("no-such-run")


class Crash(BaseException):
    """Stands in for the process dying: nothing after it runs, nothing pending is flushed."""


def pause_points() -> Any:
    return st.lists(st.integers(min_value=1, max_value=22), min_size=1, max_size=3, unique=True).map(sorted)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(points=pause_points())
def test_pausing_at_random_points_gives_identical_outputs(db: Db, points: list[int]) -> None:
    async def scenario() -> None:
        svc = db.service()
        try:
            ref = await svc.run(mixed())
            count = 0
            handle: Any = None

            def maybe_pause(e: Any, r: Any) -> None:
                nonlocal count
                count += 1
                if count in points:
                    handle.control.pause()

            hooks = ev.LifecycleHooks()
            hooks.on(ev.NodeFinished, maybe_pause)
            handle = await svc.start(mixed(), hooks=hooks)
            rec = await handle.task
            while rec.status == "paused":
                assert svc.status(rec.execution_id)["resumable"]
                handle = await svc.resume(rec.execution_id, hooks=hooks)
                rec = await handle.task
            assert rec.status == "completed"
            assert rec.main.outputs == ref.main.outputs
            assert svc.record(rec.execution_id).main.outputs == ref.main.outputs
            assert succeeded_counts(rec) == succeeded_counts(ref)
        finally:
            svc.close()

    asyncio.run(scenario())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(point=st.integers(min_value=1, max_value=22))
def test_dying_at_a_random_point_then_resuming_gives_identical_outputs(db: Db, point: int) -> None:
    async def scenario() -> None:
        svc = db.service()
        try:
            ref = await svc.run(mixed())
            count = 0

            def die(e: Any, r: Any) -> None:
                nonlocal count
                count += 1
                if count == point:
                    raise Crash

            hooks = ev.LifecycleHooks()
            hooks.on(ev.NodeFinished, die)
            handle = await svc.start(mixed(), hooks=hooks)
            try:
                rec = await handle.task
            except Crash:
                st_ = svc.status(handle.execution_id)
                assert st_["status"] == "interrupted" and st_["resumable"]
                assert handle.execution_id in svc.recover()
                rec = await (await svc.resume(handle.execution_id)).task
            assert rec.status == "completed"
            back = svc.record(rec.execution_id)
            assert rec.main.outputs == ref.main.outputs == back.main.outputs
            # committed nodes never ran twice; lost (uncommitted) pure work left no rows
            assert succeeded_counts(back) == succeeded_counts(ref)
        finally:
            svc.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("point", [2, 4, 6])
async def test_dying_inside_a_sub_workflow_resumes_the_child_thread(db: Db, tmp_path: Any, point: int) -> None:
    from engine import fileformat

    child = workflow(
        [
            {"id": "cs", "type": "manual_trigger"},
            {"id": "c1", "type": "set", "config": {"values": {"v": "{{ input.v + 1 }}"}}},
            {"id": "cw", "type": "wait", "config": {"seconds": 0}},
            {"id": "c2", "type": "set", "config": {"values": {"v": "{{ input.v * 10 }}"}}},
        ],
        [("cs", "out", "c1"), ("c1", "out", "cw"), ("cw", "out", "c2")],
    )
    child.id = "child-wf"
    fileformat.save(child, tmp_path / "child.pe.json")
    parent = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {"v": 1}}},
            {"id": "call", "type": "sub_workflow", "config": {"file": "child.pe.json"}},
            {"id": "end", "type": "set", "config": {"values": {"got": "{{ input.v }}"}}},
        ],
        [("start", "out", "a"), ("a", "out", "call"), ("call", "out", "end")],
    )
    wf_file = str(tmp_path / "parent.pe.json")
    svc = db.service()
    try:
        ref = await svc.run(parent, workflow_file=wf_file)
        count = 0

        def die(e: Any, r: Any) -> None:
            nonlocal count
            count += 1
            if count == point:
                raise Crash

        hooks = ev.LifecycleHooks()
        hooks.on(ev.NodeFinished, die)
        handle = await svc.start(parent, hooks=hooks, workflow_file=wf_file)
        with pytest.raises(Crash):
            await handle.task
        assert svc.status(handle.execution_id)["status"] == "interrupted"
        done = await (await svc.resume(handle.execution_id)).task
        assert done.status == "completed" and done.main.outputs["end"] == {"got": 20}
        back = svc.record(handle.execution_id)
        assert back.main.outputs == ref.main.outputs
        children = [t for t in back.threads if t != "main"]
        assert len(children) == 1  # the same child thread went on, no second call
        th = back.threads[children[0]]
        assert th.outputs == ref.threads[next(t for t in ref.threads if t != "main")].outputs
        assert all(sum(a["status"] == "succeeded" for a in lst) == 1 for lst in th.attempts.values())
    finally:
        svc.close()


async def test_a_paused_wait_keeps_its_deadline_in_the_store(svc: ExecutionService, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deadline is stored, not the length: an hour-long wait paused as it starts,
    resumed when the clock says the hour is over, ends at once instead of waiting
    another hour (a wait that started over would outlast the test's bound)."""
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, {"id": "w", "type": "wait", "config": {"seconds": 3600}}],
        [("start", "out", "w")],
    )
    hooks = ev.LifecycleHooks()
    box: dict[str, Any] = {}
    hooks.on(ev.NodeStarted, lambda e, r: box["h"].control.pause() if e.node_id == "w" else None)
    handle = box["h"] = await svc.start(wf, hooks=hooks)
    assert (await asyncio.wait_for(handle.task, 20)).status == "paused"
    frame = svc.record(handle.execution_id).main.stack[-1]  # read back from the database
    assert frame.node_id == "w" and frame.state and frame.state["until"] > time.time() + 3000

    class AnHourLater:
        @staticmethod
        def time() -> float:
            return time.time() + 3601

    monkeypatch.setattr("engine.nodes.wait.time", AnHourLater)
    done = await asyncio.wait_for((await svc.resume(handle.execution_id)).task, 20)
    assert done.status == "completed"
