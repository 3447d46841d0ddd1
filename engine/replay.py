"""Replay: answer HTTP and email nodes of a re-run from the source run's recordings.

`replay_plan(store, source_id, workflow, nodes)` picks, per node, the recordings of the
attempts that ended each of its runs in the source (a retried request replays its last
answer); `nodes=None` takes every HTTP and email node that has one. A chosen node that
is not an HTTP or email node, or has no recording, is a clear error naming it. The plan
goes on the new run's `RunIO`; the spec (`source`, `nodes`, `strict`) is stored with the
execution so a resumed replay keeps replaying instead of reaching the network.
"""

from __future__ import annotations

from typing import Any

from engine.errors import EngineError
from engine.model import Workflow
from engine.recorded_io import RunIO

__all__ = ["REPLAYABLE", "apply", "recorded_nodes", "replay_plan"]

REPLAYABLE = {"http_request": "http", "send_email": "email"}


def _final_recordings(store: Any, source_id: str) -> dict[str, list[dict[str, Any]]]:
    """Node id -> the recordings that ended each of its runs in the source (main thread)."""
    by_node: dict[str, list[dict[str, Any]]] = {}
    for r in store.recordings(source_id):
        if r["thread_id"] != "main":
            continue
        lst = by_node.setdefault(r["node_id"], [])
        if lst and r["attempt"] == lst[-1]["attempt"] + 1:
            lst[-1] = r  # a retry: the later attempt ended this run of the node
        else:
            lst.append(r)
    return by_node


def recorded_nodes(store: Any, source_id: str) -> set[str]:
    """The nodes a re-run of `source_id` can replay: those with a recording of their own there."""
    return set(_final_recordings(store, source_id))


def replay_plan(store: Any, source_id: str, workflow: Workflow, nodes: list[str] | None) -> dict[str, list[dict[str, Any]]]:
    """Node id -> the source's final recordings of it, in run order (main thread)."""
    by_node = _final_recordings(store, source_id)
    chosen = nodes if nodes else [n.id for n in workflow.nodes if n.type in REPLAYABLE and n.id in by_node]
    plan: dict[str, list[dict[str, Any]]] = {}
    for node_id in chosen:
        node = workflow.get(node_id)
        if node is None:
            raise EngineError(f"--replay: the workflow has no node {node_id!r}")
        if node.type not in REPLAYABLE:
            raise EngineError(f"--replay: node {node_id!r} is a {node.type} node; only HTTP request and send email nodes replay")
        if node_id not in by_node:
            raise EngineError(f"--replay: node {node_id!r} has no recording in execution {source_id} (it did not run there)")
        plan[node_id] = [_answer(r) for r in by_node[node_id]]
    return plan


def _answer(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r[k] for k in ("kind", "captured", "request", "response")}


def apply(io: RunIO, spec: dict[str, Any], plan: dict[str, list[dict[str, Any]]]) -> None:
    """Put a replay on a run: its plan, strictness and the spec stored with the execution."""
    io.replay = {k: list(v) for k, v in plan.items()}
    io.strict_replay = bool(spec.get("strict"))
    io.replay_spec = dict(spec)
