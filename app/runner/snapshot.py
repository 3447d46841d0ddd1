"""Plain, thread-safe views of a run record for the GUI.

These functions run on the engine thread (they read a `RunRecord` the
engine may be changing between awaits) and return fresh copies, so the GUI
thread never touches engine objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from app.runner.bridge import AttemptSpan, NodeLive
from engine.model import Connection, Workflow
from engine.runtime.record import MAIN_THREAD, RunRecord, ThreadRecord, summarize
from engine.runtime.status import status_object

_NODE_STATES = {"succeeded", "failed", "skipped", "cancelled", "paused", "running", "retrying", "pending", "pinned", "reused", "replayed"}


def _copy(value: Any) -> Any:
    """A deep, JSON-shaped copy (outputs are JSON values by contract)."""
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return repr(value)


@dataclass
class RunSnapshot:
    """A run as the canvas, timeline and history show it."""

    execution_id: str
    workflow_id: str
    status: str
    status_object: dict[str, Any]
    nodes: dict[str, NodeLive] = field(default_factory=dict)
    edges: dict[int, int] = field(default_factory=dict)
    spans: list[AttemptSpan] = field(default_factory=list)
    in_flight: str | None = None


def run_snapshot(record: RunRecord, *, status: dict[str, Any] | None = None) -> RunSnapshot:
    """Statuses, edge counts and attempt spans of a run (engine thread)."""
    st = status or status_object(record)
    final = st["status"]
    snap = RunSnapshot(record.execution_id, record.workflow_id, final, _copy(st))
    main = record.threads.get(MAIN_THREAD)
    if main is None:
        return snap
    for node_id, state in main.node_status.items():
        attempts = main.attempts.get(node_id, [])
        last = attempts[-1] if attempts else {}
        err = last.get("error") or {}
        if state in ("running", "retrying") and final != "running":
            state = "cancelled" if final == "cancelled" else "paused"  # the node a stop interrupted
        elif state == "paused" and final == "cancelled":
            state = "cancelled"
        elif state == "succeeded" and last.get("status") in ("pinned", "reused", "replayed"):
            state = last["status"]  # the debugger's stand-ins look like what they are
        snap.nodes[node_id] = NodeLive(
            state if state in _NODE_STATES else "pending",
            attempt=int(last.get("attempt") or 0),
            error=err.get("message") if isinstance(err, dict) else None,
            summary=summarize(main.outputs[node_id]) if node_id in main.outputs else "",
            duration_ms=last.get("duration_ms"),
        )
    snap.edges = dict(main.edge_counts)
    snap.in_flight = main.in_flight
    for thread in record.threads.values():
        for node_id, attempts in thread.attempts.items():
            for i, a in enumerate(attempts):
                start = a.get("started_at")
                if not isinstance(start, (int, float)):
                    continue
                dur = (a.get("duration_ms") or 0.0) / 1000.0
                err = a.get("error") or {}
                nxt = attempts[i + 1] if i + 1 < len(attempts) else None
                gap = None
                if a.get("status") == "failed" and nxt and isinstance(nxt.get("started_at"), (int, float)):
                    gap = max(0.0, nxt["started_at"] - (start + dur))
                snap.spans.append(
                    AttemptSpan(
                        thread.thread_id,
                        node_id,
                        int(a.get("attempt") or i + 1),
                        float(start),
                        float(start) + dur,
                        a.get("status") or "",
                        err.get("message") if isinstance(err, dict) else None,
                        gap,
                    )
                )
    snap.spans.sort(key=lambda s: s.start)
    return snap


def node_data(record: RunRecord, workflow: Workflow | None, node_id: str, thread_id: str = MAIN_THREAD) -> dict[str, Any]:
    """Input, output and every attempt of one node (engine thread; deep copies).

    The record keeps each node's latest output; a node's input is the output of
    the upstream nodes whose connections carried a value (a merge gets the
    list; a trigger gets the trigger payload).
    """
    th = record.threads.get(thread_id)
    out: dict[str, Any] = {"node_id": node_id, "status": None, "input": None, "output": None, "attempts": [], "has_output": False}
    if th is None:
        return out
    out["status"] = th.node_status.get(node_id)
    if node_id in th.outputs:
        out["output"] = _copy(th.outputs[node_id])
        out["has_output"] = True
    out["attempts"] = [
        {
            "attempt": a.get("attempt"),
            "status": a.get("status"),
            "started_at": a.get("started_at"),
            "duration_ms": a.get("duration_ms"),
            "error": _copy(a.get("error")),
            "io": _copy(a.get("io")),  # recorded request and response (HTTP, email)
        }
        for a in th.attempts.get(node_id, [])
    ]
    into = [(i, c) for i, c in enumerate(workflow.connections) if c.to_node == node_id] if workflow is not None else []
    out["input"] = _input_of(record, th, workflow, node_id, into, thread_id)
    return out


def _incoming(workflow: Workflow) -> dict[str, list[tuple[int, Connection]]]:
    """Node id -> its incoming connections with their indexes, in file order (one pass)."""
    into: dict[str, list[tuple[int, Connection]]] = {}
    for i, conn in enumerate(workflow.connections):
        into.setdefault(conn.to_node, []).append((i, conn))
    return into


def _input_of(record: RunRecord, th: ThreadRecord, workflow: Workflow | None, node_id: str, into: list[tuple[int, Connection]], thread_id: str = MAIN_THREAD) -> Any:
    """A node's last input (a copy): the trigger payload, or what its connections carried."""
    if thread_id == MAIN_THREAD and record.trigger_node == node_id:
        return _copy(record.trigger_payload)
    inputs = []
    for idx, conn in into:
        if th.edge_counts.get(idx) and conn.from_node in th.outputs:
            node = workflow.get(conn.from_node) if workflow is not None else None
            if node is not None and node.type == "loop" and conn.from_port == "loop":
                continue  # loop items are not the loop's output
            inputs.append(_copy(th.outputs[conn.from_node]))
    if not inputs:
        return None
    return inputs[0] if len(inputs) == 1 else inputs


MAX_SAMPLE_BYTES = 2_000_000


def preview_samples(record: RunRecord, workflow: Workflow) -> dict[str, Any] | None:
    """Last-run data for the inspector's expression previews (engine thread).

    `{"inputs": {node id: input}, "nodes": {node name: output}}`, or None when
    the outputs are too big to keep around for previews.
    """
    th = record.threads.get(MAIN_THREAD)
    if th is None:
        return None
    try:
        text = json.dumps(th.outputs, default=str)
    except (TypeError, ValueError):
        return None
    if len(text) > MAX_SAMPLE_BYTES:
        return None
    outputs = json.loads(text)
    names = {n.id: n.name for n in workflow.nodes}
    inputs: dict[str, Any] = {}
    incoming = _incoming(workflow)  # one pass: a pass over the connections per node was 25 M steps at 5,000 nodes
    for node in workflow.nodes:
        got = _input_of(record, th, workflow, node.id, incoming.get(node.id, []))
        if got is not None:
            inputs[node.id] = got
    return {"inputs": inputs, "nodes": {names[k]: v for k, v in outputs.items() if k in names}}
