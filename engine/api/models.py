"""Request and response models of the control API (the OpenAPI document is generated from them).

The status object mirrors DESIGN.md's (`engine.runtime.status`); extra keys a
later version adds are kept, not refused.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["queued", "running", "paused", "completed", "failed", "cancelled", "interrupted"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


EXAMPLE: dict[str, Any] = {
    "workflow": {
        "format": "processengine/1",
        "id": "hello-api",
        "name": "Hello",
        "variables": {"who": "world"},
        "nodes": [
            {"id": "start", "type": "manual_trigger", "name": "Start", "position": [0, 0], "config": {}},
            {"id": "greet", "type": "set", "name": "Greet", "position": [240, 0], "config": {"values": {"message": "Hello, {{ vars.who }}!"}}},
        ],
        "connections": [{"from": "start", "from_port": "out", "to": "greet", "to_port": "in"}],
    },
    "variables": {"who": "API"},
    "input": None,
    "queue": False,
}


class ExecuteRequest(BaseModel):
    """Start an execution of a workflow document or of the newest saved version of a workflow id."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [EXAMPLE]})

    workflow: dict[str, Any] | str = Field(description="a processengine/1 workflow document, or a saved workflow id")
    variables: dict[str, Any] = Field(default_factory=dict, description="workflow variable overrides")
    input: Any = Field(None, description="the trigger payload")
    trigger: str | None = Field(None, description="the trigger node id to start from (default: the manual trigger)")
    queue: bool = Field(False, description="enqueue for a worker (queue mode) instead of running in this process")


class ExecutionRef(BaseModel):
    execution_id: str
    status: Status


class Progress(_Open):
    total: int
    completed: int
    failed: int
    skipped: int
    percent: float


class Timing(_Open):
    started_at: str | None
    stopped_at: str | None
    duration_ms: float | None


class ThreadStatus(_Open):
    thread_id: str
    workflow_id: str
    parent_thread_id: str | None
    node_id: str | None
    status: str
    progress: Progress
    in_flight: str | None = None


class ErrorInfo(_Open):
    message: str | None
    traceback: str | None
    node_id: str | None


class InFlight(_Open):
    node_id: str
    side_effects: bool
    thread_id: str


class StatusObject(_Open):
    """DESIGN.md's status object."""

    execution_id: str
    workflow_id: str
    status: Status
    resumable: bool
    progress: Progress
    timing: Timing
    threads: list[ThreadStatus]
    error: ErrorInfo | None
    in_flight: InFlight | None = None
    worker: str | None = None


class Problem(_Open):
    node_id: str | None = None
    field: str | None = None
    message: str


class ApiError(_Open):
    """Every error response: a message, and the problems of an invalid workflow or body."""

    error: str
    problems: list[Problem] | list[dict[str, Any]] | None = None


class Health(BaseModel):
    status: Literal["ok"]
    queue: bool
