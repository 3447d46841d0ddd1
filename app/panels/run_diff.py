"""The run comparison window: two runs of a workflow, node by node.

It shows `engine.rundiff.diff_executions(...)`: where the runs first went apart, one row
per node (status, branch, attempts, duration, output) with the differing ones first and
tinted, and for the selected node both outputs side by side with the list of changed
paths. `mark_canvas` tints the canvas: differing nodes amber with what differs as their
badge, the rest grey. Clicking a row selects the node on the canvas (`node_selected`).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.panels.data_inspector import JsonView
from app.runner.canvas_state import format_ms
from engine.model import Workflow

COLUMNS = ("Node", "Status", "Branch", "Attempts", "Duration", "Output")
CHANGE_COLUMNS = ("Path", "Change", "Left", "Right")
DIFF_TINT = "#fef3c7"
NODE_ROLE = Qt.ItemDataRole.UserRole


def _pair(left: Any, right: Any, fmt: Any = str) -> str:
    a, b = fmt(left), fmt(right)
    return a if a == b else f"{a} → {b}"


def _ports(ports: list[str] | None) -> str:
    return ", ".join(ports) if ports else "—"


def _short(value: Any, limit: int = 60) -> str:
    text = "" if value is None else (value if isinstance(value, str) else repr(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def differences(d: dict[str, Any]) -> list[str]:
    """What differs for one node, in words ("status", "branch", "output")."""
    what = []
    if not d["status_equal"]:
        what.append("status")
    if not d["port_equal"]:
        what.append("branch")
    if not d["output_equal"]:
        what.append("output")
    return what


class RunDiffDialog(QDialog):
    """A non-modal window comparing two runs."""

    node_selected = Signal(str)

    def __init__(self, result: dict[str, Any], workflow: Workflow, numbers: dict[str, int | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.diff = result
        self.workflow = workflow
        self.setModal(False)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        left_n, right_n = numbers.get(result["left"]), numbers.get(result["right"])
        self.left_title = f"run #{left_n}" if left_n else result["left"][:8]
        self.right_title = f"run #{right_n}" if right_n else result["right"][:8]
        self.setWindowTitle(f"Compare {self.left_title} with {self.right_title}")
        self.summary = QLabel(self._summary_text())
        self.summary.setWordWrap(True)
        self.table = self._node_table()
        self.left_view, self.right_view = JsonView(), JsonView()
        self.changes = QTableWidget(0, len(CHANGE_COLUMNS))
        self.changes.setHorizontalHeaderLabels(CHANGE_COLUMNS)
        self.changes.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.changes.verticalHeader().hide()
        self.changes.horizontalHeader().setStretchLastSection(True)
        sides = QSplitter(Qt.Orientation.Horizontal)
        for title, view in ((self.left_title, self.left_view), (self.right_title, self.right_view)):
            box = QWidget()
            v = QVBoxLayout(box)
            v.setContentsMargins(0, 0, 0, 0)
            v.addWidget(QLabel(f"Output in {title}"))
            v.addWidget(view)
            sides.addWidget(box)
        lower = QSplitter(Qt.Orientation.Vertical)
        lower.addWidget(sides)
        lower.addWidget(self.changes)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(lower)
        split.setSizes([220, 320])
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        layout.addLayout(row)
        self.table.currentCellChanged.connect(lambda r, _c, _pr, _pc: self._show_node(r))
        self.resize(880, 620)
        self._select_first()

    # -- building -----------------------------------------------------------------------
    def _summary_text(self) -> str:
        first = self.diff["first_divergence"]
        if first is None and not self.diff["differing"]:
            return "The two runs took the same steps with the same results."
        n = len(self.diff["differing"])
        parts = [f"{n} node{'s' if n != 1 else ''} differ."]
        if first is not None:
            name = self._name(first["node_id"])
            what = {"node": "ran a different node", "status": "ended differently", "output": "produced a different output",
                    "branch": "took a different branch", "steps": "one run has more steps"}[first["reason"]]
            parts.insert(0, f"First divergence at step {first['index'] + 1}: {name} {what}.")
        return " ".join(parts)

    def _name(self, node_id: str) -> str:
        node = self.workflow.get(node_id)
        return node.name if node is not None else node_id

    def _node_table(self) -> QTableWidget:
        nodes = self.diff["nodes"]
        order = list(self.diff["differing"]) + [n for n in nodes if n not in self.diff["differing"]]
        table = QTableWidget(len(order), len(COLUMNS))
        table.setHorizontalHeaderLabels(COLUMNS)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        table.verticalHeader().hide()
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        for r, node_id in enumerate(order):
            d = nodes[node_id]
            lf, rf = d["left"], d["right"]
            cells = [
                self._name(node_id),
                _pair(lf["status"] or "not run", rf["status"] or "not run"),
                _pair(lf["port"], rf["port"], _ports),
                _pair(lf["attempts"], rf["attempts"]),
                _pair(lf["duration_ms"], rf["duration_ms"], lambda ms: format_ms(ms) or "—"),
                "same" if d["output_equal"] else f"{len(d['output_diff'])} change{'s' if len(d['output_diff']) != 1 else ''}",
            ]
            differs = node_id in self.diff["differing"]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(NODE_ROLE, node_id)
                if differs:
                    item.setBackground(QColor(DIFF_TINT))
                table.setItem(r, c, item)
        return table

    # -- showing ------------------------------------------------------------------------
    def _select_first(self) -> None:
        if self.table.rowCount():
            self.table.setCurrentCell(0, 0)

    def selected_node(self) -> str | None:
        item = self.table.item(self.table.currentRow(), 0)
        return None if item is None else str(item.data(NODE_ROLE))

    def _show_node(self, row: int) -> None:
        item = self.table.item(row, 0)
        if item is None:
            return
        node_id = str(item.data(NODE_ROLE))
        d = self.diff["nodes"][node_id]
        self.left_view.set_value(d.get("left_output"), present="left_output" in d)
        self.right_view.set_value(d.get("right_output"), present="right_output" in d)
        changes = d["output_diff"]
        self.changes.setRowCount(len(changes))
        for r, ch in enumerate(changes):
            for c, text in enumerate((ch["path"], ch["kind"], _short(ch["left"]), _short(ch["right"]))):
                self.changes.setItem(r, c, QTableWidgetItem(text))
        self.node_selected.emit(node_id)

    def mark_canvas(self, scene: Any) -> None:
        """Tint the canvas: differing nodes amber with what differs, the rest grey."""
        for node_id, d in self.diff["nodes"].items():
            item = scene.node_item(node_id)
            if item is None:
                continue
            what = differences(d)
            if what:
                item.set_run_state("retrying", "≠ " + ", ".join(what), f"differs between {self.left_title} and {self.right_title}: {', '.join(what)}")
            else:
                item.set_run_state("skipped", None, f"the same in {self.left_title} and {self.right_title}")
