"""The debugger's verbs of `ExecutionService`: breakpoints, edits while paused, re-runs, retry control.

Kept beside `engine/service.py` (which mixes `DebugVerbs` in) so the service's
run/pause/resume code stays short. Everything here works across processes the
way pause does: the debug state is stored with the execution (`executions.debug`,
`paused_at`, `rerun_of`), and `retry-now` / `give-up` of a run owned by another
process are control requests its poller picks up.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from engine.errors import EngineError
from engine.model import Workflow
from engine.runtime.debug import parse_breakpoint
from engine.runtime.record import RUNNING, RunRecord
from engine.store.store import InvalidExecutionState

if TYPE_CHECKING:
    from engine import events as ev
    from engine.service import RunHandle

log = logging.getLogger("engine.service")

NO_INPUT: Any = object()  # `set_input` not given (None is a valid JSON input)

Breakpoints = Iterable[str | tuple[str, str | None] | dict[str, Any]]


def normalize_breakpoints(breakpoints: Breakpoints) -> list[dict[str, Any]]:
    """`"NODE[:EXPR]"`, `(node, expr)` or `{node_id, condition, enabled}` → breakpoint dicts."""
    out = []
    for bp in breakpoints:
        if isinstance(bp, str):
            node_id, cond = parse_breakpoint(bp)
            out.append({"node_id": node_id, "condition": cond, "enabled": True})
        elif isinstance(bp, tuple):
            out.append({"node_id": bp[0], "condition": bp[1] or None, "enabled": True})
        else:
            out.append({"node_id": bp["node_id"], "condition": bp.get("condition") or None, "enabled": bp.get("enabled", True)})
    return out


def check_breakpoints(wf: Workflow, breakpoints: list[dict[str, Any]]) -> None:
    """Refuse a breakpoint on an unknown node (unless sub-workflows may hold it) or a bad condition."""
    from engine import expressions

    calls_children = any(n.type == "sub_workflow" for n in wf.nodes)
    for bp in breakpoints:
        if wf.get(bp["node_id"]) is None and not calls_children:
            raise EngineError(f"breakpoint: the workflow has no node {bp['node_id']!r}")
        cond = bp.get("condition")
        if cond:
            text = cond if "{{" in cond else "{{ " + cond + " }}"
            expressions.check(text, node_id=bp["node_id"], field="breakpoint")


class DebugVerbs:
    """Mixed into ExecutionService; uses its `_store`, `_handles`, `_records`, `_launch`."""

    pins: bool
    workspace: str
    _store: Any
    _handles: dict[str, RunHandle]
    _records: dict[str, RunRecord]

    # -- start / resume options ------------------------------------------------------
    def _debug_on_start(
        self, rec: RunRecord, wf: Workflow, *, pins: bool | None, breakpoints: Breakpoints | None, step: bool, to: str | None
    ) -> None:
        """Set a new run's debug state: pins on or off, breakpoints, step mode, run-to target."""
        dbg = rec.debug
        dbg.pins = self.pins if pins is None else pins
        if breakpoints:
            bps = normalize_breakpoints(breakpoints)
            check_breakpoints(wf, bps)
            for bp in bps:
                dbg.add_breakpoint(bp["node_id"], bp["condition"], enabled=bp["enabled"])
        dbg.step = step
        if to is not None:
            if wf.get(to) is None:
                raise EngineError(f"--to: the workflow has no node {to!r}")
            dbg.to = to
        dbg.changed()

    def _debug_on_resume(
        self,
        rec: RunRecord,
        wf: Workflow,
        *,
        breakpoints: Breakpoints | None = None,
        clear_breaks: bool = False,
        step: bool = False,
        to: str | None = None,
        variables: dict[str, Any] | None = None,
        set_input: Any = NO_INPUT,
    ) -> bool:
        """Apply a resume's debug options and edits to the loaded record; True when anything changed."""
        dbg = rec.debug
        before = dbg.version
        bps = normalize_breakpoints(breakpoints or [])
        check_breakpoints(wf, bps)
        if clear_breaks:  # replace them all (a node that keeps its breakpoint keeps its hit count)
            dbg.set_breakpoints(bps)
        else:
            for bp in bps:
                dbg.add_breakpoint(bp["node_id"], bp["condition"], enabled=bp["enabled"])
        if dbg.step != step:
            dbg.step = step
            dbg.changed()
        if to is not None:
            if wf.get(to) is None:
                raise EngineError(f"--to: the workflow has no node {to!r}")
            dbg.to = to
            dbg.changed()
        if variables:
            self._edit_variables(rec, variables)
        if set_input is not NO_INPUT:
            self._edit_input(rec, set_input)
        return dbg.version != before

    @staticmethod
    def _edit_variables(rec: RunRecord, variables: dict[str, Any]) -> None:
        """Change variables of the thread the run is paused in (main when unknown), recorded."""
        at = rec.debug.paused_at or {}
        th = rec.threads.get(at.get("thread_id") or "main") or rec.main
        for key, value in variables.items():
            old = th.variables.get(key)
            th.variables[key] = value
            rec.debug.record_edit("var", thread_id=th.thread_id, key=key, old=old, value=value)
            log.info("execution=%s variable %s changed while paused", rec.execution_id, key, extra={"execution_id": rec.execution_id, "key": key})

    @staticmethod
    def _edit_input(rec: RunRecord, value: Any) -> None:
        """Replace the pending node's input (the frame the run paused before), recorded."""
        at = rec.debug.paused_at
        th = rec.threads.get(at.get("thread_id") or "main") if at else None
        frame = next((f for f in reversed(th.stack) if f.kind != "loop_tick"), None) if th is not None else None
        if at is None or th is None or frame is None or frame.node_id != at["node_id"]:
            raise InvalidExecutionState(f"execution {rec.execution_id} is not paused before a node: there is no pending input to set")
        old = frame.value
        frame.value = value
        at["input"] = value
        rec.debug.record_edit("input", thread_id=th.thread_id, node_id=frame.node_id, old=old, value=value)
        log.info("execution=%s input of node=%s changed while paused", rec.execution_id, frame.node_id, extra={"execution_id": rec.execution_id, "node_id": frame.node_id})

    # -- breakpoints while running -----------------------------------------------------
    def set_breakpoints(self, execution_id: str, breakpoints: Breakpoints) -> None:
        """Replace an execution's breakpoints: at once when it runs here, else in the store."""
        bps = normalize_breakpoints(breakpoints)
        handle = self._handles.get(execution_id)
        if handle is not None and not handle.task.done():
            def apply() -> None:
                handle.record.debug.set_breakpoints(bps)
                debugger = getattr(handle.orchestrator, "debugger", None)
                if debugger is not None:
                    debugger.refresh()

            self._on_loop(handle, apply)
            return
        if self._store is None:
            self._records_get(execution_id).debug.set_breakpoints(bps)
            return
        rec = self._store.load_record(execution_id)[0]
        rec.debug.set_breakpoints(bps)
        self._store.save_debug(execution_id, rec.debug)

    # -- re-run ---------------------------------------------------------------------
    async def rerun(
        self,
        source_id: str,
        *,
        from_node: str | None = None,
        to_node: str | None = None,
        workflow: Workflow | None = None,
        workflow_file: str | None = None,
        hooks: ev.LifecycleHooks | None = None,
        pins: bool | None = None,
        breakpoints: Breakpoints | None = None,
        replay: dict[str, Any] | None = None,
        capture_email: bool = False,
    ) -> RunHandle:
        """A new execution from `from_node` (or just `to_node`) reusing the source's other outputs.

        `replay` ({nodes, strict}): HTTP and email nodes that run again are answered from the
        source's recordings (engine.replay); without a node to start from it re-runs from the trigger.
        `capture_email`: the re-run's send_email nodes that run live keep their messages in its inbox.
        """
        from engine.runtime.rerun import rerun_record

        start = from_node or to_node
        if start is None and replay is None:
            raise EngineError("re-run needs a node to start from (--from) or to run (--to)")
        source = self.record(source_id)  # type: ignore[attr-defined]
        start = start or source.trigger_node  # a replay without a node re-runs from the trigger
        if start is None:
            raise EngineError("re-run needs a node to start from (--from) or to run (--to)")
        if source.status == RUNNING:
            raise InvalidExecutionState(f"execution {source_id} is running; re-run it once it stopped")
        try:
            ran: Workflow | None = self.workflow_of_any(source_id)  # the version the source ran
        except EngineError:
            if workflow is None:
                raise
            ran = None
        wf = workflow if workflow is not None else ran
        assert wf is not None
        rec = rerun_record(
            source, wf, execution_id=str(uuid.uuid4()), start=start, workspace=self.workspace,
            workflow_file=workflow_file, source_workflow=ran,
        )
        rec.io.capture_email = capture_email
        if replay is not None:
            self._plan_replay(rec, wf, {**replay, "source": source_id})  # type: ignore[attr-defined]
        self._debug_on_start(rec, wf, pins=pins, breakpoints=breakpoints, step=False, to=to_node)
        log.info("execution=%s re-runs %s from node=%s", rec.execution_id, source_id, start, extra={"execution_id": rec.execution_id, "node_id": start, "rerun_of": source_id})
        return self._launch_new(wf, rec, hooks, collect=True)  # type: ignore[attr-defined,no-any-return]

    def workflow_of_any(self, execution_id: str) -> Workflow:
        """The workflow version an execution ran with (in-memory runs keep theirs with the handle)."""
        if self._store is None:
            wf = getattr(self, "_workflows", {}).get(execution_id)
            if wf is None:
                raise EngineError(f"execution {execution_id}: its workflow is unknown; pass the workflow to re-run")
            return wf  # type: ignore[no-any-return]
        return self.workflow_of(execution_id)  # type: ignore[attr-defined,no-any-return]

    # -- retry control ------------------------------------------------------------------
    def retry_now(self, execution_id: str) -> None:
        """End the retry back-off of the waiting node at once (the next attempt starts)."""
        self._retry_control(execution_id, "retry_now")

    def give_up(self, execution_id: str) -> None:
        """Stop retrying the waiting node: its on_error applies to its last error."""
        self._retry_control(execution_id, "give_up")

    def _retry_control(self, execution_id: str, what: str) -> None:
        handle = self._handles.get(execution_id)
        if handle is not None and not handle.task.done():
            if not handle.control.in_backoff:
                raise InvalidExecutionState(f"execution {execution_id}: no node is waiting to retry")
            fn = handle.control.retry_now if what == "retry_now" else handle.control.give_up
            self._on_loop(handle, fn)
            return
        if self._store is None:
            self._records_get(execution_id)
            raise InvalidExecutionState(f"execution {execution_id} is not running")
        row = self._store.row(execution_id)
        status = self._store.effective_status(row)
        if status != RUNNING:
            raise InvalidExecutionState(f"execution {execution_id} is {status}; no node is waiting to retry")
        if self._store.retrying_node(execution_id) is None:
            raise InvalidExecutionState(f"execution {execution_id}: no node is waiting to retry")
        if not self._store.request_retry(execution_id, what):
            raise InvalidExecutionState(f"execution {execution_id} has another request pending; try again")

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    def _on_loop(handle: RunHandle, fn: Any) -> None:
        """Call `fn` on the run's loop (directly when we are on it)."""
        import asyncio

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is handle.loop:
            fn()
        elif not handle.loop.is_closed():
            handle.loop.call_soon_threadsafe(fn)

    def _records_get(self, execution_id: str) -> RunRecord:
        return self._memory_record(execution_id)  # type: ignore[attr-defined,no-any-return]

