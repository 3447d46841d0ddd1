"""The Steps dock: scrub through a past (or paused) run one step at a time.

A slider and a list of every step (one node attempt each) in run order. Left/Right (or
the buttons) move one step, Home/End to the first and last. The panel only shows steps
and says which one the user picked (`step_selected`); the runner rebuilds the run as it
was then and shows it on the canvas and in Run data. The variables as of that step are
shown under the list. The list is a model (no widget per row), so 10,000 steps scroll
as smoothly as 10. It is drawn by a one-column table view: its rows all have one height,
so showing a new run and scrolling to its last step costs the same for 10 steps as for
10,000. A list view lays every row out first, asking the Python model for its row count
twice per row (10,000 calls and 10-50 ms for a 5,000-node run, as the run ended).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSlider,
    QSplitter,
    QStyle,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.panels.data_inspector import JsonView
from app.runner.canvas_state import format_ms
from app.theme import RUN_STATE_COLORS

_Index = QModelIndex | QPersistentModelIndex


class StepsModel(QAbstractListModel):
    """Rows of step dicts (`steps --json` shape) with node names."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[dict[str, Any]] = []
        self.names: dict[str, str] = {}

    def set_steps(self, steps: list[dict[str, Any]], names: dict[str, str]) -> None:
        self.beginResetModel()
        self.steps = steps
        self.names = names
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.steps)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        s = self.steps[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.label(s)
        if role == Qt.ItemDataRole.ForegroundRole:
            color = RUN_STATE_COLORS.get(s["status"])
            return QColor(color) if color else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{s['node_id']} · attempt {s['attempt']} · {s['status']} · started {s['started_at'] or '?'}"
        return None

    def label(self, s: dict[str, Any]) -> str:
        name = self.names.get(s["node_id"], s["node_id"])
        attempt = f" #{s['attempt']}" if s["attempt"] > 1 else ""
        where = "" if s["thread_id"] == "main" else f"  ↳ {s['thread_id']}"
        took = format_ms(s["duration_ms"])
        return f"{s['index']:>5}  {name}{attempt}  {s['status']}  {took}{where}"


class _StepList(QTableView):
    """A list of steps: one column, no headers or grid. Left/Right move one step like
    Up/Down (the slider's keys), Home/End to the first and last step, also from the list."""

    def __init__(self) -> None:
        super().__init__()
        self.horizontalHeader().hide()
        self.horizontalHeader().setStretchLastSection(True)
        rows = self.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 6)  # a list item's padding
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setTabKeyNavigation(False)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        n = self.model().rowCount()
        moves = {Qt.Key.Key_Left: self.currentIndex().row() - 1, Qt.Key.Key_Right: self.currentIndex().row() + 1,
                 Qt.Key.Key_Home: 0, Qt.Key.Key_End: n - 1}
        row = moves.get(Qt.Key(key))
        if row is not None:
            if 0 <= row < n:
                self.setCurrentIndex(self.model().index(row, 0))
            return
        super().keyPressEvent(event)


class StepsPanel(QWidget):
    """The Steps dock's widget."""

    step_selected = Signal(int)  # step index the user moved to

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = StepsModel()
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setPageStep(10)
        sp = QStyle.StandardPixmap
        self.first_button = self._button(sp.SP_MediaSkipBackward, "First step (Home)", lambda: self.select(0))
        self.prev_button = self._button(sp.SP_MediaSeekBackward, "Previous step (Left)", lambda: self.select(self.current - 1))
        self.next_button = self._button(sp.SP_MediaSeekForward, "Next step (Right)", lambda: self.select(self.current + 1))
        self.last_button = self._button(sp.SP_MediaSkipForward, "Last step (End)", lambda: self.select(self.count - 1))
        self.list = _StepList()
        self.list.setModel(self.model)
        self.variables = JsonView()
        controls = QHBoxLayout()
        for b in (self.first_button, self.prev_button):
            controls.addWidget(b)
        controls.addWidget(self.slider, 1)
        for b in (self.next_button, self.last_button):
            controls.addWidget(b)
        split = QSplitter(Qt.Orientation.Horizontal)  # a bottom dock is wide and short
        split.addWidget(self.list)
        box = QWidget()
        vbox = QVBoxLayout(box)
        vbox.setContentsMargins(0, 0, 0, 0)
        vbox.addWidget(QLabel("Variables at this step"))
        vbox.addWidget(self.variables)
        split.addWidget(box)
        split.setSizes([600, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(controls)
        layout.addWidget(split, 1)
        self.slider.valueChanged.connect(self._slider_moved)
        self.list.selectionModel().currentChanged.connect(self._row_changed)
        self._syncing = False
        self.clear()

    def _button(self, icon: QStyle.StandardPixmap, tip: str, slot: Any) -> QToolButton:
        b = QToolButton()
        b.setIcon(self.style().standardIcon(icon))
        b.setToolTip(tip)
        b.setAutoRaise(True)
        b.clicked.connect(slot)
        return b

    # -- content -----------------------------------------------------------------------
    @property
    def count(self) -> int:
        return len(self.model.steps)

    @property
    def current(self) -> int:
        return self.slider.value() if self.count else -1

    def clear(self, message: str = "Open a run from the History to step through it.") -> None:
        self.model.set_steps([], {})
        self.title.setText(message)
        self.slider.setRange(0, 0)
        self.variables.set_value(None, present=False)
        self._enable()

    def set_steps(self, steps: list[dict[str, Any]], names: dict[str, str], *, at: int | None = None) -> None:
        """Show a run's steps and select `at` (default: the last step, the run as it ended)."""
        self.model.set_steps(steps, names)
        self._syncing = True
        try:
            self.slider.setRange(0, max(0, len(steps) - 1))
        finally:
            self._syncing = False
        self._enable()
        if steps:
            self.select(len(steps) - 1 if at is None else at, quiet=True)
        else:
            self.title.setText("This run has no steps yet.")

    def show_state(self, index: int, variables: Any) -> None:
        """The runner rebuilt step `index`: show its variables."""
        if index == self.current:
            self.variables.set_value(variables)

    # -- moving --------------------------------------------------------------------------
    def select(self, index: int, *, quiet: bool = False) -> None:
        if not self.count:
            return
        index = max(0, min(self.count - 1, index))
        self._syncing = True
        try:
            self.slider.setValue(index)
            self.list.setCurrentIndex(self.model.index(index, 0))
            self.list.scrollTo(self.model.index(index, 0))
        finally:
            self._syncing = False
        self._describe(index)
        self._enable()
        if not quiet:
            self.step_selected.emit(index)

    def _slider_moved(self, value: int) -> None:
        if not self._syncing:
            self.select(value)

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._syncing and current.isValid():
            self.select(current.row())

    def _describe(self, index: int) -> None:
        s = self.model.steps[index]
        name = self.model.names.get(s["node_id"], s["node_id"])
        self.title.setText(f"Step {index + 1} of {self.count}: {name}, attempt {s['attempt']}, {s['status']}")

    def _enable(self) -> None:
        i, n = self.current, self.count
        self.first_button.setEnabled(n > 0 and i > 0)
        self.prev_button.setEnabled(n > 0 and i > 0)
        self.next_button.setEnabled(n > 0 and i < n - 1)
        self.last_button.setEnabled(n > 0 and i < n - 1)
        self.slider.setEnabled(n > 1)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        moves = {Qt.Key.Key_Left: self.current - 1, Qt.Key.Key_Right: self.current + 1,
                 Qt.Key.Key_Home: 0, Qt.Key.Key_End: self.count - 1}
        target = moves.get(Qt.Key(key))
        if target is not None and self.count:
            self.select(target)
            return
        super().keyPressEvent(event)
