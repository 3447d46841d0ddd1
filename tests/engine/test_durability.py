"""Crash and cross-process control: a real child process runs the workflow.

The child (`tests/engine/store/child.py`) is killed with SIGKILL at several
points, or paused/cancelled from this process through the database; `resume`
here finishes the run with the outputs of an uninterrupted run, and no node
whose finish was committed runs again (only the one in flight may).
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine import fileformat
from engine.model import Workflow
from engine.service import ExecutionService
from engine.store import schema as t
from tests.engine.store.fixtures import Db, db_fixture  # noqa: F401 - fixture
from tests.engine.store.workflows import comparable, steps, waits
from tests.engine.test_service import backoff_workflow, hanging_workflow, succeeded_counts
from tests.servers import Reply
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]


class Child:
    """One `python -m tests.engine.store.child` process."""

    def __init__(self, db: Db, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.engine.store.child", db.url, db.workspace, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.execution_id = self._read_exec()

    def _read_exec(self, timeout: float = 30.0) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith("EXEC "):
                    return line.split()[1]
                if not line and self.proc.poll() is not None:
                    break
        self.proc.kill()
        raise AssertionError(f"child did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)  # reap it: a zombie must still count as gone

    def wait(self, timeout: float = 20.0) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def children() -> Iterator[list[Child]]:
    made: list[Child] = []
    yield made
    for c in made:
        c.close()


def node_runs(svc: ExecutionService, execution_id: str, status: str | None = None) -> int:
    nr = t.node_runs
    q = sa.select(sa.func.count()).where(nr.c.execution_id == execution_id)
    if status is not None:
        q = q.where(nr.c.status == status)
    with svc.store.engine.connect() as conn:
        return int(conn.execute(q).scalar() or 0)


def save(wf: Workflow, tmp_path: Path) -> str:
    path = tmp_path / "wf.pe.json"
    fileformat.save(wf, path)
    return str(path)


def step_calls(http_server: Any, n: int) -> dict[int, int]:
    return {i: http_server.calls(f"/step/{i}") for i in range(1, n + 1)}


@pytest.mark.parametrize("kill_after", [1, 4, 8])
async def test_sigkill_then_resume_loses_nothing(db: Db, http_server: Any, tmp_path: Path, children: list[Child], kill_after: int) -> None:
    for i in range(1, 4):
        http_server.route(f"/step/{i}", Reply(json={"ok": i}))
    wf = steps(http_server.url_for, n=3, wait_s=0.05)
    mem = ExecutionService(in_memory=True)
    ref = await mem.run(wf)
    assert ref.status == "completed"
    base = step_calls(http_server, 3)
    # the child's last request waits until it is killed: on a busy machine the run could
    # otherwise finish between reaching `kill_after` rows and the kill
    http_server.route("/step/3", Reply(json={"ok": 3}, held=True))

    svc = db.service()
    try:
        child = Child(db, "run", save(wf, tmp_path))
        children.append(child)
        eid = child.execution_id
        await until(lambda: node_runs(svc, eid) >= kill_after)
        child.kill()
        http_server.route("/step/3", Reply(json={"ok": 3}))
        http_server.release_held()
        st_ = svc.status(eid)
        assert st_["status"] == "interrupted" and st_["resumable"] is True
        before = svc.record(eid)
        done = await (await svc.resume(eid)).task
        assert done.status == "completed"
        after = svc.record(eid)
        assert comparable(after.main.outputs) == comparable(ref.main.outputs)
        assert comparable(done.main.outputs) == comparable(ref.main.outputs)
        # every node succeeded exactly once in the stored history
        assert succeeded_counts(after) == succeeded_counts(ref)
        # nodes whose finish was committed before the kill were not run again
        for node, n in succeeded_counts(before).items():
            assert n == succeeded_counts(after)[node], node
        in_flight = (st_["in_flight"] or {}).get("node_id")
        calls = {i: c - base[i] for i, c in step_calls(http_server, 3).items()}
        for i, c in calls.items():
            assert c == 1 or (c == 2 and in_flight == f"p{i}"), (calls, in_flight)
    finally:
        svc.close()


def _merge_and_loop_of_requests(url_for: Any) -> Workflow:
    """start -> a -> (m, each); each's body POSTs its item; each.done -> done -> m -> end.
    Between `a`'s finish and each request starting, the run moves on without a node ending:
    a merge arrival, the loop's first entry and ticks."""
    from tests.engine.runtime.helpers import workflow

    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {"a": 1}}},
            {"id": "each", "type": "loop", "config": {"items": "{{ [1, 2, 3] }}"}},
            {"id": "post", "type": "http_request", "config": {"method": "POST", "url": url_for("/item"), "json": "{{ loop.item }}"}, "retry": "none"},
            {"id": "done", "type": "set", "config": {"values": {"bodies": "{{ [r.body for r in input] }}"}, "keep_input": False}},
            {"id": "m", "type": "merge", "config": {}},
            {"id": "end", "type": "set", "config": {"values": {"all": "{{ input }}"}}},
        ],
        [
            ("start", "out", "a"),
            ("a", "out", "m"),
            ("a", "out", "each"),
            ("each", "loop", "post"),
            ("post", "out", "each"),
            ("each", "done", "done"),
            ("done", "out", "m"),
            ("m", "out", "end"),
        ],
    )


async def test_sigkill_mid_loop_after_a_merge_arrival_resumes_from_the_state_the_commit_read(db: Db, http_server: Any, tmp_path: Path, children: list[Child]) -> None:
    """The commit made as the first request starts reads the thread's state then (the
    merge arrival, the loop's entry and first tick), with the request's frame back on the
    stack: the resumed run re-sends only that request and ends as an uninterrupted run does."""
    http_server.route("/item", Reply(json={"ok": True}))
    wf = _merge_and_loop_of_requests(http_server.url_for)
    ref = await ExecutionService(in_memory=True).run(wf)
    assert ref.status == "completed", ref.error
    base = http_server.calls("/item")
    http_server.route("/item", Reply(hang=True), Reply(json={"ok": True}))
    svc = db.service()
    try:
        child = Child(db, "run", save(wf, tmp_path))
        children.append(child)
        await asyncio.to_thread(http_server.wait_for_requests, base + 1, 20.0, "/item")
        child.kill()
        st_ = svc.status(child.execution_id)
        assert st_["status"] == "interrupted"
        assert st_["in_flight"] == {"node_id": "post", "side_effects": True, "thread_id": "main"}
        stored = svc.record(child.execution_id).main
        assert stored.stack[-1].node_id == "post" and stored.stack[-1].value == 1
        assert list(stored.waiting) == ["m"] and stored.loops["each"].index == 0 and stored.loops["each"].results == []
        done = await (await svc.resume(child.execution_id)).task
        assert done.status == "completed", done.error
        assert done.main.outputs["end"] == ref.main.outputs["end"] == {"all": [{"a": 1}, {"bodies": [{"ok": True}] * 3}]}
        assert list(done.main.outputs) == list(ref.main.outputs)
        assert http_server.calls("/item") - base == 4  # item 1 sent again, once
        attempts = svc.record(child.execution_id).main.attempts
        assert [a["status"] for a in attempts["post"]] == ["interrupted", "succeeded", "succeeded", "succeeded"]
        assert succeeded_counts(svc.record(child.execution_id)) == succeeded_counts(ref)
    finally:
        svc.close()


async def test_sigkill_during_a_side_effect_request_reruns_only_that_node(db: Db, http_server: Any, tmp_path: Path, children: list[Child]) -> None:
    http_server.route("/step/1", Reply(json={"ok": 1}))
    http_server.route("/step/2", Reply(hang=True), Reply(json={"ok": 2}))
    wf = steps(http_server.url_for, n=2, wait_s=0.0)
    svc = db.service()
    try:
        child = Child(db, "run", save(wf, tmp_path))
        children.append(child)
        await asyncio.to_thread(http_server.wait_for_requests, 1, 20.0, "/step/2")
        child.kill()
        st_ = svc.status(child.execution_id)
        assert st_["status"] == "interrupted"
        assert st_["in_flight"] == {"node_id": "p2", "side_effects": True, "thread_id": "main"}
        assert svc.recover() == [child.execution_id]
        done = await (await svc.resume(child.execution_id)).task
        assert done.status == "completed"
        assert done.main.outputs["end"] == {"body": {"ok": 2}}
        assert step_calls(http_server, 2) == {1: 1, 2: 2}
        attempts = svc.record(child.execution_id).main.attempts
        assert [a["status"] for a in attempts["p2"]] == ["interrupted", "succeeded"]
        assert [a["status"] for a in attempts["p1"]] == ["succeeded"]
    finally:
        svc.close()


async def test_pause_from_another_process_then_resume_here(db: Db, tmp_path: Path, children: list[Child]) -> None:
    svc = db.service()
    try:
        child = Child(db, "run", save(waits(30, 0.05), tmp_path))
        children.append(child)
        await until(lambda: node_runs(svc, child.execution_id) >= 3)
        svc.pause(child.execution_id)
        assert await asyncio.to_thread(child.wait) == 4  # the CLI's "paused" exit code
        st_ = svc.status(child.execution_id)
        assert st_["status"] == "paused" and st_["resumable"]
        done = await (await svc.resume(child.execution_id)).task
        assert done.status == "completed"
        assert succeeded_counts(svc.record(child.execution_id)) == {"start": 1, **{f"w{i}": 1 for i in range(1, 31)}}
    finally:
        svc.close()


@pytest.mark.parametrize("where", ["backoff", "hanging"])
async def test_cancel_from_another_process_stops_in_flight(db: Db, http_server: Any, tmp_path: Path, children: list[Child], where: str) -> None:
    http_server.route("/down", Reply(503))
    wf = backoff_workflow(http_server.url_for("/down")) if where == "backoff" else hanging_workflow(http_server.url_for("/hang"))
    svc = db.service()
    try:
        child = Child(db, "run", save(wf, tmp_path))
        children.append(child)
        eid = child.execution_id
        if where == "backoff":
            await until(lambda: node_runs(svc, eid, "failed") >= 1)
        else:
            await asyncio.to_thread(http_server.wait_for_requests, 1, 20.0, "/hang")
        svc.cancel(eid)
        # cut short in flight: the backoff (30 s) or the request (60 s) would outlast this bound
        await until(lambda: svc.status(eid)["status"] == "cancelled", timeout=10)
        assert await asyncio.to_thread(child.wait) == 3  # the CLI's "cancelled" exit code
    finally:
        svc.close()
