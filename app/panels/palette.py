"""The palette: node types by category, searchable; drag one onto the canvas to add it."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QIcon, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.canvas.view import PALETTE_MIME
from app.icons import node_icon, ui_icon
from app.panels.node_types import grouped_specs, matches, score
from app.theme import Theme, category_color

TYPE_ROLE = Qt.ItemDataRole.UserRole


class _Tree(QTreeWidget):
    def mimeTypes(self) -> list[str]:
        return [PALETTE_MIME]

    def mimeData(self, items: Sequence[QTreeWidgetItem]) -> QMimeData:
        mime = QMimeData()
        types = [i.data(0, TYPE_ROLE) for i in items if i.data(0, TYPE_ROLE)]
        if types:
            mime.setData(PALETTE_MIME, types[0].encode("utf-8"))
        return mime


def _children(header: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    rows = (header.child(j) for j in range(header.childCount()))
    return [r for r in rows if r is not None]


class Palette(QWidget):
    add_requested = Signal(str)  # node type (double-click / Enter)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search nodes…")
        self.search.setClearButtonEnabled(True)
        self._search_action = self.search.addAction(QIcon(), QLineEdit.ActionPosition.LeadingPosition)
        self.tree = _Tree()
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(8)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._add_first_visible)
        self.tree.itemActivated.connect(self._activated)
        self.populate()

    def populate(self) -> None:
        self.tree.clear()
        bold = self.font()
        bold.setBold(True)
        for category, specs in grouped_specs():
            header = QTreeWidgetItem([category.upper()])
            header.setFlags(Qt.ItemFlag.ItemIsEnabled)
            header.setFont(0, bold)
            header.setForeground(0, category_color(category))
            self.tree.addTopLevelItem(header)
            for spec in specs:
                item = QTreeWidgetItem([spec.title])
                item.setData(0, TYPE_ROLE, spec.type)
                item.setToolTip(0, f"<b>{spec.title}</b><br>{spec.description}")
                item.setIcon(0, node_icon(spec.icon, spec.type, category_color(category)))
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
                header.addChild(item)
            header.setExpanded(True)
        self.filter(self.search.text())

    def apply_theme(self, theme: Theme) -> None:
        self._search_action.setIcon(ui_icon("search", theme.muted))

    def _headers(self) -> list[QTreeWidgetItem]:
        """The category rows (Qt types each lookup as possibly None; in range it never is)."""
        rows = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [r for r in rows if r is not None]

    def type_items(self) -> list[QTreeWidgetItem]:
        return [child for header in self._headers() for child in _children(header)]

    def item_for(self, node_type: str) -> QTreeWidgetItem | None:
        return next((i for i in self.type_items() if i.data(0, TYPE_ROLE) == node_type), None)

    def filter(self, text: str) -> None:
        from engine.nodes.registry import get_spec

        for header in self._headers():
            shown = 0
            for child in _children(header):
                visible = matches(get_spec(child.data(0, TYPE_ROLE)), text)
                child.setHidden(not visible)
                shown += visible
            header.setHidden(shown == 0)

    def visible_types(self) -> list[str]:
        return [i.data(0, TYPE_ROLE) for i in self.type_items() if not i.isHidden()]

    def _add_first_visible(self) -> None:
        """Enter in the search box adds the best match."""
        from engine.nodes.registry import get_spec

        types = self.visible_types()
        if types:
            query = self.search.text()
            self.add_requested.emit(min(types, key=lambda t: score(get_spec(t), query) or 0))

    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        node_type = item.data(0, TYPE_ROLE)
        if node_type:
            self.add_requested.emit(node_type)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.search.clear()
        super().keyPressEvent(event)

