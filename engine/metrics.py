"""Prometheus metrics of runs, fed by lifecycle hooks (a subscriber like the store).

`enable()` turns them on for this process (serve, worker); the service then
subscribes `observe(hooks, workflow)` to every run it starts or resumes. Each
process exposes its own numbers at `/metrics` (`render()`); Prometheus scrapes
every process and sums them, so no shared multiprocess directory is needed.
The queue depth is read from the job queue at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from types import SimpleNamespace
from typing import Any

from engine import events as ev
from engine.model import Workflow


@cache
def _metrics() -> SimpleNamespace:
    """The registry and its metrics, made on first use: a process that never enables
    metrics (every CLI run checks `enabled()`) never imports prometheus_client."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    registry = CollectorRegistry(auto_describe=True)
    return SimpleNamespace(
        REGISTRY=registry,
        EXECUTIONS=Counter(
            "processengine_executions_total", "Executions that ended (or paused), by status", ["status"], registry=registry
        ),
        RUNNING=Gauge("processengine_executions_running", "Executions running in this process", registry=registry),
        NODE_DURATION=Histogram(
            "processengine_node_duration_seconds",
            "Duration of node attempts, by node type",
            ["node_type"],
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300),
            registry=registry,
        ),
        NODE_RETRIES=Counter(
            "processengine_node_retries_total", "Node attempts that failed and will be retried, by node type", ["node_type"], registry=registry
        ),
        QUEUE_DEPTH=Gauge("processengine_queue_depth", "Executions waiting in the job queue for a worker", registry=registry),
    )


def __getattr__(name: str) -> Any:
    """`metrics.REGISTRY`, `metrics.EXECUTIONS`, ... as before, made on first access."""
    if name in ("REGISTRY", "EXECUTIONS", "RUNNING", "NODE_DURATION", "NODE_RETRIES", "QUEUE_DEPTH"):
        return getattr(_metrics(), name)
    raise AttributeError(name)


_ENDED = {
    ev.ExecutionCompleted: "completed",
    ev.ExecutionFailed: "failed",
    ev.ExecutionCancelled: "cancelled",
    ev.ExecutionPaused: "paused",
}
_state = {"enabled": False}


def enable(queue_depth: Callable[[], float] | None = None) -> None:
    """Collect metrics of the runs of this process; `queue_depth` is read at scrape time."""
    _state["enabled"] = True
    if queue_depth is not None:
        _metrics().QUEUE_DEPTH.set_function(queue_depth)


def enabled() -> bool:
    return bool(_state["enabled"])


def observe(hooks: ev.LifecycleHooks, workflow: Workflow) -> None:
    """Subscribe the metrics to one run's hooks (node ids map to this workflow's node types)."""
    types = {n.id: n.type for n in workflow.nodes}
    running = {"on": False}
    m = _metrics()

    def started(e: Any, rec: Any) -> None:
        if not running["on"]:
            running["on"] = True
            m.RUNNING.inc()

    def ended(e: Any, rec: Any) -> None:
        m.EXECUTIONS.labels(status=_ENDED[type(e)]).inc()
        if running["on"]:
            running["on"] = False
            m.RUNNING.dec()

    def node_finished(e: ev.NodeFinished, rec: Any) -> None:
        if e.status in ("succeeded", "failed"):
            m.NODE_DURATION.labels(node_type=types.get(e.node_id, "unknown")).observe(e.duration_ms / 1000.0)

    def node_retrying(e: ev.NodeRetrying, rec: Any) -> None:
        m.NODE_RETRIES.labels(node_type=types.get(e.node_id, "unknown")).inc()

    hooks.on(ev.ExecutionStarted, started)
    hooks.on(ev.ExecutionResumed, started)
    for kind in _ENDED:
        hooks.on(kind, ended)
    hooks.on(ev.NodeFinished, node_finished)
    hooks.on(ev.NodeRetrying, node_retrying)


def render() -> tuple[bytes, str]:
    """(the Prometheus text exposition, its content type)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(_metrics().REGISTRY), CONTENT_TYPE_LATEST
