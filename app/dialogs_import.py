"""File → Import n8n workflow… (and an n8n export dropped on the window).

The import runs `engine.n8n.import_file`, opens the result as a new unsaved
document, and shows a non-modal summary: unsupported placeholders first, then
expressions left untranslated, then what was mapped and translated. Clicking an
entry selects its node on the canvas, so the summary doubles as a to-do list
while the user fixes the workflow.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPlainTextEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.document.document import WorkflowDocument
from engine.errors import WorkflowInvalid
from engine.n8n import ImportSummary, import_file, is_n8n_file

if TYPE_CHECKING:
    from app.main_window import MainWindow

__all__ = ["ImportSummaryDialog", "choose_and_import", "import_n8n", "is_n8n_file", "placeholder_view"]

log = logging.getLogger(__name__)
NODE_ID = Qt.ItemDataRole.UserRole
N8N_FILTER = "n8n workflows (*.json);;All files (*)"


class ImportSummaryDialog(QDialog):
    """What an import mapped, translated and left unsupported; an entry's click selects its node."""

    node_activated = Signal(str)
    save_requested = Signal()

    def __init__(self, summary: ImportSummary, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = summary
        self.setWindowTitle("n8n import")
        self.setObjectName("n8nImportSummary")
        self.resize(640, 460)
        layout = QVBoxLayout(self)
        self.header = QLabel(self._headline(name))
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.header)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Node", "What happened"])
        self.tree.setColumnWidth(0, 220)
        self.tree.setRootIsDecorated(True)
        layout.addWidget(self.tree, 1)
        self._fill()
        text = "Click an entry to select its node on the canvas."
        if summary.unsupported:
            text += " Placeholders keep their n8n settings (read-only in the inspector); the workflow runs once each is replaced or removed."
        hint = QLabel(text)
        hint.setWordWrap(True)
        hint.setObjectName("fieldHelp")
        layout.addWidget(hint)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.save_button = buttons.addButton("Save As…", QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button.clicked.connect(self.save_requested)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self.tree.itemClicked.connect(self._clicked)
        self.tree.itemActivated.connect(self._clicked)

    def _headline(self, name: str) -> str:
        s = self.summary
        parts = [f"{len(s.mapped)} of {len(s.nodes)} nodes mapped"]
        if s.unsupported:
            parts.append(f"<span style='color:#d97706'><b>{len(s.unsupported)} unsupported</b></span>")
        parts.append(f"{len(s.translated)} of {len(s.expressions)} expressions translated")
        parts.append(f"{s.connections} connections, {s.notes} sticky notes")
        return f"<b>Imported “{_esc(name)}” from n8n</b><br>" + " · ".join(parts)

    def _fill(self) -> None:
        s = self.summary
        sections: list[tuple[str, list[tuple[str, str, str]]]] = [
            ("Unsupported", [(n.name, f"{n.n8n_type} v{n.type_version}: {'; '.join(n.notes)}", n.node_id) for n in s.unsupported]),
            ("Expressions not translated", [(s.node_name(e.node_id), f"{e.field}: {e.reason}", e.node_id) for e in s.untranslated]),
            ("Mapped", [(n.name, f"{n.n8n_type} v{n.type_version} → {n.type}" + (f" ({'; '.join(n.notes)})" if n.notes else ""), n.node_id)
                        for n in s.mapped]),
            ("Expressions translated", [(s.node_name(e.node_id), f"{e.field}: {e.translated}", e.node_id) for e in s.translated]),
        ]  # fmt: skip
        for title, rows in sections:
            if not rows:
                continue
            top = QTreeWidgetItem([f"{title} ({len(rows)})", ""])
            self.tree.addTopLevelItem(top)
            for name, detail, node_id in rows:
                item = QTreeWidgetItem([name, detail])
                item.setData(0, NODE_ID, node_id)
                item.setToolTip(1, detail)
                top.addChild(item)
            top.setExpanded(title != "Expressions translated")
        if s.dropped_connections:
            top = QTreeWidgetItem([f"Connections not kept ({len(s.dropped_connections)})", ""])
            self.tree.addTopLevelItem(top)
            for text in s.dropped_connections:
                top.addChild(QTreeWidgetItem(["", text]))

    def entries(self, section: str) -> list[QTreeWidgetItem]:
        """The entries under one section title (for tests and automation)."""
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            if top is not None and top.text(0).startswith(section + " ("):
                return [c for j in range(top.childCount()) if (c := top.child(j)) is not None]
        return []

    def _clicked(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        node_id = item.data(0, NODE_ID)
        if node_id:
            self.node_activated.emit(str(node_id))


def placeholder_view(config: dict[str, Any]) -> QPlainTextEdit:
    """The original settings of an unsupported placeholder, read-only."""
    view = QPlainTextEdit()
    view.setReadOnly(True)
    view.setObjectName("placeholderSettings")
    shown = {k: config.get(k) for k in ("original_type", "type_version", "reason", "credentials", "parameters")}
    view.setPlainText(json.dumps(shown, indent=2, ensure_ascii=False))
    view.setFixedHeight(240)
    return view


def import_n8n(window: MainWindow, path: str | Path) -> ImportSummaryDialog | None:
    """Import `path` as a new unsaved document and show the summary (None if the file was refused)."""
    try:
        wf, summary = import_file(path)
    except WorkflowInvalid as exc:
        window.report_invalid(path, exc)
        return None
    window.autosaver.discard()
    window.set_document(WorkflowDocument(wf, parent=window))
    dialog = ImportSummaryDialog(summary, wf.name, window)
    dialog.node_activated.connect(window.reveal_node)
    dialog.save_requested.connect(window.save_as)
    window.import_summary = dialog  # kept while it is open (non-modal)
    window.dialogs.about_to_show.emit(dialog)
    dialog.show()
    window.statusBar().showMessage(f"Imported {path}: {len(summary.mapped)} nodes mapped, {len(summary.unsupported)} unsupported", 6000)
    log.info("imported n8n workflow", extra={"file": str(path), "nodes": len(summary.nodes), "unsupported": len(summary.unsupported)})
    return dialog


def choose_and_import(window: MainWindow) -> ImportSummaryDialog | None:
    """File → Import n8n workflow…: ask for the export, then import it."""
    if not window.maybe_save():
        return None
    start = str(window.document.path.parent) if window.document.path else str(Path.cwd())
    dialog = QFileDialog(window, "Import n8n workflow", start, N8N_FILTER)
    dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
    window.dialogs.about_to_show.emit(dialog)
    if not dialog.exec() or not dialog.selectedFiles():
        return None
    return import_n8n(window, dialog.selectedFiles()[0])


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
