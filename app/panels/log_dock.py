"""The run's log lines, filterable by level and node; also a rotating log file.

Lines arrive in coalesced batches from the event bridge (one model insert per
frame), are kept up to `MAX_LINES`, and are filtered by a proxy model so
changing the filter never re-reads the engine. The filter is in the chain only while it
can hide a line (a node chosen, or a level above the lowest line's): its test is a Python
call per new line, which on the GUI thread waits for the interpreter lock the running
engine holds. Putting the filter in or taking it out resets the table, and a filter change
hides or shows lines above those in view: the reader's place is kept by line (`_Place`),
not by scroll position. The model takes each batch at once;
while the table follows the last line it is repainted at most every `PAINT_MS` (a big
run sends a batch per frame, and each paint asks the model for every visible cell's
text and colour); scrolled back, it scrolls as usual. The same `engine` log records
go to a rotating file in the platformdirs log directory (`PROCESSENGINE_LOG_DIR`
overrides it), so a run can be read back after the app is closed.
"""

from __future__ import annotations

import bisect
import logging
import logging.handlers
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QIdentityProxyModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.crash_guard import enable_fault_log, fault_log_enabled
from app.runner.bridge import AttemptSpan, LogLine
from app.steady_label import SteadyLabel
from engine.model import Workflow

log = logging.getLogger(__name__)

MAX_LINES = 20_000
COUNT_MS = 200  # the line count follows appended lines at most this often
PAINT_MS = 150  # the table shows appended lines at most this often
LOG_FILE = "processengine.log"
LOG_DIR_ENV = "PROCESSENGINE_LOG_DIR"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_LEVEL_NO = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_NO_LINES = 1_000  # `LogModel.lowest_level` of an empty log: above every level
_LEVEL_COLOR = {"WARNING": "#b45309", "ERROR": "#dc2626", "CRITICAL": "#dc2626", "DEBUG": "#6b7280"}
_file_handler: logging.Handler | None = None


def log_dir() -> Path:
    override = os.environ.get(LOG_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_log_dir("ProcessEngine", appauthor=False))


class AppLogFile(logging.handlers.RotatingFileHandler):
    """The app's rotating log file; after a rotation the crash stacks follow the new file."""

    def doRollover(self) -> None:
        super().doRollover()
        if fault_log_enabled():
            enable_fault_log(self.baseFilename)


def install_file_logging(level: int = logging.INFO) -> Path:
    """Write `engine` and `app` log records to a rotating file (once per process); returns its path."""
    global _file_handler
    directory = log_dir()
    path = directory / LOG_FILE
    if _file_handler is not None and Path(getattr(_file_handler, "baseFilename", "")) == path.absolute():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    uninstall_file_logging()
    handler = AppLogFile(path, maxBytes=2_000_000, backupCount=5, encoding="utf-8", delay=True)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("engine", "app"):
        lg = logging.getLogger(name)
        lg.addHandler(handler)
        if lg.getEffectiveLevel() > level:
            lg.setLevel(level)
    # an exception nobody awaited on the engine thread's loop is logged by asyncio itself
    logging.getLogger("asyncio").addHandler(handler)
    # the INFO lines are for the file and the Log dock: a plain console handler stays at WARNING
    for h in logging.getLogger().handlers:
        if type(h) is logging.StreamHandler and h.level == logging.NOTSET:
            h.setLevel(logging.WARNING)
    _file_handler = handler
    return path


def uninstall_file_logging() -> None:
    global _file_handler
    if _file_handler is not None:
        for name in ("engine", "app", "asyncio"):
            logging.getLogger(name).removeHandler(_file_handler)
        _file_handler.close()
        _file_handler = None


class LogModel(QAbstractTableModel):
    COLUMNS = ("Time", "Level", "Node", "Message")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.lines: list[LogLine] = []
        self.node_names: dict[str, str] = {}
        self.lowest_level = _NO_LINES  # the lowest level number among the lines (kept over dropped ones)
        self.dropped = 0  # lines dropped from the front so far: row + dropped numbers a line for good

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.lines)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 4

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        line = self.lines[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return time.strftime("%H:%M:%S", time.localtime(line.ts)) + f".{int(line.ts * 1000) % 1000:03d}"
            if col == 1:
                return line.level
            if col == 2:
                return self.node_names.get(line.node_id or "", line.node_id or "")
            return line.message
        if role == Qt.ItemDataRole.ForegroundRole and col in (1, 3):
            color = _LEVEL_COLOR.get(line.level)
            return QColor(color) if color else None
        if role == Qt.ItemDataRole.ToolTipRole and col == 3:
            return line.message
        return None

    def note_levels(self, lines: list[LogLine]) -> bool:
        """Lower `lowest_level` for lines about to come; True when it moved."""
        lowest = min((_LEVEL_NO.get(level, 20) for level in {line.level for line in lines}), default=_NO_LINES)
        if lowest >= self.lowest_level:
            return False
        self.lowest_level = lowest
        return True

    def overflows(self, lines: list[LogLine]) -> bool:
        """Appending `lines` drops lines from the front."""
        return bool(self.lines) and len(self.lines) + len(lines) > MAX_LINES

    def append(self, lines: list[LogLine]) -> None:
        if not lines:
            return
        self.note_levels(lines)
        overflow = len(self.lines) + len(lines) - MAX_LINES
        if overflow > 0:
            drop = min(overflow, len(self.lines))
            if drop:
                self.beginRemoveRows(QModelIndex(), 0, drop - 1)
                del self.lines[:drop]
                self.dropped += drop
                self.endRemoveRows()
            lines = lines[-MAX_LINES:]
        start = len(self.lines)
        self.beginInsertRows(QModelIndex(), start, start + len(lines) - 1)
        self.lines.extend(lines)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.lines.clear()
        self.lowest_level = _NO_LINES
        self.endResetModel()


class LogFilter(QSortFilterProxyModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.min_level = 0
        self.node_id: str | None = None

    def set_filter(self, min_level: int, node_id: str | None) -> None:
        """Filter anew only when the filter changed: re-filtering is a Python call per line
        (up to 20,000) and new lines are filtered as they come anyway."""
        if (min_level, node_id) == (self.min_level, self.node_id):
            return
        self.beginFilterChange()
        self.min_level = min_level
        self.node_id = node_id
        self.endFilterChange()

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, LogModel)
        line = model.lines[row]
        if _LEVEL_NO.get(line.level, 20) < self.min_level:
            return False
        return self.node_id is None or line.node_id == self.node_id


@dataclass(slots=True, kw_only=True)
class _Place:
    """Where the reader of the log is: lines are numbered by model row + lines dropped
    before it (`LogModel.dropped`), which a reset of the table or a drop does not change."""

    following: bool  # the last line in view: new lines scroll the table on
    current: int | None  # the current (selected) line
    in_view: list[int] = field(default_factory=list)  # the lines in view, top first (scrolled back)
    top_y: int = 0  # the top line's top in the viewport (above it when cut)


class LogPanel(QWidget):
    """The Log dock's widget."""

    node_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = LogModel(self)
        self._offered: list[tuple[str, str]] | None = None  # (id, name) of the nodes in the node filter
        self.filter = LogFilter(self)  # given the model only while it can hide a line (see `_refilter`)
        self.proxy = QIdentityProxyModel(self)  # what the table shows: the model, or the filter over it
        self.proxy.setSourceModel(self.model)
        self.level = QComboBox()
        self.level.addItems([f"{lv} and above" for lv in LEVELS])
        self.level.setCurrentIndex(1)
        self.node = QComboBox()
        self.node.addItem("All nodes", None)
        self.count = SteadyLabel()  # changes with every batch of a run
        self._count_timer = QTimer(self)  # a run's batches update the count at most every COUNT_MS
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(COUNT_MS)
        self._count_timer.timeout.connect(self._update_count)
        self._paint_timer = QTimer(self)  # a run's batches repaint the table at most every PAINT_MS
        self._paint_timer.setSingleShot(True)
        self._paint_timer.setInterval(PAINT_MS)
        self._paint_timer.timeout.connect(self._release_paint)
        copy = QPushButton("Copy")
        copy.setToolTip("Copy the shown lines")
        clear = QPushButton("Clear")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Level"))
        bar.addWidget(self.level)
        bar.addWidget(QLabel("Node"))
        bar.addWidget(self.node, 1)
        bar.addWidget(self.count)
        bar.addWidget(copy)
        bar.addWidget(clear)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        # not ResizeToContents: a hidden view sizes such a column from every row (Python
        # data() calls for thousands of lines after each batch); the time text has one width
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(0, self.table.fontMetrics().horizontalAdvance("00:00:00.000") + 18)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(1, 76)
        self.table.setColumnWidth(2, 120)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        self.level.currentIndexChanged.connect(self._refilter)
        self.node.currentIndexChanged.connect(self._refilter)
        clear.clicked.connect(self.clear)
        copy.clicked.connect(self.copy_shown)
        self.table.doubleClicked.connect(self._activated)
        self._refilter()

    def set_workflow(self, workflow: Workflow | None) -> None:
        """Offer the workflow's nodes in the node filter. Every run start calls this: with the
        same nodes and names nothing is rebuilt (5,000 combo items and a re-filter of the log
        held the GUI thread for tens of milliseconds as a big run began)."""
        nodes = [(n.id, n.name) for n in workflow.nodes] if workflow is not None else []
        if nodes == self._offered:
            return
        self._offered = nodes
        current = self.node.currentData()
        self.node.blockSignals(True)
        self.node.clear()
        self.node.addItem("All nodes", None)
        names: dict[str, str] = {}
        for node_id, name in nodes:
            self.node.addItem(name, node_id)
            names[node_id] = name
        self.model.node_names = names
        idx = self.node.findData(current)
        self.node.setCurrentIndex(max(0, idx))
        self.node.blockSignals(False)
        self._refilter()

    def append(self, lines: list[LogLine]) -> None:
        at_end = self._following()
        if at_end and not self._paint_timer.isActive():  # following the end: the lines of the next PAINT_MS are painted together
            self.table.viewport().setUpdatesEnabled(False)  # (scrolled back, new lines land out of view: no repaint to save)
            self._paint_timer.start()
        refilter = self.model.note_levels(lines)  # a line below the chosen level: the filter is needed now
        # the filter coming in resets the table, and lines dropped at the front move those in view
        place = self._place() if refilter or (not at_end and self.model.overflows(lines)) else None
        if refilter:
            self._chain()
        self.model.append(lines)
        if not self._count_timer.isActive():
            self._count_timer.start()  # 60 batches a second need not be counted 60 times
        if place is not None:
            self._keep(place)
        elif at_end:
            self.table.scrollToBottom()

    def _release_paint(self) -> None:
        self.table.viewport().setUpdatesEnabled(True)  # one repaint for what came meanwhile

    def painting_held(self) -> bool:
        """New lines are in the model but not yet painted (a picture taken now shows none)."""
        return self._paint_timer.isActive()

    def clear(self) -> None:
        self.model.clear()
        self._refilter()

    def shown_lines(self) -> list[LogLine]:
        return [self.model.lines[self._model_row(self.proxy.index(r, 0))] for r in range(self.proxy.rowCount())]

    def _model_row(self, index: QModelIndex | QPersistentModelIndex) -> int:
        """The model's row of a shown row (through the filter when it is in the chain)."""
        index = self.proxy.mapToSource(index)
        if index.model() is self.filter:
            index = self.filter.mapToSource(index)
        return index.row()

    def copy_shown(self) -> str:
        text = "\n".join(
            f"{self.model.data(self.model.index(self.model.lines.index(line), 0))} {line.level} {self.model.node_names.get(line.node_id or '', line.node_id or '-')} {line.message}"
            for line in self.shown_lines()
        )
        QGuiApplication.clipboard().setText(text)
        return text

    def set_level(self, level: str) -> None:
        self.level.setCurrentIndex(LEVELS.index(level))

    def set_node(self, node_id: str | None) -> None:
        self.node.setCurrentIndex(max(0, self.node.findData(node_id)))

    def filtering(self) -> bool:
        """The filter is in the chain (it is asked about every new line)."""
        return self.proxy.sourceModel() is self.filter

    def _refilter(self) -> None:
        """Apply the level and node chosen, keeping the reader's place (see `_keep`)."""
        place = self._place()
        self._chain()
        self._keep(place)
        self._update_count()

    def _chain(self) -> None:
        """Put the filter in the chain or take it out. A filter that hides nothing (all nodes,
        a level at or below every line's) leaves the chain: the table shows the model itself.
        Either move resets the table (its scroll position then shows other lines)."""
        min_level = _LEVEL_NO[LEVELS[self.level.currentIndex()]]
        node_id = self.node.currentData()
        needed = node_id is not None or min_level > self.model.lowest_level
        if needed and not self.filtering():
            self.filter.set_filter(min_level, node_id)
            self.filter.setSourceModel(self.model)  # filters the lines there once
            self.proxy.setSourceModel(self.filter)
        elif needed:
            self.filter.set_filter(min_level, node_id)
        elif self.filtering():
            self.proxy.setSourceModel(self.model)
            self.filter.setSourceModel(None)  # type: ignore[arg-type]  # no source: new lines are not filtered

    # -- the reader's place ------------------------------------------------------
    def _following(self) -> bool:
        """The table shows the last line (new lines scroll it on)."""
        bar = self.table.verticalScrollBar()
        return bar.value() >= bar.maximum() - 2

    def _place(self) -> _Place:
        """Where the reader is, in line numbers that outlive a reset and dropped lines."""
        dropped = self.model.dropped
        current = self.table.currentIndex()
        place = _Place(following=self._following(), current=self._model_row(current) + dropped if current.isValid() else None)
        top = self.table.rowAt(0)
        if place.following or top < 0:
            return place
        bottom = self.table.rowAt(self.table.viewport().height() - 1)
        bottom = self.proxy.rowCount() - 1 if bottom < 0 else bottom
        place.in_view = [self._model_row(self.proxy.index(r, 0)) + dropped for r in range(top, bottom + 1)]
        place.top_y = self.table.rowViewportPosition(top)
        return place

    def _keep(self, place: _Place) -> None:
        """Back to `place` after the shown lines changed: the current line stays current
        while shown; following the end keeps following; scrolled back, the first line in
        view that is still shown stays where it was (none of them: the next shown line takes
        the top; none after them: the end)."""
        dropped = self.model.dropped
        if place.current is not None and not self.table.currentIndex().isValid():
            row = self._shown_row(place.current - dropped)
            if row is not None:
                flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
                self.table.selectionModel().setCurrentIndex(self.proxy.index(row, 0), flags)
        if place.following or not place.in_view:
            self.table.scrollToBottom()
            return
        row = self._first_shown_from(max(0, place.in_view[0] - dropped))
        if row is None:
            self.table.scrollToBottom()
            return
        line = self._model_row(self.proxy.index(row, 0)) + dropped
        offset = place.in_view.index(line) if line in place.in_view else 0
        self._put(row, place.top_y + offset * self.table.verticalHeader().defaultSectionSize())

    def _put(self, row: int, y: int) -> None:
        """Scroll so the shown `row` has its top at `y` in the viewport (as near as the range allows)."""
        self.table.scrollTo(self.proxy.index(row, 0), QTableView.ScrollHint.PositionAtTop)
        per_item = self.table.verticalScrollMode() == QTableView.ScrollMode.ScrollPerItem
        step = self.table.rowHeight(row) if per_item else 1
        bar = self.table.verticalScrollBar()
        bar.setValue(bar.value() - round((y - self.table.rowViewportPosition(row)) / max(1, step)))

    def _shown_row(self, model_row: int) -> int | None:
        """The shown row of a model row; None when it is hidden (or gone)."""
        if not 0 <= model_row < self.model.rowCount():
            return None
        if not self.filtering():
            return model_row
        index = self.filter.mapFromSource(self.model.index(model_row, 0))
        return self.proxy.mapFromSource(index).row() if index.isValid() else None

    def _first_shown_from(self, model_row: int) -> int | None:
        """The first shown row at or after a model row (the filter keeps the model's order:
        a bisection, not a walk over 20,000 lines); None when none is."""
        count = self.proxy.rowCount()
        if not self.filtering():
            return model_row if model_row < count else None
        row = bisect.bisect_left(range(count), model_row, key=lambda r: self._model_row(self.proxy.index(r, 0)))
        return row if row < count else None

    def _update_count(self) -> None:
        self.count.setText(f"{self.proxy.rowCount()} / {self.model.rowCount()} lines")

    def _activated(self, index: QModelIndex) -> None:
        line = self.model.lines[self._model_row(index)]
        if line.node_id:
            self.node_activated.emit(line.node_id)


def lines_from_spans(spans: list[AttemptSpan], execution_id: str) -> list[LogLine]:
    """Log lines rebuilt from a past run's attempts (a run's live log is not stored)."""
    out: list[LogLine] = []
    for s in spans:
        dur = ((s.end or s.start) - s.start) * 1000
        msg = f"attempt {s.attempt} {s.status} in {dur:.1f} ms"
        if s.error:
            msg += f": {s.error}"
        if s.retry_delay is not None:
            msg += f" (retried after {s.retry_delay:.2f} s)"
        level = "WARNING" if s.status == "failed" and s.retry_delay is not None else "ERROR" if s.status == "failed" else "INFO"
        out.append(LogLine(s.start, level, msg, s.node_id, execution_id, "history"))
    out.sort(key=lambda ln: ln.ts)
    return out
