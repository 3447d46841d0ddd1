"""The problems dock: what validation found; activating one selects its node."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from app.icons import ui_icon
from app.theme import LIGHT, Theme
from engine.errors import Problem
from engine.model import Workflow

NODE_ROLE = Qt.ItemDataRole.UserRole


class ProblemsPanel(QWidget):
    problem_activated = Signal(str)  # node id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel()
        self.summary.setObjectName("fieldHelp")
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Node", "Field", "Problem"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setColumnWidth(0, 160)
        self.tree.setColumnWidth(1, 140)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 8)
        layout.setSpacing(4)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree)
        self.tree.itemActivated.connect(self._activated)
        self.tree.itemClicked.connect(self._activated)
        self.theme: Theme = LIGHT
        self.problems: list[Problem] = []
        self.set_problems([], None)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme

    def set_problems(self, problems: list[Problem], workflow: Workflow | None) -> None:
        self.problems = list(problems)
        self.tree.clear()
        icon = ui_icon("error", self.theme.error)
        warning_icon = ui_icon("error", self.theme.warning)  # e.g. an unreachable node: the run skips it
        items = []
        for p in problems:
            node = workflow.get(p.node_id) if (workflow is not None and p.node_id) else None
            name = node.name if node is not None else (p.node_id or "workflow")
            item = QTreeWidgetItem([name, p.field or "", p.message])
            item.setIcon(0, icon if p.is_error else warning_icon)
            item.setToolTip(2, p.message)
            item.setData(0, NODE_ROLE, p.node_id if node is not None else None)
            items.append(item)
        self.tree.addTopLevelItems(items)
        errors = sum(1 for p in problems if p.is_error)
        if errors:
            self.summary.setText(f"{errors} problem{'s' if errors != 1 else ''} — the workflow cannot run until they are fixed")
        elif problems:
            self.summary.setText(f"{len(problems)} warning{'s' if len(problems) != 1 else ''} — the workflow can run")
        else:
            self.summary.setText("No problems: the workflow can run.")

    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        node_id = item.data(0, NODE_ROLE)
        if node_id:
            self.problem_activated.emit(node_id)
