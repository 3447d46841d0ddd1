"""Run / Pause / Resume / Cancel: the run state machine behind the toolbar.

The controller owns the current execution. Every service call goes to the
engine thread (`EngineThread.call*`) and is awaited on the GUI's qasync loop,
so a slow database or a hanging request never freezes the window. Actions are
enabled from one table of states:

    idle/completed/failed/cancelled/viewing --Run--> starting -> running
    running --Pause--> pausing -> paused --Resume--> resuming -> running
    running|paused --Cancel--> cancelling -> cancelled
    running -> completed | failed
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QProgressBar, QStatusBar

from app.help import HELP_KEYS
from app.runner import gc_pacer
from app.runner.backend import ServiceLike
from app.runner.bridge import Batch, EventBridge
from app.runner.canvas_state import RunCanvas
from app.runner.engine_thread import EngineThread
from app.runner.host import RunnerHost
from app.runner.modal import outside_task
from app.runner.run_copy import clone_in_slices
from app.runner.run_version import canonical_in_slices
from app.runner.snapshot import RunSnapshot, run_snapshot
from app.steady_label import SteadyLabel
from app.trust_dialog import ask_trust
from engine import trust
from engine.model import Workflow
from engine.runtime.status import progress_text

log = logging.getLogger(__name__)

IDLE, STARTING, RUNNING, PAUSING, PAUSED, RESUMING, CANCELLING = (
    "idle", "starting", "running", "pausing", "paused", "resuming", "cancelling",
)
COMPLETED, FAILED, CANCELLED, VIEWING = "completed", "failed", "cancelled", "viewing"
ACTIVE = frozenset({STARTING, RUNNING, PAUSING, RESUMING, CANCELLING})
CAN_RUN = frozenset({IDLE, COMPLETED, FAILED, CANCELLED, VIEWING})
RESUMABLE = frozenset({"paused", "interrupted"})
STATUS_MS = 200  # the status bar's clock; while a run is active it also shows the progress


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def format_elapsed(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class RunController(QObject):
    """Starts and steers runs of the host's workflow; shows them on its canvas."""

    state_changed = Signal(str)
    batch_applied = Signal(object)  # Batch, after the canvas showed it
    snapshot_ready = Signal(object)  # RunSnapshot of the run shown (ended, paused or viewed)
    execution_changed = Signal(object)  # execution id shown on the canvas (live or viewed) | None
    run_ended = Signal(str, str)  # execution id, final status (completed/failed/cancelled/paused)
    history_changed = Signal()
    message = Signal(str)  # a line for the status bar
    error = Signal(str)

    def __init__(
        self,
        engine: EngineThread,
        service_factory: Callable[[], ServiceLike],
        host: RunnerHost,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.host = host
        # opened on the engine thread: SQLite (and migrations) never run on the GUI thread
        self._service_future = engine.submit_call(service_factory)
        self.canvas = RunCanvas(host.scene, self)
        self.state = IDLE
        self.execution_id: str | None = None
        self.viewing: tuple[str, int | None] | None = None  # (execution id, run number)
        self.viewed_status: dict[str, Any] | None = None
        self.last_status: str | None = None
        self.bridge: EventBridge | None = None
        self.workflow: Workflow | None = None  # the snapshot the current run executes
        self.started_at: float | None = None
        self.paused_s = 0.0  # paused time of the current run seen so far
        self._paused_since: float | None = None
        self.current_node: str | None = None
        self.snapshot: RunSnapshot | None = None
        # the debugger's options for each start / resume (pins, breakpoints, step, run-to, edits)
        self.start_options: Callable[[], dict[str, Any]] | None = None
        self.resume_options: Callable[[], dict[str, Any]] | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._gc_held = False
        self._gc_shut = False
        self._make_actions()
        self._elapsed = QTimer(self)
        self._elapsed.setInterval(STATUS_MS)
        self._elapsed.timeout.connect(self._update_status)
        self.progress_label = SteadyLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(160)
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setTextVisible(False)
        self.elapsed_label = SteadyLabel()
        self.node_label = SteadyLabel()
        for w in (self.progress_label, self.elapsed_label, self.node_label):
            w.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._update_actions()

    # -- plumbing ----------------------------------------------------------------------
    async def service(self) -> ServiceLike:
        return await asyncio.wrap_future(self._service_future)

    async def call(self, fn: Callable[[ServiceLike], Any]) -> Any:
        """Run `fn(service)` on the engine thread and await its result here."""
        svc = await self.service()
        return await self.engine.call_sync(fn, svc)

    def call_blocking(self, fn: Callable[[ServiceLike], Any], timeout: float = 10.0) -> Any:
        """`fn(service)` on the engine thread, waited for here (shutdown paths and scripts only)."""
        return self.engine.submit_call(lambda: fn(self._service_future.result(timeout))).result(timeout)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        """Run a coroutine on the GUI loop; errors go to the status bar, never lost."""
        try:
            task = asyncio.ensure_future(coro)
        except RuntimeError:  # no event loop any more (shutting down)
            coro.close()
            log.debug("no event loop; %s dropped", getattr(coro, "__qualname__", coro))
            fut: asyncio.Future[Any] = concurrent.futures.Future()  # type: ignore[assignment]
            fut.cancel()
            return fut
        self._tasks.add(task)

        def done(t: asyncio.Future[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                exc = t.exception()
                log.error("run action failed: %s", exc, exc_info=exc)
                self.error.emit(str(exc))
                self.message.emit(f"Error: {exc}")

        task.add_done_callback(done)
        return task

    def _make_actions(self) -> None:
        from app.icons import ui_icon

        color = "#475569"
        self.run_action = QAction(ui_icon("run", "#16a34a"), "Run", self)
        self.run_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.run_action.setToolTip("Run the workflow (F5)")
        self.run_action.triggered.connect(lambda: self.spawn(self.start()))
        self.pause_action = QAction(ui_icon("pause", color), "Pause", self)
        self.pause_action.setToolTip("Pause the run; its state is saved (F6)")
        self.pause_action.triggered.connect(lambda: self.spawn(self.pause()))
        self.resume_action = QAction(ui_icon("resume", color), "Resume", self)
        self.resume_action.setToolTip("Resume the paused run (F6)")
        self.resume_action.triggered.connect(lambda: self.spawn(self.resume()))
        self.cancel_action = QAction(ui_icon("stop", "#dc2626"), "Cancel", self)
        self.cancel_action.setShortcut(QKeySequence(Qt.Modifier.SHIFT | Qt.Key.Key_F5))
        self.cancel_action.setToolTip("Cancel the run (Shift+F5)")
        self.cancel_action.triggered.connect(lambda: self.spawn(self.cancel()))
        self.capture_email_action = QAction(ui_icon("inbox", color), "Capture email", self)
        self.capture_email_action.setCheckable(True)
        self.capture_email_action.setToolTip("Keep the emails of the next runs in their inbox instead of sending them")
        self.actions = [self.run_action, self.pause_action, self.resume_action, self.cancel_action, self.capture_email_action]
        for action in (self.pause_action, self.resume_action):  # F6 moves to whichever is enabled
            action.setProperty(HELP_KEYS, "F6")

    def install_status_bar(self, bar: QStatusBar) -> None:
        bar.addPermanentWidget(self.node_label)
        bar.addPermanentWidget(self.progress_label)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.elapsed_label)
        self.message.connect(lambda text: bar.showMessage(text, 8000))

    # -- state ---------------------------------------------------------------------------
    def _track_pause(self, new_state: str) -> None:
        """Paused time is no run time: the live clock stops while the run is paused."""
        now = time.time()
        if new_state == PAUSED and self._paused_since is None:
            self._paused_since = now
        elif new_state != PAUSED and self._paused_since is not None:
            self.paused_s += now - self._paused_since
            self._paused_since = None

    def active_elapsed(self) -> float | None:
        """Seconds the current run has been running, paused intervals left out."""
        if self.started_at is None:
            return None
        end = self._paused_since if self._paused_since is not None else time.time()
        return end - self.started_at - self.paused_s

    def _set_state(self, state: str) -> None:
        if state != self.state:
            log.debug("run state %s -> %s", self.state, state)
            self._track_pause(state)
            self.state = state
            self._hold_gc(state in ACTIVE)
            self._update_actions()
            self._update_status()
            self.state_changed.emit(state)
        if state in ACTIVE or state == PAUSED:
            if not self._elapsed.isActive():
                self._elapsed.start()
        else:
            self._elapsed.stop()

    def _hold_gc(self, hold: bool) -> None:
        """No full GC pauses while a run streams events (see gc_pacer)."""
        hold = hold and not self._gc_shut
        if hold != self._gc_held:
            self._gc_held = hold
            gc_pacer.run_started() if hold else gc_pacer.run_stopped()

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def _viewed_resumable(self) -> bool:
        return self.state == VIEWING and bool(self.viewed_status and self.viewed_status.get("status") in RESUMABLE)

    def _update_actions(self) -> None:
        s = self.state
        self.run_action.setEnabled(s in CAN_RUN and self.host.current_workflow() is not None)
        self.pause_action.setEnabled(s == RUNNING)
        self.resume_action.setEnabled(s == PAUSED or self._viewed_resumable())
        self.cancel_action.setEnabled(s in {STARTING, RUNNING, PAUSING, PAUSED, RESUMING} or self._viewed_resumable())
        # F6 toggles: only the enabled one of Pause/Resume owns the key (no ambiguous shortcut)
        f6 = QKeySequence(Qt.Key.Key_F6)
        self.pause_action.setShortcut(f6 if self.pause_action.isEnabled() else QKeySequence())
        self.resume_action.setShortcut(f6 if not self.pause_action.isEnabled() else QKeySequence())

    def refresh_actions(self) -> None:
        """The host's document changed (e.g. a file was opened)."""
        self._update_actions()

    def _update_status(self) -> None:
        gc_pacer.tick()
        p = self.canvas.progress()
        shown = self.state not in (IDLE,)
        if not shown or not p["total"]:
            self.progress_label.setText("")
            self.progress_bar.hide()
            self.elapsed_label.setText("")
            self.node_label.setText("")
            return
        label = progress_text(p)  # the CLI's words and numbers
        prefix = ""
        if self.state == VIEWING and self.viewing:
            num = self.viewing[1]
            prefix = f"Viewing run #{num} · " if num else "Viewing run · "
            label = prefix + (self.viewed_status or {}).get("status", "") + " · " + label
        else:
            label = f"{self.state.capitalize()} · {label}"
        self.progress_label.setText(label)
        self.progress_bar.show()
        percent = int(p["percent"])
        if self.progress_bar.value() != percent:  # setValue repaints at once: only on a new percent
            self.progress_bar.setValue(percent)
        if self.state == VIEWING:
            dur = ((self.viewed_status or {}).get("timing") or {}).get("duration_ms")
            self.elapsed_label.setText(f"took {format_elapsed(dur / 1000)}" if dur is not None else "")
        elif self.state in (COMPLETED, FAILED, CANCELLED) and self.snapshot is not None:
            # the run is over: its own recorded duration, not time since the label last ticked
            dur = (self.snapshot.status_object.get("timing") or {}).get("duration_ms")
            self.elapsed_label.setText(f"took {format_elapsed(dur / 1000)}" if dur is not None else "")
        elif self.started_at is not None:
            self.elapsed_label.setText(f"elapsed {format_elapsed(self.active_elapsed() or 0.0)}")
        node = self.current_node if self.state in ACTIVE else None
        wf = self.workflow
        if node and wf is not None and wf.get(node) is not None:
            self.node_label.setText(f"▶ {wf.node(node).name}")
        else:
            self.node_label.setText("")

    # -- bridge --------------------------------------------------------------------------
    def _new_bridge(self) -> EventBridge:
        self._drop_bridge()
        bridge = EventBridge(self, call_in_engine=self.engine.call_soon)
        bridge.capture_logs()
        self.canvas.follow(bridge)  # first: the status below reads the painted counts
        bridge.batch_ready.connect(self._on_batch)
        self.bridge = bridge
        return bridge

    def _drop_bridge(self) -> None:
        if self.bridge is not None:
            self.bridge.flush()
            self.bridge.close()
            self.canvas.unfollow()
            self.bridge.batch_ready.disconnect(self._on_batch)
            self.bridge.deleteLater()
            self.bridge = None

    def _on_batch(self, batch: Batch) -> None:
        """Status only (the canvas painted the batch itself): current node, clock, progress."""
        if batch.execution_id and self.execution_id is None:
            self.execution_id = batch.execution_id
        if batch.current is not None or batch.nodes:
            cur = batch.current
            if cur is None and self.current_node in batch.nodes and batch.nodes[self.current_node].state != "running":
                cur = None
            elif cur is None:
                cur = self.current_node
            self.current_node = cur
        if batch.run_status == RUNNING and self.started_at is None:
            self.started_at = time.time()
        if batch.run_status == RUNNING and self.state in (STARTING, RESUMING):
            # the run's own start event: a big run can keep the engine loop busy, and the
            # answer to the launch call waiting behind it, until its last node (Pause stayed off)
            self._set_state(RUNNING)
        if not self._elapsed.isActive():
            # while a run is active the clock redraws the status bar (at most STATUS_MS behind):
            # a new label text re-lays out the whole window and a new percent repaints it at once,
            # which at one batch per frame was a good part of the GUI thread's time
            self._update_status()
        self.batch_applied.emit(batch)

    # -- verbs ---------------------------------------------------------------------------
    def start_problem(self) -> str | None:
        """Why Run cannot start now (None: it can). Cheap checks only; the graph is
        validated on the engine thread when the run starts (5,000 nodes take ~0.3 s)."""
        if self.state not in CAN_RUN:
            return f"A run is {self.state}; cancel it before starting another."
        if self.host.current_workflow() is None:
            return "There is no workflow to run."
        return None

    def _refuse(self, text: str) -> None:
        self.message.emit(text)
        self.error.emit(text)

    async def start(self, inputs: Any = None, *, rerun: dict[str, Any] | None = None, workflow: Workflow | None = None) -> str | None:
        """Run the host's current workflow (or `workflow`); returns the execution id once it ended or paused.

        `rerun`: {source_id, from_node, to_node, replay} makes it a re-run of that execution
        (`replay`: {nodes, strict} answered from its recordings, or None).
        """
        problem = self.start_problem()
        wf = workflow or self.host.current_workflow()
        if problem is not None or wf is None:
            self._refuse(problem or "")
            return None
        from engine.graph import validate

        self._set_state(STARTING)
        self.message.emit(f"Starting run: {wf.name}" if wf.name else "Starting run")  # not the last run's end
        snapshot = await clone_in_slices(wf)  # the run never sees later edits; 5,000 nodes take 20-40 ms
        problems = await self.engine.call_sync(validate, snapshot, file=self.host.current_file())
        problems = [p for p in problems if p.is_error]  # warnings (unreachable nodes) do not stop a run
        if problems:
            self._set_state(IDLE if self.viewing is None else VIEWING)
            self._refuse(f"Cannot run: {len(problems)} problem(s) — {problems[0]}")
            self.run_ended.emit("", "invalid")  # whoever waits for the run (--run --screenshot) goes on
            return None
        trusted = await self._ask_trust(snapshot, self.host.current_file())
        if trusted is None:
            self._set_state(IDLE if self.viewing is None else VIEWING)
            self.run_ended.emit("", "invalid")
            return None
        # the version the run saves, encoded here a slice at a time (the engine would hold
        # the interpreter lock for all of it at once)
        document, content_hash = await canonical_in_slices(snapshot) if rerun is None else (None, None)
        if self.viewing is not None:
            self.leave_view()
        self.workflow = snapshot
        self.execution_id = None
        self.started_at = None
        self.paused_s, self._paused_since = 0.0, None
        self.current_node = None
        self.canvas.begin(snapshot)
        bridge = self._new_bridge()
        self._set_state(STARTING)
        self.execution_changed.emit(None)
        try:
            svc = await self.service()
            opts = self.start_options() if self.start_options is not None else {}
            if rerun is not None:
                rerun_opts = {k: v for k, v in opts.items() if k in ("pins", "breakpoints")}
                rerun_opts.update(replay=rerun.get("replay"), capture_email=self.capture_email_action.isChecked())
                launch = svc.rerun(rerun["source_id"], from_node=rerun.get("from_node"), to_node=rerun.get("to_node"), workflow=snapshot, hooks=bridge.hooks(), workflow_file=self.host.current_file(), **rerun_opts)
            else:
                launch = svc.start(snapshot, hooks=bridge.hooks(), workflow_file=self.host.current_file(), capture_email=self.capture_email_action.isChecked(),
                                   content_hash=content_hash, document=document, **opts)
            with trust.granted(trusted):  # the run's tasks inherit it (engine/trust.py)
                handle = await self.engine.call(launch)
        except Exception:
            self._set_state(FAILED)
            self.run_ended.emit("", FAILED)  # nobody waits forever for a run that never started
            raise
        self.execution_id = handle.execution_id
        self.message.emit(f"Run started: {snapshot.name}")
        if self.started_at is None:
            self.started_at = time.time()
        if self.state == STARTING:
            self._set_state(RUNNING)
        self.execution_changed.emit(self.execution_id)
        self.history_changed.emit()
        await self._follow(handle.execution_id)
        return handle.execution_id

    async def _follow(self, execution_id: str) -> str:
        """Wait for the run to end or pause, then show its final record."""
        svc = await self.service()
        record = await self.engine.call(svc.wait(execution_id))
        snap: RunSnapshot = await self.engine.call_sync(run_snapshot, record)
        if self.bridge is not None:
            self.bridge.flush()
            self.bridge.close()
        if self.execution_id != execution_id:
            return snap.status  # the user moved on (e.g. opened another run)
        if self.workflow is not None:
            self.canvas.show_snapshot(self.workflow, snap)
        self.current_node = None
        self.snapshot = snap
        self.snapshot_ready.emit(snap)
        status = snap.status
        self.last_status = status
        self._set_state({"completed": COMPLETED, "failed": FAILED, "cancelled": CANCELLED, "paused": PAUSED}.get(status, IDLE))
        self.message.emit(f"Run {status}" + (f": {snap.status_object['error']['message']}" if snap.status_object.get("error") else ""))
        self.run_ended.emit(execution_id, status)
        self.history_changed.emit()
        return status

    async def pause(self) -> None:
        if self.state != RUNNING or self.execution_id is None:
            return
        self._set_state(PAUSING)
        eid = self.execution_id
        await self.call(lambda s: s.pause(eid))

    async def resume(self) -> None:
        """Resume the current paused run, or the paused/interrupted run being viewed."""
        if self.state == VIEWING and self._viewed_resumable() and self.viewing:
            await self.resume_execution(self.viewing[0])
            return
        if self.state != PAUSED or self.execution_id is None:
            return
        await self._resume(self.execution_id)

    async def resume_execution(self, execution_id: str) -> None:
        """Resume a paused or interrupted run (from history or the recovery dialog)."""
        if self.active:
            self.message.emit("Another run is active.")
            return
        svc = await self.service()

        def load(s: ServiceLike) -> tuple[Workflow, RunSnapshot]:
            return s.workflow_of(execution_id), run_snapshot(s.record(execution_id), status=s.status(execution_id))

        wf, snap = await self.engine.call_sync(load, svc)
        if self.state == VIEWING:
            self.leave_view()
        current = self.host.current_workflow()
        if current is None or current.id != wf.id:
            await outside_task(self.host.show_workflow, wf)  # may ask about unsaved changes
        self.workflow = wf
        self.execution_id = execution_id
        self.canvas.show_snapshot(wf, snap)
        timing = snap.status_object.get("timing") or {}
        self.started_at = _epoch(timing.get("started_at"))
        paused_at = _epoch(timing.get("stopped_at"))  # when it paused (or was interrupted)
        self.paused_s, self._paused_since = (time.time() - paused_at if paused_at else 0.0), None
        await self._resume(execution_id, workflow=wf)

    async def _ask_trust(self, wf: Workflow, path: str | None) -> bool | None:
        """Whether the run may run code outside the sandbox; None: it must not start."""
        if not trust.needs_trust(wf):
            return False
        if await ask_trust(wf, path, self.host.window()):
            return True
        self._refuse("Run not started: the workflow runs code outside the sandbox and was not trusted.")
        return None

    async def _resume(self, execution_id: str, workflow: Workflow | None = None) -> None:
        wf = workflow or self.workflow
        current = self.host.current_workflow()
        path = self.host.current_file() if current is not None and wf is not None and current.id == wf.id else None
        trusted = await self._ask_trust(wf, path) if wf is not None else False
        if trusted is None:
            return
        bridge = self._new_bridge()
        self._set_state(RESUMING)
        self.execution_changed.emit(execution_id)
        svc = await self.service()
        try:
            opts = self.resume_options() if self.resume_options is not None else {}
            with trust.granted(trusted):
                await self.engine.call(svc.resume(execution_id, hooks=bridge.hooks(), workflow=wf, **opts))
        except Exception:
            self._set_state(PAUSED)
            raise
        self.canvas.run_status = RUNNING
        if self.state == RESUMING:
            self._set_state(RUNNING)
        self.history_changed.emit()
        await self._follow(execution_id)

    async def cancel(self) -> None:
        if self.state == VIEWING and self._viewed_resumable() and self.viewing:
            await self.cancel_execution(self.viewing[0])
            return
        if self.execution_id is None:
            return
        if self.state in (RUNNING, PAUSING, RESUMING, STARTING):
            self._set_state(CANCELLING)
            eid = self.execution_id
            await self.call(lambda s: s.cancel(eid))
        elif self.state == PAUSED:
            eid = self.execution_id

            def cancel_paused(s: ServiceLike) -> RunSnapshot:
                s.cancel(eid)
                return run_snapshot(s.record(eid), status=s.status(eid))

            snap = await self.call(cancel_paused)
            if self.workflow is not None:
                self.canvas.show_snapshot(self.workflow, snap)
            self.snapshot = snap
            self.snapshot_ready.emit(snap)
            self.last_status = CANCELLED
            self._set_state(CANCELLED)
            self.message.emit("Run cancelled")
            self.run_ended.emit(eid, CANCELLED)
            self.history_changed.emit()

    async def cancel_execution(self, execution_id: str) -> None:
        """Cancel a paused or interrupted run that is not running here."""
        if execution_id == self.execution_id and self.state == PAUSED:
            await self.cancel()  # the run on the canvas: show it cancelled too
            return
        await self.call(lambda s: s.cancel(execution_id))
        if self.viewing and self.viewing[0] == execution_id:
            await self.view_run(execution_id, self.viewing[1])
        self.history_changed.emit()

    # -- viewing past runs ---------------------------------------------------------------
    async def view_run(self, execution_id: str, number: int | None = None) -> bool:
        """Show a past run on the canvas, read-only, with its statuses and outputs."""
        if self.active:
            self.message.emit("A run is active; wait for it to end (or pause it) to view another run.")
            return False
        svc = await self.service()

        def load(s: ServiceLike) -> tuple[Workflow, RunSnapshot]:
            status = s.status(execution_id)
            return s.workflow_of(execution_id), run_snapshot(s.record(execution_id), status=status)

        wf, snap = await self.engine.call_sync(load, svc)
        current = self.host.current_workflow()
        if current is None or current.id != wf.id:
            await outside_task(self.host.show_workflow, wf)  # may ask about unsaved changes
        self._drop_bridge()
        self.host.set_read_only(True)
        self.workflow = wf
        self.execution_id = execution_id
        self.viewing = (execution_id, number)
        self.viewed_status = snap.status_object
        self.snapshot = snap
        self.canvas.show_snapshot(wf, snap)
        self._set_state(VIEWING)
        self.snapshot_ready.emit(snap)
        self._update_actions()
        self._update_status()
        self.execution_changed.emit(execution_id)
        return True

    def reset(self) -> None:
        """A different document is open: forget the finished run shown on the canvas."""
        if self.active or self.state == PAUSED:
            return
        if self.state == VIEWING:
            self.leave_view()
            return
        self.canvas.clear()
        self.execution_id = None
        self.snapshot = None
        self._set_state(IDLE)
        self.execution_changed.emit(None)

    def leave_view(self) -> None:
        """Back to editing: plain canvas, edits allowed."""
        if self.viewing is None and self.state != VIEWING:
            return
        self.viewing = None
        self.viewed_status = None
        self.canvas.clear()
        self.host.set_read_only(False)
        if self.state == VIEWING:
            self.execution_id = None
            self._set_state(IDLE)
            self.execution_changed.emit(None)

    # -- shutting down -------------------------------------------------------------------
    async def pause_and_wait(self) -> str | None:
        """Pause an active run and wait until its state is saved (closing the window)."""
        if self.execution_id is None or not self.active:
            return self.last_status
        if self.state in (RUNNING, RESUMING, STARTING):
            self._set_state(PAUSING)
            eid = self.execution_id
            await self.call(lambda s: s.pause(eid))
        svc = await self.service()
        record = await self.engine.call(svc.wait(self.execution_id))
        self._settle(record.status)
        return record.status

    def _settle(self, status: str) -> None:
        """The run stopped: leave the active states now. `_follow` shows the final record a
        moment later, but the window may close first, and the app's exit must not take an
        already paused run for a running one (and try to pause it again)."""
        if self.state in ACTIVE:
            self.last_status = status
            self._set_state({"completed": COMPLETED, "failed": FAILED, "cancelled": CANCELLED, "paused": PAUSED}.get(status, IDLE))

    async def cancel_and_wait(self) -> str | None:
        if self.execution_id is None:
            return None
        await self.cancel()
        if self.state in ACTIVE:
            svc = await self.service()
            record = await self.engine.call(svc.wait(self.execution_id))
            self._settle(record.status)
            return record.status
        return self.state

    def shutdown(self) -> None:
        """Stop timers and log capture (the engine thread is stopped by its owner)."""
        self._elapsed.stop()
        self._hold_gc(False)
        self._gc_shut = True
        gc_pacer.release()  # no collection owed to a window that is gone
        self.canvas.stop()
        if self.bridge is not None:
            self.bridge.close()

