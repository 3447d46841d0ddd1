"""Time travel: the steps of a stored run in order, and its memory rebuilt after any step,
checked against the memory the live run really had at that moment."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from engine import events as ev
from engine.runtime.record import MAIN_THREAD, RunRecord
from engine.service import ExecutionService
from engine.travel import History, StepOutOfRange
from tests.engine.runtime.helpers import Recorder, workflow
from tests.engine.store.workflows import mixed
from tests.servers import HttpTestServer, Reply


class LiveMemory:
    """Snapshots of the main thread's memory right after each node attempt ends."""

    def __init__(self, hooks: ev.LifecycleHooks) -> None:
        self.snapshots: list[dict[str, Any]] = []
        hooks.on(ev.NodeFinished, self._finished)
        hooks.on(ev.NodeRetrying, self._finished)

    def _finished(self, e: Any, rec: RunRecord) -> None:
        th = rec.threads[MAIN_THREAD]
        if e.thread_id != MAIN_THREAD or getattr(e, "status", "failed") == "skipped":
            return
        self.snapshots.append(
            {
                "node_id": e.node_id,
                "outputs": json.loads(json.dumps(dict(th.outputs))),
                "node_status": {k: v for k, v in copy.deepcopy(dict(th.node_status)).items()},
            }
        )


async def test_steps_are_the_attempts_in_run_order_with_retries(svc: ExecutionService, http_server: HttpTestServer) -> None:
    http_server.fail_first("/flaky", 2, status=503, then=Reply(json={"ok": True}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"url": http_server.url_for("/flaky")},
             "retry": {"max_attempts": 3, "initial_delay_s": 0.001, "jitter": False}},
            {"id": "end", "type": "set", "config": {"values": {"ok": "{{ input.body.ok }}"}}},
        ],
        [("start", "out", "get"), ("get", "out", "end")],
    )
    rec = Recorder()
    run = await svc.run(wf, hooks=rec.hooks)
    steps = History(svc.store, svc.workflow_of).steps(run.execution_id)
    started = [(e.node_id, e.attempt) for e in rec.events if isinstance(e, ev.NodeStarted)]
    assert [(s.node_id, s.attempt) for s in steps] == started
    assert [s.status for s in steps] == ["succeeded", "failed", "failed", "succeeded", "succeeded"]
    assert [s.index for s in steps] == list(range(5))
    assert all(s.thread_id == MAIN_THREAD for s in steps)


async def test_state_after_every_step_matches_the_live_memory(svc: ExecutionService) -> None:
    hooks = ev.LifecycleHooks()
    live = LiveMemory(hooks)
    run = await svc.run(mixed(), hooks=hooks)
    history = History(svc.store, svc.workflow_of)
    steps = history.steps(run.execution_id)
    by_node: dict[str, list[int]] = {}
    for s in steps:
        by_node.setdefault(s.node_id, []).append(s.index)
    seen: dict[str, int] = {}
    checked = 0
    for snap in live.snapshots:
        node = snap["node_id"]
        n = seen.get(node, 0)
        seen[node] = n + 1
        if node == "each":
            continue  # the loop's NodeFinished comes when it is done, long after its attempt
        k = by_node[node][n]
        state = history.state_at(run.execution_id, k)
        assert state["step"]["node_id"] == node
        # a loop's `done` list is written between the body's last step and the next one:
        # it belongs to the state after that last body step, before the live event saw it
        outputs = {n_: v for n_, v in state["outputs"].items() if n_ != "each"}
        assert outputs == {n_: v for n_, v in snap["outputs"].items() if n_ != "each"}, f"outputs after step {k} ({node})"
        status = dict(state["node_status"])
        if k > by_node["each"][0]:
            assert status.pop("each") == ("succeeded" if "each" in state["outputs"] else "running")
        # the live run marks a merge's descendants skipped for a moment when one of its
        # inputs is not taken, then runs them: only a skip that lasts is history
        live_status = {
            n_: s for n_, s in snap["node_status"].items() if n_ != "each" and not (s == "skipped" and n_ in by_node)
        }
        assert status == live_status, f"node status after step {k} ({node})"
        checked += 1
    assert checked >= 10


async def test_the_stack_holds_the_frames_pushed_but_not_run(svc: ExecutionService) -> None:
    """start fans out to a and b; after `start` both wait, after `a` only b and a's child."""
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {"x": 1}}},
            {"id": "a2", "type": "set", "config": {"values": {"x": 2}}},
            {"id": "b", "type": "set", "config": {"values": {"y": 1}}},
        ],
        [("start", "out", "a"), ("start", "out", "b"), ("a", "out", "a2")],
    )
    run = await svc.run(wf)
    history = History(svc.store, svc.workflow_of)
    order = [s.node_id for s in history.steps(run.execution_id)]
    assert order == ["start", "a", "a2", "b"]
    stacks = [[f["node_id"] for f in history.state_at(run.execution_id, k)["stack"]] for k in range(4)]
    assert stacks == [["a", "b"], ["a2", "b"], ["b"], []]
    counts = [history.state_at(run.execution_id, k)["edge_counts"] for k in range(4)]
    assert counts[0] == {"0": 1, "1": 1}
    assert counts[1] == {"0": 1, "1": 1, "2": 1}


async def test_a_loop_hands_out_one_item_at_a_time(svc: ExecutionService) -> None:
    run = await svc.run(mixed())
    history = History(svc.store, svc.workflow_of)
    steps = history.steps(run.execution_id)
    first_body = next(s.index for s in steps if s.node_id == "body")
    pending = [f["node_id"] for f in history.state_at(run.execution_id, first_body)["stack"]]
    assert pending.count("body") == 0  # the next item comes from the loop after `w`
    assert "w" in pending
    assert history.state_at(run.execution_id, first_body)["node_status"]["each"] == "running"


async def test_steps_out_of_range_are_refused_clearly(svc: ExecutionService) -> None:
    run = await svc.run(mixed())
    history = History(svc.store, svc.workflow_of)
    n = len(history.steps(run.execution_id))
    assert history.state_at(run.execution_id, -1)["index"] == n - 1
    with pytest.raises(StepOutOfRange, match=f"steps 0..{n - 1}; there is no step {n}"):
        history.state_at(run.execution_id, n)


from tests.engine.store.fixtures import db_fixture, svc_fixture  # noqa: E402,F401


async def test_a_record_at_a_step_is_the_run_as_it_was_then(svc: ExecutionService, http_server: HttpTestServer) -> None:
    http_server.fail_first("/flaky", 1, status=503, then=Reply(json={"ok": True}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"url": http_server.url_for("/flaky")},
             "retry": {"max_attempts": 2, "initial_delay_s": 0.001, "jitter": False}},
            {"id": "end", "type": "set", "config": {"values": {"ok": "{{ input.body.ok }}"}}},
        ],
        [("start", "out", "get"), ("get", "out", "end")],
    )
    run = await svc.run(wf)
    history = History(svc.store, svc.workflow_of)
    first_try = history.record_at(run.execution_id, 1)  # get's failed first attempt
    assert first_try.status == "running" and first_try.stopped_at is None
    main = first_try.main
    assert [a["status"] for a in main.attempts["get"]] == ["failed"]
    assert main.attempts["get"][0]["error"]["message"]
    assert "get" not in main.outputs and "end" not in main.node_status
    assert main.node_status["get"] == "retrying" and main.stack == []  # in its back-off, as live
    final = history.record_at(run.execution_id, -1)
    assert final.status == "completed" and final.main.outputs["end"] == {"ok": True}
    assert [a["status"] for a in final.main.attempts["get"]] == ["failed", "succeeded"]
