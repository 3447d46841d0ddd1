"""Put the runner into the main window: actions, status bar, docks, close guard, recovery.

`install_runner(window)` is the one call the main window's owner makes. It
uses only the window's documented extension points (`add_run_actions`,
`add_panel`, `document_changed`, `scene`, `view`, `statusBar()`), replaces
`start_run` (what `--run` calls) and sets `run_ended`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QWidget,
)

from app.panels.data_inspector import DataInspector
from app.panels.history import HistoryPanel, number_runs
from app.panels.log_dock import LogPanel, install_file_logging, lines_from_spans
from app.panels.timeline import TimelinePanel
from app.runner import controller as rc
from app.runner.backend import open_service
from app.runner.bridge import Batch
from app.runner.controller import RunController
from app.runner.engine_thread import EngineThread
from app.runner.inbox import install_inbox
from app.runner.recovery import RecoveryDialog, interrupted_runs
from app.runner.snapshot import RunSnapshot, node_data, preview_samples
from app.runner.time_travel import install_time_travel
from engine.model import Workflow
from engine.service import InvalidExecutionState

if TYPE_CHECKING:
    from app.main_window import MainWindow

log = logging.getLogger(__name__)

HISTORY_LIMIT = 500


class WindowHost:
    """`RunnerHost` over the designer's `MainWindow`."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window
        self.banner = RunBanner(window)
        self.switching = False

    def window(self) -> QMainWindow:
        return self.w

    def current_workflow(self) -> Workflow | None:
        return self.w.document.workflow

    def current_file(self) -> str | None:
        path = self.w.document.path
        return str(path) if path else None

    def scene(self) -> Any:
        return self.w.scene

    def view(self) -> Any:
        return self.w.view

    def show_workflow(self, workflow: Workflow) -> None:
        """Open the run's workflow version as a new, unsaved document (after asking to save)."""
        from app.document.document import WorkflowDocument

        if not self.w.maybe_save():
            raise RuntimeError("the open workflow has unsaved changes; the run was not opened")
        self.switching = True
        try:
            self.w.set_document(WorkflowDocument(workflow.clone(), None, parent=self.w))
        finally:
            self.switching = False

    def set_read_only(self, read_only: bool) -> None:
        """The window's own read-only mode (edit actions, palette, inspector, canvas gestures)."""
        self.w.set_read_only(read_only)
        if not read_only:
            self.banner.hide()

    def select_node(self, node_id: str) -> None:
        self.w.scene.select_nodes([node_id])
        self.w.view.center_on_node(node_id)


class RunBanner(QObject):
    """"Viewing run #N · read-only" over the canvas, with a way back to editing."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.banner = QFrame(window.view)
        self.banner.setObjectName("run_banner")
        self.banner.setStyleSheet("#run_banner { background: #ede9fe; border: 1px solid #8b5cf6; border-radius: 6px; } #run_banner QLabel { color: #4c1d95; }")
        self.banner_label = QLabel()
        self.back = QPushButton("Back to editing")
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(10, 4, 6, 4)
        row.addWidget(self.banner_label)
        row.addWidget(self.back)
        self.banner.hide()

    def show_banner(self, text: str) -> None:
        self.banner_label.setText(text)
        self.banner.adjustSize()
        self.banner.move(12, 10)
        self.banner.show()
        self.banner.raise_()

    def hide(self) -> None:
        self.banner.hide()


class RunnerUi(QObject):
    """Everything `install_runner` made, wired together."""

    def __init__(self, window: Any, *, db: str | None = None, workspace: str = "default", in_memory: bool = False, engine: EngineThread | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.engine = engine or EngineThread()
        self._own_engine = engine is None
        self.log_file = install_file_logging()
        self.host = WindowHost(window)
        self.controller = RunController(self.engine, lambda: open_service(db, workspace=workspace, in_memory=in_memory), self.host, self)
        self.history = HistoryPanel()
        self.data = DataInspector()
        self.timeline = TimelinePanel()
        self.logs = LogPanel()
        self.docks: dict[str, QDockWidget] = {}
        self._close_ok = False
        self._shut_down = False
        self.close_box: QMessageBox | None = None
        self.recovery_dialog: RecoveryDialog | None = None
        self._selected_node: str | None = None
        self.samples: dict[str, Any] | None = None
        self.record_view: Any = None  # a RunRecord of a past moment (time travel) shown instead of the run's end
        self.time_travel: Any = None  # the Steps dock and Compare (app.runner.time_travel)
        self.inbox: Any = None  # the Inbox dock (app.runner.inbox)
        self._workflow_names: dict[str, str] = {}  # workflow id -> name, for the history's "all" scope
        self._data_timer = QTimer(self)
        self._data_timer.setSingleShot(True)
        self._data_timer.setInterval(250)
        self._data_timer.timeout.connect(lambda: self.controller.spawn(self.refresh_data()))
        self._history_timer = QTimer(self)
        self._history_timer.setSingleShot(True)
        self._history_timer.setInterval(60)
        self._history_timer.timeout.connect(lambda: self.controller.spawn(self.refresh_history()))
        self._build()
        self._wire()
        from app.runner.debug_install import install_debugger

        self.debug = install_debugger(self)
        self.logs.set_workflow(self.host.current_workflow())
        self.schedule_history()

    # -- construction ---------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        self.window.add_panel(dock, area)
        self.docks[name] = dock
        return dock

    def _build(self) -> None:
        w = self.window
        w.add_run_actions(self.controller.actions)
        self.controller.install_status_bar(w.statusBar())
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        history = self._dock("History", "history", self.history, bottom)
        logs = self._dock("Log", "log", self.logs, bottom)
        timeline = self._dock("Timeline", "timeline", self.timeline, bottom)
        data = self._dock("Run data", "data", self.data, Qt.DockWidgetArea.RightDockWidgetArea)
        problems = getattr(w, "problems_dock", None)
        first = problems if isinstance(problems, QDockWidget) else history
        for dock in (history, logs, timeline):
            if dock is not first:
                w.tabifyDockWidget(first, dock)
        history.raise_()
        inspector = getattr(w, "inspector_dock", None)
        if isinstance(inspector, QDockWidget):
            w.tabifyDockWidget(inspector, data)
            inspector.raise_()
        w.start_run = self.start_run
        w.run_ended = self.controller.run_ended
        w.runner = self

    def _wire(self) -> None:
        c = self.controller
        c.batch_applied.connect(self._on_batch)
        c.snapshot_ready.connect(self._on_snapshot)
        c.execution_changed.connect(self._on_execution)
        c.state_changed.connect(self._on_state)
        c.history_changed.connect(self.schedule_history)
        c.run_ended.connect(lambda *_: self.schedule_history())
        h = self.history
        h.refresh_requested.connect(self.schedule_history)
        h.open_requested.connect(lambda eid, n: c.spawn(self.open_run(eid, n)))
        h.row_clicked.connect(self._history_clicked)
        h.resume_requested.connect(lambda eid: c.spawn(c.resume_execution(eid)))
        h.cancel_requested.connect(lambda eid: c.spawn(c.cancel_execution(eid)))
        h.delete_requested.connect(lambda ids: c.spawn(self.delete_runs(ids)))
        h.back_requested.connect(c.leave_view)
        self.host.banner.back.clicked.connect(c.leave_view)
        self.timeline.node_clicked.connect(self.host.select_node)
        self.timeline.run_clicked.connect(lambda eid: c.spawn(self.open_run(eid, None)))
        self.logs.node_activated.connect(self.host.select_node)
        self.window.scene.selectionChanged.connect(self._selection_changed)
        self.window.document_changed.connect(self._document_changed)
        # closing during a run asks first; a hook, not an event filter (each event of the window
        # would be a call into Python, with the interpreter lock to wait for during a run)
        self.window.close_guard = self._guard_close
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # -- run entry points --------------------------------------------------------------------
    def start_run(self) -> bool:
        """What `--run` and the designer call: start the current workflow; False if it cannot."""
        problem = self.controller.start_problem()
        if problem is not None:
            self.window.statusBar().showMessage(problem, 10000)
            log.warning("run not started: %s", problem)
            return False
        self.controller.spawn(self.controller.start())
        return True

    async def open_run(self, execution_id: str, number: int | None) -> None:
        if number is None:
            row = self.history.row_of(execution_id)
            number = row.get("number") if row else None
        await self.controller.view_run(execution_id, number)

    def _history_clicked(self, execution_id: str, number: int) -> None:
        """Clicking a run of the open workflow shows it at once; another workflow's run needs
        Open (it replaces the document on the canvas)."""
        row = self.history.row_of(execution_id)
        wf = self.host.current_workflow()
        if self.controller.active or row is None or wf is None or row.get("workflow_id") != wf.id:
            return
        if self.controller.viewing and self.controller.viewing[0] == execution_id:
            return
        self.controller.spawn(self.open_run(execution_id, number))

    async def delete_runs(self, ids: list[str]) -> None:
        if self.controller.viewing and self.controller.viewing[0] in ids:
            self.controller.leave_view()

        def delete(s: Any) -> None:
            for eid in ids:
                s.delete(eid)

        await self.controller.call(delete)
        self.schedule_history()

    # -- reactions ------------------------------------------------------------------------------
    def _on_batch(self, batch: Batch) -> None:
        if batch.logs:
            self.logs.append(batch.logs)
        if batch.spans:
            self.timeline.add_spans(list(batch.spans.values()))
        if self._selected_node is not None and self._selected_node in batch.nodes and not self._data_timer.isActive():
            self._data_timer.start()

    def _on_snapshot(self, snap: RunSnapshot) -> None:
        self.timeline.set_spans(snap.spans)
        self.controller.spawn(self._load_samples(snap.execution_id))
        if self.controller.state == rc.VIEWING:
            self.logs.clear()
            self.logs.append(lines_from_spans(snap.spans, snap.execution_id))
        self.controller.spawn(self.refresh_data())

    def _on_execution(self, execution_id: str | None) -> None:
        wf = self.controller.workflow or self.host.current_workflow()
        self.timeline.set_names({n.id: n.name for n in wf.nodes} if wf else {})
        self.logs.set_workflow(wf)
        if self.controller.state == rc.STARTING:  # a new run: fresh timeline and log
            self.timeline.clear()
            self.logs.clear()
        if execution_id is not None and self.history.row_of(execution_id) is not None:
            self.history.select_execution(execution_id)
        self._update_banner()
        self.controller.spawn(self.refresh_data())

    def _on_state(self, state: str) -> None:
        self.history.set_viewing(state == rc.VIEWING)
        self._update_banner()

    def _update_banner(self) -> None:
        """The banner names the run on the canvas; viewing #2 then #1 is no state change,
        so this also runs when the execution shown changes."""
        if self.controller.state != rc.VIEWING or not self.controller.viewing:
            self.host.banner.hide()
            return
        num = self.controller.viewing[1]
        status = (self.controller.viewed_status or {}).get("status", "")
        self.host.banner.show_banner(f"Viewing run #{num} · {status} · read-only" if num else f"Viewing run · {status} · read-only")

    def _selection_changed(self) -> None:
        scene = self.window.scene
        if self._shut_down or not shiboken6.isValid(scene):
            return  # the window is being destroyed
        ids = scene.selected_node_ids()
        self._selected_node = ids[0] if len(ids) == 1 else None
        self.controller.spawn(self.refresh_data())

    def _document_changed(self, _doc: Any) -> None:
        if self.host.switching or self._shut_down:
            return
        if not self.controller.active and self.controller.state != rc.PAUSED:
            self.controller.reset()
            self.timeline.clear()
            self.data.clear()
        self.logs.set_workflow(self.host.current_workflow())
        self.controller.refresh_actions()
        self.schedule_history()

    # -- reads on the engine thread --------------------------------------------------------------
    async def _load_samples(self, execution_id: str) -> None:
        """Keep the last run's data for the inspector's expression previews."""
        wf = self.controller.workflow
        if wf is None:
            return
        samples = await self.controller.call(lambda s: preview_samples(s.record(execution_id), wf))
        self.samples = samples
        inspector = getattr(self.window, "inspector", None)
        if inspector is not None and hasattr(inspector, "set_sample_provider"):
            inspector.set_sample_provider(self.sample_for if samples else None)

    def sample_for(self, node_id: str) -> dict[str, Any] | None:
        """The inspector's SampleProvider: this node's last input and every node's last output."""
        if not self.samples:
            return None
        return {"input": self.samples["inputs"].get(node_id, {}), "nodes": self.samples["nodes"]}

    async def refresh_data(self) -> None:
        """The data inspector shows the selected node of the run on the canvas."""
        node_id = self._selected_node
        eid = self.controller.execution_id
        wf = self.controller.workflow
        if node_id is None or eid is None or wf is None:
            self.data.clear("Select a node of a run to see its data." if eid else "Run the workflow, or open a run from the history, to see node data.")
            return
        view = self.record_view
        data = await self.controller.call(lambda s: node_data(view if view is not None else s.record(eid), wf, node_id))
        if node_id != self._selected_node or eid != self.controller.execution_id:
            return  # the selection moved on while we read
        node = wf.get(node_id)
        self.data.show_data(node.name if node else node_id, data)

    def schedule_history(self) -> None:
        if not self._shut_down and not self._history_timer.isActive():
            self._history_timer.start()

    async def refresh_history(self) -> None:
        wf = self.host.current_workflow()
        wid = wf.id if wf is not None else None
        scope_all = self.history.all_workflows
        known = dict(self._workflow_names)
        shown_name = self.window.document.display_name  # what the title bar calls it
        if wf is not None:
            known[wf.id] = shown_name

        def read(s: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
            mine = number_runs(s.list_runs(workflow_id=wid, limit=HISTORY_LIMIT)) if wid else []
            everything = number_runs(s.list_runs(limit=HISTORY_LIMIT)) if scope_all else mine
            # names come from one query on the store's workflow versions (no parsing);
            # only for workflows not named yet this session
            names: dict[str, str] = dict(known)
            missing = sorted({r["workflow_id"] for r in everything} - set(names))
            if missing:
                names.update(s.workflow_names(missing))
                names.update({w: w for w in missing if w not in names})
            return mine, everything, names

        mine, everything, names = await self.controller.call(read)
        self._workflow_names.update(names)
        if wf is not None:
            names[wf.id] = shown_name
        status = self.history.status_filter
        self.history.set_runs([r for r in everything if status is None or r["status"] == status], names)
        self.timeline.set_durations(mine)
        if self.controller.execution_id:
            self.history.select_execution(self.controller.execution_id)

    async def check_recovery(self) -> RecoveryDialog | None:
        """Offer interrupted runs (start-up); returns the open dialog, if any."""
        runs = await self.controller.call(interrupted_runs)
        if not runs:
            return None
        dialog = RecoveryDialog(runs, self.window)
        c = self.controller
        dialog.resume_requested.connect(lambda eid: c.spawn(c.resume_execution(eid)))
        dialog.mark_failed_requested.connect(lambda eid: c.spawn(self._mark_failed(eid)))
        dialog.open_requested.connect(lambda eid: c.spawn(self.open_run(eid, None)))
        self.recovery_dialog = dialog
        dialog.open()
        self.schedule_history()
        return dialog

    async def _mark_failed(self, execution_id: str) -> None:
        await self.controller.call(lambda s: s.mark_failed(execution_id, "marked failed after an interruption"))
        self.schedule_history()

    # -- closing ------------------------------------------------------------------------------------
    def _guard_close(self) -> bool:
        """The window is asked to close: during a run the question comes first (True: it waits)."""
        if self._close_ok or not self.controller.active:
            return False
        self.ask_close()
        return True

    def ask_close(self) -> QMessageBox:
        """A run is active: pause (state saved) or cancel it, then close; or keep running."""
        if self.close_box is not None and self.close_box.isVisible():
            return self.close_box
        box = QMessageBox(QMessageBox.Icon.Question, "A run is in progress", "A run is in progress. What should happen to it?", QMessageBox.StandardButton.NoButton, self.window)
        box.setInformativeText("Pause saves its state: you can resume it later from the history. Cancel stops it for good.")
        self.pause_close = box.addButton("Pause and close", QMessageBox.ButtonRole.AcceptRole)
        self.cancel_close = box.addButton("Cancel run and close", QMessageBox.ButtonRole.DestructiveRole)
        self.keep_running = box.addButton("Keep running", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(self.pause_close)
        box.buttonClicked.connect(self._close_choice)
        self.close_box = box
        box.open()
        return box

    def _close_choice(self, button: Any) -> None:
        if button is self.pause_close:
            self.controller.spawn(self._stop_then_close(self.controller.pause_and_wait()))
        elif button is self.cancel_close:
            self.controller.spawn(self._stop_then_close(self.controller.cancel_and_wait()))

    async def _stop_then_close(self, stop: Any) -> None:
        status = await stop
        log.info("run %s before closing the window", status)
        self._close_ok = True
        self.window.close()
        self._close_ok = False

    def shutdown(self) -> None:
        """App quits: a run still going is paused (its state saved), then the engine thread stops."""
        if self._shut_down:
            return
        self._shut_down = True
        self._history_timer.stop()
        self._data_timer.stop()
        app = QApplication.instance()
        if app is not None:
            with contextlib.suppress(RuntimeError, TypeError):
                app.aboutToQuit.disconnect(self.shutdown)
        if self.controller.active and self.controller.execution_id:
            eid = self.controller.execution_id

            async def pause_and_wait(s: Any) -> Any:
                try:
                    s.pause(eid)
                except InvalidExecutionState:  # it stopped (paused, ended) on its own meanwhile
                    log.debug("run %s already stopped at exit", eid)
                return await s.wait(eid)

            try:
                svc = self.controller._service_future.result(5)
                if self.engine.alive:
                    self.engine.run_blocking(pause_and_wait(svc), timeout=15)
            except Exception:
                log.warning("could not pause run %s on exit", eid, exc_info=True)
        self.controller.shutdown()
        if self._service_ready() and self.engine.alive:
            try:
                self.controller.call_blocking(lambda s: s.close(), 5)
            except Exception:
                log.debug("closing the service failed", exc_info=True)
        if self._own_engine:
            self.engine.stop()

    def _service_ready(self) -> bool:
        fut = self.controller._service_future
        return fut.done() and fut.exception() is None


def install_runner(window: Any, *, db: str | None = None, workspace: str = "default", in_memory: bool = False, recover: bool = True, engine: EngineThread | None = None) -> RunnerUi:
    """Add the run tools to `window` (a `MainWindow`); offer interrupted runs when `recover`."""
    ui = RunnerUi(window, db=db, workspace=workspace, in_memory=in_memory, engine=engine)
    install_time_travel(ui)
    install_inbox(ui)
    if recover:
        try:
            asyncio.get_event_loop()
        except RuntimeError:
            log.debug("no event loop yet; recovery check skipped")
        else:
            ui.controller.spawn(ui.check_recovery())
    return ui
