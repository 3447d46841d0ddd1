"""The synchronous node step (`Orchestrator._run_now`: a node type that never waits, with no
NodeStarted subscriber to await) against the general one (`_run_node`, taken when an async
subscriber is there): the same events in the same order, the same record, for chains,
branches that leave nodes skipped, merges, loops, disabled and pinned nodes, failures routed,
continued or fatal, and a retried attempt that failed synchronously."""

from __future__ import annotations

from typing import Any

import pytest

from engine import events as ev
from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.base import NodeContext, NodeResult, SyncNodeSpec
from engine.nodes.set_node import SetSpec
from engine.runtime.orchestrator import Orchestrator, new_record
from engine.runtime.record import Frame, RunRecord
from tests.engine.runtime.helpers import workflow

TIMES = {"started_at", "stopped_at", "duration_ms", "traceback", "paused_ms"}


class _FlakySpec(SyncNodeSpec):
    """Fails its first attempt with a retryable error, then outputs its input."""

    type = "test_flaky_sync"
    title = "Flaky"
    pure = True

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:
        if ctx.attempt == 1:
            raise NodeError("first try fails", retryable=True)
        return NodeResult.out({"tries": ctx.attempt, "input": value})


class _OwnRun(SetSpec):
    """A subclass of a sync type that writes its own `run`: run by it, never by `run_now`."""

    type = "test_own_run"

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:
        return NodeResult.out({"own": True})


@pytest.fixture(autouse=True)
def _test_types() -> Any:
    specs = [registry.register(_FlakySpec()), registry.register(_OwnRun())]
    yield
    for spec in specs:
        registry._REGISTRY.pop(spec.type, None)


def _set(node_id: str, values: Any, **kw: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "set", "config": {"values": values}, **kw}


WORKFLOWS = {
    "chain": (
        [{"id": "start", "type": "manual_trigger"}, _set("a", {"i": "{{ 1 + 1 }}", "k": "{{ vars.k }}"}),
         _set("b", {"j": "{{ input.i * 3 }}", "a": "{{ nodes.a.k }}"}, name="B"), _set("c", {"static": [1, "x"]})],
        [("start", "out", "a"), ("a", "out", "b"), ("b", "out", "c")],
    ),
    "branches": (
        [{"id": "start", "type": "manual_trigger"}, {"id": "cond", "type": "if", "config": {"condition": "{{ vars.k > 0 }}"}},
         _set("yes", {"y": 1}), _set("no", {"n": 1}), _set("after_no", {"x": 1}),
         {"id": "sw", "type": "switch", "config": {"value": "{{ vars.k }}", "cases": {"one": 1, "two": 2}}},
         _set("one", {"o": 1}), _set("two", {"t": 2}), {"id": "m", "type": "merge"}, {"id": "end", "type": "no_op"}],
        [("start", "out", "cond"), ("cond", "true", "yes"), ("cond", "false", "no"), ("no", "out", "after_no"),
         ("yes", "out", "sw"), ("sw", "one", "one"), ("sw", "two", "two"), ("one", "out", "m"), ("two", "out", "m", "in"),
         ("m", "out", "end"), ("yes", "out", "end")],
    ),
    "loop": (
        [{"id": "start", "type": "manual_trigger"}, {"id": "each", "type": "loop", "config": {"items": "{{ [1, 2, 3] }}"}},
         _set("body", {"twice": "{{ loop.item * 2 }}"}), _set("done", {"all": "{{ input }}"})],
        [("start", "out", "each"), ("each", "loop", "body"), ("body", "out", "each"), ("each", "done", "done")],
    ),
    "disabled_and_routed": (
        [{"id": "start", "type": "manual_trigger"}, _set("off", {"x": 1}, disabled=True),
         _set("bad", {"x": "{{ nope.x }}"}, on_error="route"), _set("handled", {"e": "{{ input.type }}"}),
         _set("bad2", {"x": "{{ 1 / 0 }}"}, on_error="continue"), _set("own", {}, type="test_own_run")],
        [("start", "out", "off"), ("off", "out", "bad"), ("bad", "error", "handled"), ("handled", "out", "bad2"),
         ("bad2", "out", "own")],
    ),
    "retried": (
        [{"id": "start", "type": "manual_trigger"},
         {"id": "flaky", "type": "test_flaky_sync", "retry": {"max_attempts": 2, "initial_delay_s": 0.0, "jitter": False}},
         _set("after", {"got": "{{ input.tries }}"})],
        [("start", "out", "flaky"), ("flaky", "out", "after")],
    ),
    "fatal": (
        [{"id": "start", "type": "manual_trigger"}, _set("ok", {"x": 1}), _set("boom", {"x": "{{ missing }}"}), _set("never", {})],
        [("start", "out", "ok"), ("ok", "out", "boom"), ("boom", "out", "never")],
    ),
}


class _Counting(Orchestrator):
    """Counts the node steps taken each way."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.steps = {"sync": 0, "general": 0}

    def _run_now(self, *args: Any) -> Any:
        self.steps["sync"] += 1
        return super()._run_now(*args)

    async def _run_node(self, *args: Any) -> None:
        self.steps["general"] += 1
        await super()._run_node(*args)


async def _run(name: str, *, general: bool, pins: bool = False) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any], dict[str, int]]:
    nodes, conns = WORKFLOWS[name]
    wf = workflow(nodes, conns, variables={"k": 1})
    if pins:
        wf.get("a").pin = {"pinned": True}
    hooks = ev.LifecycleHooks()
    seen: list[tuple[str, dict[str, Any]]] = []
    hooks.on_any(lambda e, r: seen.append((type(e).__name__, _without_times({f: getattr(e, f) for f in e.__dataclass_fields__}))))
    if general:
        async def nothing(e: Any, r: RunRecord) -> None:
            return None

        hooks.on(ev.ExecutionCompleted, nothing)  # an async subscriber: every step the general way
    rec = new_record(wf, execution_id="e-1")
    rec.debug.pins = pins
    orch = _Counting(wf, rec, hooks=hooks)
    await orch.run()
    return seen, _without_times(rec.to_json()), orch.steps


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


@pytest.mark.parametrize("name", list(WORKFLOWS))
async def test_the_sync_step_gives_the_events_and_record_of_the_general_one(name: str) -> None:
    fast_events, fast_record, fast_steps = await _run(name, general=False)
    slow_events, slow_record, slow_steps = await _run(name, general=True)
    assert fast_events == slow_events
    assert fast_record == slow_record
    assert fast_steps["sync"] > 0 and slow_steps["sync"] == 0  # each way was taken


async def test_a_pinned_node_on_the_sync_step_is_used_as_on_the_general_one() -> None:
    fast = await _run("chain", general=False, pins=True)
    slow = await _run("chain", general=True, pins=True)
    assert fast[:2] == slow[:2]
    assert fast[1]["threads"]["main"]["outputs"]["a"] == {"pinned": True}


async def test_a_failed_sync_attempt_is_retried_and_a_sync_types_own_run_is_used() -> None:
    _events, record, _steps = await _run("retried", general=False)
    main = record["threads"]["main"]
    assert [a["status"] for a in main["attempts"]["flaky"]] == ["failed", "succeeded"]
    assert main["outputs"]["after"] == {"got": 2}
    _events, record, _steps = await _run("disabled_and_routed", general=False)
    assert record["threads"]["main"]["outputs"]["own"] == {"own": True}
    assert not _OwnRun.sync and SetSpec.sync and _FlakySpec.sync


def _reference_deliver(th: Any, plan: Any, node_id: str, outputs: dict[str, Any]) -> None:
    """`_deliver` the long way (every port, every route), for a node with no port to skip."""
    frames = []
    for port, value in outputs.items():
        for to_node, to_port, conn in plan.routing.out.get((node_id, port), ()):
            frames.append((to_node, value, to_port, conn))
            th.edge_counts[conn] = th.edge_counts.get(conn, 0) + 1
    if frames:
        th.stack.extend(Frame(*f) for f in reversed(frames))
    elif outputs:
        th.last_output = next(iter(outputs.values()))


@pytest.mark.parametrize("node_id", ["start", "a", "b", "c"])
def test_a_one_port_delivery_pushes_what_the_long_way_pushes(node_id: str) -> None:
    """None, one and several successors on the one port (the shortcut in `_deliver`)."""
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, _set("a", {}), _set("b", {}), _set("c", {}), _set("d", {})],
        [("start", "out", "a"), ("a", "out", "b"), ("a", "out", "c"), ("a", "out", "d"), ("b", "out", "c")],
    )
    got, want = new_record(wf, execution_id="e").main, new_record(wf, execution_id="e").main
    orch = Orchestrator(wf, new_record(wf, execution_id="e"))
    plan = orch._plan(wf)
    for th in (got, want):
        th.edge_counts[4] = 1
    assert orch._deliver(got, plan, wf.get(node_id), {"out": {"v": node_id}}) == []
    _reference_deliver(want, plan, node_id, {"out": {"v": node_id}})
    assert got.stack == want.stack and list(got.edge_counts.items()) == list(want.edge_counts.items())
    assert got.last_output == want.last_output


def test_a_context_made_for_an_attempt_reads_as_one_made_by_keywords() -> None:
    from engine.nodes.base import ContextScope, NodeServices
    from engine.runtime.control import RunControl

    services = NodeServices(http_client=lambda: None, credential=lambda n: {}, run_sub_workflow=None,  # type: ignore[arg-type]
                            respond=lambda *a: None, load_workflow=lambda r: None)  # type: ignore[arg-type,return-value]
    node, sleep, variables, outputs, state = workflow([_set("n", {})], []).get("n"), RunControl().sleep, {"k": 1}, {"a": 2}, {"s": 3}
    host = object()
    made = NodeContext.of_attempt(ContextScope("e", "main", variables, outputs, services, sleep), node, "cfg", {"r": 1}, 2, state, host)  # type: ignore[arg-type]
    given = NodeContext(node=node, config="cfg", raw_config={"r": 1}, execution_id="e", thread_id="main", attempt=2,
                        variables=variables, outputs_by_name=outputs, services=services, sleep=sleep, state=state, host=host)  # type: ignore[arg-type]
    fields = ("node", "config", "raw_config", "execution_id", "thread_id", "attempt", "variables", "outputs_by_name",
              "services", "sleep", "state", "_host", "_log", "_evaluate")
    assert [getattr(made, f) for f in fields] == [getattr(given, f) for f in fields]
    assert made.variables is variables and made.state is state and repr(made) == repr(given)


class _Watching(SyncNodeSpec):
    """A sync type that records, while it runs, its node's status in the run's record
    (`record`, caught by an ExecutionStarted handler) and the in-flight marker the store
    holds (read by another service, as another process would)."""

    type = "test_watching"
    title = "Watching"
    seen: list[tuple[str, Any, Any]] = []
    record: list[Any] = []
    reader: Any = None

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:
        node, statuses = ctx.node.id, self.record[0].main.node_status
        _Watching.seen.append((node, statuses.get(node), self.reader.status(ctx.execution_id)["in_flight"]))
        if "each" in statuses:
            _Watching.seen.append(("each", statuses["each"], None))
        return NodeResult.out({"done": True})


class _SideWatching(_Watching):
    type = "test_side_watching"
    side_effects = True


async def test_a_sync_nodes_running_status_is_there_wherever_it_can_be_seen(tmp_path: Any) -> None:
    """`_run_now` writes no "running" when nothing could read it before the attempt ends,
    and still does for a NodeStarted subscriber and for a node with side effects (whose
    in-flight marker is committed before it runs)."""
    from engine.service import ExecutionService

    specs = [registry.register(_Watching()), registry.register(_SideWatching())]
    wf = workflow([{"id": "start", "type": "manual_trigger"}, {"id": "pure", "type": "test_watching"}, {"id": "side", "type": "test_side_watching"},
                   {"id": "each", "type": "loop", "config": {"items": [1]}}, {"id": "body", "type": "test_watching"}],
                  [("start", "out", "pure"), ("pure", "out", "side"), ("side", "out", "each"), ("each", "loop", "body"), ("body", "out", "each")])  # fmt: skip
    svc, reader = ExecutionService(str(tmp_path / "s.db")), ExecutionService(str(tmp_path / "s.db"))
    _Watching.reader, _Watching.seen, _Watching.record = reader, [], []
    started = ev.LifecycleHooks()
    started.on(ev.ExecutionStarted, lambda e, r: _Watching.record.append(r))
    try:
        done = await svc.run(wf, hooks=started)
        assert done.status == "completed", done.error
        marker = {"node_id": "side", "side_effects": True, "thread_id": "main"}
        assert _Watching.seen == [("pure", None, None), ("side", "running", marker), ("body", None, None), ("each", "running", None)]
        assert set(done.main.node_status.values()) == {"succeeded"} and len(done.main.node_status) == 5
        assert dict(reader.record(done.execution_id).main.node_status) == dict(done.main.node_status)
        seen_by_handler: list[Any] = []
        hooks = ev.LifecycleHooks()
        hooks.on(ev.NodeStarted, lambda e, r: seen_by_handler.append((e.node_id, r.main.node_status.get(e.node_id))))
        _Watching.seen, _Watching.record = [], []
        hooks.on(ev.ExecutionStarted, lambda e, r: _Watching.record.append(r))
        await svc.run(wf, hooks=hooks)
        assert seen_by_handler == [(n, "running") for n in ("start", "pure", "side", "each", "body")]
        assert [s[:2] for s in _Watching.seen] == [("pure", "running"), ("side", "running"), ("body", "running"), ("each", "running")]
    finally:
        for spec in specs:
            registry._REGISTRY.pop(spec.type, None)
        svc.close()
        reader.close()
