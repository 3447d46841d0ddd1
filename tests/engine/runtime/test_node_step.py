"""The node step's shortcuts give what the long way gives: a thread's names made once and
copied per node, contexts that make their logger and `evaluate` on first use, per-node
plan facts asked once per type, routes kept as plain tuples, cycles found on first need."""

from __future__ import annotations

import gc
import logging
from typing import Any

import pytest

from engine import expressions
from engine.graph import Route, Routing, _nodes_on_cycles
from engine.model import Node
from engine.nodes.base import NodeContext, NodeServices
from engine.runtime.control import RunControl
from engine.runtime.orchestrator import Orchestrator, iso, new_record
from engine.runtime.plan import Plan
from engine.runtime.record import LoopState
from engine.runtime.runner import run_workflow
from tests.engine.runtime.helpers import workflow


def _slow_names(orch: Orchestrator, th: Any, plan: Plan, value: Any) -> dict[str, Any]:
    """The names as they were made for every node before: all of them, from scratch."""
    loop = None
    if th.loop_stack:
        st = th.loops[th.loop_stack[-1]]
        if 0 <= st.index < len(st.items):
            loop = {"index": st.index, "item": st.items[st.index]}
    return expressions.make_names(
        input=value,
        nodes={plan.nodes[k].name: v for k, v in th.outputs.items() if k in plan.nodes},
        vars=th.variables,
        loop=loop,
        execution={"id": orch.record.execution_id, "started_at": iso(orch.record.started_at)},
    )


def _two_nodes() -> Any:
    return workflow(
        [{"id": "start", "type": "manual_trigger", "name": "Start"}, {"id": "a", "type": "set", "name": "A"}],
        [("start", "out", "a")],
        variables={"k": 1},
    )


def _orchestrated(execution_id: str, started_at: float) -> tuple[Any, Orchestrator, Any, Any]:
    """(workflow, orchestrator, plan, main thread) of `_two_nodes`, not run."""
    wf = _two_nodes()
    rec = new_record(wf, execution_id=execution_id)
    rec.started_at = started_at
    orch = Orchestrator(wf, rec)
    return wf, orch, orch._plan(wf), rec.main


def test_names_match_the_names_made_from_scratch_in_and_out_of_a_loop() -> None:
    wf, orch, plan, th = _orchestrated("e1", 1_700_000_000.5)
    assert orch._names(th, plan, {"x": 1}) == _slow_names(orch, th, plan, {"x": 1})
    orch._set_output(th, wf.get("start"), {"s": 2})
    th.loops["a"] = LoopState([10, 20], index=1)
    th.loop_stack.append("a")
    got = orch._names(th, plan, 5)
    assert got == _slow_names(orch, th, plan, 5)
    assert got["loop"] == {"index": 1, "item": 20} and got["nodes"] == {"Start": {"s": 2}}
    assert list(got) == list(_slow_names(orch, th, plan, 5))  # same order of names too


def test_a_nodes_names_are_its_own_copy_and_new_variables_are_seen() -> None:
    _wf, orch, plan, th = _orchestrated("e2", 1_700_000_000.0)
    first = orch._names(th, plan, 1)
    first.update({"item": "x", "index": 0})  # what `evaluate` does with a list item's names
    second = orch._names(th, plan, 2)
    assert "item" not in second and second["input"] == 2
    th.variables = {"k": 99}  # e.g. variables edited before a resume
    assert orch._names(th, plan, 3)["vars"] == {"k": 99}
    assert orch._names(th, plan, 3) == _slow_names(orch, th, plan, 3)


async def test_a_list_items_names_do_not_reach_the_next_node() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "f", "type": "filter", "config": {"items": "{{ vars.xs }}", "condition": "{{ item > 1 and index < 5 }}"}},
            {"id": "after", "type": "set", "config": {"values": {"seen": "{{ item }}"}}},
        ],
        [("start", "out", "f"), ("f", "out", "after")],
        variables={"xs": [1, 2, 3]},
    )
    rec = await run_workflow(wf)
    assert rec.main.outputs["f"] == [2, 3]
    assert rec.status == "failed" and rec.error is not None
    assert rec.error["node_id"] == "after" and "item" in rec.error["message"]


class _Host:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def node_log(self) -> logging.LoggerAdapter:  # type: ignore[type-arg]
        self.asked.append("log")
        return logging.LoggerAdapter(logging.getLogger("engine.runtime"), {"node_id": "n"})

    def evaluate(self, expression: str, extra: dict[str, Any] | None = None) -> Any:
        self.asked.append("evaluate")
        return (expression, extra)


def _context(**kw: Any) -> NodeContext:
    services = NodeServices(http_client=lambda: None, credential=lambda n: {}, run_sub_workflow=None,  # type: ignore[arg-type]
                            respond=lambda *a: None, load_workflow=lambda r: None)  # type: ignore[arg-type,return-value]
    return NodeContext(node=Node(id="n", type="set", name="n"), config=None, raw_config={}, execution_id="e",
                       thread_id="main", attempt=1, variables={}, outputs_by_name={}, services=services,
                       sleep=RunControl().sleep, **kw)


def test_a_context_makes_its_logger_and_evaluate_only_when_asked() -> None:
    host = _Host()
    ctx = _context(host=host)
    assert host.asked == [] and ctx.state == {}
    assert ctx.log is ctx.log
    assert ctx.evaluate("1 + 1", {"item": 1}) == ("1 + 1", {"item": 1})
    assert ctx.evaluate("x") == ("x", None)
    assert host.asked == ["log", "evaluate", "evaluate"]


def test_a_context_given_its_logger_and_evaluate_uses_them() -> None:
    log = logging.LoggerAdapter(logging.getLogger("x"), {})
    ctx = _context(log=log, evaluate=lambda e, extra=None: "given")
    assert ctx.log is log and ctx.evaluate("1") == "given"
    ctx.evaluate = lambda e, extra=None: "replaced"
    assert ctx.evaluate("1") == "replaced"
    with pytest.raises(TypeError, match="host"):
        _context()


def test_per_node_facts_asked_per_type_match_asking_every_node() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"method": "GET", "url": "http://127.0.0.1:9/"}},
            {"id": "post", "type": "http_request", "config": {"method": "POST", "url": "http://127.0.0.1:9/"}},
            {"id": "s1", "type": "set", "config": {"values": {}}},
            {"id": "s2", "type": "set", "config": {"values": {}}, "on_error": "route"},
            {"id": "sw", "type": "switch", "config": {"value": "{{ input }}", "cases": {"one": 1, "two": 2}}},
            {"id": "cond", "type": "if", "config": {"condition": "{{ true }}"}},
            {"id": "each", "type": "loop", "config": {"items": [1]}},
        ],
        [("start", "out", "get"), ("get", "out", "post"), ("post", "out", "s1"), ("s1", "out", "s2"),
         ("s2", "out", "sw"), ("sw", "default", "cond"), ("cond", "true", "each")],
    )
    plan = Plan(wf)
    specs = {n.id: plan.specs[n.id] for n in wf.nodes}
    assert plan.side_effects == {n.id for n in wf.nodes if specs[n.id].has_side_effects(n)} == {"post"}
    assert plan.multi_port == {
        n.id for n in wf.nodes if specs[n.id].kind != "loop" and len(specs[n.id].output_ports(n)) > 1
    } == {"s2", "sw", "cond"}


def test_routes_are_plain_tuples_the_collector_stops_watching() -> None:
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, {"id": "a", "type": "set"}, {"id": "b", "type": "set"}],
        [("start", "out", "b"), ("start", "out", "a"), ("a", "out", "b")],
    )
    r = Routing.build(wf)
    assert r.out[("start", "out")] == (("b", "in", 0), ("a", "in", 1))
    assert r.targets("start", "out") == [Route("b", "in", 0), Route("a", "in", 1)]
    gc.collect()  # the routes first, then the tuple holding them
    gc.collect()
    assert not gc.is_tracked(r.out[("start", "out")])


def test_cycles_found_on_first_use_are_those_of_the_whole_graph() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "count", "type": "set", "config": {"values": {"n": 1}}},
            {"id": "more", "type": "if", "config": {"condition": "{{ input.n < 3 }}"}},
            {"id": "done", "type": "set", "config": {"values": {}}},
        ],
        [("start", "out", "count"), ("count", "out", "more"), ("more", "true", "count"), ("more", "false", "done")],
    )
    r = Routing.build(wf)
    assert r._cyclic is None  # nothing walked yet
    expected = _nodes_on_cycles([n.id for n in wf.nodes], [(c.from_node, c.to_node) for c in wf.connections])
    assert r.cyclic == expected == {"count", "more", "done"}
