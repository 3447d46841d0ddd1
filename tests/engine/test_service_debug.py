"""The debugger through ExecutionService: pins, breakpoints, stepping, edits, run-to, re-runs, retry control.

Real SQLite files and the real PostgreSQL (the `db` fixture), the real local HTTP
server; no mocks. A "new service" on the same URL stands for another process.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engine import events as ev
from engine.errors import EngineError
from engine.model import Workflow
from engine.service import ExecutionService, InvalidExecutionState
from tests.engine.runtime.helpers import chain, parent_and_child, workflow
from tests.engine.store.fixtures import Db, db_fixture, svc_fixture  # noqa: F401 - fixtures
from tests.servers import Reply
from tests.waiting import until


def http_then_sets(url: str, *, pin: Any = None, retry: Any = "none") -> Workflow:
    """start -> get (HTTP) -> a -> b: the sets read the response body."""
    get: dict[str, Any] = {"id": "get", "type": "http_request", "config": {"url": url}, "retry": retry}
    if pin is not None:
        get["pin"] = pin
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            get,
            {"id": "a", "type": "set", "config": {"values": {"n": "{{ input.body.n + 1 }}"}}},
            {"id": "b", "type": "set", "config": {"values": {"n": "{{ input.n * 10 }}"}}},
        ],
        [("start", "out", "get"), ("get", "out", "a"), ("a", "out", "b")],
    )


def looping(n: int = 5) -> Workflow:
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "each", "type": "loop", "config": {"items": f"{{{{ [{', '.join(str(i) for i in range(n))}] }}}}"}},
            {"id": "body", "type": "set", "config": {"values": {"i": "{{ input }}"}}},
            {"id": "after", "type": "set", "config": {"values": {"all": "{{ input }}"}}},
        ],
        [("start", "out", "each"), ("each", "loop", "body"), ("body", "out", "each"), ("each", "done", "after")],
    )


async def run(svc: ExecutionService, wf: Workflow, **kw: Any) -> Any:
    return await (await svc.start(wf, **kw)).task


async def resume(svc: ExecutionService, eid: str, **kw: Any) -> Any:
    return await (await svc.resume(eid, **kw)).task


# -- pins ---------------------------------------------------------------------------------
async def test_a_pinned_http_node_makes_no_request(svc: ExecutionService, http_server: Any) -> None:
    http_server.route("/n", Reply(json={"n": 1}))
    wf = http_then_sets(http_server.url_for("/n"), pin={"status": 200, "body": {"n": 41}})
    rec = await run(svc, wf, pins=True)
    assert rec.status == "completed"
    assert http_server.calls("/n") == 0
    assert rec.main.outputs["b"] == {"n": 420}
    assert [a["status"] for a in svc.record(rec.execution_id).main.attempts["get"]] == ["pinned"]
    # production runs (the service default, as serve and the API use it) ignore pins
    rec = await run(svc, wf)
    assert http_server.calls("/n") == 1 and rec.main.outputs["b"] == {"n": 20}


async def test_pins_stay_on_or_off_after_a_resume(svc: ExecutionService, http_server: Any) -> None:
    http_server.route("/n", Reply(json={"n": 1}))
    wf = http_then_sets(http_server.url_for("/n"), pin={"status": 200, "body": {"n": 41}})
    paused = await run(svc, wf, pins=True, breakpoints=["get"])
    assert paused.status == "paused"
    done = await resume(svc, paused.execution_id)
    assert done.status == "completed" and http_server.calls("/n") == 0


# -- breakpoints ------------------------------------------------------------------------------
async def test_a_breakpoint_pauses_before_the_node_with_its_input(svc: ExecutionService) -> None:
    rec = await run(svc, chain(4), breakpoints=["s3"])
    assert rec.status == "paused"
    assert "s3" not in rec.main.attempts and rec.main.outputs["s2"] == {"i": 2}
    st = svc.status(rec.execution_id)
    assert st["paused_at"]["node_id"] == "s3" and st["paused_at"]["reason"] == "breakpoint"
    assert st["paused_at"]["input"] == {"i": 2}
    done = await resume(svc, rec.execution_id)
    assert done.status == "completed" and done.main.outputs["s4"] == {"i": 4}
    assert done.debug.breakpoints[0]["hits"] == 1
    assert svc.status(rec.execution_id)["paused_at"] is None


async def test_breakpoints_in_a_loop_hold_after_each_resume_and_across_services(db: Db) -> None:
    svc = db.service()
    rec = await run(svc, looping(5), breakpoints=["body:{{ input >= 2 }}"])
    inputs = []
    while rec.status == "paused":
        st = svc.status(rec.execution_id)
        inputs.append(st["paused_at"]["input"])
        assert st["paused_at"]["stack"][0]["loop"]["node_id"] == "each"
        svc.close()
        svc = db.service()  # another process picks the session up from the store
        rec = await resume(svc, rec.execution_id)
    assert rec.status == "completed"
    assert inputs == [2, 3, 4]
    assert rec.main.outputs["after"] == {"all": [{"i": i} for i in range(5)]}
    assert svc.record(rec.execution_id).debug.breakpoints[0]["hits"] == 3
    svc.close()


async def test_clear_breaks_and_adding_breakpoints_on_resume(svc: ExecutionService) -> None:
    rec = await run(svc, chain(5), breakpoints=["s2"])
    rec = await resume(svc, rec.execution_id, breakpoints=["s4"])
    assert svc.status(rec.execution_id)["paused_at"]["node_id"] == "s4"
    rec = await run(svc, chain(5), breakpoints=["s2", "s4"])
    rec = await resume(svc, rec.execution_id, clear_breaks=True)
    assert rec.status == "completed"
    # replacing them (what the studio does on every resume) keeps the hit counts
    rec = await run(svc, looping(3), breakpoints=["body"])
    rec = await resume(svc, rec.execution_id, clear_breaks=True, breakpoints=["body", "after"])
    assert {b["node_id"]: b["hits"] for b in svc.record(rec.execution_id).debug.breakpoints} == {"body": 2, "after": 0}


async def test_a_breakpoint_inside_a_sub_workflow_pauses_the_child_thread(svc: ExecutionService, tmp_path: Path) -> None:
    parent = parent_and_child(tmp_path)
    rec = await run(svc, parent, breakpoints=["double"], workflow_file=str(tmp_path / "parent.pe.json"))
    assert rec.status == "paused"
    at = svc.status(rec.execution_id)["paused_at"]
    assert at["node_id"] == "double" and at["input"] == {"n": 21}
    assert at["thread_id"].startswith("main/call#")
    assert [f["node_id"] for f in at["stack"]] == ["double", "call"]
    rec = await resume(svc, rec.execution_id, set_input={"n": 50})
    assert rec.status == "completed" and rec.main.outputs["after"] == {"r": 100}


async def test_a_bad_breakpoint_is_refused_with_the_node_named(svc: ExecutionService) -> None:
    with pytest.raises(EngineError, match="no node 'nope'"):
        await svc.start(chain(2), breakpoints=["nope"])
    with pytest.raises(EngineError, match="s1"):
        await svc.start(chain(2), breakpoints=["s1:{{ input. }}"])


# -- stepping ------------------------------------------------------------------------------------
async def test_step_runs_exactly_one_node_per_resume(svc: ExecutionService) -> None:
    rec = await run(svc, chain(4), breakpoints=["s1"])
    order = []
    while rec.status == "paused":
        order.append(svc.status(rec.execution_id)["paused_at"]["node_id"])
        before = sum(len(v) for v in svc.record(rec.execution_id).main.attempts.values())
        rec = await resume(svc, rec.execution_id, step=True)
        after = sum(len(v) for v in rec.main.attempts.values())
        assert after - before == 1
        if rec.status == "paused":
            assert svc.status(rec.execution_id)["paused_at"]["reason"] == "step"
    assert order == ["s1", "s2", "s3", "s4"]
    assert rec.status == "completed" and rec.main.outputs["s4"] == {"i": 4}


async def test_step_into_a_loop_body(svc: ExecutionService) -> None:
    rec = await run(svc, looping(2), step=True)
    seen = []
    while rec.status == "paused":
        seen.append(svc.status(rec.execution_id)["paused_at"]["node_id"])
        rec = await resume(svc, rec.execution_id, step=True)
    assert seen == ["each", "body", "body", "after"]


async def test_step_into_a_sub_workflow_and_out_again(svc: ExecutionService, tmp_path: Path) -> None:
    parent = parent_and_child(tmp_path)
    rec = await run(svc, parent, breakpoints=["call"], workflow_file=str(tmp_path / "parent.pe.json"))
    seen = []
    while rec.status == "paused":
        at = svc.status(rec.execution_id)["paused_at"]
        seen.append((at["thread_id"].split("#")[0], at["node_id"]))
        rec = await resume(svc, rec.execution_id, step=True)
    assert seen == [("main", "call"), ("main/call", "in"), ("main/call", "double"), ("main", "after")]
    assert rec.main.outputs["after"] == {"r": 42}


# -- editing while paused ------------------------------------------------------------------------
async def test_editing_the_pending_input_and_a_variable_is_applied_and_recorded(db: Db) -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {"x": 1}}},
            {"id": "b", "type": "set", "config": {"values": {"y": "{{ input.x + vars.k }}"}}},
        ],
        [("start", "out", "a"), ("a", "out", "b")],
        variables={"k": 1},
    )
    svc = db.service()
    rec = await run(svc, wf, breakpoints=["b"])
    svc.close()
    svc = db.service()
    rec = await resume(svc, rec.execution_id, set_input={"x": 100}, variables={"k": 5})
    assert rec.main.outputs["b"] == {"y": 105}
    edits = svc.record(rec.execution_id).debug.edits
    assert [(e["kind"], e.get("key"), e.get("node_id"), e["value"]) for e in edits] == [("var", "k", None, 5), ("input", None, "b", {"x": 100})]
    assert edits[1]["old"] == {"x": 1}
    svc.close()


async def test_set_input_needs_a_pending_node(svc: ExecutionService) -> None:
    rec = await run(svc, chain(2))
    assert rec.status == "completed"
    with pytest.raises(InvalidExecutionState):
        await svc.resume(rec.execution_id, set_input=1)


# -- run to a node -----------------------------------------------------------------------------------
async def test_to_runs_only_the_ancestors_and_the_node_then_pauses(svc: ExecutionService) -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "left", "type": "set", "config": {"values": {"l": 1}}},
            {"id": "right", "type": "set", "config": {"values": {"r": 1}}},
            {"id": "target", "type": "set", "config": {"values": {"t": "{{ input.l }}"}}},
            {"id": "after", "type": "set", "config": {"values": {"done": True}}},
        ],
        [("start", "out", "right"), ("start", "out", "left"), ("left", "out", "target"), ("target", "out", "after")],
    )
    rec = await run(svc, wf, to="target")
    assert rec.status == "paused"
    assert set(rec.main.attempts) == {"start", "left", "target"}
    assert svc.status(rec.execution_id)["paused_at"]["reason"] == "to"
    rec = await resume(svc, rec.execution_id)
    assert rec.status == "completed" and set(rec.main.attempts) == {"start", "left", "right", "target", "after"}


# -- re-run from a node --------------------------------------------------------------------------------
async def test_rerun_from_a_node_after_an_http_node_makes_no_request(db: Db, http_server: Any) -> None:
    http_server.route("/n", Reply(json={"n": 1}))
    wf = http_then_sets(http_server.url_for("/n"))
    svc = db.service()
    src = await run(svc, wf)
    assert src.main.outputs["b"] == {"n": 20} and http_server.calls("/n") == 1
    svc.close()
    svc = db.service()
    again = await (await svc.rerun(src.execution_id, from_node="a")).task
    assert again.status == "completed" and http_server.calls("/n") == 1
    assert again.main.outputs["b"] == {"n": 20}
    st = svc.status(again.execution_id)
    assert st["rerun_of"] == src.execution_id and st["progress"]["completed"] == 4
    assert again.main.edge_counts == src.main.edge_counts  # edges out of reused nodes keep their counts
    stored = svc.record(again.execution_id)
    assert [a["status"] for a in stored.main.attempts["get"]] == ["reused"]
    assert [a["status"] for a in stored.main.attempts["start"]] == ["reused"]
    assert [a["status"] for a in stored.main.attempts["a"]] == ["succeeded"]
    svc.close()


async def test_rerun_with_an_edited_workflow_and_execute_one_node(svc: ExecutionService, http_server: Any) -> None:
    http_server.route("/n", Reply(json={"n": 1}))
    wf = http_then_sets(http_server.url_for("/n"))
    src = await run(svc, wf)
    edited = http_then_sets(http_server.url_for("/n"))
    edited.get("b").config = {"values": {"n": "{{ input.n * 100 }}"}}
    rec = await (await svc.rerun(src.execution_id, from_node="b", workflow=edited)).task
    assert rec.main.outputs["b"] == {"n": 200} and http_server.calls("/n") == 1
    one = await (await svc.rerun(src.execution_id, to_node="a")).task
    assert one.status == "paused" and svc.status(one.execution_id)["paused_at"]["node_id"] == "b"
    assert [a["status"] for a in one.main.attempts["a"]] == ["succeeded"] and "b" not in one.main.attempts
    assert one.main.outputs["a"] == {"n": 2}


async def test_rerun_fills_a_merge_with_its_reused_inputs(svc: ExecutionService) -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "x", "type": "set", "config": {"values": {"x": 1}}},
            {"id": "y", "type": "set", "config": {"values": {"y": 2}}},
            {"id": "m", "type": "merge", "config": {}},
        ],
        [("start", "out", "x"), ("start", "out", "y"), ("x", "out", "m"), ("y", "out", "m")],
    )
    src = await run(svc, wf)
    rec = await (await svc.rerun(src.execution_id, from_node="y")).task
    assert rec.main.outputs["m"] == [{"x": 1}, {"y": 2}]


async def test_rerun_refuses_a_node_that_never_ran(svc: ExecutionService) -> None:
    rec = await run(svc, chain(3), to="s1")
    with pytest.raises(EngineError, match="did not run"):
        await svc.rerun(rec.execution_id, from_node="s3")


# -- retry control -------------------------------------------------------------------------------------
def flaky(url: str, on_error: str = "fail") -> Workflow:
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"url": url}, "on_error": on_error,
             "retry": {"max_attempts": 5, "initial_delay_s": 60, "jitter": False}},
        ],
        [("start", "out", "get")],
    )


@pytest.mark.parametrize("via", ["this_process", "database"])
async def test_retry_now_ends_the_back_off_and_is_recorded(db: Db, http_server: Any, via: str) -> None:
    http_server.fail_first("/flaky", 1)
    svc = db.service()
    retrying = asyncio.Event()
    hooks = ev.LifecycleHooks()
    hooks.on(ev.NodeRetrying, lambda e, r: retrying.set())
    handle = await svc.start(flaky(http_server.url_for("/flaky")), hooks=hooks)
    await asyncio.wait_for(retrying.wait(), 10)
    other = db.service() if via == "database" else svc
    if via == "database":
        # the failed attempt reaches the database with its group commit
        await until(lambda: other.store.retrying_node(handle.execution_id), what="the failed attempt stored")
    other.retry_now(handle.execution_id)
    rec = await asyncio.wait_for(handle.task, 20)
    assert rec.status == "completed"
    assert [a["status"] for a in svc.record(handle.execution_id).main.attempts["get"]] == ["failed", "retry_now", "succeeded"]
    if other is not svc:
        other.close()
    svc.close()


async def test_give_up_applies_on_error_to_the_last_error(svc: ExecutionService, http_server: Any) -> None:
    http_server.route("/down", Reply(503))
    retrying = asyncio.Event()
    hooks = ev.LifecycleHooks()
    hooks.on(ev.NodeRetrying, lambda e, r: retrying.set())
    handle = await svc.start(flaky(http_server.url_for("/down"), on_error="route"), hooks=hooks)
    await asyncio.wait_for(retrying.wait(), 10)
    svc.give_up(handle.execution_id)
    rec = await asyncio.wait_for(handle.task, 20)
    assert rec.status == "completed" and http_server.calls("/down") == 1
    assert rec.main.outputs["get"]["status"] == 503
    assert [a["status"] for a in rec.main.attempts["get"]] == ["failed", "give_up"]
    with pytest.raises(InvalidExecutionState):
        svc.retry_now(handle.execution_id)


# -- pause, cancel and crashes ------------------------------------------------------------------
async def test_a_requested_pause_says_where_it_stopped(svc: ExecutionService) -> None:
    hooks = ev.LifecycleHooks()
    box: dict[str, Any] = {}
    hooks.on(ev.NodeFinished, lambda e, r: box["h"].control.pause() if e.node_id == "s2" else None)
    handle = await svc.start(chain(4), hooks=hooks)
    box["h"] = handle
    rec = await handle.task
    at = svc.status(rec.execution_id)["paused_at"]
    assert at["reason"] == "request" and at["node_id"] == "s3" and at["input"] == {"i": 2}


async def test_cancel_a_run_paused_at_a_breakpoint(svc: ExecutionService) -> None:
    rec = await run(svc, chain(3), breakpoints=["s2"])
    svc.cancel(rec.execution_id)
    assert svc.status(rec.execution_id)["status"] == "cancelled"


async def test_in_memory_service_reruns_and_keeps_breakpoints_of_a_stopped_run() -> None:
    svc = ExecutionService(in_memory=True)
    src = await run(svc, chain(3))
    again = await (await svc.rerun(src.execution_id, from_node="s2")).task
    assert again.main.outputs["s3"] == {"i": 3} and [a["status"] for a in again.main.attempts["s1"]] == ["reused"]
    paused = await run(svc, chain(3), breakpoints=["s1"])
    svc.set_breakpoints(paused.execution_id, ["s3"])
    rec = await resume(svc, paused.execution_id)
    assert svc.status(rec.execution_id)["paused_at"]["node_id"] == "s3"


async def test_breakpoints_set_on_a_paused_run_are_stored(db: Db) -> None:
    svc = db.service()
    rec = await run(svc, chain(4), breakpoints=["s1"])
    svc.set_breakpoints(rec.execution_id, [{"node_id": "s3", "condition": "{{ input.i == 2 }}", "enabled": True}])
    svc.close()
    svc = db.service()
    rec = await resume(svc, rec.execution_id)
    assert svc.status(rec.execution_id)["paused_at"]["node_id"] == "s3"
    assert [b["node_id"] for b in svc.record(rec.execution_id).debug.breakpoints] == ["s3"]
    svc.close()


async def test_a_rerun_and_a_pin_read_back_through_time_travel(db: Db) -> None:
    from engine.travel import History

    svc = db.service()
    wf = chain(3)
    wf.get("s1").pin = {"i": 10}
    src = await run(svc, wf, pins=True)
    again = await (await svc.rerun(src.execution_id, from_node="s3")).task
    history = History(svc.store, svc.workflow_of)
    steps = history.steps(again.execution_id)
    assert [(s.node_id, s.status) for s in steps] == [("start", "reused"), ("s1", "reused"), ("s2", "reused"), ("s3", "succeeded")]
    outputs = history.step_outputs(again.execution_id)
    assert outputs[1] == {"i": 10} and outputs[3] == {"i": 12}
    assert history.state_at(again.execution_id, 2)["outputs"]["s2"] == {"i": 11}
    src_steps = history.steps(src.execution_id)
    assert [s.status for s in src_steps if s.node_id == "s1"] == ["pinned"]
    svc.close()


async def test_a_replay_from_the_trigger_reads_the_source_run_once(svc: ExecutionService, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rerun --replay` without a node starts at the trigger: the source record (every output
    and attempt of the run) is rebuilt from the store once, not once for the trigger and again."""
    source = (await svc.run(chain(3))).execution_id
    loads: list[str] = []
    load = svc.store.load_record

    def counted(execution_id: str, *args: Any, **kwargs: Any) -> Any:
        loads.append(execution_id)
        return load(execution_id, *args, **kwargs)

    monkeypatch.setattr(svc.store, "load_record", counted)
    handle = await svc.rerun(source, replay={})
    assert loads == [source]
    assert (await handle.task).status == "completed"
