"""The stack-based orchestrator: runs one execution (and its sub-workflow threads).

A loop pops frames off a LIFO `ExecutionStack` (no recursion, so a 10,000-node
chain is fine), checking pause and cancel before each pop. A fan-out pushes its
branches in reverse connection order, so branches run depth-first in
connection order and a run is deterministic. Merge inputs wait in the waiting
map; when the stack drains, merges still waiting (a branch was not taken) fire
with what arrived. Loops push a `loop_tick` frame under each iteration's body.
Every step is reported through `LifecycleHooks`; the record is consistent
whenever a hook runs. A `Recorder` (the store's checkpointer) is called directly when a
node starts and ends, with what it writes: one call per node, no event object.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from engine import events as ev
from engine import expressions
from engine.errors import EngineError, ExpressionError, NodeError, RunTakenOver
from engine.jsonvalue import checked_text
from engine.model import Node, Workflow
from engine.nodes.base import ContextScope, Interrupted, NodeContext, NodeServices, NodeSpec
from engine.runtime.control import RunControl
from engine.runtime.debug import Debugger, ancestors, request_paused_at
from engine.runtime.node_run import NodeLog, NodeRun, RunFailed, check_visits
from engine.runtime.plan import Plan
from engine.runtime.record import (
    CANCELLED,
    COMPLETED,
    FAILED,
    MAX_SUMMARY,
    NO_OUTPUT,
    PAUSED,
    RUNNING,
    Frame,
    LoopState,
    RunRecord,
    ThreadRecord,
    attempt_entry,
    cut_short_attempt,
    error_object,
    iso,
    new_record,
    summarize,
)
from engine.runtime.retry import RetryPolicy

__all__ = ["Orchestrator", "RunFailed", "error_object", "iso", "new_record", "summarize"]

log = logging.getLogger("engine.runtime")
NODE_LOGS_KEPT = 256  # node loggers kept for reuse (a 100,000-node run made one per node)


class Recorder(Protocol):
    """What makes a run durable, told of each node directly (`engine.store.checkpoint.Checkpointer`).

    `node_started`: the node's frame is off its stack until `node_finished` for it.
    `node_finished`: a node ended (`node_id` None: only statuses changed, e.g. nodes
    marked skipped); `output` is the value it stored, if any, and `raw` that value's UTF-8
    JSON text when the output check made it; `now` asks for a commit at once."""

    def node_started(self, th: ThreadRecord, frame: Frame, side_effects: bool) -> None: ...

    def node_finished(self, th: ThreadRecord, node_id: str | None, *, now: bool, output: Any = NO_OUTPUT, raw: bytes | None = None) -> None: ...


class Orchestrator:
    """Runs a RunRecord of a workflow to its end, a pause, a cancel or a failure."""

    def __init__(
        self,
        workflow: Workflow,
        record: RunRecord,
        *,
        hooks: ev.LifecycleHooks | None = None,
        control: RunControl | None = None,
        load_workflow: Callable[[str], Workflow] | None = None,
        credential: Callable[[str], dict[str, str]] | None = None,
        find_workflow: Callable[[str], Workflow | None] | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.workflow = workflow
        self.record = record
        self.hooks = hooks or ev.LifecycleHooks()
        self.control = control or RunControl()
        self.recorder = recorder
        self._plans: dict[str, Plan] = {}
        self._by_name: dict[str, dict[str, Any]] = {}
        self._exec_names: dict[str, Any] | None = None
        # thread id -> (its `nodes` map, its variables, the execution names, the names made of them)
        self._base_names: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]] = {}
        self._node_logs: dict[str, NodeLog] = {}  # node id -> its logger (up to NODE_LOGS_KEPT)
        self._scopes: dict[str, ContextScope] = {}  # thread id -> what its nodes' contexts share
        self._http: Any = None  # engine.http_client.SharedHttpClient, made on first use
        self._load_workflow_fn = load_workflow
        self._credential_fn = credential
        self._find_workflow_fn = find_workflow
        self._w_started = self.hooks.wants(ev.NodeStarted)
        self._w_finished = self.hooks.wants(ev.NodeFinished)
        self._sleep = self.control.sleep
        self.services = NodeServices(
            http_client=self._get_http_client,
            credential=self._credential,
            run_sub_workflow=self._run_sub_workflow,
            respond=self._respond,
            load_workflow=self._load_workflow,
            workflow_dir=self._workflow_dir,
            io=record.io,
        )

    # -- public --------------------------------------------------------------
    async def run(self) -> RunRecord:
        rec = self.record
        resumed = rec.status != RUNNING or rec.started_at is not None
        if rec.started_at is None:
            rec.started_at = time.time()
        if rec.main.started_at is None:
            rec.main.started_at = rec.started_at
        if resumed and rec.stopped_at is not None:  # resuming a pause: that time is not run time
            rec.paused_ms += max(0.0, time.time() - rec.stopped_at) * 1000
        rec.status = RUNNING
        rec.stopped_at = None
        rec.error = None
        main = rec.main
        main.status = RUNNING
        self.control.reset_pause()
        plan = self._plan(self.workflow)
        self._start_debugger(plan)
        if resumed:
            log.info("execution=%s resumed", rec.execution_id, extra={"execution_id": rec.execution_id})
            await self.hooks.emit(ev.ExecutionResumed(execution_id=rec.execution_id), rec)
        else:
            log.info("execution=%s started workflow=%s", rec.execution_id, rec.workflow_id, extra={"execution_id": rec.execution_id})
            await self.hooks.emit(ev.ExecutionStarted(execution_id=rec.execution_id, workflow_id=rec.workflow_id, total=main.total), rec)
            await self._report_reused(main)
        try:
            await self._run_thread(main, plan)
        except Interrupted as stop:
            self._stopped(PAUSED if stop.reason == "pause" else CANCELLED)
            if stop.reason == "pause":
                if rec.debug.paused_at is None:
                    rec.debug.paused_at = request_paused_at(rec)
                log.info("execution=%s paused", rec.execution_id, extra={"execution_id": rec.execution_id})
                await self.hooks.emit(ev.ExecutionPaused(execution_id=rec.execution_id), rec)
            else:
                log.info("execution=%s cancelled", rec.execution_id, extra={"execution_id": rec.execution_id})
                await self.hooks.emit(ev.ExecutionCancelled(execution_id=rec.execution_id), rec)
        except RunFailed as failed:
            rec.error = main.error = failed.error
            self._stopped(FAILED)
            log.error("execution=%s failed node=%s: %s", rec.execution_id, failed.error.get("node_id"), failed.error.get("message"), extra={"execution_id": rec.execution_id, "node_id": failed.error.get("node_id")})
            await self.hooks.emit(ev.ExecutionFailed(execution_id=rec.execution_id, error=failed.error), rec)
        except RunTakenOver:  # another process owns the run now: stop, record nothing
            log.warning("execution=%s was taken over by another process; stopping", rec.execution_id, extra={"execution_id": rec.execution_id})
            raise
        except Exception as exc:  # a bug or an unexpected error: the run fails, nothing is lost
            rec.error = main.error = error_object(exc, main.in_flight or "", 0)
            self._stopped(FAILED)
            log.exception("execution=%s crashed", rec.execution_id, extra={"execution_id": rec.execution_id})
            await self.hooks.emit(ev.ExecutionFailed(execution_id=rec.execution_id, error=rec.error), rec)
        else:
            await self._mark_unrun_skipped(main, plan)
            self._stopped(COMPLETED)
            log.info("execution=%s completed", rec.execution_id, extra={"execution_id": rec.execution_id})
            await self.hooks.emit(ev.ExecutionCompleted(execution_id=rec.execution_id), rec)
        finally:
            await self._close()
        return rec

    # -- debugging -------------------------------------------------------------
    def _start_debugger(self, plan: Plan) -> None:
        """Read the run's debug state: run-to target, where the last debug pause stopped."""
        rec = self.record
        self.debugger = Debugger(rec, self._evaluate_condition)
        rec.debug.paused_at = None
        to = rec.debug.to
        if to is not None:
            if to not in plan.nodes:
                raise EngineError(f"--to: the workflow has no node {to!r}")
            self.debugger.set_to(ancestors(plan.wf, to, plan.routing.back_edges) | {to})

    async def _report_reused(self, th: ThreadRecord) -> None:
        """A re-run's nodes that keep their source output (they never run) are reported once."""
        if self.record.debug.rerun_of is None or not self._w_finished:
            return
        for node_id, attempts in list(th.attempts.items()):
            if attempts and attempts[-1]["status"] == "reused":
                value = th.outputs.get(node_id)
                await self.hooks.emit(ev.NodeFinished(execution_id=self.record.execution_id, thread_id=th.thread_id, node_id=node_id, status="reused", duration_ms=0.0, attempt=1, output_summary=summarize(value), pure=True), self.record)

    def _evaluate_condition(self, th: ThreadRecord, node_id: str, value: Any, expr: str) -> Any:
        """A breakpoint condition over the pending input (`{{ }}` optional), in the node's thread."""
        plan = self._plan_of(th)
        text = expr if "{{" in expr else "{{ " + expr + " }}"
        return expressions.render(text, self._names(th, plan, value), node_id=node_id, field="breakpoint")

    def _plan_of(self, th: ThreadRecord) -> Plan:
        for plan in self._plans.values():
            if plan.wf.id == th.workflow_id:
                return plan
        return self._plan(self.workflow)

    def _child_paused(self, th: ThreadRecord, node_id: str) -> bool:
        """A sub-workflow node whose child thread is paused: running it again resumes the child."""
        return any(
            t.parent_thread_id == th.thread_id and t.parent_node_id == node_id and t.status == PAUSED
            for t in self.record.threads.values()
        )

    # -- threads -------------------------------------------------------------
    def _stopped(self, status: str) -> None:
        rec = self.record
        rec.status = status
        rec.stopped_at = time.time()
        main = rec.main
        main.status = status
        main.stopped_at = rec.stopped_at
        if status == COMPLETED:
            main.in_flight = None

    def _plan(self, wf: Workflow) -> Plan:
        plan = self._plans.get(wf.id)
        if plan is None or plan.wf is not wf:
            plan = self._plans[wf.id] = Plan(wf)
        return plan

    async def _run_thread(self, th: ThreadRecord, plan: Plan) -> None:
        stack = th.stack
        control = self.control
        nodes = plan.nodes
        by_type = plan.by_type
        back_edges = plan.routing.back_edges
        max_visits = plan.wf.max_node_visits
        hooks, w_started = self.hooks, self._w_started
        while True:
            while stack:
                if control.pause_requested or control.cancel_requested:
                    raise Interrupted(control.reason())
                frame = stack.pop()
                kind = frame.kind
                if kind == "loop_tick":
                    await self._loop_tick(th, plan, nodes[frame.node_id])
                    continue
                node = nodes[frame.node_id]
                spec = by_type[node.type]
                if kind == "run":
                    if spec.kind == "merge":
                        waiting = th.waiting.setdefault(node.id, {})
                        waiting[frame.conn if frame.conn is not None else -1] = frame.value
                        incoming = plan.routing.incoming.get(node.id, [])
                        # a count first: checking every input at every arrival is O(W²) for a W-wide fan-in
                        if len(waiting) < len(incoming) or not all(i in waiting for i in incoming):
                            continue
                        del th.waiting[node.id]
                        frame = Frame(node.id, [waiting[i] for i in incoming if i in waiting], kind="merge_fire")
                    elif spec.kind == "loop" and frame.conn in back_edges:
                        state = th.loops.get(node.id)
                        if state is not None:
                            state.results.append(frame.value)
                        continue
                debugger = self.debugger
                if debugger.active and debugger.gate(th, frame, resuming_child=self._child_paused(th, node.id)):
                    continue  # paused before the node (raised) or put back for a run-to target
                if frame.attempt == 0:
                    attempts = th.attempts.get(node.id)
                    if attempts is not None and len(attempts) >= max_visits:
                        check_visits(th, plan, node)
                if spec.sync and not (w_started and hooks.async_handlers):
                    pending = self._run_now(th, plan, node, spec, frame)
                    if pending is not None:
                        await pending
                else:
                    await self._run_node(th, plan, node, spec, frame)
                if debugger.active:
                    debugger.after_node(th, node.id)
            if not th.waiting:
                return
            # the stack drained with merges still waiting: a branch was not taken
            order = {n.id: i for i, n in enumerate(plan.wf.nodes)}
            merge_id = min(th.waiting, key=order.__getitem__)
            waiting = th.waiting.pop(merge_id)
            incoming = plan.routing.incoming.get(merge_id, [])
            stack.append(Frame(merge_id, [waiting[i] for i in incoming if i in waiting], kind="merge_fire"))

    def _names(self, th: ThreadRecord, plan: Plan, value: Any) -> dict[str, Any]:
        """The names a node's expressions see: the thread's names, made once and copied per
        node with its own `input` (and `loop`)."""
        by_name = self._by_name.get(th.thread_id)
        if by_name is None:  # first use (or after a resume): build once, then keep in step
            by_name = self._by_name[th.thread_id] = {
                plan.nodes[k].name: v for k, v in th.outputs.items() if k in plan.nodes
            }
        execution = self._exec_names
        if execution is None or execution["id"] != self.record.execution_id:
            execution = self._execution_names()
        variables = th.variables
        base = self._base_names.get(th.thread_id)
        if base is None or base[0] is not by_name or base[1] is not variables or base[2] is not execution:
            made = expressions.make_names(input=None, nodes=by_name, vars=variables, loop=None, execution=execution)
            base = (by_name, variables, execution, made)
            if type(variables) is dict:  # else make_names copies them: made again each time
                self._base_names[th.thread_id] = base
        names = base[3].copy()
        names["input"] = value
        if th.loop_stack:
            st = th.loops[th.loop_stack[-1]]
            if 0 <= st.index < len(st.items):
                names["loop"] = {"index": st.index, "item": st.items[st.index]}
        return names

    async def _run_node(self, th: ThreadRecord, plan: Plan, node: Node, spec: NodeSpec, frame: Frame) -> None:
        """Run one node to its end: attempts under its retry policy, then success or error handling."""
        if node.disabled:
            await self._skip_disabled(th, plan, node, frame.value)
            return
        if node.pin is not None and self.record.debug.pins:
            await self._use_pin(th, plan, node, spec)
            return
        await self._attempts(NodeRun(self, th, plan, node, spec, frame))

    def _run_now(self, th: ThreadRecord, plan: Plan, node: Node, spec: NodeSpec, frame: Frame) -> Awaitable[None] | None:
        """`_run_node` of a node whose type never waits (`spec.sync`) when no NodeStarted
        subscriber is to be awaited (the caller checked): its first attempt is made here,
        with no coroutine; a failed one goes on along `_attempts` (retries, on_error).
        Returns what is left to await, if anything."""
        if node.disabled or (node.pin is not None and self.record.debug.pins):
            return self._run_node(th, plan, node, spec, frame)
        run = NodeRun(self, th, plan, node, spec, frame)
        run.attempt += 1
        try:
            # awaits nothing here (no async NodeStarted subscriber); a loop stays "running" through its items
            self._begin(run, unseen=not (run.side or self._w_started or spec.kind == "loop"))
            result = spec.run_now(self._context(run), frame.value)
            self._check_output(run, result)
        except Exception as exc:
            return self._attempts(run, exc)
        return self._on_success(run, result)

    async def _attempts(self, run: NodeRun, failed: Exception | None = None) -> None:
        """Attempts under the node's retry policy, then success or error handling. `failed`:
        the first attempt was made by `_run_now` and raised this."""
        if failed is not None:
            if isinstance(failed, Interrupted):
                await self._on_interrupted(run, failed)  # raises
            if not await self._on_error(run, failed):
                return
            del failed
        while True:
            run.attempt += 1
            try:
                result = await self._attempt_once(run)
            except (Interrupted, asyncio.CancelledError) as stop:
                if isinstance(stop, asyncio.CancelledError) and not self.control.interrupted:
                    raise
                await self._on_interrupted(run, stop)
            except Exception as exc:
                if await self._on_error(run, exc):
                    continue
                return
            else:
                pending = self._on_success(run, result)
                if pending is not None:
                    await pending
                return

    async def _skip_disabled(self, th: ThreadRecord, plan: Plan, node: Node, value: Any) -> None:
        """A disabled node passes its input through on `out` and counts as skipped."""
        th.node_status[node.id] = "skipped"
        self._set_output(th, node, value)
        self._deliver(th, plan, node, {"out": value})
        if self.recorder is not None:
            self.recorder.node_finished(th, node.id, now=False, output=value)
        if self._w_finished:
            await self.hooks.emit(ev.NodeFinished(execution_id=self.record.execution_id, thread_id=th.thread_id, node_id=node.id, status="skipped", duration_ms=0.0, attempt=0, output_summary=summarize(value), ports=("out",)), self.record)

    async def _use_pin(self, th: ThreadRecord, plan: Plan, node: Node, spec: NodeSpec) -> None:
        """A pinned node does not run (no side effect): its pin goes out on its main port."""
        rec = self.record
        ports = spec.output_ports(node)
        port = "done" if spec.kind == "loop" else ("out" if "out" in ports or not ports else ports[0])
        th.attempts.setdefault(node.id, []).append(attempt_entry(1, "pinned", time.time(), 0.0, None))
        self._set_output(th, node, node.pin)
        th.node_status[node.id] = "succeeded"
        skipped = self._deliver(th, plan, node, {port: node.pin})
        log.info("execution=%s node=%s pinned: not run", rec.execution_id, node.id, extra={"execution_id": rec.execution_id, "node_id": node.id})
        if self.recorder is not None:
            self.recorder.node_finished(th, node.id, now=False, output=node.pin)
        if self._w_finished:
            await self.hooks.emit(ev.NodeFinished(execution_id=rec.execution_id, thread_id=th.thread_id, node_id=node.id, status="pinned", duration_ms=0.0, attempt=1, output_summary=summarize(node.pin), ports=(port,), pure=True), rec)
        if skipped:
            await self._report_skipped(th, skipped)

    def _begin(self, run: NodeRun, *, unseen: bool = False) -> Awaitable[None] | None:
        """An attempt starts: statuses, times, the recorder, NodeStarted (what is left to await).
        `unseen`: nothing can read the node's status before the attempt ends and replaces
        it (`_run_now`'s attempt with no NodeStarted subscriber and no side effect: no
        handler, commit or await comes between; not a loop's), so "running" is not written."""
        th, node, rec = run.th, run.node, self.record
        node_id = node.id
        th.in_flight = node_id
        if not unseen:
            th.node_status[node_id] = "running"
        run.started = time.time()
        run.t0 = time.perf_counter()
        run.info = log.isEnabledFor(logging.INFO)  # asked once for the node's two lines
        if run.info:
            log.info("execution=%s node=%s started attempt %d", rec.execution_id, node_id, run.attempt, extra={"execution_id": rec.execution_id, "node_id": node_id})
        if self.recorder is not None:
            self.recorder.node_started(th, run.frame, run.side)
        if self._w_started:
            return self.hooks.dispatch(ev.NodeStarted(execution_id=rec.execution_id, thread_id=th.thread_id, node_id=node_id, attempt=run.attempt, side_effects=run.side), rec)
        return None

    def _context(self, run: NodeRun) -> NodeContext:
        """Render and validate the node's config; its context for this attempt."""
        th = run.th
        cfg, raw = run.plan.config(run.node, run.names)
        scope = self._scopes.get(th.thread_id)
        if scope is None or scope.variables is not th.variables:
            scope = self._scopes[th.thread_id] = ContextScope(self.record.execution_id, th.thread_id, th.variables, th.outputs, self.services, self._sleep)
        return NodeContext.of_attempt(scope, run.node, cfg, raw, run.attempt, run.node_state, run)  # the node's logger and `evaluate`, made if it asks

    @staticmethod
    def _check_output(run: NodeRun, result: Any) -> None:
        problem, run.raw = checked_text(result.outputs)  # refused here, never in the checkpoint
        if problem:
            raise NodeError(f"the node's output cannot be stored: {problem}", error_type="unstorable")

    async def _attempt_once(self, run: NodeRun) -> Any:
        """One attempt: render and validate the config, then await the node (as a task unless pure)."""
        pending = self._begin(run)
        if pending is not None:
            await pending
        ctx = self._context(run)
        spec = run.spec
        if spec.pure:
            result = await spec.run(ctx, run.frame.value)
        else:
            control = self.control
            task = asyncio.ensure_future(spec.run(ctx, run.frame.value))
            control.current_task = task
            try:
                result = await task
            finally:
                control.current_task = None
                del task  # a failed task's error holds this frame (its traceback): else a cycle
        self._check_output(run, result)
        return result

    async def _on_interrupted(self, run: NodeRun, stop: BaseException) -> None:
        """Pause or cancel in the middle of an attempt: record it, requeue on pause, re-raise."""
        th, node, rec = run.th, run.node, self.record
        reason = stop.reason if isinstance(stop, Interrupted) else self.control.reason()
        duration = (time.perf_counter() - run.t0) * 1000
        status = "paused" if reason == "pause" else "cancelled"
        cut = status == "paused" and isinstance(stop, asyncio.CancelledError)  # a pause ended its I/O
        run.attempts.append(cut_short_attempt(node.id, run.attempt, run.started, duration) if cut else attempt_entry(run.attempt, status, run.started, duration, None))
        th.node_status[node.id] = status
        if reason == "pause":
            self._requeue(run, run.attempt - 1)  # the interrupted attempt runs again
        if self.recorder is not None:
            self.recorder.node_finished(th, node.id, now=False)
        if self._w_finished:
            await self.hooks.emit(ev.NodeFinished(execution_id=rec.execution_id, thread_id=th.thread_id, node_id=node.id, status=status, duration_ms=duration, attempt=run.attempt, side_effects=run.side, pure=run.spec.pure), rec)
        raise Interrupted(reason) from None

    def _requeue(self, run: NodeRun, attempts_made: int) -> None:
        """Push a paused node back on its stack, so a resume runs it next (with its state)."""
        frame = run.frame
        frame.attempt = attempts_made
        frame.state = run.node_state or None  # e.g. a wait's deadline, for the resume
        run.th.stack.append(frame)
        run.th.in_flight = None

    async def _on_error(self, run: NodeRun, exc: Exception) -> bool:
        """A failed attempt: True to try again (after the back-off), else apply `on_error`.

        `fail` ends the run (RunFailed), `route` sends the error object on the `error`
        port, `continue` passes the input through on `out`.
        """
        th, node, rec = run.th, run.node, self.record
        run.duration = (time.perf_counter() - run.t0) * 1000
        if isinstance(exc, ExpressionError):
            exc = NodeError(str(exc), error_type="ExpressionError")
        err = error_object(exc, node.id, run.attempt, th.thread_id)
        run.attempts.append(attempt_entry(run.attempt, "failed", run.started, run.duration, err))
        policy = run.plan.policy(node)
        if policy.should_retry(exc, run.attempt) and await self._back_off(run, policy, err):
            return True
        th.node_status[node.id] = "failed"
        th.in_flight = None
        log.error("execution=%s node=%s failed after %d attempt(s): %s", rec.execution_id, node.id, run.attempt, err["message"], extra={"execution_id": rec.execution_id, "node_id": node.id})
        value = run.frame.value
        skipped: list[str] = []
        ports: tuple[str, ...] = ()
        output = NO_OUTPUT
        if node.on_error == "route":
            self._set_output(th, node, err)
            skipped = self._deliver(th, run.plan, node, {"error": err})
            ports, output = ("error",), err
        elif node.on_error == "continue":
            self._set_output(th, node, value)
            skipped = self._deliver(th, run.plan, node, {"out": value})
            ports, output = ("out",), value
        if self.recorder is not None:
            self.recorder.node_finished(th, node.id, now=not run.spec.pure, output=output)
        await self.hooks.emit(ev.NodeFinished(execution_id=rec.execution_id, thread_id=th.thread_id, node_id=node.id, status="failed", duration_ms=run.duration, attempt=run.attempt, output_summary=err["message"][:MAX_SUMMARY], ports=ports, error=err, side_effects=run.side, pure=run.spec.pure), rec)
        if skipped:
            await self._report_skipped(th, skipped)
        if not ports:
            raise RunFailed(err) from None
        return False

    async def _back_off(self, run: NodeRun, policy: RetryPolicy, err: dict[str, Any]) -> bool:
        """Wait before the next attempt: True to retry, False when told to give up.

        `retry-now` ends the wait at once, `give-up` ends the retrying; both are
        recorded in the node's attempts. Pause requeues the node (its attempt count kept).
        """
        th, node, rec = run.th, run.node, self.record
        delay = policy.delay(run.attempt)
        th.node_status[node.id] = "retrying"
        log.warning("execution=%s node=%s attempt %d/%d failed: %s; retry in %.2fs", rec.execution_id, node.id, run.attempt, policy.max_attempts, err["message"], delay, extra={"execution_id": rec.execution_id, "node_id": node.id})
        await self.hooks.emit(ev.NodeRetrying(execution_id=rec.execution_id, thread_id=th.thread_id, node_id=node.id, attempt=run.attempt, max_attempts=policy.max_attempts, delay=delay, error=err["message"]), rec)
        try:
            outcome = await self.control.backoff(delay)
        except Interrupted as stop:
            if stop.reason == "pause":
                self._requeue(run, run.attempt)
                th.node_status[node.id] = "paused"
            else:
                th.node_status[node.id] = "cancelled"
            raise
        if outcome != "elapsed":
            log.info("execution=%s node=%s %s after attempt %d", rec.execution_id, node.id, outcome.replace("_", " "), run.attempt, extra={"execution_id": rec.execution_id, "node_id": node.id})
            run.attempts.append(attempt_entry(run.attempt, outcome, time.time(), 0.0, err if outcome == "give_up" else None))
        return outcome != "give_up"

    def _on_success(self, run: NodeRun, result: Any) -> Awaitable[None] | None:
        """Store the output, push the successors; a loop starts its iterations instead.
        Returns what is left to await (async subscribers, skipped nodes to report), if anything."""
        th, node, rec = run.th, run.node, self.record
        duration = (time.perf_counter() - run.t0) * 1000
        run.attempts.append(attempt_entry(run.attempt, "succeeded", run.started, duration, None))
        if run.spec.kind == "loop":
            items = result.outputs.get("items", [])
            th.loops[node.id] = LoopState(list(items))
            th.loop_stack.append(node.id)
            th.stack.append(Frame(node.id, kind="loop_tick"))
            th.in_flight = None
            if self.recorder is not None:
                self.recorder.node_finished(th, node.id, now=False)
            return None  # NodeFinished is emitted when the loop is done
        outputs = result.outputs
        first = next(iter(outputs.values())) if outputs else None
        self._set_output(th, node, first)
        th.node_status[node.id] = "succeeded"
        th.in_flight = None
        skipped = self._deliver(th, run.plan, node, outputs)
        if self.recorder is not None:
            self.recorder.node_finished(th, node.id, now=not run.spec.pure, output=first, raw=run.raw if len(outputs) == 1 else None)
        if run.info:
            log.info("execution=%s node=%s succeeded in %.2f ms", rec.execution_id, node.id, duration, extra={"execution_id": rec.execution_id, "node_id": node.id})
        pending = None
        if self._w_finished:
            pending = self.hooks.dispatch(
                ev.NodeFinished(execution_id=rec.execution_id, thread_id=th.thread_id, node_id=node.id, status="succeeded", duration_ms=duration, attempt=run.attempt, output_summary=summarize(first), ports=tuple(outputs), error=None, side_effects=run.side, pure=run.spec.pure),
                rec,
            )
        if skipped:
            return self._finish_then_skip(pending, th, skipped)
        return pending

    async def _finish_then_skip(self, pending: Awaitable[None] | None, th: ThreadRecord, skipped: list[str]) -> None:
        """A deciding node's NodeFinished first (awaited), then the nodes it left skipped."""
        if pending is not None:
            await pending
        await self._report_skipped(th, skipped)

    def _evaluate(self, th: ThreadRecord, plan: Plan, node: Node, value: Any, expr: str, extra: dict[str, Any] | None) -> Any:
        names = self._names(th, plan, value)
        if extra:
            names.update(extra)
        return expressions.evaluate(expr, names, node_id=node.id)

    def _node_log(self, node_id: str) -> NodeLog:
        got = self._node_logs.get(node_id)
        if got is None:
            if len(self._node_logs) >= NODE_LOGS_KEPT:  # most nodes run once: keep a few, not one per node
                self._node_logs.clear()
            got = self._node_logs[node_id] = NodeLog(log, self.record.execution_id, node_id)
        return got

    def _execution_names(self) -> dict[str, Any]:
        names = self._exec_names
        if names is None or names["id"] != self.record.execution_id:
            names = self._exec_names = {"id": self.record.execution_id, "started_at": iso(self.record.started_at)}
        return names

    def _set_output(self, th: ThreadRecord, node: Node, value: Any) -> None:
        th.outputs[node.id] = value
        by_name = self._by_name.get(th.thread_id)
        if by_name is not None:
            by_name[node.name] = value

    def _deliver(self, th: ThreadRecord, plan: Plan, node: Node, outputs: dict[str, Any]) -> list[str]:
        """Push the successors of the ports a value left on (first connection runs first).

        Returns the nodes newly marked skipped (downstream of ports that got nothing);
        the caller reports them after the deciding node's own NodeFinished.
        """
        routing = plan.routing
        out = routing.out
        counts = th.edge_counts
        node_id = node.id
        if len(outputs) == 1 and node_id not in plan.multi_port:  # one port, no other to skip
            for port, value in outputs.items():
                routes = out.get((node_id, port))
                if routes is None:
                    th.last_output = value
                elif len(routes) == 1:
                    to_node, to_port, conn = routes[0]
                    th.stack.append(Frame(to_node, value, to_port, conn))
                    counts[conn] = counts.get(conn, 0) + 1
                else:
                    th.stack.extend([Frame(to_node, value, to_port, conn) for to_node, to_port, conn in reversed(routes)])
                    for _, _, conn in routes:
                        counts[conn] = counts.get(conn, 0) + 1
            return []
        frames: list[Frame] = []
        for port, value in outputs.items():
            routes = out.get((node_id, port))
            if routes is not None:
                for to_node, to_port, conn in routes:
                    frames.append(Frame(to_node, value, to_port, conn))
                    counts[conn] = counts.get(conn, 0) + 1
        if len(frames) == 1:
            th.stack.append(frames[0])
        elif frames:
            th.stack.extend(reversed(frames))
        elif outputs:
            th.last_output = next(iter(outputs.values()))
        skipped: list[str] = []
        if node.id in plan.multi_port and node.id not in routing.cyclic:  # in a cycle: decided at the end
            spec = plan.specs[node.id]
            for port in spec.output_ports(node):
                if port in outputs:
                    continue
                for d in routing.descendants(node.id, port):
                    if d not in th.node_status:
                        th.node_status[d] = "skipped"
                        skipped.append(d)
        return skipped

    async def _report_skipped(self, th: ThreadRecord, skipped: list[str]) -> None:
        if skipped and self._w_finished:
            for d in skipped:
                await self.hooks.emit(ev.NodeFinished(execution_id=self.record.execution_id, thread_id=th.thread_id, node_id=d, status="skipped", duration_ms=0.0, attempt=0), self.record)

    async def _loop_tick(self, th: ThreadRecord, plan: Plan, node: Node) -> None:
        st = th.loops[node.id]
        st.index += 1
        if st.index < len(st.items):
            th.stack.append(Frame(node.id, kind="loop_tick"))
            self._deliver(th, plan, node, {"loop": st.items[st.index]})
            return
        results = st.results
        del th.loops[node.id]
        if th.loop_stack and th.loop_stack[-1] == node.id:
            th.loop_stack.pop()
        elif node.id in th.loop_stack:
            th.loop_stack.remove(node.id)
        self._set_output(th, node, results)
        th.node_status[node.id] = "succeeded"
        self._deliver(th, plan, node, {"done": results})
        if self.recorder is not None:
            self.recorder.node_finished(th, node.id, now=False, output=results)
        if self._w_finished:
            await self.hooks.emit(ev.NodeFinished(execution_id=self.record.execution_id, thread_id=th.thread_id, node_id=node.id, status="succeeded", duration_ms=0.0, attempt=1, output_summary=summarize(results), ports=("done",), pure=True), self.record)

    async def _mark_unrun_skipped(self, th: ThreadRecord, plan: Plan) -> None:
        unrun = [node.id for node in plan.wf.nodes if node.id not in th.node_status]  # file order
        for node_id in unrun:
            th.node_status[node_id] = "skipped"
        if unrun and self.recorder is not None:
            self.recorder.node_finished(th, None, now=False)
        if self._w_finished:
            for node_id in unrun:
                await self.hooks.emit(ev.NodeFinished(execution_id=self.record.execution_id, thread_id=th.thread_id, node_id=node_id, status="skipped", duration_ms=0.0, attempt=0), self.record)

    # -- services lent to nodes ---------------------------------------------
    def _get_http_client(self) -> Any:
        if self._http is None:  # imported here: runs without HTTP nodes never load httpx
            from engine.http_client import SharedHttpClient

            self._http = SharedHttpClient()
        return self._http.get()

    def _credential(self, name: str) -> dict[str, str]:
        if self._credential_fn is not None:
            return self._credential_fn(name)
        from engine.credentials import resolve_credential

        return resolve_credential(name)

    def _workflow_dir(self) -> Path | None:
        return Path(self.record.workflow_file).parent if self.record.workflow_file else None

    def _respond(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.record.response = {"status": status, "body": body, "headers": headers or {}}

    def _load_workflow(self, ref: str) -> Workflow:
        if self._load_workflow_fn is not None:
            return self._load_workflow_fn(ref)
        from engine.runtime.sub_workflows import load_sub_workflow

        return load_sub_workflow(ref, workflow_file=self.record.workflow_file, find_workflow=self._find_workflow_fn)

    async def _run_sub_workflow(self, ctx: NodeContext, workflow: Workflow, inputs: Any) -> Any:
        """Run a child thread (own stack, own progress) and return its last terminal output."""
        rec = self.record
        prefix = f"{ctx.thread_id}/{ctx.node.id}#"
        child = None
        for t in rec.threads.values():
            if t.thread_id.startswith(prefix) and t.status in (PAUSED, RUNNING, "interrupted"):
                child = t
                break
        plan = self._plan(workflow)
        if child is None:
            n = sum(1 for t in rec.threads if t.startswith(prefix)) + 1
            child = ThreadRecord(
                thread_id=f"{prefix}{n}",
                workflow_id=workflow.id,
                parent_thread_id=ctx.thread_id,
                parent_node_id=ctx.node.id,
                total=len(workflow.nodes),
                variables=dict(workflow.variables),
                started_at=time.time(),
            )
            trigger = next((t for t in plan.triggers if plan.specs[t].type == "manual_trigger"), None) or (plan.triggers[0] if plan.triggers else None)
            if trigger is None:
                raise NodeError(f"sub-workflow {workflow.name!r} has no trigger")
            child.stack.append(Frame(trigger, inputs))
            rec.threads[child.thread_id] = child
            await self.hooks.emit(ev.ThreadStarted(execution_id=rec.execution_id, thread_id=child.thread_id, parent_thread_id=ctx.thread_id, node_id=ctx.node.id, workflow_id=workflow.id, total=child.total), rec)
        child.status = RUNNING
        try:
            await self._run_thread(child, plan)
        except Interrupted as stop:
            child.status = PAUSED if stop.reason == "pause" else CANCELLED
            raise
        except RunFailed as failed:
            child.status = FAILED
            child.error = failed.error
            child.stopped_at = time.time()
            await self.hooks.emit(ev.ThreadFinished(execution_id=rec.execution_id, thread_id=child.thread_id, status=FAILED), rec)
            raise NodeError(f"sub-workflow {workflow.name!r} failed at node {failed.error.get('node_id')!r}: {failed.error.get('message')}", error_type="SubWorkflowFailed") from None
        await self._mark_unrun_skipped(child, plan)
        child.status = COMPLETED
        child.stopped_at = time.time()
        await self.hooks.emit(ev.ThreadFinished(execution_id=rec.execution_id, thread_id=child.thread_id, status=COMPLETED), rec)
        return child.last_output

    async def _close(self) -> None:
        self.services.end()  # its callables are this orchestrator's methods: a cycle, broken here
        if self._http is not None:
            try:
                await self._http.aclose()
            except Exception:  # closing must never turn a finished run into a failure
                log.debug("closing the HTTP client failed", exc_info=True)
