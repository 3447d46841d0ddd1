"""Run a workflow in memory: the smallest way to use the orchestrator.

The service adds persistence on top; tests, benchmarks and the in-memory
service mode use this directly.
"""

from __future__ import annotations

import uuid
from typing import Any

from engine.events import LifecycleHooks
from engine.model import Workflow
from engine.runtime.control import RunControl
from engine.runtime.orchestrator import Orchestrator, new_record
from engine.runtime.record import RunRecord


async def run_workflow(
    workflow: Workflow,
    inputs: Any = None,
    *,
    variables: dict[str, Any] | None = None,
    trigger: str | None = None,
    hooks: LifecycleHooks | None = None,
    control: RunControl | None = None,
    execution_id: str | None = None,
    workflow_file: str | None = None,
) -> RunRecord:
    record = new_record(
        workflow,
        execution_id=execution_id or str(uuid.uuid4()),
        inputs=inputs,
        variables=variables,
        trigger=trigger,
        workflow_file=workflow_file,
    )
    return await Orchestrator(workflow, record, hooks=hooks, control=control).run()


async def resume_workflow(
    workflow: Workflow,
    record: RunRecord,
    *,
    hooks: LifecycleHooks | None = None,
    control: RunControl | None = None,
) -> RunRecord:
    """Continue a paused (or interrupted) record from its saved stack."""
    return await Orchestrator(workflow, record, hooks=hooks, control=control).run()
