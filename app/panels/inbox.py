"""The Inbox dock: the email a run captured instead of sending ("Capture email").

A list of the captured messages (node, recipients, subject) and the selected one
rendered as a mail client shows it: From / To / Cc / Bcc / Subject / Date, then the
plain-text body. The panel only shows what it is given (`inbox --json` shape); the
runner reads the store.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Node", "To", "Subject")
HEADERS = (("From", "from"), ("To", "to"), ("Cc", "cc"), ("Bcc", "bcc"), ("Subject", "subject"), ("Date", "date"))


def _field(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value or "")


class InboxPanel(QWidget):
    """Captured messages of one run and a reader for the selected one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.messages: list[dict[str, Any]] = []
        self.names: dict[str, str] = {}
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 90)
        self.table.setColumnWidth(1, 150)
        self.reader = QTextBrowser()
        self.reader.setOpenLinks(False)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.reader)
        split.setSizes([380, 380])
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(split, 1)
        self.table.itemSelectionChanged.connect(self._selected)
        self.clear()

    def clear(self, message: str = "Turn on “Capture email” and run: emails land here instead of being sent.") -> None:
        self.messages = []
        self.table.setRowCount(0)
        self.reader.clear()
        self.title.setText(message)

    def set_messages(self, messages: list[dict[str, Any]], names: dict[str, str] | None = None) -> None:
        """Show a run's captured messages (the first one selected)."""
        self.messages = list(messages)
        self.names = names or {}
        n = len(self.messages)
        self.title.setText(f"{n} captured message{'s' if n != 1 else ''} — nothing was sent" if n else "This run captured no email.")
        self.table.setRowCount(n)
        for r, m in enumerate(self.messages):
            cells = (self.names.get(m["node_id"], m["node_id"]), _field(m.get("to")), m.get("subject") or "(no subject)")
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.reader.clear()
        if n:
            self.table.selectRow(0)

    def _selected(self) -> None:
        rows = {i.row() for i in self.table.selectedItems()}
        if not rows:
            self.reader.clear()
            return
        self.reader.setHtml(render_message(self.messages[min(rows)]))


def render_message(m: dict[str, Any]) -> str:
    """A message as HTML: its header lines, then the text body as written."""
    lines = [
        f"<tr><td style='color:#6b7280;padding-right:8px'>{label}</td><td>{html.escape(_field(m.get(key)))}</td></tr>"
        for label, key in HEADERS
        if m.get(key)
    ]
    body = html.escape(m.get("text") or "")
    return (
        f"<table>{''.join(lines)}</table><hr>"
        f"<pre style='white-space:pre-wrap;font-family:sans-serif'>{body}</pre>"
    )
