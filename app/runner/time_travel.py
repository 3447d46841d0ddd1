"""Time travel and run comparison in the app, over `engine.travel` and `engine.rundiff`.

`install_time_travel(runner)` adds the Steps dock and History's "Compare" to the runner.
Whenever a stored run is shown on the canvas (viewed from History, paused, or just
ended) its steps are listed; moving to step k rebuilds the run record as it was then
(engine thread, from the store) and shows it on the canvas and in Run data. A quick
drag of the slider only ever rebuilds the latest step asked for.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt

from app.panels.run_diff import RunDiffDialog
from app.panels.steps import StepsPanel
from app.runner import controller as rc
from app.runner.snapshot import run_snapshot
from engine.errors import EngineError

if TYPE_CHECKING:
    from app.runner.install import RunnerUi

log = logging.getLogger(__name__)

SHOWN_STATES = frozenset({rc.VIEWING, rc.PAUSED, rc.COMPLETED, rc.FAILED, rc.CANCELLED})


def _history(service: Any) -> Any:
    """One `History` per service (engine thread): it caches finished runs' steps."""
    from engine.travel import History

    h = getattr(service, "_time_travel_history", None)
    if h is None:
        h = History(service.store, service.workflow_of)
        service._time_travel_history = h
    return h


class TimeTravel(QObject):
    """The Steps dock and the Compare dialog, driven by the run controller."""

    def __init__(self, runner: RunnerUi) -> None:
        super().__init__(runner)
        self.runner = runner
        self.controller = runner.controller
        self.panel = StepsPanel()
        self.dock = runner._dock("Steps", "steps", self.panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        runner.window.tabifyDockWidget(runner.docks["history"], self.dock)
        runner.docks["history"].raise_()
        self.execution_id: str | None = None
        self.last_index = -1
        self._wanted: int | None = None
        self._busy = False
        self.dialogs: list[RunDiffDialog] = []
        c = self.controller
        c.execution_changed.connect(self._execution_changed)
        c.state_changed.connect(self._state_changed)
        self.panel.step_selected.connect(self.go_to)
        runner.history.compare_requested.connect(lambda a, b: c.spawn(self.compare(a, b)))

    # -- which run ------------------------------------------------------------------------
    def _execution_changed(self, execution_id: str | None) -> None:
        self._state_changed(self.controller.state)

    def _state_changed(self, state: str) -> None:
        eid = self.controller.execution_id
        if state not in SHOWN_STATES or eid is None:
            self._forget("Open a run from the History (or pause one) to step through it.")
            return
        if eid != self.execution_id or state == rc.PAUSED:
            self.controller.spawn(self.load(eid))

    def _forget(self, message: str) -> None:
        self.execution_id = None
        self.last_index = -1
        self.runner.record_view = None
        self.panel.clear(message)

    async def load(self, execution_id: str) -> None:
        """List the run's steps and show it as it ended (the last step)."""
        try:
            steps = await self.controller.call(lambda s: [st.to_json() for st in _history(s).steps(execution_id)])
        except EngineError as exc:  # an in-memory service keeps no history
            self._forget(f"No steps to show: {exc}")
            return
        if self.controller.execution_id != execution_id:
            return
        wf = self.controller.workflow
        names = {n.id: n.name for n in wf.nodes} if wf is not None else {}
        self.execution_id = execution_id
        self.last_index = len(steps) - 1
        self.runner.record_view = None
        self.panel.set_steps(steps, names)

    # -- moving ---------------------------------------------------------------------------
    def go_to(self, index: int) -> None:
        """Show step `index` (the latest request wins while one is being rebuilt)."""
        self._wanted = index
        if not self._busy:
            self.controller.spawn(self._show_wanted())

    async def _show_wanted(self) -> None:
        self._busy = True
        try:
            while self._wanted is not None:
                index, self._wanted = self._wanted, None
                await self._show(index)
        finally:
            self._busy = False

    async def _show(self, index: int) -> None:
        eid = self.execution_id
        wf = self.controller.workflow
        if eid is None or wf is None:
            return

        def rebuild(s: Any) -> tuple[Any, Any]:
            rec = _history(s).record_at(eid, index)
            return rec, run_snapshot(rec)

        record, snap = await self.controller.call(rebuild)
        if eid != self.execution_id:
            return
        self.controller.canvas.show_snapshot(wf, snap)
        self.runner.record_view = None if index == self.last_index else record
        self.panel.show_state(index, record.main.variables)
        await self.runner.refresh_data()

    # -- comparing -------------------------------------------------------------------------
    async def compare(self, left: str, right: str) -> None:
        """Open the comparison of two runs (a non-modal window) and mark their differences."""
        from engine.rundiff import diff_executions

        def read(s: Any) -> tuple[dict[str, Any], Any]:
            workflows = (s.workflow_of(left), s.workflow_of(right))
            return diff_executions(_history(s), left, right, workflows, include_outputs=True), workflows[1]

        result, workflow = await self.controller.call(read)
        numbers = {eid: (self.runner.history.row_of(eid) or {}).get("number") for eid in (left, right)}
        dialog = RunDiffDialog(result, workflow, numbers, self.runner.window)
        dialog.node_selected.connect(self.runner.host.select_node)
        dialog.finished.connect(lambda _r, d=dialog: self._closed(d))
        self.dialogs.append(dialog)
        dialog.show()
        current = self.runner.host.current_workflow()
        if current is not None and current.id == workflow.id:
            dialog.mark_canvas(self.runner.window.scene)
        first = result["first_divergence"]
        if first is not None:
            self.runner.host.select_node(first["node_id"])


    def _closed(self, dialog: RunDiffDialog) -> None:
        """The comparison's tints go; the run shown before (if any) comes back."""
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)
        c = self.controller
        if c.state in SHOWN_STATES and c.snapshot is not None and c.workflow is not None:
            c.canvas.show_snapshot(c.workflow, c.snapshot)
        else:
            c.canvas.clear()


def install_time_travel(runner: RunnerUi) -> TimeTravel:
    tt = TimeTravel(runner)
    runner.time_travel = tt
    return tt
