"""The one serializable record of a run (n8n's IRunExecutionData, in our shape).

Everything needed to resume lives here: per thread the execution stack
(LIFO frames), the merge waiting map, loop states and the execution memory
(variables + node outputs), plus per-node attempt records. The store writes
it as the checkpoint; `to_json`/`from_json` are exact inverses.
"""

from __future__ import annotations

import itertools
import math
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from engine.recorded_io import RunIO
from engine.runtime.debug import DebugState

if TYPE_CHECKING:
    from engine.model import Workflow

__all__ = [
    "CANCELLED",
    "COMPLETED",
    "FAILED",
    "INTERRUPTED",
    "MAIN_THREAD",
    "MAX_SUMMARY",
    "NO_OUTPUT",
    "PAUSED",
    "QUEUED",
    "RESUMABLE",
    "RUNNING",
    "TERMINAL",
    "Frame",
    "LoopState",
    "RunRecord",
    "ThreadRecord",
    "attempt_entry",
    "cut_short_attempt",
    "error_object",
    "iso",
    "new_record",
    "summarize",
]

MAIN_THREAD = "main"
NO_OUTPUT: Any = object()  # a finished node that stored no output (`Recorder.node_finished`)

# run statuses
RUNNING, PAUSED, COMPLETED, FAILED, CANCELLED, INTERRUPTED = (
    "running",
    "paused",
    "completed",
    "failed",
    "cancelled",
    "interrupted",
)
QUEUED: Final = "queued"  # waiting in the team queue for a worker (queue mode)
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED})
RESUMABLE = frozenset({PAUSED, INTERRUPTED})


@dataclass(slots=True)
class Frame:
    """One unit of work on the stack: deliver `value` to `node_id` (or advance a loop)."""

    node_id: str
    value: Any = None
    port: str = "in"
    conn: int | None = None  # index of the connection the value travelled (None: trigger start)
    kind: str = "run"  # "run" | "loop_tick"
    attempt: int = 0  # attempts already made (kept across a pause during back-off)
    state: dict[str, Any] | None = None  # the node's resume state (NodeContext.state) after a pause

    def to_json(self) -> list[Any]:
        data = [self.node_id, self.value, self.port, self.conn, self.kind, self.attempt]
        if self.state:
            data.append(self.state)
        return data

    @classmethod
    def from_json(cls, data: list[Any]) -> Frame:
        return cls(*data)


@dataclass(slots=True)
class LoopState:
    items: list[Any]
    index: int = -1
    results: list[Any] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"items": self.items, "index": self.index, "results": self.results}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LoopState:
        return cls(d["items"], d["index"], d["results"])


@dataclass(slots=True, repr=False)
class ThreadRecord:
    """A stack of its own: the main workflow, or one sub-workflow call."""

    thread_id: str
    workflow_id: str
    parent_thread_id: str | None = None
    parent_node_id: str | None = None
    status: str = RUNNING
    total: int = 0
    stack: list[Frame] = field(default_factory=list)
    waiting: dict[str, dict[int, Any]] = field(default_factory=dict)  # merge node -> conn index -> value
    loops: dict[str, LoopState] = field(default_factory=dict)
    loop_stack: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)  # node id -> latest output
    node_status: dict[str, str] = field(default_factory=dict)  # node id -> latest status
    attempts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    edge_counts: dict[int, int] = field(default_factory=dict)  # connection index -> values carried
    in_flight: str | None = None  # node id running right now (re-runs after a crash)
    last_output: Any = None  # value of the last finished terminal node (a sub-workflow's result)
    started_at: float | None = None
    stopped_at: float | None = None
    error: dict[str, Any] | None = None

    def __repr__(self) -> str:
        """A summary: the generated repr would spell out every output and attempt."""
        return (
            f"ThreadRecord(thread_id={self.thread_id!r}, status={self.status!r}, "
            f"outputs={len(self.outputs)}, stack={len(self.stack)})"
        )

    def progress(self) -> dict[str, Any]:
        from engine.runtime.status import progress_of  # defined once, with the status object

        return progress_of(self.node_status.values(), self.total)

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "workflow_id": self.workflow_id,
            "parent_thread_id": self.parent_thread_id,
            "parent_node_id": self.parent_node_id,
            "status": self.status,
            "total": self.total,
            "stack": [f.to_json() for f in self.stack],
            "waiting": {k: [[i, v] for i, v in w.items()] for k, w in self.waiting.items()},
            "loops": {k: s.to_json() for k, s in self.loops.items()},
            "loop_stack": list(self.loop_stack),
            "variables": self.variables,
            "outputs": self.outputs,
            "node_status": self.node_status,
            "attempts": self.attempts,
            "edge_counts": [[k, v] for k, v in self.edge_counts.items()],
            "in_flight": self.in_flight,
            "last_output": self.last_output,
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ThreadRecord:
        return cls(
            thread_id=d["thread_id"],
            workflow_id=d["workflow_id"],
            parent_thread_id=d.get("parent_thread_id"),
            parent_node_id=d.get("parent_node_id"),
            status=d.get("status", RUNNING),
            total=d.get("total", 0),
            stack=[Frame.from_json(f) for f in d.get("stack", [])],
            waiting={k: {int(i): v for i, v in w} for k, w in d.get("waiting", {}).items()},
            loops={k: LoopState.from_json(s) for k, s in d.get("loops", {}).items()},
            loop_stack=list(d.get("loop_stack", [])),
            variables=d.get("variables", {}),
            outputs=d.get("outputs", {}),
            node_status=d.get("node_status", {}),
            attempts=d.get("attempts", {}),
            edge_counts={int(k): v for k, v in d.get("edge_counts", [])},
            in_flight=d.get("in_flight"),
            last_output=d.get("last_output"),
            started_at=d.get("started_at"),
            stopped_at=d.get("stopped_at"),
            error=d.get("error"),
        )


@dataclass(slots=True, repr=False)
class RunRecord:
    execution_id: str
    workflow_id: str
    workspace: str = "default"
    status: str = RUNNING
    trigger_node: str | None = None
    trigger_payload: Any = None
    started_at: float | None = None
    stopped_at: float | None = None
    threads: dict[str, ThreadRecord] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    response: dict[str, Any] | None = None  # set by respond_webhook
    workflow_file: str | None = None  # where sub-workflow paths are resolved from
    paused_ms: float = 0.0  # time spent paused between a pause and its resume (not part of the duration)
    debug: DebugState = field(default_factory=DebugState)  # breakpoints, pins, paused_at, re-run source
    io: RunIO = field(default_factory=RunIO)  # capture email / replay modes, unwritten recordings

    def __repr__(self) -> str:
        """A summary. asyncio's repr of a finished task holds its result's repr, and
        `asyncio.run` builds that repr on its way out (reading back its SIGINT handler,
        a partial naming the task): the generated repr of a 100,000-node record was
        hundreds of megabytes, the peak memory of the whole run."""
        return (
            f"RunRecord(execution_id={self.execution_id!r}, workflow_id={self.workflow_id!r}, "
            f"status={self.status!r}, threads={list(self.threads.values())!r})"
        )

    @property
    def main(self) -> ThreadRecord:
        return self.threads[MAIN_THREAD]

    @property
    def resumable(self) -> bool:
        return self.status in RESUMABLE

    def to_json(self) -> dict[str, Any]:
        return {
            "execution_id": self.execution_id,
            "workflow_id": self.workflow_id,
            "workspace": self.workspace,
            "status": self.status,
            "trigger_node": self.trigger_node,
            "trigger_payload": self.trigger_payload,
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
            "threads": {k: t.to_json() for k, t in self.threads.items()},
            "error": self.error,
            "response": self.response,
            "workflow_file": self.workflow_file,
            "paused_ms": self.paused_ms,
            "debug": {**self.debug.to_json(), "paused_at": self.debug.paused_at},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunRecord:
        return cls(
            execution_id=d["execution_id"],
            workflow_id=d["workflow_id"],
            workspace=d.get("workspace", "default"),
            status=d.get("status", RUNNING),
            trigger_node=d.get("trigger_node"),
            trigger_payload=d.get("trigger_payload"),
            started_at=d.get("started_at"),
            stopped_at=d.get("stopped_at"),
            threads={k: ThreadRecord.from_json(t) for k, t in d.get("threads", {}).items()},
            error=d.get("error"),
            response=d.get("response"),
            workflow_file=d.get("workflow_file"),
            paused_ms=d.get("paused_ms", 0.0),
            debug=DebugState.from_json(d.get("debug")),
        )


def new_record(
    workflow: Workflow,
    *,
    execution_id: str,
    inputs: Any = None,
    variables: dict[str, Any] | None = None,
    trigger: str | None = None,
    workspace: str = "default",
    workflow_file: str | None = None,
) -> RunRecord:
    """A fresh run record with the trigger's frame on the main stack."""
    from engine.errors import EngineError
    from engine.nodes.registry import get_spec

    trigger_types = {t for t in dict.fromkeys(n.type for n in workflow.nodes) if get_spec(t).is_trigger}
    triggers = [n for n in workflow.nodes if n.type in trigger_types]  # a spec asked once per type
    if trigger is None:
        chosen = next((n for n in triggers if n.type == "manual_trigger"), None) or (triggers[0] if triggers else None)
    else:
        chosen = workflow.get(trigger)
    if chosen is None:
        if trigger is None:
            raise EngineError("the workflow has no trigger to start from")
        listed = ", ".join(n.id for n in triggers) or "none"
        raise EngineError(f"the workflow has no node {trigger!r} to start from; its triggers: {listed}")
    payload = {} if inputs is None else inputs
    main = ThreadRecord(
        thread_id=MAIN_THREAD,
        workflow_id=workflow.id,
        total=len(workflow.nodes),
        variables={**workflow.variables, **(variables or {})},
    )
    main.stack.append(Frame(chosen.id, payload))
    rec = RunRecord(
        execution_id=execution_id,
        workflow_id=workflow.id,
        workspace=workspace,
        trigger_node=chosen.id,
        trigger_payload=payload,
        workflow_file=workflow_file,
    )
    rec.threads[MAIN_THREAD] = main
    return rec


# -- small helpers every surface shares (re-exported by engine.runtime.orchestrator) --
MAX_SUMMARY = 120


_ISO_SECONDS: dict[float, str] = {}  # whole epoch second -> its ISO text up to the seconds
_ISO_MILLIS = tuple(f".{ms:03d}+00:00" for ms in range(1000))  # the text after the seconds


def iso(ts: float | None) -> str | None:
    """`datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")`, with the
    date and time of day formatted once per second: a run's report formats two times
    per attempt (thousands in a long run), nearly all within a few seconds."""
    if ts is None:
        return None
    # datetime's own split of a float timestamp: microseconds rounded half to even
    frac, whole = math.modf(ts)
    us = round(frac * 1e6)
    if us >= 1_000_000:
        us -= 1_000_000
        whole += 1.0
    elif us < 0:
        us += 1_000_000
        whole -= 1.0
    head = _ISO_SECONDS.get(whole)
    if head is None:
        if len(_ISO_SECONDS) >= 4096:
            _ISO_SECONDS.clear()
        head = _ISO_SECONDS[whole] = datetime.fromtimestamp(whole, UTC).isoformat(timespec="seconds")[:-6]
    return head + _ISO_MILLIS[us // 1000]


def summarize(value: Any) -> str:
    """A short human summary of an output (for events, logs and canvas edges)."""
    if isinstance(value, list):
        return f"{len(value)} items"
    if isinstance(value, dict):
        if len(value) <= 4:  # most outputs: no list of every key
            return "{" + ", ".join(map(str, value)) + "}"
        return "{" + ", ".join(map(str, itertools.islice(value, 4))) + "…}"
    text = repr(value)
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


def error_object(exc: BaseException, node_id: str, attempt: int, thread_id: str = MAIN_THREAD) -> dict[str, Any]:
    """The error object routed on `error` ports and stored with failed attempts."""
    status = getattr(exc, "status", None)
    obj = {
        "message": str(getattr(exc, "message", None) or exc) or type(exc).__name__,
        "type": getattr(exc, "error_type", None) or type(exc).__name__,
        "node_id": node_id,
        "attempt": attempt,
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }
    if status is not None:
        obj["status"] = status
    if thread_id != MAIN_THREAD:
        obj["thread_id"] = thread_id
    return obj


def attempt_entry(attempt: int, status: str, started: float, duration_ms: float, error: dict[str, Any] | None) -> dict[str, Any]:
    """One entry of a node's attempt list (`ThreadRecord.attempts`), as the store keeps it.
    The duration is kept to the microsecond (`round(d * 1000) / 1000`: the same as
    `round(d, 3)` but for a tie in the last place, at half its cost)."""
    return {
        "attempt": attempt,
        "status": status,
        "started_at": started,
        "duration_ms": round(duration_ms * 1000) / 1000,
        "error": error,
    }


def cut_short_attempt(node_id: str, attempt: int, started: float, duration_ms: float) -> dict[str, Any]:
    """The attempt a pause cut short mid-I/O (RunControl.pause): it runs again on resume."""
    error = {"message": "paused while this node was running (its request was cut short); resume runs it again",
             "type": "Interrupted", "node_id": node_id, "attempt": attempt, "traceback": None}
    return attempt_entry(attempt, "interrupted", started, duration_ms, error)
