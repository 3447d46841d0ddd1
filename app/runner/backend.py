"""The one place the app reaches the engine's execution service.

`open_service()` returns `engine.service.ExecutionService` (SQLite history,
recovery). Every method of the returned object is called on the engine
thread only (see `engine_thread.py`); the GUI thread never calls it directly.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Protocol

from engine.events import LifecycleHooks
from engine.model import Workflow
from engine.runtime.record import RunRecord

if TYPE_CHECKING:
    from engine.store import ExecutionStore

log = logging.getLogger(__name__)


class RunHandleLike(Protocol):
    execution_id: str
    task: Any
    control: Any


class ServiceLike(Protocol):
    """The part of `ExecutionService` the app uses."""

    async def start(
        self,
        workflow: Workflow,
        inputs: Any = None,
        *,
        variables: dict[str, Any] | None = None,
        trigger: str | None = None,
        workflow_file: str | None = None,
        hooks: LifecycleHooks | None = None,
        pins: bool | None = None,
        breakpoints: Any = None,
        capture_email: bool = False,
        content_hash: str | None = None,
        document: str | None = None,
    ) -> RunHandleLike: ...

    async def rerun(
        self,
        source_id: str,
        *,
        from_node: str | None = None,
        to_node: str | None = None,
        workflow: Workflow | None = None,
        workflow_file: str | None = None,
        hooks: LifecycleHooks | None = None,
        pins: bool | None = None,
        breakpoints: Any = None,
    ) -> RunHandleLike: ...

    @property
    def store(self) -> ExecutionStore: ...

    async def wait(self, execution_id: str) -> RunRecord: ...
    async def resume(self, execution_id: str, *, hooks: LifecycleHooks | None = None, workflow: Workflow | None = None) -> RunHandleLike: ...
    def pause(self, execution_id: str) -> None: ...
    def cancel(self, execution_id: str) -> None: ...
    def status(self, execution_id: str) -> dict[str, Any]: ...
    def list_runs(self, *, status: str | None = None, workflow_id: str | None = None, since: Any = None, limit: int | None = None) -> list[dict[str, Any]]: ...
    def record(self, execution_id: str) -> RunRecord: ...
    def workflow_of(self, execution_id: str) -> Workflow: ...
    def recover(self) -> list[str]: ...
    def mark_failed(self, execution_id: str, message: str) -> None: ...
    def delete(self, execution_id: str) -> None: ...
    def close(self) -> None: ...
    def set_breakpoints(self, execution_id: str, breakpoints: Any) -> None: ...


def resolve_url(db: str | None) -> str:
    """`--db`, else PROCESSENGINE_DB, else the per-user default file (engine.paths)."""
    from engine.paths import resolve_db_url

    return resolve_db_url(db or os.environ.get("PROCESSENGINE_DB") or None)


def open_service(db: str | None = None, *, workspace: str = "default", in_memory: bool = False) -> ServiceLike:
    """The execution service on `db` (call this on the engine thread: it opens SQLite)."""
    from engine.service import ExecutionService

    if in_memory:
        return ExecutionService(workspace=workspace, in_memory=True)
    return ExecutionService(resolve_url(db), workspace=workspace)
