"""The run history dock: executions from the database, this workflow or all.

The panel only shows rows and says what the user asked for (signals); the
runner installer does the database reads on the engine thread and calls
`set_runs`. Runs are numbered per scope, oldest = #1, so "run #7" stays the
same run while the list grows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import QEvent, QItemSelection, QItemSelectionModel, QObject, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.theme import RUN_STATE_COLORS
from engine.runtime.status import progress_text

STATUSES = ("queued", "running", "paused", "interrupted", "completed", "failed", "cancelled")
RESUMABLE = frozenset({"paused", "interrupted"})
STATUS_COLORS = {
    "queued": "#6b7280",
    "running": RUN_STATE_COLORS["running"],
    "paused": RUN_STATE_COLORS["paused"],
    "interrupted": "#ea580c",
    "completed": RUN_STATE_COLORS["succeeded"],
    "failed": RUN_STATE_COLORS["failed"],
    "cancelled": RUN_STATE_COLORS["cancelled"],
}
COLUMNS = ("#", "Status", "Started", "Duration", "Progress", "Workflow", "Worker")
WORKER_COLUMN = 6  # queue mode: which worker runs (or ran) it; hidden while no run has one
ID_ROLE = Qt.ItemDataRole.UserRole
NUM_ROLE = Qt.ItemDataRole.UserRole + 1


def format_started(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        dt = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return iso
    today = datetime.now().astimezone().date()
    return dt.strftime("%H:%M:%S") if dt.date() == today else dt.strftime("%Y-%m-%d %H:%M")


def format_duration(ms: float | None) -> str:
    if ms is None:
        return ""
    s = ms / 1000
    if s < 1:
        return f"{ms:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(s), 60)
    return f"{m} min {s} s" if m < 60 else f"{m // 60} h {m % 60} min"


class DeleteConfirmation(QFrame):
    """Inline, non-modal "Delete N runs?" bar under the table: nothing is deleted until
    its Delete button is pressed; Keep, Escape or another selection drop the question."""

    visibility_changed = Signal(bool)  # asking

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("delete_confirmation")
        self.setStyleSheet(
            "#delete_confirmation { background: #fef2f2; border: 1px solid #fca5a5; border-radius: 6px; }"
            " #delete_confirmation QLabel { color: #7f1d1d; }"
        )
        self.ids: list[str] = []
        self.label = QLabel()
        self.confirm_button = QPushButton("Delete")
        self.confirm_button.setStyleSheet("QPushButton { color: #b91c1c; font-weight: 600; }")
        self.keep_button = QPushButton("Keep")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 0, 2, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.confirm_button)
        row.addWidget(self.keep_button)
        self.hide()

    def ask(self, runs: list[dict[str, Any]]) -> None:
        self.ids = [r["execution_id"] for r in runs]
        numbers = [f"#{r['number']}" for r in runs if r.get("number")]
        if len(runs) == 1:
            what = f"run {numbers[0]}" if numbers else "this run"
        else:
            listed = ", ".join(numbers[:8]) + (" …" if len(numbers) > 8 else "")
            what = f"{len(runs)} runs ({listed})" if listed else f"{len(runs)} runs"
        waiting = sum(1 for r in runs if r.get("status") in RESUMABLE)
        note = f" {waiting} of them can still be resumed." if waiting > 1 else (" It can still be resumed." if waiting else "")
        self.label.setText(f"Delete {what}? Their node data and logs go too; this cannot be undone.{note}")
        self.confirm_button.setText("Delete" if len(runs) == 1 else f"Delete {len(runs)}")
        self.label.setToolTip(self.label.text())
        self.show()
        self.visibility_changed.emit(True)
        self.confirm_button.setFocus()

    def drop(self) -> None:
        self.ids = []
        self.hide()
        self.visibility_changed.emit(False)


class HistoryPanel(QWidget):
    """The History dock's widget."""

    refresh_requested = Signal()
    open_requested = Signal(str, int)  # execution id, run number
    row_clicked = Signal(str, int)  # the user clicked a run (not a programmatic selection)
    resume_requested = Signal(str)
    cancel_requested = Signal(str)
    delete_requested = Signal(list)  # execution ids
    back_requested = Signal()
    compare_requested = Signal(str, str)  # the older and the newer of two selected runs
    runs_set = Signal()  # new rows (and so run numbers) are shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[dict[str, Any]] = []
        self.scope = QComboBox()
        self.scope.addItem("This workflow", "this")
        self.scope.addItem("All workflows", "all")
        self.status = QComboBox()
        self.status.addItem("Any status", None)
        for s in STATUSES:
            self.status.addItem(s.capitalize(), s)
        refresh = QPushButton("Refresh")
        bar = QHBoxLayout()
        bar.addWidget(self.scope)
        bar.addWidget(self.status)
        bar.addStretch(1)
        bar.addWidget(refresh)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        for c in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Show the run on the canvas (read-only)")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel run")
        self.delete_button = QPushButton("Delete")
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Compare the two selected runs node by node (select two with Ctrl+click)")
        self.back_button = QPushButton("Back to editing")
        self.info = QLabel()
        self.actions_row = QWidget()
        actions = QHBoxLayout(self.actions_row)
        actions.setContentsMargins(0, 0, 0, 0)
        for b in (self.open_button, self.resume_button, self.cancel_button, self.compare_button, self.delete_button):
            actions.addWidget(b)
        actions.addStretch(1)
        actions.addWidget(self.info)
        actions.addWidget(self.back_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        self.confirm = DeleteConfirmation()  # takes the buttons' place while it asks: no layout jump
        self.confirm.visibility_changed.connect(lambda asking: self.actions_row.setVisible(not asking))
        layout.addWidget(self.confirm)
        layout.addWidget(self.actions_row)
        refresh.clicked.connect(self.refresh_requested)
        self.scope.currentIndexChanged.connect(self.refresh_requested)
        self.status.currentIndexChanged.connect(self.refresh_requested)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self._open())
        self.table.itemActivated.connect(lambda _item: self._open())
        self.table.itemClicked.connect(self._clicked)
        self.open_button.clicked.connect(self._open)
        self.resume_button.clicked.connect(lambda: self._with_selected(self.resume_requested.emit))
        self.cancel_button.clicked.connect(lambda: self._with_selected(self.cancel_requested.emit))
        self.delete_button.clicked.connect(self.ask_delete)
        self.compare_button.clicked.connect(self._compare)
        self.confirm.confirm_button.clicked.connect(self._confirmed)
        self.confirm.keep_button.clicked.connect(self.confirm.drop)
        self.table.installEventFilter(self)
        self._restoring = False
        self.back_button.clicked.connect(self.back_requested)
        self.back_button.hide()
        self._update_buttons()

    # -- filters --------------------------------------------------------------------
    @property
    def all_workflows(self) -> bool:
        return bool(self.scope.currentData() == "all")

    @property
    def status_filter(self) -> str | None:
        status: str | None = self.status.currentData()
        return status

    def set_status_filter(self, status: str | None) -> None:
        self.status.setCurrentIndex(max(0, self.status.findData(status)))

    def set_all_workflows(self, on: bool) -> None:
        self.scope.setCurrentIndex(1 if on else 0)

    # -- rows ---------------------------------------------------------------------------
    def set_runs(self, runs: list[dict[str, Any]], names: dict[str, str] | None = None) -> None:
        """Status objects (newest first), each with a `number`; keeps the selection."""
        keep = set(self.selected_ids())
        names = names or {}
        self._restoring = True  # the selection is put back below: not a new choice
        self.runs = runs
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(runs))
        for r, run in enumerate(runs):
            p = run.get("progress") or {}
            status = run.get("status", "")
            cells = [
                f"#{run.get('number', '')}",
                status,
                format_started((run.get("timing") or {}).get("started_at")),
                format_duration((run.get("timing") or {}).get("duration_ms")),
                progress_text(p),
                names.get(run.get("workflow_id", ""), run.get("workflow_id", "")),
                run.get("worker") or "",
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(ID_ROLE, run["execution_id"])
                item.setData(NUM_ROLE, run.get("number"))
                if c == 1:
                    item.setForeground(QColor(STATUS_COLORS.get(status, "#374151")))
                if c == 5:
                    item.setToolTip(f"{run.get('workflow_id')}\nexecution {run['execution_id']}")
                err = run.get("error")
                if err and c == 1:
                    item.setToolTip(err.get("message") or "")
                self.table.setItem(r, c, item)
        self.table.setColumnHidden(WORKER_COLUMN, not any(run.get("worker") for run in runs))
        self.table.clearSelection()
        rows = [r for r, run in enumerate(runs) if run["execution_id"] in keep]
        self._select_rows(rows)
        self._restoring = False
        self.info.setText(f"{len(runs)} run{'s' if len(runs) != 1 else ''}")
        self._update_buttons()
        self.runs_set.emit()

    def selected_ids(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectedItems()})
        return [self.runs[r]["execution_id"] for r in rows if r < len(self.runs)]

    def selected_runs(self) -> list[dict[str, Any]]:
        ids = set(self.selected_ids())
        return [r for r in self.runs if r["execution_id"] in ids]

    def select_executions(self, execution_ids: list[str]) -> None:
        """Select these runs (and only these)."""
        wanted = set(execution_ids)
        self._select_rows([r for r, run in enumerate(self.runs) if run["execution_id"] in wanted])

    def _select_rows(self, rows: list[int]) -> None:
        model = self.table.selectionModel()
        selection = QItemSelection()
        last = self.table.columnCount() - 1
        for r in rows:
            selection.select(self.table.model().index(r, 0), self.table.model().index(r, last))
        model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    # -- deleting -------------------------------------------------------------------------
    def ask_delete(self) -> bool:
        """Delete button (or the Delete key): ask under the table; False if nothing to ask."""
        runs = self.selected_runs()
        if not runs or not self.delete_button.isEnabled():
            return False
        self.confirm.ask(runs)
        return True

    def _confirmed(self) -> None:
        ids = list(self.confirm.ids)
        self.confirm.drop()
        if ids:
            self.delete_requested.emit(ids)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.table and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
                return self.ask_delete()
            if event.key() == Qt.Key.Key_Escape and not self.confirm.isHidden():
                self.confirm.drop()
                return True
        return False

    def select_execution(self, execution_id: str) -> bool:
        for r, run in enumerate(self.runs):
            if run["execution_id"] == execution_id:
                self.table.selectRow(r)
                return True
        return False

    def row_of(self, execution_id: str) -> dict[str, Any] | None:
        return next((r for r in self.runs if r["execution_id"] == execution_id), None)

    def set_viewing(self, viewing: bool) -> None:
        self.back_button.setVisible(viewing)

    def _with_selected(self, fn: Any) -> None:
        runs = self.selected_runs()
        if len(runs) == 1:
            fn(runs[0]["execution_id"])

    def _clicked(self, item: QTableWidgetItem) -> None:
        self.row_clicked.emit(item.data(ID_ROLE), int(item.data(NUM_ROLE) or 0))

    def _open(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 1:
            self.open_requested.emit(runs[0]["execution_id"], int(runs[0].get("number") or 0))

    def _update_buttons(self) -> None:
        runs = self.selected_runs()
        if not self.confirm.isHidden() and not self._restoring and [r["execution_id"] for r in runs] != self.confirm.ids:
            self.confirm.drop()  # the question was about other rows
        one = runs[0] if len(runs) == 1 else None
        self.open_button.setEnabled(one is not None)
        resumable = one is not None and one.get("status") in RESUMABLE
        self.resume_button.setEnabled(resumable)
        self.cancel_button.setEnabled(resumable or (one is not None and one.get("status") == "queued"))
        self.delete_button.setEnabled(bool(runs) and all(r.get("status") != "running" for r in runs))
        self.compare_button.setEnabled(len(runs) == 2 and all(r.get("status") != "running" for r in runs))

    def _compare(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 2:
            older, newer = sorted(runs, key=lambda r: r.get("number") or 0)
            self.compare_requested.emit(older["execution_id"], newer["execution_id"])


def number_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give newest-first status objects their run numbers (oldest = #1)."""
    total = len(runs)
    return [{**r, "number": total - i} for i, r in enumerate(runs)]
