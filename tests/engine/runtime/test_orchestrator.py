"""The stack-based orchestrator: outputs, order, events, branches, loops, merges, errors."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest

from engine import events as ev
from engine.model import Workflow
from engine.runtime.record import RunRecord
from engine.runtime.runner import run_workflow
from tests.engine.runtime.helpers import Recorder, chain, parent_and_child, workflow
from tests.servers import Reply
from tests.waiting import until


async def test_linear_chain_outputs_and_order() -> None:
    wf = chain(5)
    rec = Recorder()
    run = await run_workflow(wf, hooks=rec.hooks)
    assert run.status == "completed"
    assert rec.started_order() == ["start", "s1", "s2", "s3", "s4", "s5"]
    assert run.main.outputs["s5"] == {"i": 5}
    assert run.main.progress() == {"total": 6, "completed": 6, "failed": 0, "skipped": 0, "percent": 100.0}


async def test_ten_thousand_node_chain_runs_without_recursion() -> None:
    run = await run_workflow(chain(10_000))
    assert run.status == "completed"
    assert run.main.outputs["s10000"] == {"i": 10_000}


async def test_fan_out_runs_branches_depth_first_in_connection_order() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {"x": "a"}}},
            {"id": "a2", "type": "set", "config": {"values": {"x": "{{ input.x }}2"}}},
            {"id": "b", "type": "set", "config": {"values": {"x": "b"}}},
        ],
        [("start", "out", "a"), ("start", "out", "b"), ("a", "out", "a2")],
    )
    rec = Recorder()
    run = await run_workflow(wf, hooks=rec.hooks)
    assert rec.started_order() == ["start", "a", "a2", "b"]
    assert run.main.outputs["a2"] == {"x": "a2"}
    assert run.main.edge_counts == {0: 1, 1: 1, 2: 1}


async def test_merge_waits_for_all_and_orders_by_connection_order() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {"v": 1}}},
            {"id": "b", "type": "set", "config": {"values": {"v": 2}}},
            {"id": "m", "type": "merge", "config": {"mode": "wait_all"}},
        ],
        # b -> m is listed before a -> m: the merge output follows that order
        [("start", "out", "a"), ("start", "out", "b"), ("b", "out", "m"), ("a", "out", "m")],
    )
    rec = Recorder()
    run = await run_workflow(wf, hooks=rec.hooks)
    assert run.main.outputs["m"] == [{"v": 2}, {"v": 1}]
    assert rec.started_order().count("m") == 1


async def test_merge_after_untaken_branch_fires_with_what_arrived() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "check", "type": "if", "config": {"condition": "{{ vars.flag }}"}},
            {"id": "yes", "type": "set", "config": {"values": {"branch": "yes"}}},
            {"id": "no", "type": "set", "config": {"values": {"branch": "no"}}},
            {"id": "m", "type": "merge", "config": {"mode": "wait_all"}},
        ],
        [("start", "out", "check"), ("check", "true", "yes"), ("check", "false", "no"), ("yes", "out", "m"), ("no", "out", "m")],
        variables={"flag": True},
    )
    run = await run_workflow(wf)
    assert run.status == "completed"
    assert run.main.outputs["m"] == [{"branch": "yes"}]
    assert run.main.node_status["no"] == "skipped"
    assert run.main.progress()["skipped"] == 1


async def test_if_branch_marks_untaken_side_skipped() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "check", "type": "if", "config": {"condition": "{{ vars.n > 2 }}"}},
            {"id": "big", "type": "set", "config": {"values": {"size": "big"}}},
            {"id": "small", "type": "set", "config": {"values": {"size": "small"}}},
            {"id": "after_small", "type": "set", "config": {"values": {}}},
        ],
        [("start", "out", "check"), ("check", "true", "big"), ("check", "false", "small"), ("small", "out", "after_small")],
        variables={"n": 1},
    )
    run = await run_workflow(wf, variables={"n": 1})
    assert run.main.outputs["small"] == {"size": "small"}
    assert "big" not in run.main.outputs
    assert run.main.node_status["big"] == "skipped"
    assert run.main.progress() == {"total": 5, "completed": 4, "failed": 0, "skipped": 1, "percent": 100.0}


async def test_switch_routes_to_first_matching_case_or_default() -> None:
    nodes = [
        {"id": "start", "type": "manual_trigger"},
        {"id": "sw", "type": "switch", "config": {"value": "{{ vars.p }}", "cases": {"hi": "high", "lo": "low"}}},
        {"id": "h", "type": "set", "config": {"values": {"r": "h"}}},
        {"id": "l", "type": "set", "config": {"values": {"r": "l"}}},
        {"id": "d", "type": "set", "config": {"values": {"r": "d"}}},
    ]
    conns = [("start", "out", "sw"), ("sw", "hi", "h"), ("sw", "lo", "l"), ("sw", "default", "d")]
    for p, ran in (("high", "h"), ("low", "l"), ("other", "d")):
        run = await run_workflow(workflow(nodes, conns), variables={"p": p})
        assert [k for k in ("h", "l", "d") if k in run.main.outputs] == [ran]


async def test_loop_runs_body_per_item_and_collects_done() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "each", "type": "loop", "config": {"items": "{{ vars.items }}"}},
            {"id": "body", "type": "set", "config": {"values": {"i": "{{ loop.index }}", "sq": "{{ loop.item * loop.item }}"}}},
            {"id": "after", "type": "set", "config": {"values": {"n": "{{ len(input) }}"}}},
        ],
        [("start", "out", "each"), ("each", "loop", "body"), ("body", "out", "each"), ("each", "done", "after")],
        variables={"items": [1, 2, 3]},
    )
    rec = Recorder()
    run = await run_workflow(wf, hooks=rec.hooks)
    assert run.status == "completed", run.error
    assert run.main.outputs["each"] == [{"i": 0, "sq": 1}, {"i": 1, "sq": 4}, {"i": 2, "sq": 9}]
    assert run.main.outputs["after"] == {"n": 3}
    assert rec.started_order() == ["start", "each", "body", "body", "body", "after"]
    assert run.main.loops == {} and run.main.loop_stack == []


async def test_nested_loops() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "outer", "type": "loop", "config": {"items": "{{ [[1, 2], [3]] }}"}},
            {"id": "inner", "type": "loop", "config": {"items": "{{ loop.item }}"}},
            {"id": "body", "type": "set", "config": {"values": {"v": "{{ loop.item * 10 }}"}}},
            {"id": "sum", "type": "set", "config": {"values": {"total": "{{ len(input) }}"}}},
        ],
        [
            ("start", "out", "outer"),
            ("outer", "loop", "inner"),
            ("inner", "loop", "body"),
            ("body", "out", "inner"),
            ("inner", "done", "sum"),
            ("sum", "out", "outer"),
        ],
    )
    run = await run_workflow(wf)
    assert run.status == "completed", run.error
    assert run.main.outputs["outer"] == [{"total": 2}, {"total": 1}]


async def test_loop_over_empty_list_goes_straight_to_done() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "each", "type": "loop", "config": {"items": []}},
            {"id": "body", "type": "set", "config": {"values": {}}},
            {"id": "after", "type": "set", "config": {"values": {"n": "{{ len(input) }}"}}},
        ],
        [("start", "out", "each"), ("each", "loop", "body"), ("body", "out", "each"), ("each", "done", "after")],
    )
    run = await run_workflow(wf)
    assert run.main.outputs["after"] == {"n": 0}
    assert run.main.node_status["body"] == "skipped"


async def test_loop_max_iterations_guard_fails_the_node() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "each", "type": "loop", "config": {"items": list(range(5)), "max_iterations": 3}},
            {"id": "body", "type": "set", "config": {"values": {}}},
        ],
        [("start", "out", "each"), ("each", "loop", "body"), ("body", "out", "each")],
    )
    run = await run_workflow(wf)
    assert run.status == "failed"
    assert run.error["node_id"] == "each"
    assert "max_iterations" in run.error["message"] or "3" in run.error["message"]


async def test_expression_error_names_node_and_field() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "bad", "type": "set", "config": {"values": {"x": "{{ input.missing }}"}}},
        ],
        [("start", "out", "bad")],
    )
    run = await run_workflow(wf)
    assert run.status == "failed"
    assert run.error["node_id"] == "bad"
    assert "'bad'" in run.error["message"] and "config.values" in run.error["message"]
    assert run.main.outputs["start"] == {}  # what ran before the failure is kept


async def test_on_error_route_sends_error_object_to_error_port(http_server) -> None:
    http_server.route("/gone", Reply(404, json={"detail": "nope"}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"method": "GET", "url": http_server.url_for("/gone")}, "on_error": "route"},
            {"id": "ok", "type": "set", "config": {"values": {}}},
            {"id": "handle", "type": "set", "config": {"values": {"msg": "{{ input.message }}", "node": "{{ input.node_id }}", "status": "{{ input.status }}"}}},
        ],
        [("start", "out", "get"), ("get", "out", "ok"), ("get", "error", "handle")],
    )
    run = await run_workflow(wf)
    assert run.status == "completed"
    err = run.main.outputs["get"]
    assert set(err) >= {"message", "type", "node_id", "attempt", "traceback"}
    assert run.main.outputs["handle"]["node"] == "get"
    assert run.main.outputs["handle"]["status"] == 404
    assert run.main.node_status["get"] == "failed"
    assert run.main.node_status["ok"] == "skipped"
    assert http_server.calls("/gone") == 1  # a 4xx is not retried


async def test_on_error_continue_passes_input_through(http_server) -> None:
    http_server.route("/bad", Reply(400))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"method": "GET", "url": http_server.url_for("/bad")}, "on_error": "continue", "retry": "none"},
            {"id": "next", "type": "set", "config": {"values": {"seen": "{{ input }}"}}},
        ],
        [("start", "out", "get"), ("get", "out", "next")],
    )
    run = await run_workflow(wf, {"hello": 1})
    assert run.status == "completed"
    assert run.main.outputs["next"] == {"seen": {"hello": 1}}
    assert run.main.progress()["failed"] == 1


async def test_on_error_fail_stops_the_run_and_keeps_what_it_did(http_server) -> None:
    http_server.route("/bad", Reply(500))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "before", "type": "set", "config": {"values": {"kept": True}}},
            {"id": "get", "type": "http_request", "config": {"method": "GET", "url": http_server.url_for("/bad")}, "retry": {"max_attempts": 2, "initial_delay_s": 0.01, "jitter": False}},
            {"id": "after", "type": "set", "config": {"values": {}}},
        ],
        [("start", "out", "before"), ("before", "out", "get"), ("get", "out", "after")],
    )
    run = await run_workflow(wf)
    assert run.status == "failed"
    assert run.error["node_id"] == "get" and run.error["attempt"] == 2
    assert run.main.outputs["before"] == {"kept": True}
    assert [a["status"] for a in run.main.attempts["get"]] == ["failed", "failed"]
    assert "after" not in run.main.outputs


async def test_exact_event_sequence_with_a_retry_and_a_branch(http_server) -> None:
    http_server.fail_first("/items", 1, status=503, then=Reply(json={"items": [1, 2, 3]}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"method": "GET", "url": http_server.url_for("/items")}, "retry": {"max_attempts": 3, "initial_delay_s": 0.05, "jitter": False}},
            {"id": "many", "type": "if", "config": {"condition": "{{ len(input.body.items) > 2 }}"}},
            {"id": "yes", "type": "set", "config": {"values": {"n": "{{ len(nodes.get.body.items) }}"}}},
            {"id": "no", "type": "set", "config": {"values": {}}},
        ],
        [("start", "out", "get"), ("get", "out", "many"), ("many", "true", "yes"), ("many", "false", "no")],
    )
    rec = Recorder()
    run = await run_workflow(wf, hooks=rec.hooks)
    assert run.status == "completed", run.error
    assert rec.compact() == [
        ("ExecutionStarted",),
        ("NodeStarted", "start", 1),
        ("NodeFinished", "start", "succeeded"),
        ("NodeStarted", "get", 1),
        ("NodeRetrying", "get", 1, 3),
        ("NodeStarted", "get", 2),
        ("NodeFinished", "get", "succeeded"),
        ("NodeStarted", "many", 1),
        ("NodeFinished", "many", "succeeded"),
        ("NodeFinished", "no", "skipped"),  # reported after the node that decided it
        ("NodeStarted", "yes", 1),
        ("NodeFinished", "yes", "succeeded"),
        ("ExecutionCompleted",),
    ]
    assert run.main.outputs["yes"] == {"n": 3}


async def test_retry_waits_the_backoff_delays(http_server) -> None:
    http_server.fail_first("/flaky", 2, status=503, then=Reply(json={"ok": True}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"method": "GET", "url": http_server.url_for("/flaky")}, "retry": {"max_attempts": 4, "initial_delay_s": 0.1, "multiplier": 3, "jitter": False}},
        ],
        [("start", "out", "get")],
    )
    rec = Recorder()
    run = await run_workflow(wf, hooks=rec.hooks)
    assert run.status == "completed"
    delays = [e.delay for e in rec.events if type(e).__name__ == "NodeRetrying"]
    assert delays == pytest.approx([0.1, 0.3])
    starts = [a["started_at"] for a in run.main.attempts["get"]]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.3
    assert [a["status"] for a in run.main.attempts["get"]] == ["failed", "failed", "succeeded"]


async def test_disabled_node_passes_input_through() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "off", "type": "set", "config": {"values": {"x": 1}}, "disabled": True},
            {"id": "after", "type": "set", "config": {"values": {"got": "{{ input }}"}}},
        ],
        [("start", "out", "off"), ("off", "out", "after")],
    )
    run = await run_workflow(wf, {"a": 1})
    assert run.main.outputs["after"] == {"got": {"a": 1}}
    assert run.main.node_status["off"] == "skipped"


async def test_nodes_expression_reads_outputs_by_name_and_execution() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "a", "type": "set", "name": "First step", "config": {"values": {"v": 7}}},
            {"id": "b", "type": "set", "config": {"values": {"v": "{{ nodes['First step'].v * 2 }}", "id": "{{ execution.id }}"}}},
        ],
        [("start", "out", "a"), ("a", "out", "b")],
    )
    run = await run_workflow(wf, execution_id="exec-1")
    assert run.main.outputs["b"] == {"v": 14, "id": "exec-1"}


async def test_record_round_trips_through_json_mid_run() -> None:
    from engine.runtime.control import RunControl
    from engine.runtime.runner import resume_workflow

    wf = chain(20)
    control = RunControl()
    rec = Recorder()
    seen = 0

    def pause_after_ten(event, run) -> None:
        nonlocal seen
        if type(event).__name__ == "NodeFinished":
            seen += 1
            if seen == 10:
                control.pause()

    rec.hooks.on_any(pause_after_ten)
    run = await run_workflow(wf, hooks=rec.hooks, control=control)
    assert run.status == "paused"
    assert len(run.main.outputs) == 10
    saved = json.loads(json.dumps(run.to_json()))
    restored = RunRecord.from_json(saved)
    assert restored.to_json() == run.to_json()
    done = await resume_workflow(wf, restored)
    assert done.status == "completed"
    full = await run_workflow(chain(20))
    assert done.main.outputs == full.main.outputs
    assert all(len(a) == 1 for a in done.main.attempts.values())  # nothing ran twice


async def test_sub_workflow_runs_as_child_thread(tmp_path) -> None:
    parent = parent_and_child(tmp_path)
    rec = Recorder()
    run = await run_workflow(parent, hooks=rec.hooks, workflow_file=str(tmp_path / "parent.pe.json"))
    assert run.status == "completed", run.error
    assert run.main.outputs["after"] == {"r": 42}
    children = [t for t in run.threads.values() if t.parent_thread_id == "main"]
    assert len(children) == 1
    assert children[0].progress()["completed"] == 2 and children[0].status == "completed"
    assert any(type(e).__name__ == "ThreadStarted" for e in rec.events)


async def test_a_cancelled_run_stops_during_a_wait() -> None:
    from engine.runtime.control import RunControl

    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "w", "type": "wait", "config": {"seconds": 30}},
        ],
        [("start", "out", "w")],
    )
    control = RunControl()
    waiting = asyncio.Event()
    hooks = ev.LifecycleHooks()
    hooks.on(ev.NodeStarted, lambda e, r: waiting.set() if e.node_id == "w" else None)
    task = asyncio.ensure_future(run_workflow(wf, control=control, hooks=hooks))
    await asyncio.wait_for(waiting.wait(), 10)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    control.cancel()
    run = await task
    assert loop.time() - t0 < 1.0
    assert run.status == "cancelled"
    assert run.main.node_status["w"] == "cancelled"


async def test_cancel_aborts_a_hanging_http_request_within_a_second(http_server) -> None:
    from engine.runtime.control import RunControl

    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"method": "GET", "url": http_server.url_for("/hang"), "timeout_s": 60}},
        ],
        [("start", "out", "get")],
    )
    control = RunControl()
    task = asyncio.ensure_future(run_workflow(wf, control=control))
    await until(lambda: http_server.calls("/hang"), what="the request in flight")  # the server's state: polled
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    control.cancel()
    run = await task
    assert loop.time() - t0 < 1.0
    assert run.status == "cancelled"
    assert run.main.attempts["get"][-1]["status"] == "cancelled"


async def test_pause_during_backoff_keeps_the_attempt_count(http_server) -> None:
    from engine.runtime.control import RunControl
    from engine.runtime.runner import resume_workflow

    http_server.fail_first("/flaky", 1, status=503, then=Reply(json={"ok": True}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"method": "GET", "url": http_server.url_for("/flaky")}, "retry": {"max_attempts": 3, "initial_delay_s": 30, "jitter": False}},
        ],
        [("start", "out", "get")],
    )
    control = RunControl()
    rec = Recorder()
    rec.hooks.on_any(lambda e, r: control.pause() if type(e).__name__ == "NodeRetrying" else None)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    run = await run_workflow(wf, control=control, hooks=rec.hooks)
    assert loop.time() - t0 < 1.0  # the 30 s back-off woke at once
    assert run.status == "paused"
    assert run.main.stack[-1].node_id == "get" and run.main.stack[-1].attempt == 1
    rec2 = Recorder()
    done = await resume_workflow(wf, run, hooks=rec2.hooks)
    assert done.status == "completed"
    assert ("NodeStarted", "get", 2) in rec2.compact()
    assert [a["status"] for a in done.main.attempts["get"]] == ["failed", "succeeded"]


async def test_logs_name_execution_and_node_and_never_secrets(http_server, caplog) -> None:
    import logging

    http_server.fail_first("/secure", 1, status=503, then=Reply(json={"ok": True}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"method": "GET", "url": http_server.url_for("/secure"), "headers": {"Authorization": "Bearer sup3r-s3cret-t0ken"}}, "retry": {"max_attempts": 2, "initial_delay_s": 0.01}},
        ],
        [("start", "out", "get")],
    )
    with caplog.at_level(logging.DEBUG):
        run = await run_workflow(wf, execution_id="exec-log")
    assert run.status == "completed"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "execution=exec-log node=get started attempt 1" in text
    assert "execution=exec-log node=get attempt 1/2 failed" in text
    assert "execution=exec-log node=get succeeded" in text
    assert "execution=exec-log completed" in text
    assert "sup3r-s3cret-t0ken" not in text


async def test_sub_workflow_by_id_is_found_beside_the_parent_file(tmp_path) -> None:
    from engine.fileformat import save

    child = workflow(
        [{"id": "in", "type": "manual_trigger"}, {"id": "echo", "type": "set", "config": {"values": {"got": "{{ input }}"}}}],
        [("in", "out", "echo")],
    )
    child.id = "the-child"
    save(child, tmp_path / "some_name.pe.json")
    parent = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "call", "type": "sub_workflow", "config": {"workflow_id": "the-child", "inputs": [1, 2]}},
            {"id": "missing", "type": "sub_workflow", "config": {"workflow_id": "nope"}, "on_error": "route"},
        ],
        [("start", "out", "call"), ("call", "out", "missing")],
    )
    run = await run_workflow(parent, workflow_file=str(tmp_path / "parent.pe.json"))
    assert run.main.outputs["call"] == {"got": [1, 2]}
    assert "no saved workflow with id 'nope'" in run.main.outputs["missing"]["message"]


async def _paused_wait(seconds: float) -> tuple[Workflow, RunRecord]:
    """Run start -> wait(seconds) and pause it as soon as the wait has begun."""
    from engine.runtime.control import RunControl

    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, {"id": "w", "type": "wait", "config": {"seconds": seconds}}],
        [("start", "out", "w")],
    )
    control = RunControl()
    hooks = ev.LifecycleHooks()
    hooks.on(ev.NodeStarted, lambda e, r: control.pause() if e.node_id == "w" else None)
    run = await run_workflow(wf, control=control, hooks=hooks)
    assert run.status == "paused"
    return wf, run


async def test_a_paused_wait_resumes_with_its_remaining_time_not_the_whole_delay() -> None:
    """The deadline travels with the paused run: moved to a moment from now (as if the run
    had been paused just before it was due), the resumed wait ends then, not 600 s later."""
    from engine.runtime.runner import resume_workflow

    wf, run = await _paused_wait(600)
    state = run.main.stack[-1].state
    assert state is not None and state["until"] > time.time() + 500
    restored = RunRecord.from_json(json.loads(json.dumps(run.to_json())))  # as the store keeps it
    assert restored.main.stack[-1].state == state
    due = restored.main.stack[-1].state["until"] = time.time() + 0.05
    done = await asyncio.wait_for(resume_workflow(wf, restored), 60)  # the whole delay would be 600 s
    assert done.status == "completed" and time.time() >= due


async def test_a_paused_wait_whose_time_has_passed_ends_at_once_on_resume() -> None:
    from engine.runtime.runner import resume_workflow

    wf, run = await _paused_wait(600)
    run.main.stack[-1].state["until"] = time.time() - 1  # the wait was due while the run was paused
    done = await asyncio.wait_for(resume_workflow(wf, run), 60)
    assert done.status == "completed"
