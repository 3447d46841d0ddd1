"""Cycles through a branching node run (bounded by max_node_visits); a cycle with no way
out stays an error; a node no trigger reaches is a warning and the run skips it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine import fileformat
from engine.errors import WorkflowInvalid
from engine.graph import Routing, cycle_edges, ensure_valid, validate
from engine.model import DEFAULT_MAX_NODE_VISITS
from engine.runtime.runner import run_workflow
from tests.engine.runtime.helpers import workflow
from tests.engine.store.fixtures import Db, db_fixture  # noqa: F401 - the db fixture


def counting_loop(limit: int) -> Any:
    """start -> count -> more? -(true)-> count ; more? -(false)-> done."""
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "count", "type": "set", "config": {"values": {"n": "{{ input.n + 1 if 'n' in input else 1 }}"}}},
            {"id": "more", "type": "if", "config": {"condition": f"{{{{ input.n < {limit} }}}}"}},
            {"id": "done", "type": "set", "config": {"values": {"total": "{{ input.n }}"}}},
        ],
        [("start", "out", "count"), ("count", "out", "more"), ("more", "true", "count"), ("more", "false", "done")],
    )


def test_a_cycle_through_an_if_is_valid_and_its_back_edge_is_known() -> None:
    wf = counting_loop(3)
    assert validate(wf) == []
    assert cycle_edges(wf) == {2}
    assert Routing.build(wf).cyclic >= {"count", "more"}


async def test_a_cycle_through_an_if_runs_until_it_leaves() -> None:
    wf = counting_loop(5)
    rec = await run_workflow(wf)
    assert rec.status == "completed", rec.error
    assert rec.main.outputs["done"] == {"total": 5}
    assert len(rec.main.attempts["count"]) == 5
    assert rec.main.node_status["done"] == "succeeded"


async def test_max_node_visits_fails_the_run_naming_the_node() -> None:
    wf = counting_loop(10_000)
    wf.max_node_visits = 20
    rec = await run_workflow(wf)
    assert rec.status == "failed"
    assert rec.error["node_id"] == "count" and "'count'" in rec.error["message"] and "20" in rec.error["message"]
    assert len(rec.main.attempts["count"]) == 20


def test_a_cycle_with_no_way_out_is_an_error() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {}}},
            {"id": "b", "type": "if", "config": {"condition": True}},
        ],
        # both of the if's ports lead back into the cycle: it can never leave
        [("start", "out", "a"), ("a", "out", "b"), ("b", "true", "a"), ("b", "false", "a")],
    )
    problems = [p for p in validate(wf) if p.is_error]
    assert len(problems) == 1 and "cycle" in problems[0].message and "no way out" in problems[0].message


def test_an_error_route_is_a_way_out() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "wait", "config": {"seconds": 0}},
            {"id": "b", "type": "set", "config": {"values": {}}, "on_error": "route"},
            {"id": "c", "type": "set", "config": {"values": {}}},
        ],
        [("start", "out", "a"), ("a", "out", "b"), ("b", "out", "a"), ("b", "error", "c")],
    )
    assert [p for p in validate(wf) if p.is_error] == []


async def test_unreachable_nodes_are_warnings_and_are_skipped() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {"x": 1}}},
            {"id": "draft", "type": "set", "config": {"values": {"y": 2}}},
        ],
        [("start", "out", "a")],
    )
    problems = validate(wf)
    assert [(p.node_id, p.severity) for p in problems] == [("draft", "warning")]
    assert problems[0].to_json()["severity"] == "warning" and "warning:" in str(problems[0])
    ensure_valid(wf)  # warnings do not stop a run
    rec = await run_workflow(wf)
    assert rec.status == "completed"
    assert rec.main.node_status["draft"] == "skipped" and "draft" not in rec.main.outputs


def test_max_node_visits_is_saved_only_when_set() -> None:
    wf = counting_loop(3)
    assert "max_node_visits" not in fileformat.to_dict(wf)
    assert wf.max_node_visits == DEFAULT_MAX_NODE_VISITS
    wf.max_node_visits = 50
    doc = json.loads(fileformat.dumps(wf))
    assert doc["max_node_visits"] == 50
    assert fileformat.parse(doc).max_node_visits == 50
    doc["max_node_visits"] = 0
    with pytest.raises(WorkflowInvalid, match="max_node_visits"):
        fileformat.parse(doc)


def waiting_loop(limit: int, visits: int = DEFAULT_MAX_NODE_VISITS) -> Any:
    """start -> count -> wait -> more? -(true)-> count: a polling loop with something to pause in."""
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "count", "type": "set", "config": {"values": {"n": "{{ input.n + 1 if 'n' in input else 1 }}"}}},
            {"id": "pause_here", "type": "wait", "config": {"seconds": 0.02}},
            {"id": "more", "type": "if", "config": {"condition": f"{{{{ input.n < {limit} }}}}"}},
            {"id": "done", "type": "set", "config": {"values": {"total": "{{ input.n }}"}}},
        ],
        [("start", "out", "count"), ("count", "out", "pause_here"), ("pause_here", "out", "more"),
         ("more", "true", "count"), ("more", "false", "done")],
    )  # fmt: skip
    wf.max_node_visits = visits
    return wf


async def _pause_after(service: Any, wf: Any, n: int) -> str:
    """Start `wf`, pause it once `count` has run n times; returns the execution id."""
    import asyncio

    from engine import events as ev

    seen = asyncio.Event()
    hooks = ev.LifecycleHooks()
    runs: list[str] = []

    def counted(e: Any, _rec: Any) -> None:
        if e.node_id == "count" and e.status == "succeeded":
            runs.append(e.node_id)
            if len(runs) == n:
                seen.set()

    hooks.on(ev.NodeFinished, counted)
    handle = await service.start(wf, hooks=hooks)
    await asyncio.wait_for(seen.wait(), 10)
    service.pause(handle.execution_id)
    assert (await asyncio.wait_for(handle.task, 10)).status == "paused"
    return handle.execution_id


async def test_a_loop_paused_and_resumed_elsewhere_finishes(db: Db) -> None:
    runner, other = db.service(), db.service()
    try:
        eid = await _pause_after(runner, waiting_loop(6), 2)
        done = await (await other.resume(eid)).task
        assert done.status == "completed", done.error
        assert done.main.outputs["done"] == {"total": 6}
        assert sum(a["status"] == "succeeded" for a in done.main.attempts["count"]) == 6
    finally:
        runner.close()
        other.close()


async def test_max_node_visits_holds_across_a_resume(db: Db) -> None:
    runner, other = db.service(), db.service()
    try:
        eid = await _pause_after(runner, waiting_loop(100, visits=5), 3)
        failed = await (await other.resume(eid)).task
        assert failed.status == "failed" and failed.error["node_id"] == "count"
        assert sum(a["status"] == "succeeded" for a in failed.main.attempts["count"]) == 5
    finally:
        runner.close()
        other.close()


async def test_a_loop_over_more_items_than_max_node_visits_completes() -> None:
    """max_node_visits bounds cycles through a branch; a loop body runs once per item."""
    items = DEFAULT_MAX_NODE_VISITS + 200
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "each", "type": "loop", "config": {"items": "{{ vars.items }}", "max_iterations": items}},
            {"id": "body", "type": "set", "config": {"values": {"sq": "{{ loop.item * 2 }}"}}},
        ],
        [("start", "out", "each"), ("each", "loop", "body"), ("body", "out", "each")],
        variables={"items": list(range(items))},
    )
    rec = await run_workflow(wf)
    assert rec.status == "completed", rec.error
    assert len(rec.main.outputs["each"]) == items
