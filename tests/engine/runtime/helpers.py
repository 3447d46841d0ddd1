"""Small builders for runtime tests: workflows as Python data, events recorded in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine import events as ev
from engine.fileformat import parse, save
from engine.model import Workflow
from engine.runtime.record import RunRecord


def workflow(nodes: list[dict[str, Any]], connections: list[tuple[str, str, str] | tuple[str, str, str, str]], variables: dict[str, Any] | None = None) -> Workflow:
    """Build a validated workflow; nodes get name = id unless given; connections are (from, port, to[, to_port])."""
    doc = {
        "format": "processengine/1",
        "id": "wf-test",
        "name": "test",
        "variables": variables or {},
        "nodes": [{"name": n["id"], "config": {}, **n} for n in nodes],
        "connections": [
            {"from": c[0], "from_port": c[1], "to": c[2], "to_port": c[3] if len(c) > 3 else "in"} for c in connections
        ],
    }
    return parse(doc)


def save_doubling_child(folder: Path) -> None:
    """`folder`/child.pe.json: a sub-workflow (id `child-wf`) that outputs {"doubled": 2 n}."""
    child = workflow(
        [
            {"id": "in", "type": "manual_trigger"},
            {"id": "double", "type": "set", "config": {"values": {"doubled": "{{ input.n * 2 }}"}}},
        ],
        [("in", "out", "double")],
    )
    child.id = "child-wf"
    save(child, folder / "child.pe.json")


def parent_and_child(folder: Path) -> Workflow:
    """start -> call (a sub-workflow, saved as `folder`/child.pe.json, that doubles n=21) -> after."""
    save_doubling_child(folder)
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "call", "type": "sub_workflow", "config": {"file": "child.pe.json", "inputs": {"n": 21}}},
            {"id": "after", "type": "set", "config": {"values": {"r": "{{ input.doubled }}"}}},
        ],
        [("start", "out", "call"), ("call", "out", "after")],
    )


def chain(n: int, *, expression: bool = True) -> Workflow:
    """start -> set_1 -> ... -> set_n (each adds one to a counter)."""
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "manual_trigger"}]
    conns: list[tuple[str, str, str]] = []
    prev = "start"
    for i in range(1, n + 1):
        value = "{{ input.i + 1 if 'i' in input else 1 }}" if expression else i
        nodes.append({"id": f"s{i}", "type": "set", "config": {"values": {"i": value}}})
        conns.append((prev, "out", f"s{i}"))
        prev = f"s{i}"
    return workflow(nodes, conns)


class Recorder:
    """Records every lifecycle event as a compact tuple, in order."""

    def __init__(self) -> None:
        self.hooks = ev.LifecycleHooks()
        self.events: list[ev.Event] = []
        self.hooks.on_any(self._on)

    def _on(self, event: ev.Event, run: RunRecord) -> None:
        self.events.append(event)

    def compact(self) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for e in self.events:
            name = type(e).__name__
            if isinstance(e, ev.NodeStarted):
                out.append((name, e.node_id, e.attempt))
            elif isinstance(e, ev.NodeRetrying):
                out.append((name, e.node_id, e.attempt, e.max_attempts))
            elif isinstance(e, ev.NodeFinished):
                out.append((name, e.node_id, e.status))
            else:
                out.append((name,))
        return out

    def started_order(self) -> list[str]:
        return [e.node_id for e in self.events if isinstance(e, ev.NodeStarted)]
