"""The node data inspector: a run's input, output and attempts for one node.

Values are shown as a JSON tree, or as a table when they are a list of
objects (rows = items, columns = the union of their keys); both copy as JSON.
Every attempt is listed with status, start, duration and error; selecting one
shows its traceback. The data comes from `app.runner.snapshot.node_data`
(computed on the engine thread), never from engine objects.
"""

from __future__ import annotations

import json
import time
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.theme import RUN_STATE_COLORS

MAX_TREE_ITEMS = 5000  # children shown per container; more are summarised
MAX_TABLE_ROWS = 2000
PREVIEW = 200


def is_table(value: Any) -> bool:
    """A non-empty list whose items are all objects reads better as a table."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _scalar(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return f"object · {len(value)} keys"
    if isinstance(value, list):
        return f"array · {len(value)} items"
    return type(value).__name__ if value is not None else "null"


class JsonView(QWidget):
    """One JSON value: tree / table views and Copy as JSON."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.value: Any = None
        self.has_value = False
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Key", "Value", "Type"])
        self.tree.setUniformRowHeights(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.tree.setColumnWidth(0, 180)
        self.tree.setColumnWidth(1, 260)
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.empty = QLabel("No value")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        for w in (self.tree, self.table, self.empty):
            self.stack.addWidget(w)
        self.tree_button = QPushButton("Tree")
        self.table_button = QPushButton("Table")
        for b in (self.tree_button, self.table_button):
            b.setCheckable(True)
        group = QButtonGroup(self)
        group.addButton(self.tree_button)
        group.addButton(self.table_button)
        self.copy_button = QPushButton("Copy as JSON")
        bar = QHBoxLayout()
        bar.addWidget(self.tree_button)
        bar.addWidget(self.table_button)
        bar.addStretch(1)
        bar.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.stack)
        self.tree_button.clicked.connect(lambda: self.show_mode("tree"))
        self.table_button.clicked.connect(lambda: self.show_mode("table"))
        self.copy_button.clicked.connect(self.copy_json)
        self.set_value(None, present=False)

    def set_value(self, value: Any, *, present: bool = True) -> None:
        self.value = value
        self.has_value = present
        self.tree.clear()
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.copy_button.setEnabled(present)
        if not present:
            self.tree_button.setEnabled(False)
            self.table_button.setEnabled(False)
            self.stack.setCurrentWidget(self.empty)
            return
        self._fill_tree(value)
        tabular = is_table(value)
        self.tree_button.setEnabled(True)
        self.table_button.setEnabled(tabular)
        if tabular:
            self._fill_table(value)
        self.show_mode("table" if tabular else "tree")

    def show_mode(self, mode: str) -> None:
        if mode == "table" and self.table_button.isEnabled():
            self.table_button.setChecked(True)
            self.stack.setCurrentWidget(self.table)
        else:
            self.tree_button.setChecked(True)
            self.stack.setCurrentWidget(self.tree)

    @property
    def mode(self) -> str:
        w = self.stack.currentWidget()
        return "table" if w is self.table else "tree" if w is self.tree else "empty"

    def as_json(self) -> str:
        return json.dumps(self.value, indent=2, ensure_ascii=False)

    def copy_json(self) -> str:
        text = self.as_json()
        QGuiApplication.clipboard().setText(text)
        return text

    def _fill_tree(self, value: Any) -> None:
        root = QTreeWidgetItem(["(value)", "" if isinstance(value, (dict, list)) else _scalar(value), _kind(value)])
        self.tree.addTopLevelItem(root)
        budget = [MAX_TREE_ITEMS * 4]
        self._add_children(root, value, budget)
        root.setExpanded(True)
        for i in range(min(root.childCount(), 50)):
            child = root.child(i)
            if child is not None:
                child.setExpanded(isinstance(value, dict))

    def _add_children(self, parent: QTreeWidgetItem, value: Any, budget: list[int]) -> None:
        if isinstance(value, dict):
            items = list(value.items())
        elif isinstance(value, list):
            items = list(enumerate(value))
        else:
            return
        for n, (key, child) in enumerate(items):
            if n >= MAX_TREE_ITEMS or budget[0] <= 0:
                parent.addChild(QTreeWidgetItem(["…", f"{len(items) - n} more", ""]))
                return
            budget[0] -= 1
            label = f"[{key}]" if isinstance(key, int) else str(key)
            item = QTreeWidgetItem([label, "" if isinstance(child, (dict, list)) else _scalar(child), _kind(child)])
            parent.addChild(item)
            self._add_children(item, child, budget)

    def _fill_table(self, rows: list[dict[str, Any]]) -> None:
        columns: list[str] = []
        seen: set[str] = set()
        for row in rows[:MAX_TABLE_ROWS]:
            for k in row:
                if k not in seen:
                    seen.add(k)
                    columns.append(str(k))
        shown = rows[:MAX_TABLE_ROWS]
        self.table.setColumnCount(len(columns))
        self.table.setRowCount(len(shown))
        self.table.setHorizontalHeaderLabels(columns)
        for r, row in enumerate(shown):
            for c, key in enumerate(columns):
                if key in row:
                    v = row[key]
                    self.table.setItem(r, c, QTableWidgetItem(v if isinstance(v, str) else _scalar(v)))


class DataInspector(QWidget):
    """The Data dock's widget."""

    ATTEMPT_COLUMNS = ("#", "Status", "Started", "Duration", "Error")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data: dict[str, Any] | None = None
        self.title = QLabel("Select a node of a run to see its data.")
        self.title.setWordWrap(True)
        self.input_view = JsonView()
        self.output_view = JsonView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.output_view, "Output")
        self.tabs.addTab(self.input_view, "Input")
        self.attempts = QTableWidget(0, len(self.ATTEMPT_COLUMNS))
        self.attempts.setHorizontalHeaderLabels(self.ATTEMPT_COLUMNS)
        self.attempts.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.attempts.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.attempts.verticalHeader().hide()
        self.attempts.horizontalHeader().setStretchLastSection(True)
        for col, width in enumerate((34, 78, 70, 74)):
            self.attempts.setColumnWidth(col, width)
        self.traceback = QPlainTextEdit()
        self.traceback.setReadOnly(True)
        self.traceback.setPlaceholderText("Select a failed attempt to see its traceback.")
        lower = QSplitter(Qt.Orientation.Vertical)
        lower.addWidget(self.attempts)
        lower.addWidget(self.traceback)
        self.tabs.addTab(lower, "Attempts")
        self.io_view = JsonView()  # the selected attempt's recorded request and response
        self.io_view.empty.setText("Nothing recorded for this attempt (HTTP and email nodes record).")
        self.tabs.addTab(self.io_view, "Request / response")
        self.copy_all = QPushButton("Copy all as JSON")
        self.copy_all.clicked.connect(self.copy_json)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.copy_all)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.tabs)
        self.attempts.itemSelectionChanged.connect(self._attempt_selected)
        self.clear()

    def clear(self, message: str = "Select a node of a run to see its data.") -> None:
        self.data = None
        self.title.setText(message)
        self.input_view.set_value(None, present=False)
        self.output_view.set_value(None, present=False)
        self.attempts.setRowCount(0)
        self.traceback.clear()
        self.io_view.set_value(None, present=False)
        self.copy_all.setEnabled(False)

    def show_data(self, node_name: str, data: dict[str, Any]) -> None:
        """Show `node_data(...)` of one node."""
        self.data = data
        status = data.get("status") or "not run"
        color = RUN_STATE_COLORS.get(status, "#6b7280")
        n = len(data.get("attempts") or [])
        self.title.setText(f"<b>{node_name}</b> — <span style='color:{color}'>{status}</span> · {n} attempt{'s' if n != 1 else ''}")
        self.output_view.set_value(data.get("output"), present=bool(data.get("has_output")))
        self.input_view.set_value(data.get("input"), present=data.get("input") is not None)
        self.attempts.setRowCount(n)
        for r, a in enumerate(data.get("attempts") or []):
            started = a.get("started_at")
            when = time.strftime("%H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) else str(started or "")
            err = a.get("error") or {}
            message = err.get("message") if isinstance(err, dict) else str(err)
            dur = a.get("duration_ms")
            cells = [str(a.get("attempt")), a.get("status") or "", when, f"{dur:.1f} ms" if isinstance(dur, (int, float)) else "", message or ""]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 1:
                    item.setForeground(QColor(RUN_STATE_COLORS.get(text, "#374151")))
                self.attempts.setItem(r, c, item)
        if n:
            self.attempts.selectRow(n - 1)
        self._attempt_selected()  # also when the same row stays selected for the new node
        self.copy_all.setEnabled(True)

    def _attempt_selected(self) -> None:
        rows = {i.row() for i in self.attempts.selectedItems()}
        if not rows or self.data is None:
            self.traceback.clear()
            self.io_view.set_value(None, present=False)
            return
        a = (self.data.get("attempts") or [])[min(rows)]
        self.io_view.set_value(a.get("io"), present=a.get("io") is not None)
        err = a.get("error") or {}
        if isinstance(err, dict) and err:
            self.traceback.setPlainText(err.get("traceback") or err.get("message") or json.dumps(err, indent=2))
        else:
            self.traceback.setPlainText("")

    def as_json(self) -> str:
        return json.dumps(self.data, indent=2, ensure_ascii=False, default=str)

    def copy_json(self) -> str:
        text = self.as_json()
        QGuiApplication.clipboard().setText(text)
        return text
