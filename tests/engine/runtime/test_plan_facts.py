"""The plan's per-node facts, found by (type, on_error) pair, are what asking every node
gives; its routing keeps the merges' inputs only and finds the same back edges; a config
without an expression is validated once, from its second run on."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.graph import Routing
from engine.model import Connection, Node, Workflow
from engine.nodes.registry import all_specs, get_spec
from engine.runtime import plan as plan_module
from engine.runtime.plan import Plan
from engine.runtime.retry import policy_for
from engine.runtime.runner import run_workflow
from tests.engine.runtime.helpers import workflow

TYPES = sorted(spec.type for spec in all_specs())
ON_ERROR = ["fail", "continue", "route"]
RETRY = [None, "default", "strict", {"max_attempts": 2}]


@st.composite
def workflows(draw: st.DrawFn) -> Workflow:
    n = draw(st.integers(1, 12))
    ids = [f"n{i}" for i in reversed(range(n))]  # file order is not the ids' order
    nodes = [
        Node(id=i, type=draw(st.sampled_from(TYPES)), name=i, on_error=draw(st.sampled_from(ON_ERROR)), retry=draw(st.sampled_from(RETRY)))
        for i in ids
    ]
    ports = ["out", "loop", "done", "true", "false", "error", "default"]
    conns = [
        Connection(f"n{draw(st.integers(0, n - 1))}", draw(st.sampled_from(ports)), f"n{draw(st.integers(0, n - 1))}", "in")
        for _ in range(draw(st.integers(0, 2 * n)))
    ]
    return Workflow(id="wf", name="wf", nodes=nodes, connections=conns)


def _asked_of_every_node(wf: Workflow) -> dict[str, Any]:
    specs = {n.id: get_spec(n.type) for n in wf.nodes}
    return {
        "side_effects": {n.id for n in wf.nodes if specs[n.id].has_side_effects(n)},
        "multi_port": {n.id for n in wf.nodes if specs[n.id].kind != "loop" and len(specs[n.id].output_ports(n)) > 1},
        "triggers": [n.id for n in wf.nodes if specs[n.id].is_trigger],
        "policies": {n.id: policy_for(n.retry, specs[n.id].default_retry) for n in wf.nodes if n.retry is not None},
    }


@settings(max_examples=60, deadline=None)
@given(workflows())
def test_facts_by_pair_are_those_asked_of_every_node(wf: Workflow) -> None:
    plan = Plan(wf)
    got = {"side_effects": plan.side_effects, "multi_port": plan.multi_port, "triggers": plan.triggers, "policies": plan.policies}
    assert got == _asked_of_every_node(wf)
    assert plan.by_type == {n.type: get_spec(n.type) for n in wf.nodes}


@settings(max_examples=60, deadline=None)
@given(workflows())
def test_a_runs_routing_keeps_only_the_merges_inputs_and_the_same_routes(wf: Workflow) -> None:
    full = Routing.build(wf)
    run = Plan(wf).routing
    merges = {n.id for n in wf.nodes if get_spec(n.type).kind == "merge"}
    assert run.incoming == {k: v for k, v in full.incoming.items() if k in merges}
    assert run.out == full.out
    assert run.back_edges == full.back_edges
    for key, routes in full.out.items():  # every connection, in file order per port
        assert list(routes) == [(c.to_node, c.to_port, i) for i, c in enumerate(wf.connections) if (c.from_node, c.from_port) == key]
    assert full.incoming == {
        to: [i for i, c in enumerate(wf.connections) if c.to_node == to] for to in dict.fromkeys(c.to_node for c in wf.connections)
    }


def test_a_loops_back_edges_are_found_without_keeping_its_inputs() -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "each", "type": "loop", "config": {"items": "{{ [1, 2, 3] }}"}},
            {"id": "body", "type": "set", "config": {"values": {"x": 1}}},
            {"id": "join", "type": "merge"},
        ],
        [("start", "out", "each"), ("each", "loop", "body"), ("body", "out", "each"), ("each", "done", "join")],
    )
    run = Plan(wf).routing
    assert run.back_edges == Routing.build(wf).back_edges == {2}
    assert run.incoming == {"join": [3]}


def test_a_config_without_an_expression_is_validated_once_from_its_second_run(monkeypatch: Any) -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "each", "type": "loop", "config": {"items": "{{ [1, 2, 3, 4] }}"}},
            {"id": "fixed", "type": "set", "config": {"values": {"x": 1}}},
            {"id": "moving", "type": "set", "config": {"values": {"i": "{{ loop.index }}"}}},
        ],
        [("start", "out", "each"), ("each", "loop", "fixed"), ("fixed", "out", "moving"), ("moving", "out", "each")],
    )
    validated: list[str] = []
    real = Plan._validate

    def counting(node: Node, spec: Any, raw: dict[str, Any]) -> Any:
        validated.append(node.id)
        return real(node, spec, raw)

    monkeypatch.setattr(Plan, "_validate", staticmethod(counting))
    rendered: list[Any] = []
    real_render = plan_module.expressions.render_config
    monkeypatch.setattr(plan_module.expressions, "render_config", lambda config, *a, **kw: rendered.append(config) or real_render(config, *a, **kw))
    rec = asyncio.run(run_workflow(wf))
    assert rec.status == "completed", rec.error
    assert rec.threads["main"].outputs["each"] == [{"i": 0}, {"i": 1}, {"i": 2}, {"i": 3}]
    assert validated.count("fixed") == 2  # its first run (rendered), then once for good
    assert validated.count("moving") == 4  # rendered and validated at every run
    assert sum(1 for c in rendered if c == {"values": {"x": 1}}) == 1
