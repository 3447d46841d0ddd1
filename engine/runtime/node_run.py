"""One node's run, as the orchestrator's steps share it: its attempts' state (`NodeRun`,
also its contexts' host), its logger (`NodeLog`), the bound on a cycle's visits, and the
failure that ends a run (`RunFailed`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from engine.model import Node
from engine.nodes.base import NodeSpec
from engine.runtime.plan import Plan
from engine.runtime.record import Frame, ThreadRecord

if TYPE_CHECKING:
    from engine.runtime.orchestrator import Orchestrator

__all__ = ["NodeLog", "NodeRun", "RunFailed", "check_visits"]


class RunFailed(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.error = error


class NodeRun:
    """One node's run across its attempts (what the steps of `_run_node` share). It is
    also its contexts' host: the node's logger, names and `evaluate` are made only when
    asked for (most nodes never ask). An attempt's times, its INFO verdict and its output's
    text are set by the attempt itself (`_begin`, the output check), never read before."""

    __slots__ = (
        "attempt", "attempts", "duration", "frame", "info", "node", "node_state", "orch", "plan", "raw", "side", "spec",
        "started", "t0", "th",
    )
    started: float  # epoch seconds the attempt started
    t0: float  # perf_counter at its start
    duration: float  # ms, of a failed attempt
    info: bool  # log lines at INFO wanted (asked once per attempt)
    raw: bytes | None  # the UTF-8 JSON text of a one-port output, made by its check

    def __init__(self, orch: Orchestrator, th: ThreadRecord, plan: Plan, node: Node, spec: NodeSpec, frame: Frame) -> None:
        self.orch = orch
        self.th = th
        self.plan = plan
        self.node = node
        self.spec = spec
        self.frame = frame
        self.attempt = frame.attempt
        attempts = th.attempts.get(node.id)
        if attempts is None:
            attempts = th.attempts[node.id] = []
        self.attempts: list[dict[str, Any]] = attempts
        self.node_state: dict[str, Any] = dict(frame.state) if frame.state else {}
        self.side = node.id in plan.side_effects

    def names(self) -> dict[str, Any]:
        return self.orch._names(self.th, self.plan, self.frame.value)

    def node_log(self) -> NodeLog:
        return self.orch._node_log(self.node.id)

    def evaluate(self, expression: str, extra: dict[str, Any] | None = None) -> Any:
        return self.orch._evaluate(self.th, self.plan, self.node, self.frame.value, expression, extra)


class NodeLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Prefixes every node log line with the execution and node ids (for people reading the
    file) and carries them as the record's `execution_id` / `node_id` fields (for programs)."""

    def __init__(self, logger: logging.Logger, execution_id: str, node_id: str) -> None:
        super().__init__(logger, {"execution_id": execution_id, "node_id": node_id})

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        kwargs["extra"] = {**(kwargs.get("extra") or {}), **extra}  # a node's own fields (code.py's "source") stay
        return f"execution={extra['execution_id']} node={extra['node_id']} {msg}", kwargs


def check_visits(th: ThreadRecord, plan: Plan, node: Node) -> None:
    """Fail the run when a node on a cycle is about to run more often than the workflow
    allows (a cycle that never takes its way out). Counted from the attempt records, so
    the bound holds across a pause and a resume."""
    limit = plan.wf.max_node_visits
    attempts = th.attempts.get(node.id)
    if attempts is None or len(attempts) < limit or node.id not in plan.routing.cyclic:
        return  # a loop body's runs are bounded by its loop's items, not by this
    visits = sum(1 for a in attempts if a["attempt"] == 1 and a["status"] not in ("paused", "retry_now", "give_up"))
    if visits >= limit:
        th.node_status[node.id] = "failed"
        raise RunFailed({
            "message": f"node {node.name!r} would run more than {limit} times (the workflow's max_node_visits): "
            "a cycle that does not end?",
            "type": "MaxNodeVisits",
            "node_id": node.id,
            "attempt": 0,
            "traceback": "",
        })
