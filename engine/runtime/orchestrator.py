"""The stack-based orchestrator: runs one execution (and its sub-workflow threads).

A loop pops frames off a LIFO `ExecutionStack` (no recursion, so a 10,000-node
chain is fine), checking pause and cancel before each pop. A fan-out pushes its
branches in reverse connection order, so branches run depth-first in
connection order and a run is deterministic. Merge inputs wait in the waiting
map; when the stack drains, merges still waiting (a branch was not taken) fire
with what arrived. Loops push a `loop_tick` frame under each iteration's body.
Every step is reported through `LifecycleHooks`; the record is consistent
whenever a hook runs, so a subscriber can checkpoint it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import events as ev
from engine import expressions
from engine.errors import EngineError, ExpressionError, NodeError, RunTakenOver
from engine.graph import Routing
from engine.jsonvalue import unstorable
from engine.model import Node, Workflow
from engine.nodes.base import Interrupted, NodeContext, NodeServices, NodeSpec
from engine.runtime.control import RunControl
from engine.runtime.record import (
    CANCELLED,
    COMPLETED,
    FAILED,
    MAIN_THREAD,
    PAUSED,
    RUNNING,
    Frame,
    LoopState,
    RunRecord,
    ThreadRecord,
)
from engine.runtime.retry import RetryPolicy, policy_for

log = logging.getLogger("engine.runtime")

MAX_SUMMARY = 120


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def summarize(value: Any) -> str:
    """A short human summary of an output (for events, logs and canvas edges)."""
    if isinstance(value, list):
        return f"{len(value)} items"
    if isinstance(value, dict):
        keys = list(value)[:4]
        more = "…" if len(value) > 4 else ""
        return "{" + ", ".join(map(str, keys)) + more + "}"
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


class RunFailed(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.error = error


class _Plan:
    """Per-workflow facts computed once: specs, routing, policies, names."""

    def __init__(self, wf: Workflow) -> None:
        from engine.nodes.registry import get_spec
        from engine.nodes.registry import has_expression as has_expr

        self.wf = wf
        self.nodes: dict[str, Node] = {n.id: n for n in wf.nodes}
        self.specs: dict[str, NodeSpec] = {n.id: get_spec(n.type) for n in wf.nodes}
        self.routing = Routing.build(wf)
        self.policies: dict[str, RetryPolicy] = {
            n.id: policy_for(n.retry, self.specs[n.id].default_retry) for n in wf.nodes
        }
        self.side_effects = {n.id: self.specs[n.id].has_side_effects(n) for n in wf.nodes}
        self.dynamic = {n.id: has_expr(n.config) for n in wf.nodes}
        self.static_cfg: dict[str, Any] = {}
        self.multi_port = {
            n.id: self.specs[n.id].kind != "loop" and len(self.specs[n.id].output_ports(n)) > 1 for n in wf.nodes
        }
        self.triggers = [n.id for n in wf.nodes if self.specs[n.id].is_trigger]

    def config(self, node: Node, names_factory: Callable[[], dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
        """Render and validate a node's config (static configs are validated once)."""
        spec = self.specs[node.id]
        if not self.dynamic[node.id]:
            got = self.static_cfg.get(node.id)
            if got is None:
                got = self.static_cfg[node.id] = (self._validate(node, spec, node.config), node.config)
            return got
        names = names_factory()
        raw = {}
        for key, val in node.config.items():
            if key in spec.fields_not_rendered:
                raw[key] = val
            else:
                raw[key] = expressions.render(val, names, node_id=node.id, field=f"config.{key}")
        return self._validate(node, spec, raw), raw

    @staticmethod
    def _validate(node: Node, spec: NodeSpec, raw: dict[str, Any]) -> Any:
        from pydantic import ValidationError

        try:
            return spec.config_model.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = "config." + ".".join(str(p) for p in first["loc"])
            raise NodeError(f"node {node.id!r}, field {field!r}: {first['msg']}", error_type="ConfigError") from None


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
    ) -> None:
        self.workflow = workflow
        self.record = record
        self.hooks = hooks or ev.LifecycleHooks()
        self.control = control or RunControl()
        self._plans: dict[str, _Plan] = {}
        self._by_name: dict[str, dict[str, Any]] = {}
        self._exec_names: dict[str, Any] | None = None
        self._node_logs: dict[str, _NodeLog] = {}  # thread id -> node name -> latest output
        self._http: Any = None  # engine.http_client.SharedHttpClient, made on first use
        self._load_workflow_fn = load_workflow
        self._credential_fn = credential
        self._find_workflow_fn = find_workflow
        self._w_started = self.hooks.wants(ev.NodeStarted)
        self._w_finished = self.hooks.wants(ev.NodeFinished)
        self.services = NodeServices(
            http_client=self._get_http_client,
            credential=self._credential,
            run_sub_workflow=self._run_sub_workflow,
            respond=self._respond,
            load_workflow=self._load_workflow,
            workflow_dir=self._workflow_dir,
        )

    # -- public --------------------------------------------------------------
    async def run(self) -> RunRecord:
        rec = self.record
        resumed = rec.status != RUNNING or rec.started_at is not None
        if rec.started_at is None:
            rec.started_at = time.time()
        if rec.main.started_at is None:
            rec.main.started_at = rec.started_at
        rec.status = RUNNING
        rec.stopped_at = None
        rec.error = None
        main = rec.main
        main.status = RUNNING
        self.control.reset_pause()
        plan = self._plan(self.workflow)
        if resumed:
            log.info("execution=%s resumed", rec.execution_id)
            await self.hooks.emit(ev.ExecutionResumed(rec.execution_id), rec)
        else:
            log.info("execution=%s started workflow=%s", rec.execution_id, rec.workflow_id)
            await self.hooks.emit(ev.ExecutionStarted(rec.execution_id, rec.workflow_id, main.total), rec)
        try:
            await self._run_thread(main, plan)
        except Interrupted as stop:
            self._stopped(PAUSED if stop.reason == "pause" else CANCELLED)
            if stop.reason == "pause":
                log.info("execution=%s paused", rec.execution_id)
                await self.hooks.emit(ev.ExecutionPaused(rec.execution_id), rec)
            else:
                log.info("execution=%s cancelled", rec.execution_id)
                await self.hooks.emit(ev.ExecutionCancelled(rec.execution_id), rec)
        except RunFailed as failed:
            rec.error = main.error = failed.error
            self._stopped(FAILED)
            log.error("execution=%s failed node=%s: %s", rec.execution_id, failed.error.get("node_id"), failed.error.get("message"))
            await self.hooks.emit(ev.ExecutionFailed(rec.execution_id, failed.error), rec)
        except RunTakenOver:  # another process owns the run now: stop, record nothing
            log.warning("execution=%s was taken over by another process; stopping", rec.execution_id)
            raise
        except Exception as exc:  # a bug or an unexpected error: the run fails, nothing is lost
            rec.error = main.error = error_object(exc, main.in_flight or "", 0)
            self._stopped(FAILED)
            log.exception("execution=%s crashed", rec.execution_id)
            await self.hooks.emit(ev.ExecutionFailed(rec.execution_id, rec.error), rec)
        else:
            await self._mark_unrun_skipped(main, plan)
            self._stopped(COMPLETED)
            log.info("execution=%s completed", rec.execution_id)
            await self.hooks.emit(ev.ExecutionCompleted(rec.execution_id), rec)
        finally:
            await self._close()
        return rec

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

    def _plan(self, wf: Workflow) -> _Plan:
        plan = self._plans.get(wf.id)
        if plan is None or plan.wf is not wf:
            plan = self._plans[wf.id] = _Plan(wf)
        return plan

    async def _run_thread(self, th: ThreadRecord, plan: _Plan) -> None:
        stack = th.stack
        control = self.control
        nodes = plan.nodes
        specs = plan.specs
        back_edges = plan.routing.back_edges
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
                spec = specs[node.id]
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
                if frame.attempt == 0:
                    self._check_visits(th, plan, node)
                await self._run_node(th, plan, node, spec, frame)
            if not th.waiting:
                return
            # the stack drained with merges still waiting: a branch was not taken
            order = {n.id: i for i, n in enumerate(plan.wf.nodes)}
            merge_id = min(th.waiting, key=order.__getitem__)
            waiting = th.waiting.pop(merge_id)
            incoming = plan.routing.incoming.get(merge_id, [])
            stack.append(Frame(merge_id, [waiting[i] for i in incoming if i in waiting], kind="merge_fire"))

    @staticmethod
    def _check_visits(th: ThreadRecord, plan: _Plan, node: Node) -> None:
        """Fail the run when a node is about to run more often than the workflow allows
        (a cycle that never takes its way out). Counted from the attempt records, so the
        bound holds across a pause and a resume."""
        limit = plan.wf.max_node_visits
        attempts = th.attempts.get(node.id)
        if attempts is None or len(attempts) < limit:
            return
        visits = sum(1 for a in attempts if a["attempt"] == 1 and a["status"] != "paused")
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

    def _names(self, th: ThreadRecord, plan: _Plan, value: Any) -> dict[str, Any]:
        by_name = self._by_name.get(th.thread_id)
        if by_name is None:  # first use (or after a resume): build once, then keep in step
            by_name = self._by_name[th.thread_id] = {
                plan.nodes[k].name: v for k, v in th.outputs.items() if k in plan.nodes
            }
        loop = None
        if th.loop_stack:
            st = th.loops[th.loop_stack[-1]]
            if 0 <= st.index < len(st.items):
                loop = {"index": st.index, "item": st.items[st.index]}
        return expressions.make_names(
            input=value,
            nodes=by_name,
            vars=th.variables,
            loop=loop,
            execution=self._execution_names(),
        )

    async def _run_node(self, th: ThreadRecord, plan: _Plan, node: Node, spec: NodeSpec, frame: Frame) -> None:
        value = frame.value
        rec = self.record
        if node.disabled:
            th.node_status[node.id] = "skipped"
            self._set_output(th, plan, node.id, value)
            await self._deliver(th, plan, node, {"out": value})
            if self._w_finished:
                await self.hooks.emit(ev.NodeFinished(rec.execution_id, th.thread_id, node.id, "skipped", 0.0, 0, summarize(value), ("out",)), rec)
            return
        policy = plan.policies[node.id]
        side = plan.side_effects[node.id]
        pure = spec.pure
        attempt = frame.attempt
        control = self.control
        attempts = th.attempts.setdefault(node.id, [])
        node_state: dict[str, Any] = dict(frame.state) if frame.state else {}
        while True:
            attempt += 1
            th.in_flight = node.id
            th.node_status[node.id] = "running"
            started = time.time()
            t0 = time.perf_counter()
            if log.isEnabledFor(logging.INFO):
                log.info("execution=%s node=%s started attempt %d", rec.execution_id, node.id, attempt)
            if self._w_started:
                await self.hooks.emit(ev.NodeStarted(rec.execution_id, th.thread_id, node.id, attempt, side), rec)
            try:
                cfg, raw = plan.config(node, lambda v=value: self._names(th, plan, v))
                ctx = NodeContext(
                    node=node,
                    config=cfg,
                    raw_config=raw,
                    execution_id=rec.execution_id,
                    thread_id=th.thread_id,
                    attempt=attempt,
                    variables=th.variables,
                    outputs_by_name=th.outputs,
                    services=self.services,
                    sleep=control.sleep,
                    log=self._node_log(node.id),
                    evaluate=lambda expr, extra=None, v=value: self._evaluate(th, plan, node, v, expr, extra),
                    state=node_state,
                )
                if pure:
                    result = await spec.run(ctx, value)
                else:
                    task = asyncio.ensure_future(spec.run(ctx, value))
                    control.current_task = task
                    try:
                        result = await task
                    finally:
                        control.current_task = None
                problem = unstorable(result.outputs)  # refused here, never in the checkpoint
                if problem:
                    raise NodeError(f"the node's output cannot be stored: {problem}", error_type="unstorable")
            except (Interrupted, asyncio.CancelledError) as stop:
                if isinstance(stop, asyncio.CancelledError) and not control.interrupted:
                    raise
                reason = stop.reason if isinstance(stop, Interrupted) else control.reason()
                duration = (time.perf_counter() - t0) * 1000
                status = "paused" if reason == "pause" else "cancelled"
                cut = status == "paused" and isinstance(stop, asyncio.CancelledError)  # a pause ended its I/O
                attempts.append(_cut_short(node.id, attempt, started, duration) if cut else _attempt(attempt, status, started, duration, None))
                th.node_status[node.id] = status
                if reason == "pause":
                    frame.attempt = attempt - 1
                    frame.state = node_state or None  # e.g. a wait's deadline, for the resume
                    th.stack.append(frame)
                    th.in_flight = None
                if self._w_finished:
                    await self.hooks.emit(ev.NodeFinished(rec.execution_id, th.thread_id, node.id, status, duration, attempt, side_effects=side, pure=pure), rec)
                raise Interrupted(reason) from None
            except Exception as exc:
                duration = (time.perf_counter() - t0) * 1000
                if isinstance(exc, ExpressionError):
                    exc = NodeError(str(exc), error_type="ExpressionError")
                err = error_object(exc, node.id, attempt, th.thread_id)
                attempts.append(_attempt(attempt, "failed", started, duration, err))
                if policy.should_retry(exc, attempt):
                    delay = policy.delay(attempt)
                    th.node_status[node.id] = "retrying"
                    log.warning("execution=%s node=%s attempt %d/%d failed: %s; retry in %.2fs", rec.execution_id, node.id, attempt, policy.max_attempts, err["message"], delay)
                    await self.hooks.emit(ev.NodeRetrying(rec.execution_id, th.thread_id, node.id, attempt, policy.max_attempts, delay, err["message"]), rec)
                    try:
                        await control.sleep(delay)
                    except Interrupted as stop:
                        if stop.reason == "pause":
                            frame.attempt = attempt
                            th.stack.append(frame)
                            th.in_flight = None
                            th.node_status[node.id] = "paused"
                        else:
                            th.node_status[node.id] = "cancelled"
                        raise
                    continue
                th.node_status[node.id] = "failed"
                th.in_flight = None
                log.error("execution=%s node=%s failed after %d attempt(s): %s", rec.execution_id, node.id, attempt, err["message"])
                skipped: list[str] = []
                if node.on_error == "route":
                    self._set_output(th, plan, node.id, err)
                    skipped = await self._deliver(th, plan, node, {"error": err})
                    ports: tuple[str, ...] = ("error",)
                elif node.on_error == "continue":
                    self._set_output(th, plan, node.id, value)
                    skipped = await self._deliver(th, plan, node, {"out": value})
                    ports = ("out",)
                else:
                    ports = ()
                await self.hooks.emit(ev.NodeFinished(rec.execution_id, th.thread_id, node.id, "failed", duration, attempt, err["message"][:MAX_SUMMARY], ports, err, side, pure), rec)
                await self._report_skipped(th, skipped)
                if not ports:
                    raise RunFailed(err) from None
                return
            # success
            duration = (time.perf_counter() - t0) * 1000
            attempts.append(_attempt(attempt, "succeeded", started, duration, None))
            if spec.kind == "loop":
                items = result.outputs.get("items", [])
                th.loops[node.id] = LoopState(list(items))
                th.loop_stack.append(node.id)
                th.stack.append(Frame(node.id, kind="loop_tick"))
                th.in_flight = None
                return  # NodeFinished is emitted when the loop is done
            outputs = result.outputs
            first = next(iter(outputs.values())) if outputs else None
            self._set_output(th, plan, node.id, first)
            th.node_status[node.id] = "succeeded"
            th.in_flight = None
            skipped = await self._deliver(th, plan, node, outputs)
            if log.isEnabledFor(logging.INFO):
                log.info("execution=%s node=%s succeeded in %.2f ms", rec.execution_id, node.id, duration)
            if self._w_finished:
                await self.hooks.emit(
                    ev.NodeFinished(rec.execution_id, th.thread_id, node.id, "succeeded", duration, attempt, summarize(first), tuple(outputs), None, side, pure),
                    rec,
                )
            await self._report_skipped(th, skipped)
            return

    def _evaluate(self, th: ThreadRecord, plan: _Plan, node: Node, value: Any, expr: str, extra: dict[str, Any] | None) -> Any:
        names = self._names(th, plan, value)
        if extra:
            names.update(extra)
        return expressions.evaluate(expr, names, node_id=node.id)

    def _node_log(self, node_id: str) -> _NodeLog:
        got = self._node_logs.get(node_id)
        if got is None:
            got = self._node_logs[node_id] = _NodeLog(log, self.record.execution_id, node_id)
        return got

    def _execution_names(self) -> dict[str, Any]:
        names = self._exec_names
        if names is None or names["id"] != self.record.execution_id:
            names = self._exec_names = {"id": self.record.execution_id, "started_at": iso(self.record.started_at)}
        return names

    def _set_output(self, th: ThreadRecord, plan: _Plan, node_id: str, value: Any) -> None:
        th.outputs[node_id] = value
        by_name = self._by_name.get(th.thread_id)
        if by_name is not None:
            by_name[plan.nodes[node_id].name] = value

    async def _deliver(self, th: ThreadRecord, plan: _Plan, node: Node, outputs: dict[str, Any]) -> list[str]:
        """Push the successors of the ports a value left on (first connection runs first).

        Returns the nodes newly marked skipped (downstream of ports that got nothing);
        the caller reports them after the deciding node's own NodeFinished.
        """
        routing = plan.routing
        frames: list[Frame] = []
        for port, value in outputs.items():
            for route in routing.targets(node.id, port):
                frames.append(Frame(route.to_node, value, route.to_port, route.conn))
                th.edge_counts[route.conn] = th.edge_counts.get(route.conn, 0) + 1
        if frames:
            th.stack.extend(reversed(frames))
        elif outputs:
            th.last_output = next(iter(outputs.values()))
        skipped: list[str] = []
        if plan.multi_port[node.id] and node.id not in routing.cyclic:  # in a cycle: decided at the end
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
                await self.hooks.emit(ev.NodeFinished(self.record.execution_id, th.thread_id, d, "skipped", 0.0, 0), self.record)

    async def _loop_tick(self, th: ThreadRecord, plan: _Plan, node: Node) -> None:
        st = th.loops[node.id]
        st.index += 1
        if st.index < len(st.items):
            th.stack.append(Frame(node.id, kind="loop_tick"))
            await self._deliver(th, plan, node, {"loop": st.items[st.index]})
            return
        results = st.results
        del th.loops[node.id]
        if th.loop_stack and th.loop_stack[-1] == node.id:
            th.loop_stack.pop()
        elif node.id in th.loop_stack:
            th.loop_stack.remove(node.id)
        self._set_output(th, plan, node.id, results)
        th.node_status[node.id] = "succeeded"
        await self._deliver(th, plan, node, {"done": results})
        if self._w_finished:
            await self.hooks.emit(ev.NodeFinished(self.record.execution_id, th.thread_id, node.id, "succeeded", 0.0, 1, summarize(results), ("done",), pure=True), self.record)

    async def _mark_unrun_skipped(self, th: ThreadRecord, plan: _Plan) -> None:
        for node_id in plan.nodes:
            if node_id not in th.node_status:
                th.node_status[node_id] = "skipped"
                if self._w_finished:
                    await self.hooks.emit(ev.NodeFinished(self.record.execution_id, th.thread_id, node_id, "skipped", 0.0, 0), self.record)

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
        """A sub-workflow by path (relative to the parent's file) or by `id:<workflow id>`.

        Ids are looked up with the host's `find_workflow` (the service: saved
        versions in the store), then among the `*.pe.json` files beside the parent.
        """
        if self._load_workflow_fn is not None:
            return self._load_workflow_fn(ref)
        from engine import fileformat
        from engine.errors import WorkflowInvalid
        from engine.graph import ensure_valid

        base = Path(self.record.workflow_file).parent if self.record.workflow_file else Path.cwd()
        if ref.startswith("id:"):
            wanted = ref[3:]
            if self._find_workflow_fn is not None and (found := self._find_workflow_fn(wanted)) is not None:
                return found
            for candidate in sorted(base.glob("*.pe.json")):
                try:
                    wf = fileformat.load(candidate)
                except WorkflowInvalid:
                    continue
                if wf.id == wanted:
                    ensure_valid(wf, file=str(candidate))
                    return wf
            raise NodeError(f"no saved workflow with id {wanted!r} (looked in the store and in {base})")
        path = Path(ref)
        if not path.is_absolute():
            path = base / path
        wf = fileformat.load(path)
        ensure_valid(wf, file=str(path))
        return wf

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
            trigger = next((t for t in plan.triggers if plan.specs[t].type == "manual_trigger"), None) or (plan.triggers or [None])[0]
            if trigger is None:
                raise NodeError(f"sub-workflow {workflow.name!r} has no trigger")
            child.stack.append(Frame(trigger, inputs))
            rec.threads[child.thread_id] = child
            await self.hooks.emit(ev.ThreadStarted(rec.execution_id, child.thread_id, ctx.thread_id, ctx.node.id, workflow.id, child.total), rec)
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
            await self.hooks.emit(ev.ThreadFinished(rec.execution_id, child.thread_id, FAILED), rec)
            raise NodeError(f"sub-workflow {workflow.name!r} failed at node {failed.error.get('node_id')!r}: {failed.error.get('message')}", error_type="SubWorkflowFailed") from None
        await self._mark_unrun_skipped(child, plan)
        child.status = COMPLETED
        child.stopped_at = time.time()
        await self.hooks.emit(ev.ThreadFinished(rec.execution_id, child.thread_id, COMPLETED), rec)
        return child.last_output

    async def _close(self) -> None:
        self.services.close_resources()
        if self._http is not None:
            try:
                await self._http.aclose()
            except Exception:  # closing must never turn a finished run into a failure
                log.debug("closing the HTTP client failed", exc_info=True)


def _attempt(attempt: int, status: str, started: float, duration_ms: float, error: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "attempt": attempt,
        "status": status,
        "started_at": started,
        "duration_ms": round(duration_ms, 3),
        "error": error,
    }


def _cut_short(node_id: str, attempt: int, started: float, duration_ms: float) -> dict[str, Any]:
    """The attempt a pause cut short mid-I/O (RunControl.pause): it runs again on resume."""
    error = {"message": "paused while this node was running (its request was cut short); resume runs it again",
             "type": "Interrupted", "node_id": node_id, "attempt": attempt, "traceback": None}
    return _attempt(attempt, "interrupted", started, duration_ms, error)


class _NodeLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Prefixes every node log line with the execution and node ids."""

    def __init__(self, logger: logging.Logger, execution_id: str, node_id: str) -> None:
        super().__init__(logger, {"execution_id": execution_id, "node_id": node_id})

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        return f"execution={extra['execution_id']} node={extra['node_id']} {msg}", kwargs


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
    from engine.nodes.registry import get_spec

    triggers = [n for n in workflow.nodes if get_spec(n.type).is_trigger]
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
