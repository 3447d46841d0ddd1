"""Compare two executions node by node and find where they first went apart.

Per node: status, the branch taken (output ports whose connections carried a value),
attempts, total duration, whether the outputs are equal, and a structural diff of the
outputs (deepdiff, turned into a flat list of `{path, kind, left, right}` changes).
`first_divergence` walks both runs' steps in order and names the earliest step whose
node, status, branch or output differs.
"""

from __future__ import annotations

from typing import Any

from deepdiff import DeepDiff

from engine.model import Workflow
from engine.runtime.record import MAIN_THREAD, RunRecord
from engine.travel import History, Step

__all__ = ["diff_executions", "output_changes"]

MAX_CHANGES = 200  # per node; the diff says when it stopped

_KINDS = {
    "values_changed": "changed",
    "type_changes": "changed",
    "dictionary_item_added": "added",
    "dictionary_item_removed": "removed",
    "iterable_item_added": "added",
    "iterable_item_removed": "removed",
}


def output_changes(left: Any, right: Any) -> list[dict[str, Any]]:
    """A structural diff of two JSON values: one entry per changed path."""
    tree = DeepDiff(left, right, view="tree", verbose_level=2)
    changes: list[dict[str, Any]] = []
    for report, kind in _KINDS.items():
        for level in tree.get(report, []):
            changes.append(
                {
                    "path": _path(level.path(output_format="list")),
                    "kind": kind,
                    "left": None if kind == "added" else _plain(level.t1),
                    "right": None if kind == "removed" else _plain(level.t2),
                }
            )
    changes.sort(key=lambda c: c["path"])
    if len(changes) > MAX_CHANGES:
        rest = len(changes) - MAX_CHANGES
        changes = [*changes[:MAX_CHANGES], {"path": "…", "kind": "truncated", "left": rest, "right": None}]
    return changes


def _path(parts: list[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(the whole value)"


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | list | dict | type(None)) else repr(value)


def _branches(rec: RunRecord, wf: Workflow) -> dict[str, list[str]]:
    """Node -> the output ports whose connections carried at least one value (main thread)."""
    main = rec.threads.get(MAIN_THREAD)
    ports: dict[str, set[str]] = {}
    if main is None:
        return {}
    for index, count in main.edge_counts.items():
        if count and 0 <= index < len(wf.connections):
            c = wf.connections[index]
            ports.setdefault(c.from_node, set()).add(c.from_port)
    return {n: sorted(p) for n, p in ports.items()}


def _node_facts(rec: RunRecord, branches: dict[str, list[str]], node: str) -> dict[str, Any]:
    main = rec.threads.get(MAIN_THREAD)
    attempts = main.attempts.get(node, []) if main is not None else []
    durations = [a["duration_ms"] for a in attempts if a.get("duration_ms") is not None]
    return {
        "status": main.node_status.get(node) if main is not None else None,
        "port": branches.get(node),
        "attempts": len(attempts),
        "duration_ms": round(sum(durations), 3) if durations else None,
    }


def diff_executions(
    history: History, left_id: str, right_id: str, workflows: tuple[Workflow, Workflow], *, include_outputs: bool = False
) -> dict[str, Any]:
    """The `diff ID1 ID2 --json` object (`include_outputs`: also each node's two outputs,
    as `left_output` / `right_output`, for a side-by-side view)."""
    left, right = history.record(left_id), history.record(right_id)
    lb, rb = _branches(left, workflows[0]), _branches(right, workflows[1])
    lm, rm = left.threads.get(MAIN_THREAD), right.threads.get(MAIN_THREAD)
    lo = lm.outputs if lm is not None else {}
    ro = rm.outputs if rm is not None else {}
    order = [n.id for n in workflows[0].nodes] + [n.id for n in workflows[1].nodes if n.id not in {x.id for x in workflows[0].nodes}]
    nodes: dict[str, Any] = {}
    for node in order:
        lf, rf = _node_facts(left, lb, node), _node_facts(right, rb, node)
        if lf["status"] is None and rf["status"] is None:
            continue
        equal = (node in lo) == (node in ro) and lo.get(node) == ro.get(node)
        nodes[node] = {
            "left": lf,
            "right": rf,
            "status_equal": lf["status"] == rf["status"],
            "port_equal": lf["port"] == rf["port"],
            "output_equal": equal,
            "output_diff": [] if equal else output_changes(lo.get(node), ro.get(node)),
        }
        if include_outputs:
            for side, outs in (("left_output", lo), ("right_output", ro)):
                if node in outs:
                    nodes[node][side] = outs[node]
    return {
        "left": left_id,
        "right": right_id,
        "nodes": nodes,
        "differing": [n for n, d in nodes.items() if not (d["status_equal"] and d["port_equal"] and d["output_equal"])],
        "first_divergence": first_divergence(history, left_id, right_id),
    }


def first_divergence(history: History, left_id: str, right_id: str) -> dict[str, Any] | None:
    """The earliest step (in run order) whose node, status, branch or output differs."""
    ls, rs = history.steps(left_id), history.steps(right_id)
    lo, ro = history.step_outputs(left_id), history.step_outputs(right_id)
    lsucc, rsucc = history.successors(left_id), history.successors(right_id)
    for i in range(min(len(ls), len(rs))):
        a, b = ls[i], rs[i]
        reason = _step_difference(a, b, lo, ro, lsucc, rsucc)
        if reason is not None:
            return {"index": i, "node_id": a.node_id, "reason": reason, "left": a.to_json(), "right": b.to_json()}
    if len(ls) != len(rs):
        i = min(len(ls), len(rs))
        longer = ls if len(ls) > len(rs) else rs
        return {
            "index": i,
            "node_id": longer[i].node_id,
            "reason": "steps",
            "left": ls[i].to_json() if i < len(ls) else None,
            "right": rs[i].to_json() if i < len(rs) else None,
        }
    return None


def _step_difference(
    a: Step, b: Step, lo: dict[int, Any], ro: dict[int, Any], lsucc: dict[int, list[str]], rsucc: dict[int, list[str]]
) -> str | None:
    if (a.thread_id, a.node_id) != (b.thread_id, b.node_id):
        return "node"
    if a.status != b.status:
        return "status"
    if (a.index in lo) != (b.index in ro) or lo.get(a.index) != ro.get(b.index):
        return "output"
    if lsucc.get(a.index, []) != rsucc.get(b.index, []):
        return "branch"
    return None
