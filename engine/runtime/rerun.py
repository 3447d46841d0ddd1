"""A re-run of an execution from one of its nodes, as a new run record.

Every node that is neither the start node nor downstream of it keeps its output
from the source run (attempt status `reused`: it does not run, so nothing is
requested or sent again); the start node gets the input it had in the source
run; merges downstream get the values their reused inputs delivered. Only the
main thread's nodes can be a start node: a node inside a sub-workflow runs
again with its sub-workflow call.
"""

from __future__ import annotations

import time
from typing import Any

from engine.errors import EngineError
from engine.model import Workflow
from engine.runtime.debug import descendants
from engine.runtime.record import Frame, RunRecord, ThreadRecord, new_record

__all__ = ["recorded_input", "rerun_record"]


def rerun_record(
    source: RunRecord,
    workflow: Workflow,
    *,
    execution_id: str,
    start: str,
    workspace: str = "default",
    workflow_file: str | None = None,
    source_workflow: Workflow | None = None,
) -> RunRecord:
    """The new record: reused outputs in place, the start node's frame on the stack.

    `source_workflow` (the version the source ran): edges out of reused nodes keep the
    counts they had, matched by their ends and ports (so an edited file is fine too).
    """
    from engine.nodes.registry import get_spec

    node = workflow.get(start)
    if node is None:
        raise EngineError(f"re-run: the workflow has no node {start!r}")
    src = source.main
    value = recorded_input(source, workflow, start)
    trigger = source.trigger_node if source.trigger_node and workflow.get(source.trigger_node) else None
    rec = new_record(
        workflow,
        execution_id=execution_id,
        inputs=source.trigger_payload,
        variables=dict(src.variables),
        trigger=trigger,
        workspace=workspace,
        workflow_file=workflow_file or source.workflow_file,
    )
    main = rec.main
    kind = get_spec(node.type).kind
    main.stack = [Frame(start, value, kind="merge_fire" if kind == "merge" else "run")]
    again = descendants(workflow, start) | {start}
    reused = _reuse(main, src, workflow, again)
    _prefill_merges(main, workflow, again - {start}, reused)
    if source_workflow is not None:
        _reuse_edge_counts(main, src, workflow, source_workflow, reused)
    rec.debug.rerun_of = source.execution_id
    rec.debug.rerun_from = start
    return rec


def _reuse(main: ThreadRecord, src: ThreadRecord, wf: Workflow, again: set[str]) -> set[str]:
    """Copy the outputs of nodes that do not run again; each gets a `reused` attempt."""
    now = time.time()
    reused = set()
    for n in wf.nodes:
        if n.id in again or n.id not in src.outputs or src.node_status.get(n.id) not in ("succeeded", "failed"):
            continue
        main.outputs[n.id] = src.outputs[n.id]
        main.node_status[n.id] = src.node_status[n.id]
        main.attempts[n.id] = [{"attempt": 1, "status": "reused", "started_at": now, "duration_ms": 0.0, "error": None}]
        reused.add(n.id)
    return reused


def _prefill_merges(main: ThreadRecord, wf: Workflow, downstream: set[str], reused: set[str]) -> None:
    """A merge that runs again already holds what its reused inputs delivered."""
    from engine.nodes.registry import get_spec

    for i, c in enumerate(wf.connections):
        target = wf.get(c.to_node)
        if c.to_node in downstream and c.from_node in reused and target is not None and get_spec(target.type).kind == "merge":
            main.waiting.setdefault(c.to_node, {})[i] = main.outputs[c.from_node]


def _reuse_edge_counts(main: ThreadRecord, src: ThreadRecord, wf: Workflow, source_wf: Workflow, reused: set[str]) -> None:
    """Edges leaving a reused node show what they carried in the source run."""
    counts = {c.key: src.edge_counts[i] for i, c in enumerate(source_wf.connections) if i in src.edge_counts}
    for i, c in enumerate(wf.connections):
        if c.from_node in reused and c.key in counts:
            main.edge_counts[i] = counts[c.key]


def recorded_input(source: RunRecord, wf: Workflow, node_id: str) -> Any:
    """The input `node_id` had in the source run (its upstream outputs; a merge: their list)."""
    from engine.nodes.registry import get_spec

    node = wf.get(node_id)
    if node is None:
        raise EngineError(f"re-run: the workflow has no node {node_id!r}")
    src = source.main
    spec = get_spec(node.type)
    if spec.is_trigger:
        return source.trigger_payload if node_id == source.trigger_node else {}
    if node_id not in src.attempts:
        raise EngineError(f"node {node_id!r} did not run in execution {source.execution_id}: there is no input to re-run it with")
    incoming = [c for c in wf.connections if c.to_node == node_id and c.from_node in src.outputs]
    if spec.kind == "merge":
        return [src.outputs[c.from_node] for c in incoming]
    for c in incoming:
        up = wf.get(c.from_node)
        if up is not None and get_spec(up.type).kind == "loop" and c.from_port == "loop":
            raise EngineError(f"node {node_id!r} runs inside the loop {up.id!r}: re-run from the loop node instead")
    if not incoming:
        raise EngineError(f"no node upstream of {node_id!r} left an output in execution {source.execution_id}")
    latest = max(incoming, key=lambda c: _last_start(src, c.from_node))
    return src.outputs[latest.from_node]


def _last_start(th: ThreadRecord, node_id: str) -> float:
    attempts = th.attempts.get(node_id) or [{}]
    return float(attempts[-1].get("started_at") or 0.0)
