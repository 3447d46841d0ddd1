"""A finished run is freed by reference counting: nothing of it is left for the collector.

A run's objects (the orchestrator, the services it lends to nodes, its debugger, the hooks,
the checkpointer, the record with every node's outputs and attempts) must not refer to one
another in cycles: a 2,000-node chain left 8,088 objects that only a full garbage collection
could free, which the studio has to put off after a big run and a long CLI chain pays for
over and over. Each run here goes with the collector switched off; weak references to its
objects must be dead once the caller drops the record and the handle, and a collection
afterwards must find none of the engine's objects.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import events as ev
from engine.fileformat import save
from engine.model import Workflow
from engine.runtime.record import RunRecord
from engine.service import ExecutionService, RunHandle
from tests.engine.runtime.helpers import save_doubling_child, workflow
from tests.engine.store.fixtures import backend_params, pg_url
from tests.servers import HttpTestServer


@pytest.fixture(params=[*backend_params(), pytest.param("memory", id="memory")], name="svc")
def svc_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ExecutionService]:
    if request.param == "sqlite":
        service = ExecutionService(str(tmp_path / "pe.db"))
    elif request.param == "postgres":
        import uuid

        service = ExecutionService(pg_url(), workspace=f"t-{uuid.uuid4().hex[:12]}")
    else:
        service = ExecutionService(in_memory=True)
    yield service
    service.close()


@pytest.fixture(autouse=True)
def collector_off() -> Iterator[None]:
    """The collector off for the test (as the studio keeps full collections off during a run)."""
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    yield
    if was:
        gc.enable()


def _engine_garbage() -> list[str]:
    """The engine's objects a full collection finds unreachable (each described), collected."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = [_describe(o) for o in gc.garbage if _of_engine(o)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return found


def _of_engine(o: Any) -> bool:
    if type(o).__module__.startswith("engine."):
        return True
    if hasattr(o, "__self__") and hasattr(o, "__func__"):  # a bound method
        return _of_engine(o.__self__)
    if type(o).__name__ == "function":
        return str(getattr(o, "__module__", "")).startswith("engine.")
    if type(o).__name__ == "cell":
        try:
            return _of_engine(o.cell_contents)
        except ValueError:  # an empty cell
            return False
    return False


def _describe(o: Any) -> str:
    return f"{type(o).__qualname__}: {repr(o)[:120]}"


class _Watched:
    """Weak references to a run's objects, taken while it runs (the record takes none: the
    orchestrator holds it, and a record left in a cycle is among the collector's finds)."""

    def __init__(self, handle: RunHandle) -> None:
        orch = handle.orchestrator
        objects = {"orchestrator": orch, "hooks": orch.hooks, "services": orch.services, "control": handle.control, "task": handle.task}
        if orch.recorder is not None:
            objects["checkpointer"] = orch.recorder
        self.refs = {name: weakref.ref(o) for name, o in objects.items()}

    def alive(self) -> list[str]:
        return [name for name, ref in self.refs.items() if ref() is not None]


async def _run_to_its_end(handle: RunHandle, status: str) -> _Watched:
    """Wait for the run, check how it ended, and drop it: what it leaves is then checked."""
    watched = _Watched(handle)
    rec = await handle.task
    assert rec.status == status, rec.error
    return watched


async def _assert_freed(watched: _Watched) -> None:
    await asyncio.sleep(0)  # one turn of the loop: it holds a finished task until its callbacks ran
    assert watched.alive() == [], "still alive without a collection"
    left = _engine_garbage()
    assert not left, "left for the garbage collector:\n" + "\n".join(left)


def _shapes(folder: Path, url: str) -> Workflow:
    """A loop, a branch and its merge, a sub-workflow and an HTTP call retried once."""
    save_doubling_child(folder)
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "each", "type": "loop", "config": {"items": "{{ [1, 2, 3] }}"}},
            {"id": "body", "type": "set", "config": {"values": {"sq": "{{ loop.item * loop.item }}"}}},
            {"id": "chk", "type": "if", "config": {"condition": "{{ len(input) > 2 }}"}},
            {"id": "yes", "type": "set", "config": {"values": {"big": True}}},
            {"id": "no", "type": "set", "config": {"values": {"big": False}}},
            {"id": "m", "type": "merge", "config": {}},
            {"id": "call", "type": "sub_workflow", "config": {"file": "child.pe.json", "inputs": {"n": 21}}},
            {"id": "get", "type": "http_request", "config": {"url": url}, "retry": {"max_attempts": 2, "initial_delay_s": 0, "jitter": False}},
            {"id": "end", "type": "set", "config": {"values": {"doubled": "{{ nodes.call.doubled }}"}}},
        ],
        [
            ("start", "out", "each"), ("each", "loop", "body"), ("body", "out", "each"), ("each", "done", "chk"),
            ("chk", "true", "yes"), ("chk", "false", "no"), ("yes", "out", "m"), ("no", "out", "m"),
            ("m", "out", "call"), ("call", "out", "get"), ("get", "out", "end"),
        ],
    )  # fmt: skip


@pytest.fixture(name="shapes")
def shapes_fixture(tmp_path: Path, http_server: HttpTestServer) -> tuple[Workflow, str]:
    """(the workflow of `_shapes`, its file): the server fails the first call once."""
    http_server.fail_first("/flaky", 1)
    wf = _shapes(tmp_path, http_server.url_for("/flaky"))
    path = tmp_path / "parent.pe.json"
    save(wf, path)
    return wf, str(path)


async def test_a_completed_run_with_a_loop_branch_sub_workflow_and_retry(svc: ExecutionService, shapes: tuple[Workflow, str]) -> None:
    wf, path = shapes
    handle = await svc.start(wf, workflow_file=path)
    watched = await _run_to_its_end(handle, "completed")
    del handle
    await _assert_freed(watched)


async def test_a_paused_run_and_its_resume(svc: ExecutionService, shapes: tuple[Workflow, str]) -> None:
    wf, path = shapes
    hooks = ev.LifecycleHooks()
    hooks.on(ev.NodeFinished, lambda e, r: svc.pause(e.execution_id) if e.node_id == "yes" else None)
    handle = await svc.start(wf, workflow_file=path, hooks=hooks)
    execution_id = handle.execution_id
    watched = await _run_to_its_end(handle, "paused")
    del handle, hooks
    await _assert_freed(watched)
    handle = await svc.resume(execution_id, workflow=wf)
    watched = await _run_to_its_end(handle, "completed")
    del handle
    await _assert_freed(watched)


async def test_a_cancelled_run(svc: ExecutionService, shapes: tuple[Workflow, str]) -> None:
    wf, path = shapes
    hooks = ev.LifecycleHooks()
    hooks.on(ev.NodeStarted, lambda e, r: svc.cancel(e.execution_id) if e.node_id == "call" else None)
    handle = await svc.start(wf, workflow_file=path, hooks=hooks)
    watched = await _run_to_its_end(handle, "cancelled")
    del handle, hooks
    await _assert_freed(watched)


async def test_a_run_failed_in_its_sub_workflow(svc: ExecutionService, tmp_path: Path) -> None:
    child = workflow(
        [{"id": "in", "type": "manual_trigger"}, {"id": "bad", "type": "set", "config": {"values": {"x": "{{ 1 / 0 }}"}}}],
        [("in", "out", "bad")],
    )
    save(child, tmp_path / "bad.pe.json")
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, {"id": "call", "type": "sub_workflow", "config": {"file": "bad.pe.json"}}],
        [("start", "out", "call")],
    )
    handle = await svc.start(wf, workflow_file=str(tmp_path / "parent.pe.json"))
    watched = await _run_to_its_end(handle, "failed")
    del handle
    await _assert_freed(watched)


class _Bridge:
    """What the studio subscribes: one handler for every event, keeping the last record
    until the next run (as the studio's event bridge does)."""

    def __init__(self) -> None:
        self.events = 0
        self.record: RunRecord | None = None

    def hooks(self) -> ev.LifecycleHooks:
        hooks = ev.LifecycleHooks()
        hooks.on_any(self.on_event)
        return hooks

    def on_event(self, event: ev.Event, record: RunRecord) -> None:
        self.events += 1
        self.record = record


async def test_a_studio_run_stopped_at_a_conditional_breakpoint_then_resumed(svc: ExecutionService, shapes: tuple[Workflow, str]) -> None:
    wf, path = shapes
    bridge = _Bridge()
    handle = await svc.start(wf, workflow_file=path, hooks=bridge.hooks(), pins=True, capture_email=True, breakpoints=["body:input > 1"])
    execution_id = handle.execution_id
    watched = await _run_to_its_end(handle, "paused")
    del handle
    bridge.record = None  # the studio lets go of a run's record when the next one starts
    await _assert_freed(watched)
    handle = await svc.resume(execution_id, hooks=bridge.hooks(), workflow=wf, clear_breaks=True)
    watched = await _run_to_its_end(handle, "completed")
    del handle
    bridge.record = None
    await _assert_freed(watched)
    assert bridge.events > 10
