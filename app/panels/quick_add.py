"""Quick-add: a small search popup (Tab or double-click on the canvas) that adds a node there."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.icons import node_icon
from app.panels.node_types import grouped_specs, score
from app.theme import category_color
from engine.model import Node

TYPE_ROLE = Qt.ItemDataRole.UserRole


class QuickAddPopup(QFrame):
    chosen = Signal(str)  # node type

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("quickAdd")
        self.setFixedWidth(300)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Add a node…")
        self.list = QListWidget()
        self.list.setMinimumHeight(260)
        self.hint = QLabel("↑↓ choose · Enter add · Esc close")
        self.hint.setObjectName("fieldHelp")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        layout.addWidget(self.hint)
        for _category, specs in grouped_specs():
            for spec in specs:
                item = QListWidgetItem(node_icon(spec.icon, spec.type, category_color(spec.category)), f"{spec.title}")
                item.setData(TYPE_ROLE, spec.type)
                item.setToolTip(spec.description)
                self.list.addItem(item)
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self.accept_current)
        self.list.itemActivated.connect(lambda _item: self.accept_current())
        self.list.itemClicked.connect(lambda _item: self.accept_current())
        self.search.installEventFilter(self)
        self.link: str | None = None

    def popup(self, global_pos: QPoint, link: str | None = None) -> None:
        """Open at `global_pos`. `link` is "input" when the new node must take a connection
        dropped from an output port (triggers have no input: not offered), "output" when it
        must feed an input port (only types with an output are offered)."""
        self.link = link
        self.search.clear()
        self.filter("")
        self.move(global_pos)
        self.show()
        self.search.setFocus()

    def offered(self, node_type: str) -> bool:
        """Can a node of this type take the link being made (always, without a link)?"""
        if self.link is None:
            return True
        from engine.nodes.registry import get_spec

        spec = get_spec(node_type)
        node = Node(id="", type=node_type, name="")
        return bool(spec.input_ports(node) if self.link == "input" else spec.output_ports(node))

    def filter(self, text: str) -> None:
        from engine.nodes.registry import get_spec

        best, best_score = None, 99
        for i in range(self.list.count()):
            item = self.list.item(i)
            s = score(get_spec(item.data(TYPE_ROLE)), text) if self.offered(item.data(TYPE_ROLE)) else None
            item.setHidden(s is None)
            if s is not None and s < best_score:
                best, best_score = item, s
        self.list.setCurrentItem(best)  # type: ignore[arg-type]  # PySide6 stub: None (clears) is accepted

    def accept_current(self) -> None:
        item = self.list.currentItem()
        if item is not None and not item.isHidden():
            node_type = item.data(TYPE_ROLE)
            self.hide()
            self.chosen.emit(node_type)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.search and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
                visible = [self.list.item(i) for i in range(self.list.count()) if not self.list.item(i).isHidden()]
                if visible:
                    cur = self.list.currentItem()
                    idx = visible.index(cur) if cur in visible else -1
                    idx = (idx + (1 if key == Qt.Key.Key_Down else -1)) % len(visible)
                    self.list.setCurrentItem(visible[idx])
                return True
        return super().eventFilter(obj, event)
