"""Start-up recovery: runs that were interrupted (the app or a CLI process died mid-run).

`interrupted_runs(service)` runs on the engine thread: it marks running rows
whose owner is gone as interrupted (`service.recover()`) and describes each
one — workflow, start, progress and the node that was in flight. When that
node has side effects (an HTTP request, an email) it ran at least partly and
runs again on resume, so the dialog flags it before anything runs.

The dialog is non-modal (`open()`), so tests and the event loop keep going;
its choices come out as signals: resume, mark failed, or open (view) a run.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.panels.history import format_started
from engine.runtime.status import progress_text

log = logging.getLogger(__name__)

SIDE_EFFECT_COLOR = "#b45309"


def interrupted_runs(service: Any) -> list[dict[str, Any]]:
    """Describe every interrupted run (engine thread: this reads the database)."""
    out = []
    for eid in service.recover():
        try:
            status = service.status(eid)
        except Exception:  # a row deleted meanwhile
            log.warning("interrupted run %s vanished", eid, exc_info=True)
            continue
        if status.get("status") != "interrupted":
            continue
        workflow_name = status.get("workflow_id", "")
        node_name = None
        side_effects = False
        node_type = None
        flight = status.get("in_flight") or None
        try:
            wf = service.workflow_of(eid)
            workflow_name = wf.name
            if flight:
                node = wf.get(flight.get("node_id"))
                node_name = node.name if node is not None else flight.get("node_id")
                node_type = node.type if node is not None else None
        except Exception:
            log.warning("cannot load the workflow of run %s", eid, exc_info=True)
        if flight:
            side_effects = bool(flight.get("side_effects"))
            node_name = node_name or flight.get("node_id")
        out.append(
            {
                "execution_id": eid,
                "workflow_id": status.get("workflow_id"),
                "workflow_name": workflow_name,
                "started_at": (status.get("timing") or {}).get("started_at"),
                "progress": status.get("progress") or {},
                "in_flight": node_name,
                "in_flight_type": node_type,
                "side_effects": side_effects,
            }
        )
    return out


class RecoveryDialog(QDialog):
    """Lists interrupted runs; Resume / Mark failed / Open act on the selected one."""

    resume_requested = Signal(str)
    mark_failed_requested = Signal(str)
    open_requested = Signal(str)

    def __init__(self, runs: list[dict[str, Any]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Interrupted runs")
        self.runs = list(runs)
        text = QLabel(
            f"{len(runs)} run{'s were' if len(runs) != 1 else ' was'} interrupted (the program running "
            f"{'them' if len(runs) != 1 else 'it'} stopped). Each can continue from its last saved step."
        )
        text.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Workflow", "Started", "Progress", "Runs again on resume"])
        self.tree.setRootIsDecorated(False)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(True)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {SIDE_EFFECT_COLOR}")
        self.resume_button = QPushButton("Resume")
        self.fail_button = QPushButton("Mark failed")
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Show the run on the canvas without running anything")
        box = QDialogButtonBox()
        box.addButton(self.resume_button, QDialogButtonBox.ButtonRole.ActionRole)
        box.addButton(self.fail_button, QDialogButtonBox.ButtonRole.ActionRole)
        box.addButton(self.open_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = box.addButton("Later", QDialogButtonBox.ButtonRole.RejectRole)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.tree)
        layout.addWidget(self.warning)
        layout.addWidget(box)
        self.resume_button.clicked.connect(lambda: self._act(self.resume_requested))
        self.fail_button.clicked.connect(lambda: self._act(self.mark_failed_requested))
        self.open_button.clicked.connect(lambda: self._act(self.open_requested, keep=True))
        self.tree.itemSelectionChanged.connect(self._update)
        self._fill()
        self.resize(720, 320)

    def _fill(self) -> None:
        self.tree.clear()
        bold = QFont()
        bold.setBold(True)
        for run in self.runs:
            p = run.get("progress") or {}
            again = run.get("in_flight") or "—"
            if run.get("side_effects"):
                again = f"⚠ {again} (side effects: it may have {'sent' if run.get('in_flight_type') == 'send_email' else 'done'} its work already)"
            item = QTreeWidgetItem([run.get("workflow_name") or "", format_started(run.get("started_at")), progress_text(p), again])
            item.setData(0, Qt.ItemDataRole.UserRole, run["execution_id"])
            item.setToolTip(0, f"execution {run['execution_id']}")
            if run.get("side_effects"):
                item.setForeground(3, QColor(SIDE_EFFECT_COLOR))
                item.setFont(3, bold)
            self.tree.addTopLevelItem(item)
        first = self.tree.topLevelItem(0)
        if self.runs and first is not None:
            self.tree.setCurrentItem(first)
        self._update()

    def selected(self) -> dict[str, Any] | None:
        item = self.tree.currentItem()
        if item is None:
            return None
        eid = item.data(0, Qt.ItemDataRole.UserRole)
        return next((r for r in self.runs if r["execution_id"] == eid), None)

    def select(self, execution_id: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None and item.data(0, Qt.ItemDataRole.UserRole) == execution_id:
                self.tree.setCurrentItem(item)

    def flagged(self) -> list[str]:
        """Execution ids whose in-flight node has side effects."""
        return [r["execution_id"] for r in self.runs if r.get("side_effects")]

    def _update(self) -> None:
        run = self.selected()
        for b in (self.resume_button, self.fail_button, self.open_button):
            b.setEnabled(run is not None)
        if run is not None and run.get("side_effects"):
            self.resume_button.setText(f"Resume (runs “{run.get('in_flight')}” again)")
            self.warning.setText(
                f"“{run.get('in_flight')}” has side effects and was running when the run stopped. "
                "Resuming runs it again, so its request or email may happen twice."
            )
        else:
            self.resume_button.setText("Resume")
            self.warning.setText("")

    def _act(self, signal: Any, keep: bool = False) -> None:
        run = self.selected()
        if run is None:
            return
        eid = run["execution_id"]
        if not keep:
            self.runs = [r for r in self.runs if r["execution_id"] != eid]
            self._fill()
        signal.emit(eid)
        if not self.runs or keep:
            self.accept()
