"""The debugger's panels: Breakpoints, Variables, Call stack, and the Run data bar (pins, pending input).

They show and edit a `DebugSession` (app/runner/debugger.py); none talks to the
engine itself. JSON typed by the user is parsed here and refused with the
parser's message (line and column) before anything changes.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)


def parse_json(text: str) -> tuple[Any, str | None]:
    """(value, None) or (None, "line L, column C: what is wrong")."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"line {exc.lineno}, column {exc.colno}: {exc.msg}"


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


class JsonEditor(QWidget):
    """A JSON text box that says at once whether its text parses."""

    validity_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QPlainTextEdit()
        self.text.setTabChangesFocus(True)
        self.error = QLabel()
        self.error.setStyleSheet("color: #dc2626")
        self.error.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        layout.addWidget(self.error)
        self.text.textChanged.connect(self._check)
        self.valid = True

    def set_value(self, value: Any) -> None:
        self.text.setPlainText(dumps(value))

    def value(self) -> tuple[Any, str | None]:
        return parse_json(self.text.toPlainText())

    def _check(self) -> None:
        _, err = self.value()
        self.error.setText("" if err is None else f"Not valid JSON — {err}")
        if (err is None) != self.valid:
            self.valid = err is None
            self.validity_changed.emit(self.valid)


class PinDialog(QDialog):
    """Edit a node's pin as JSON; OK only while the text is valid JSON (not null)."""

    def __init__(self, node_name: str, value: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Pin output of {node_name}")
        self.editor = JsonEditor()
        self.editor.set_value(value)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.editor.validity_changed.connect(lambda ok: self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("A debug run uses this value as the node's output and does not run the node."))
        layout.addWidget(self.editor)
        layout.addWidget(self.buttons)
        self.resize(460, 360)

    def pin(self) -> Any:
        return self.editor.value()[0]


class DebugDataBar(QWidget):
    """Above Run data: pin / unpin / edit the pin, re-run from here, execute this node, the pending input."""

    pin_requested = Signal(str, object)  # node id, value (None: unpin)
    edit_pin_requested = Signal(str)
    rerun_requested = Signal(str)
    execute_requested = Signal(str)
    pending_input_edited = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.node_id: str | None = None
        self.output: Any = None
        self.has_output = False
        self.pinned = False
        self.pin_button = QPushButton("Pin this output")
        self.edit_pin_button = QPushButton("Edit pin…")
        self.rerun_button = QPushButton("Re-run from here")
        self.execute_button = QPushButton("Execute this node")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        for b in (self.pin_button, self.edit_pin_button, self.rerun_button, self.execute_button):
            row.addWidget(b)
        row.addStretch(1)
        self.pending_label = QLabel("<b>Pending input</b> — the paused node runs with this (edit, then Continue or Step)")
        self.pending = JsonEditor()
        self.pending.text.setMaximumHeight(140)
        self.apply_button = QPushButton("Apply input")
        self.pending_box = QWidget()
        pl = QVBoxLayout(self.pending_box)
        pl.setContentsMargins(0, 4, 0, 0)
        pl.addWidget(self.pending_label)
        pl.addWidget(self.pending)
        pl.addWidget(self.apply_button, 0, Qt.AlignmentFlag.AlignRight)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.addLayout(row)
        layout.addWidget(self.pending_box)
        self.pending_box.hide()
        self.pin_button.clicked.connect(self._pin_clicked)
        self.edit_pin_button.clicked.connect(lambda: self.node_id and self.edit_pin_requested.emit(self.node_id))
        self.rerun_button.clicked.connect(lambda: self.node_id and self.rerun_requested.emit(self.node_id))
        self.execute_button.clicked.connect(lambda: self.node_id and self.execute_requested.emit(self.node_id))
        self.apply_button.clicked.connect(self.apply_pending)
        self.pending.validity_changed.connect(self.apply_button.setEnabled)
        self.show_node(None)

    def show_node(self, node_id: str | None, *, pinned: bool = False, output: Any = None, has_output: bool = False, can_rerun: bool = False) -> None:
        self.node_id, self.pinned, self.output, self.has_output = node_id, pinned, output, has_output
        self.pin_button.setText("Unpin" if pinned else "Pin this output")
        self.pin_button.setEnabled(node_id is not None and (pinned or has_output))
        self.edit_pin_button.setEnabled(node_id is not None)
        self.rerun_button.setEnabled(node_id is not None and can_rerun)
        self.execute_button.setEnabled(node_id is not None and can_rerun)

    def show_pending(self, value: Any, present: bool) -> None:
        self.pending_box.setVisible(present)
        if present:
            self.pending.set_value(value)

    def _pin_clicked(self) -> None:
        if self.node_id is None:
            return
        self.pin_requested.emit(self.node_id, None if self.pinned else self.output)

    def apply_pending(self) -> bool:
        value, err = self.pending.value()
        if err is not None:
            return False
        self.pending_input_edited.emit(value)
        return True


class BreakpointsPanel(QWidget):
    """Every breakpoint: enabled box, node, condition (with a live preview against the last run), hits."""

    enabled_changed = Signal(str, bool)
    condition_changed = Signal(str, str)
    remove_requested = Signal(list)

    COLUMNS = ("Node", "Condition", "Hits")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(self.COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.condition = QLineEdit()
        self.condition.setPlaceholderText("condition over the node's input, e.g. {{ input.i > 3 }} (empty: always)")
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.remove_button = QPushButton("Remove")
        self.remove_all_button = QPushButton("Remove all")
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.remove_all_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tree)
        layout.addWidget(self.condition)
        layout.addWidget(self.preview)
        layout.addLayout(buttons)
        self._filling = False
        self.preview_fn: Any = None  # (node id, condition) -> preview text
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.currentItemChanged.connect(lambda *_: self._current_changed())
        self.condition.textEdited.connect(self._condition_edited)
        self.condition.editingFinished.connect(self._condition_done)
        self.remove_button.clicked.connect(self._remove_current)
        self.remove_all_button.clicked.connect(lambda: self.remove_requested.emit(self.node_ids()))

    def _remove_current(self) -> None:
        node_id = self.current()
        if node_id:
            self.remove_requested.emit([node_id])

    def set_breakpoints(self, breakpoints: dict[str, dict[str, Any]], names: dict[str, str]) -> None:
        if list(breakpoints) == self.node_ids():
            self._update_rows(breakpoints, names)
            return
        keep = self.current()
        self._filling = True
        self.tree.clear()
        for node_id, bp in breakpoints.items():
            item = QTreeWidgetItem([names.get(node_id, node_id), bp.get("condition") or "", str(bp.get("hits", 0))])
            item.setData(0, Qt.ItemDataRole.UserRole, node_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Checked if bp.get("enabled", True) else Qt.CheckState.Unchecked)
            self.tree.addTopLevelItem(item)
            if node_id == keep:
                self.tree.setCurrentItem(item)
        self._filling = False
        self.remove_all_button.setEnabled(bool(breakpoints))
        self._current_changed()

    def _update_rows(self, breakpoints: dict[str, dict[str, Any]], names: dict[str, str]) -> None:
        """The same breakpoints: update the rows in place. Rebuilding would delete the item
        whose check box is being toggled while Qt is still inside its setCheckState (a
        use-after-free that crashed the process)."""
        self._filling = True
        try:
            for i, (node_id, bp) in enumerate(breakpoints.items()):
                item = self.tree.topLevelItem(i)
                assert item is not None, "the same breakpoints: one row each"
                item.setText(0, names.get(node_id, node_id))
                item.setText(1, bp.get("condition") or "")
                item.setText(2, str(bp.get("hits", 0)))
                state = Qt.CheckState.Checked if bp.get("enabled", True) else Qt.CheckState.Unchecked
                if item.checkState(0) != state:
                    item.setCheckState(0, state)
        finally:
            self._filling = False
        self.remove_all_button.setEnabled(bool(breakpoints))

    def node_ids(self) -> list[str]:
        items = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [item.data(0, Qt.ItemDataRole.UserRole) for item in items if item is not None]

    def current(self) -> str | None:
        item = self.tree.currentItem()
        return None if item is None else item.data(0, Qt.ItemDataRole.UserRole)

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if not self._filling and column == 0:
            self.enabled_changed.emit(item.data(0, Qt.ItemDataRole.UserRole), item.checkState(0) == Qt.CheckState.Checked)

    def _current_changed(self) -> None:
        item = self.tree.currentItem()
        self.remove_button.setEnabled(item is not None)
        self.condition.setEnabled(item is not None)
        self.condition.setText(item.text(1) if item is not None else "")
        self._show_preview()

    def _condition_edited(self, _text: str) -> None:
        self._show_preview()

    def _condition_done(self) -> None:
        node = self.current()
        item = self.tree.currentItem()
        if node is not None and item is not None and item.text(1) != self.condition.text().strip():
            self.condition_changed.emit(node, self.condition.text().strip())

    def _show_preview(self) -> None:
        node = self.current()
        text = self.condition.text().strip()
        if node is None:
            self.preview.setText("Toggle a breakpoint on a node with F9 or its context menu.")
        elif self.preview_fn is not None:
            self.preview.setText(self.preview_fn(node, text))


class VariablesPanel(QWidget):
    """The paused thread's variables, editable as JSON values while paused."""

    variable_edited = Signal(str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Variable", "Value (JSON)"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.note)
        layout.addWidget(self.table)
        self._filling = False
        self.table.itemChanged.connect(self._item_changed)
        self.set_variables(None)

    def set_variables(self, variables: dict[str, Any] | None) -> None:
        self._filling = True
        self.table.setRowCount(0)
        editable = variables is not None
        self.note.setText("Double-click a value to change it; the run goes on with it (recorded)." if editable else "Variables show while a run is paused.")
        for r, (key, value) in enumerate((variables or {}).items()):
            self.table.insertRow(r)
            k = QTableWidgetItem(key)
            k.setFlags(k.flags() & ~Qt.ItemFlag.ItemIsEditable)
            v = QTableWidgetItem(json.dumps(value, ensure_ascii=False))
            if not editable:
                v.setFlags(v.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(r, 0, k)
            self.table.setItem(r, 1, v)
        self._filling = False

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 1:
            return
        key_item = self.table.item(item.row(), 0)
        assert key_item is not None, "every row has its key cell"
        key = key_item.text()
        value, err = parse_json(item.text())
        if err is not None:
            self.note.setText(f"<span style='color:#dc2626'>{key}: not valid JSON — {err}</span>")
            return
        self.note.setText(f"{key} will be {json.dumps(value, ensure_ascii=False)[:80]} when the run goes on.")
        self.variable_edited.emit(key, value)


class CallStackPanel(QWidget):
    """Where a paused run stands: innermost thread first (thread, node, loop index)."""

    node_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        self.list.itemActivated.connect(lambda item: self.node_activated.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.set_paused(None, {})

    def set_paused(self, paused_at: dict[str, Any] | None, names: dict[str, str]) -> None:
        self.list.clear()
        if not paused_at:
            self.list.addItem("Not paused.")
            return
        for frame in paused_at.get("stack") or [{"thread_id": paused_at.get("thread_id", "main"), "node_id": paused_at["node_id"], "loop": None}]:
            node = frame.get("node_id") or ""
            text = f"{frame.get('thread_id')} · {names.get(node, node)}"
            loop = frame.get("loop")
            if loop:
                text += f" · {names.get(loop['node_id'], loop['node_id'])} [{loop['index'] + 1}/{loop.get('count', '?')}]"
            self.list.addItem(text)
            self.list.item(self.list.count() - 1).setData(Qt.ItemDataRole.UserRole, node)
        self.list.item(0).setText(self.list.item(0).text() + f"  ← {paused_at.get('reason')}")
