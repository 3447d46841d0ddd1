"""The debugger in the studio: breakpoints, stepping, run-to-here, edits while paused, pins, re-runs.

`DebugSession` sits beside the `RunController`: it keeps the open document's
breakpoints, hands the controller its options for each start and resume
(`start_options` / `resume_options`: pins on, breakpoints, step, run-to, the
variables and pending input edited while paused), reads where a run paused
(`paused_at`) and shows it on the canvas (an arrow on the node, the Call stack
and Variables docks, the pending input in Run data). Every service call runs
on the engine thread through the controller, like Run/Pause/Resume.

Re-runs take the nodes the document sets to Replay (the inspector's run-mode switch)
and answer them from the re-run execution's recordings; "Strict replay" makes a
request that differs from its recording an error.

Keys: F9 toggles a breakpoint on the selected node, F10 steps, Ctrl+F10 runs
to the selected node, F5 runs or (when paused) continues.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, cast

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox

from app.runner import controller as rc
from app.runner.controller import RunController
from app.runner.modal import outside_task
from engine.errors import EngineError
from engine.model import Workflow
from engine.replay import REPLAYABLE, recorded_nodes

log = logging.getLogger(__name__)

UNSET: Any = object()


class DebugSession(QObject):
    """Breakpoints of the open document and the state of a paused debug run."""

    breakpoints_changed = Signal()
    paused_changed = Signal(object)  # paused_at {node_id, reason, input, thread_id, stack} | None
    variables_changed = Signal(object)  # {name: value} of the paused thread | None

    def __init__(self, controller: RunController, window: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.window = window
        self.breakpoints: dict[str, dict[str, Any]] = {}  # node id -> {condition, enabled, hits}
        self.paused_at: dict[str, Any] | None = None
        self.variables: dict[str, Any] | None = None
        self.pending_input: Any = UNSET  # edited in Run data while paused
        self.pending_vars: dict[str, Any] = {}  # edited in the Variables dock while paused
        self._step = False
        self._to: str | None = None
        controller.start_options = self.start_options
        controller.resume_options = self.resume_options
        controller.run_ended.connect(self._on_run_ended)
        controller.state_changed.connect(self._on_state)
        controller.batch_applied.connect(self._on_batch)
        self._retrying = False  # a node of the run is waiting to retry (Retry now / Give up)
        self._make_actions()
        self._on_state(controller.state)

    # -- actions -----------------------------------------------------------------------
    def _make_actions(self) -> None:
        from app.icons import ui_icon

        color = "#475569"

        def act(text: str, slot: Any, key: Any = None, icon: str | None = None, tip: str = "") -> QAction:
            a = QAction(ui_icon(icon, color) if icon else QAction().icon(), text, self)
            if key is not None:
                a.setShortcut(QKeySequence(key))
            a.setToolTip(tip or text)
            a.triggered.connect(slot)
            return a

        self.step_action = act("Step", self.step, Qt.Key.Key_F10, "step", "Run one node, then pause before the next (F10)")
        self.run_to_action = act("Run to here", self.run_to_selected, Qt.Modifier.CTRL | Qt.Key.Key_F10, "run-to", tip="Run the selected node and what it needs, then pause (Ctrl+F10)")
        self.toggle_action = act("Toggle breakpoint", self.toggle_selected, Qt.Key.Key_F9, tip="Pause before the selected node (F9)")
        self.retry_now_action = act("Retry now", lambda: self.retry_control("retry_now"), tip="End the retry wait: the next attempt starts now")
        self.give_up_action = act("Give up", lambda: self.retry_control("give_up"), tip="Stop retrying: the node's on-error setting applies to its last error")
        self.rerun_action = act("Re-run from here", self.rerun_selected, tip="A new run from the selected node; everything upstream keeps its output")
        self.execute_action = act("Execute this node", self.execute_selected, tip="Run just the selected node with the input it had in the run shown")
        self.strict_replay_action = QAction("Strict replay", self)
        self.strict_replay_action.setCheckable(True)
        self.strict_replay_action.setToolTip("In re-runs, a node set to Replay whose request differs from its recording fails (otherwise: a warning)")
        self.toolbar_actions = [self.step_action, self.run_to_action]
        self.menu_actions = [self.toggle_action, self.step_action, self.run_to_action, self.retry_now_action, self.give_up_action, self.rerun_action, self.execute_action, self.strict_replay_action]

    def _selected(self) -> str | None:
        if not shiboken6.isValid(self.window.scene):
            return None
        ids = self.window.scene.selected_node_ids()
        return ids[0] if len(ids) == 1 else None

    def _on_state(self, state: str) -> None:
        c = self.controller
        f5 = QKeySequence(Qt.Key.Key_F5)
        if state == rc.PAUSED:  # F5 continues a paused run, F6 still resumes too
            c.run_action.setShortcut(QKeySequence())
            c.resume_action.setShortcuts([f5, QKeySequence(Qt.Key.Key_F6)])
            c.resume_action.setText("Continue")
        else:
            c.resume_action.setText("Resume")
            c.run_action.setShortcut(f5)
            if state in rc.ACTIVE:
                self._set_paused(None)
        self.update_actions()

    def update_actions(self) -> None:
        s = self.controller.state
        node = self._selected()
        can_start = s in rc.CAN_RUN and s != rc.VIEWING
        self.step_action.setEnabled(s == rc.PAUSED or can_start)
        self.run_to_action.setEnabled(node is not None and (s == rc.PAUSED or can_start))
        self.toggle_action.setEnabled(node is not None)
        retrying = self._retrying = self._any_retrying()
        self.retry_now_action.setEnabled(retrying)
        self.give_up_action.setEnabled(retrying)
        ran = self.controller.execution_id is not None and s in (rc.COMPLETED, rc.FAILED, rc.CANCELLED, rc.VIEWING, rc.PAUSED)
        self.rerun_action.setEnabled(node is not None and ran)
        self.execute_action.setEnabled(node is not None and ran)

    def _any_retrying(self) -> bool:
        return self.controller.state == rc.RUNNING and self.controller.canvas.counts["retrying"] > 0

    def _on_batch(self, _batch: object) -> None:
        """A live batch can only start or end a retry wait: touch the actions when it did
        (once per frame, on a 5,000-node canvas, they were a scan of every node's state)."""
        if self._any_retrying() != self._retrying:
            self.update_actions()

    # -- breakpoints ---------------------------------------------------------------------
    def toggle_selected(self) -> None:
        node = self._selected()
        if node is not None:
            self.toggle(node)

    def toggle(self, node_id: str) -> None:
        """F9: add a breakpoint on the node, or remove the one it has."""
        if node_id in self.breakpoints:
            del self.breakpoints[node_id]
        else:
            self.breakpoints[node_id] = {"condition": None, "enabled": True, "hits": 0}
        self._breakpoints_changed()

    def set_condition(self, node_id: str, condition: str | None) -> None:
        bp = self.breakpoints.setdefault(node_id, {"condition": None, "enabled": True, "hits": 0})
        bp["condition"] = condition or None
        self._breakpoints_changed()

    def set_enabled(self, node_id: str, enabled: bool) -> None:
        if node_id in self.breakpoints and self.breakpoints[node_id]["enabled"] != enabled:
            self.breakpoints[node_id]["enabled"] = enabled
            self._breakpoints_changed()

    def remove(self, node_ids: list[str]) -> None:
        for n in node_ids:
            self.breakpoints.pop(n, None)
        self._breakpoints_changed()

    def breakpoint_list(self) -> list[dict[str, Any]]:
        return [{"node_id": n, "condition": b["condition"], "enabled": b["enabled"]} for n, b in self.breakpoints.items()]

    def _breakpoints_changed(self) -> None:
        self.show_marks()
        self.breakpoints_changed.emit()
        c = self.controller
        if c.state in (rc.RUNNING, rc.RESUMING, rc.STARTING) and c.execution_id:  # a live run takes them at once
            bps = self.breakpoint_list()
            eid = c.execution_id
            c.spawn(c.call(lambda s: s.set_breakpoints(eid, bps)))
        self.update_actions()

    def document_changed(self) -> None:
        """A different document: keep only breakpoints on nodes it has."""
        wf = self.window.document.workflow
        keep = {n.id for n in wf.nodes} if wf is not None else set()
        self.breakpoints = {k: v for k, v in self.breakpoints.items() if k in keep}
        self.breakpoints_changed.emit()
        self.show_marks()

    def show_marks(self) -> None:
        """Breakpoint dots, pins and the paused-here arrow on the canvas."""
        if not shiboken6.isValid(self.window.scene):
            return
        wf = self.window.document.workflow
        paused_node = self.paused_at["node_id"] if self.paused_at and self.paused_at.get("thread_id", "main") == "main" else None
        if self.paused_at and paused_node is None:  # paused inside a sub-workflow: mark its call
            stack = self.paused_at.get("stack") or []
            paused_node = stack[-1]["node_id"] if stack else None
        for item in self.window.scene.node_items():
            bp = self.breakpoints.get(item.node_id)
            mark = "" if bp is None else ("disabled" if not bp["enabled"] else ("conditional" if bp["condition"] else "on"))
            node = wf.get(item.node_id) if wf is not None else None
            item.set_debug_marks(breakpoint=mark, pinned=node is not None and node.pin is not None, paused_here=item.node_id == paused_node)

    # -- start / resume options --------------------------------------------------------------
    def start_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"pins": True, "breakpoints": self.breakpoint_list(), "step": self._step, "to": self._to}
        self._step, self._to = False, None
        return opts

    def resume_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"clear_breaks": True, "breakpoints": self.breakpoint_list(), "step": self._step, "to": self._to}
        if self.pending_vars:
            opts["variables"] = dict(self.pending_vars)
        if self.pending_input is not UNSET:
            opts["set_input"] = self.pending_input
        self._step, self._to = False, None
        self.pending_vars, self.pending_input = {}, UNSET
        return opts

    # -- stepping ----------------------------------------------------------------------------
    def step(self) -> None:
        """F10: paused → run one node and pause again; idle → start and pause after the first node."""
        self._go(step=True)

    def run_to_selected(self) -> None:
        node = self._selected()
        if node is not None:
            self._go(to=node)

    def continue_run(self) -> None:
        self._go()

    def _go(self, *, step: bool = False, to: str | None = None) -> None:
        c = self.controller
        self._step, self._to = step, to
        if c.state == rc.PAUSED:
            c.spawn(c.resume())
        elif c.state in rc.CAN_RUN and c.state != rc.VIEWING:
            c.spawn(c.start())
        else:
            self._step, self._to = False, None

    def set_pending_input(self, value: Any) -> None:
        """Run data: the paused node gets this input when the run goes on (recorded by the engine)."""
        self.pending_input = copy.deepcopy(value)
        if self.paused_at is not None:
            self.paused_at["input"] = copy.deepcopy(value)

    def set_variable(self, key: str, value: Any) -> None:
        self.pending_vars[key] = copy.deepcopy(value)
        if self.variables is not None:
            self.variables[key] = copy.deepcopy(value)

    # -- where a run paused ------------------------------------------------------------------
    def _on_run_ended(self, execution_id: str, status: str) -> None:
        if not execution_id:
            return
        self.controller.spawn(self._read_stop(execution_id, status))

    async def _read_stop(self, execution_id: str, status: str) -> None:
        def read(s: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None, list[dict[str, Any]]]:
            st = s.status(execution_id)
            rec = s.record(execution_id)
            at = st.get("paused_at")
            th = rec.threads.get((at or {}).get("thread_id") or "main") or rec.main
            return at, (dict(th.variables) if at else None), rec.debug.breakpoints

        at, variables, hits = await self.controller.call(read)
        if execution_id != self.controller.execution_id:
            return
        for bp in hits:
            if bp["node_id"] in self.breakpoints:
                self.breakpoints[bp["node_id"]]["hits"] = bp.get("hits", 0)
        self.breakpoints_changed.emit()
        self.variables = variables
        self.variables_changed.emit(variables)
        self._set_paused(at if status == "paused" else None)

    def _set_paused(self, at: dict[str, Any] | None) -> None:
        if at is None and self.paused_at is None:
            return
        self.paused_at = at  # edits made while paused stay until the resume takes them (resume_options)
        if at is None:
            self.variables = None
            self.variables_changed.emit(None)
        self.show_marks()
        self.paused_changed.emit(at)
        if at is not None:
            if self.window.document.workflow.get(at["node_id"]) is not None:
                self.window.scene.select_nodes([at["node_id"]])
            self.controller.message.emit(f"Paused before {self._name(at['node_id'])} ({at['reason']})")

    def _name(self, node_id: str) -> str:
        wf = self.window.document.workflow
        node = wf.get(node_id) if wf is not None else None
        return node.name if node is not None else node_id

    # -- retry control ---------------------------------------------------------------------------
    def retry_control(self, action: str, node_id: str | None = None) -> None:
        c = self.controller
        if c.execution_id is None or c.state != rc.RUNNING:
            return
        eid = c.execution_id
        fn = (lambda s: s.retry_now(eid)) if action == "retry_now" else (lambda s: s.give_up(eid))
        c.spawn(c.call(fn))
        c.message.emit(("Retrying now" if action == "retry_now" else "Gave up retrying") + (f": {self._name(node_id)}" if node_id else ""))

    # -- re-runs ---------------------------------------------------------------------------------
    def rerun_selected(self) -> None:
        node = self._selected()
        if node is not None:
            self.controller.spawn(self.rerun(from_node=node))

    def execute_selected(self) -> None:
        node = self._selected()
        if node is not None:
            self.controller.spawn(self.rerun(to_node=node))

    async def rerun(
        self, *, from_node: str | None = None, to_node: str | None = None, choice: str | None = None, source: str | None = None
    ) -> str | None:
        """A new execution from a node of the run shown (or of `source`); asks which workflow
        when the document was edited. `choice` ("edited" | "run") answers that up front.
        Nodes set to Replay are answered from `source`'s recordings. The questions run
        outside this task (`outside_task`): every await here is a plain suspension.
        """
        c = self.controller
        source = source or c.execution_id
        if source is None or c.active:
            return None

        def version(s: Any) -> Workflow:  # in-memory runs keep theirs with the service
            wf: Workflow = s.workflow_of_any(source)
            return wf

        run_wf = await c.call(version)
        current = self.window.document.workflow
        if current is None or current.id != run_wf.id:
            choice = "run"  # another workflow's run: open the version it used
        elif _edits(current) != _edits(run_wf):
            choice = choice or await outside_task(self._ask_version)
            if choice is None:
                return None
        else:
            choice = "edited"
        if c.state == rc.PAUSED:
            c.message.emit("Cancel or continue the paused run before re-running.")
            return None
        if choice == "run" and current is not None and current.id == run_wf.id:
            run_wf = _with_replay_of(current, run_wf)  # the run-mode switch's choice holds for the version the run used
        replay, refusal = await self._replay_spec(run_wf if choice == "run" else current, source)
        if refusal is not None:
            c.message.emit(refusal)
            c.error.emit(refusal)
            return None
        if c.state == rc.VIEWING:
            c.leave_view()
        if choice == "run":
            await outside_task(c.host.show_workflow, run_wf)  # asks about unsaved changes first
        self._set_paused(None)
        return await c.start(rerun={"source_id": source, "from_node": from_node, "to_node": to_node, "replay": replay})

    async def _replay_spec(self, wf: Workflow | None, source: str) -> tuple[dict[str, Any] | None, str | None]:
        """The re-run's `replay` ({nodes, strict}) from the nodes set to Replay, or why it cannot start.

        A node on Replay needs a recording in the run re-run; without one the re-run is
        refused (running it live instead could send what the user meant to keep local).
        """
        nodes = replay_nodes(wf)
        if not nodes:
            return None, None
        try:
            recorded = await self.controller.call(lambda s: recorded_nodes(cast(Any, s).store, source))
        except EngineError as exc:  # e.g. a service that keeps runs in memory: no recordings
            return None, f"Not re-run: nodes set to Replay need a stored run to replay from ({exc})."
        missing = [self._name(n) for n in nodes if n not in recorded]
        if len(missing) == 1:
            return None, (f"Not re-run: {missing[0]} is set to Replay, but the run has no recording of it (it did not run "
                          "there). Set it to Live or Pinned, or re-run a run in which it ran.")
        if missing:
            return None, (f"Not re-run: {', '.join(missing)} are set to Replay, but the run has no recording of them (they "
                          "did not run there). Set them to Live or Pinned, or re-run a run in which they ran.")
        return {"nodes": nodes, "strict": self.strict_replay_action.isChecked()}, None

    def _ask_version(self) -> str | None:
        """The document differs from the run's version: which one does the re-run use?"""
        B = QMessageBox.StandardButton
        answer = self.window.dialogs.question(
            self.window,
            "Re-run",
            "The workflow was edited since this run. Re-run with the edited workflow?",
            B.Yes | B.No | B.Cancel,
            B.Yes,
            "Yes: the edited workflow (as it is now). No: the version the run used (opened as a new document).",
        )
        return {B.Yes: "edited", B.No: "run"}.get(answer)


def replay_nodes(wf: Workflow | None) -> list[str]:
    """The HTTP and email nodes set to Replay (a pinned node does not run: its pin stands in)."""
    if wf is None:
        return []
    return [n.id for n in wf.nodes if n.replay and n.pin is None and n.type in REPLAYABLE]


def _edits(wf: Workflow) -> dict[str, Any]:
    """The workflow as a re-run compares it with the run's version: the Replay switch is no edit."""
    from engine import fileformat

    data = fileformat.to_dict(wf)
    for node in data["nodes"]:
        node.pop("replay", None)
    return data


def _with_replay_of(current: Workflow, run_wf: Workflow) -> Workflow:
    """A copy of the run's version with the document's Replay switches."""
    out = run_wf.clone()
    for node in out.nodes:
        mine = current.get(node.id)
        node.replay = mine.replay if mine is not None else False
    return out
