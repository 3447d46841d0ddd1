"""Put the debugger into the studio window: actions, docks, the Run data bar, canvas hooks.

Called once by `RunnerUi` after the run tools exist; uses only the window's
extension points (`add_run_actions`, `menus["run"]`, `add_panel`,
`node_menu_actions`, `document_changed`, the scene's signals).
"""

from __future__ import annotations

import logging
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget, QPushButton, QVBoxLayout, QWidget

from app.panels.debug_panels import (
    BreakpointsPanel,
    CallStackPanel,
    DebugDataBar,
    PinDialog,
    VariablesPanel,
)
from app.runner import controller as rc
from app.runner.debugger import DebugSession

log = logging.getLogger(__name__)


class DebugUi(QObject):
    """The debugger's widgets, wired to one `DebugSession`."""

    def __init__(self, runner: Any) -> None:
        super().__init__(runner)
        self.runner = runner
        self.window = runner.window
        self.session = DebugSession(runner.controller, self.window, self)
        self.bar = DebugDataBar()
        self.breakpoints = BreakpointsPanel()
        self.variables = VariablesPanel()
        self.call_stack = CallStackPanel()
        self.breakpoints.preview_fn = self.preview
        self._build()
        self._wire()
        self.refresh_breakpoints()
        from app.runner.replay_ui import install_replay_ui

        self.replay = install_replay_ui(self)  # the inspector's Live / Replay / Pinned switch

    def _build(self) -> None:
        w, s = self.window, self.session
        w.add_run_actions(s.toolbar_actions)
        w.menus["run"].addSeparator()
        w.menus["run"].addActions([a for a in s.menu_actions if a not in s.toolbar_actions])
        w.node_menu_actions = [s.toggle_action, s.run_to_action, s.rerun_action, s.execute_action]
        data_dock = self.runner.docks["data"]
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.bar)
        layout.addWidget(self.runner.data, 1)
        data_dock.setWidget(box)
        history = self.runner.history
        self.history_rerun = QPushButton("Re-run from failed node")
        self.history_rerun.setToolTip("A new run from the node this run failed at; everything upstream keeps its output")
        history.actions_row.layout().insertWidget(3, self.history_rerun)
        docks = [self._dock("Breakpoints", "breakpoints", self.breakpoints), self._dock("Variables", "variables", self.variables), self._dock("Call stack", "call_stack", self.call_stack)]
        first = self.runner.docks.get("history")
        for dock in docks:
            if isinstance(first, QDockWidget):
                w.tabifyDockWidget(first, dock)
        if isinstance(first, QDockWidget):
            first.raise_()

    def _dock(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        self.window.add_panel(dock, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.runner.docks[name] = dock
        return dock

    def _wire(self) -> None:
        s, w = self.session, self.window
        s.breakpoints_changed.connect(self.refresh_breakpoints)
        s.paused_changed.connect(self._paused)
        s.variables_changed.connect(self.variables.set_variables)
        self.variables.variable_edited.connect(s.set_variable)
        self.breakpoints.enabled_changed.connect(s.set_enabled)
        self.breakpoints.condition_changed.connect(s.set_condition)
        self.breakpoints.remove_requested.connect(s.remove)
        self.call_stack.node_activated.connect(self.runner.host.select_node)
        self.bar.pin_requested.connect(self.pin)
        self.bar.edit_pin_requested.connect(self.edit_pin)
        self.bar.rerun_requested.connect(lambda node: s.controller.spawn(s.rerun(from_node=node)))
        self.bar.execute_requested.connect(lambda node: s.controller.spawn(s.rerun(to_node=node)))
        self.bar.pending_input_edited.connect(s.set_pending_input)
        w.scene.selectionChanged.connect(self.selection_changed)
        w.scene.retry_control_requested.connect(lambda node, action: s.retry_control(action, node))
        w.document_changed.connect(self._document_changed)
        self.runner.history.table.itemSelectionChanged.connect(self._history_selection)
        self.history_rerun.clicked.connect(self.rerun_from_history)
        self._history_selection()
        s.controller.state_changed.connect(lambda _s: self.selection_changed())

    def _document_changed(self, _doc: Any) -> None:
        self.session.document_changed()  # the scene is the same; it shows the new document

    # -- reactions ------------------------------------------------------------------------------
    def names(self) -> dict[str, str]:
        wf = self.window.document.workflow
        return {n.id: n.name for n in wf.nodes} if wf is not None else {}

    def refresh_breakpoints(self) -> None:
        self.breakpoints.set_breakpoints(self.session.breakpoints, self.names())

    def _paused(self, at: dict[str, Any] | None) -> None:
        self.call_stack.set_paused(at, self.names())
        self.selection_changed()

    def selection_changed(self) -> None:
        s = self.session
        scene = self.window.scene
        if not shiboken6.isValid(scene) or not shiboken6.isValid(self.bar):
            return  # the window is being destroyed
        ids = scene.selected_node_ids()
        node_id = ids[0] if len(ids) == 1 else None
        wf = self.window.document.workflow
        node = wf.get(node_id) if wf is not None and node_id else None
        data = self.runner.data.data or {}
        c = s.controller
        ran = c.execution_id is not None and c.state in (rc.COMPLETED, rc.FAILED, rc.CANCELLED, rc.VIEWING, rc.PAUSED)
        self.bar.show_node(node_id if node else None, pinned=node is not None and node.pin is not None, output=data.get("output"), has_output=True, can_rerun=ran)
        at = s.paused_at
        self.bar.show_pending(at.get("input") if at else None, bool(at and node_id == at.get("node_id")))
        s.update_actions()

    def _failed_history_run(self) -> dict[str, Any] | None:
        runs = self.runner.history.selected_runs()
        run = runs[0] if len(runs) == 1 else None
        return run if run is not None and run.get("status") == "failed" and (run.get("error") or {}).get("node_id") else None

    def _history_selection(self) -> None:
        self.history_rerun.setEnabled(self._failed_history_run() is not None and not self.session.controller.active)

    def rerun_from_history(self) -> None:
        """History: re-run the selected failed run from the node it failed at."""
        run = self._failed_history_run()
        if run is not None:
            s = self.session
            s.controller.spawn(s.rerun(from_node=run["error"]["node_id"], source=run["execution_id"]))

    def pin(self, node_id: str, value: Any) -> None:
        """Pin this output (the selected node's output in Run data) or unpin."""
        if value is None and self.window.document.workflow.node(node_id).pin is None:
            data = self.runner.data.data or {}
            if not data.get("has_output"):
                self.window.statusBar().showMessage("This node has no output in the run shown: edit a pin instead.", 6000)
                return
            value = data.get("output")
        self.window.controller.set_pin(node_id, value)
        self.selection_changed()

    def edit_pin(self, node_id: str) -> PinDialog:
        node = self.window.document.workflow.node(node_id)
        data = self.runner.data.data or {}
        start = node.pin if node.pin is not None else (data.get("output") if data.get("has_output") else {})
        dialog = PinDialog(node.name, start, self.window)
        dialog.accepted.connect(lambda: self._pin_from_dialog(node_id, dialog))
        dialog.open()
        return dialog

    def _pin_from_dialog(self, node_id: str, dialog: PinDialog) -> None:
        self.window.controller.set_pin(node_id, dialog.pin())
        self.selection_changed()

    def preview(self, node_id: str, condition: str) -> str:
        """A condition's value against the node's input in the last run (live, as it is typed)."""
        from engine import expressions

        sample = self.runner.sample_for(node_id) if self.runner.samples else None
        if not condition:
            return "No condition: pauses every time."
        if sample is None:
            return "Run the workflow once to preview the condition against real data."
        if node_id not in self.runner.samples.get("inputs", {}):
            return "The last run recorded no input for this node (it did not run, or runs inside a loop body)."
        wf = self.window.document.workflow
        names = expressions.make_names(input=sample["input"], nodes=sample["nodes"], vars=dict(wf.variables) if wf else {}, loop=None, execution={"id": "", "started_at": None})
        text = condition if "{{" in condition else "{{ " + condition + " }}"
        try:
            value = expressions.render(text, names, node_id=node_id, field="breakpoint")
        except Exception as exc:  # shown, never raised: the user is typing
            return f"<span style='color:#dc2626'>{exc}</span>"
        return f"Last run: <b>{'pauses' if value else 'does not pause'}</b> (value: {value!r})"


def install_debugger(runner: Any) -> DebugUi:
    return DebugUi(runner)
