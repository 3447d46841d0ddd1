"""Every modal dialog the main window opens goes through one `Dialogs` object.

The dialogs are real Qt dialogs; `about_to_show` is emitted with each one just
before it runs, so a test (or an automation script) can inspect it and answer
it — e.g. `QTimer.singleShot(0, box.accept)` — without replacing any code.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

FILE_FILTER = "ProcessEngine workflows (*.pe.json);;JSON files (*.json);;All files (*)"
MAX_LISTED = 25


class Dialogs(QObject):
    about_to_show = Signal(object)  # the QMessageBox or QFileDialog about to run
    shown = Signal(str, str)  # title, text (for logs and tests)

    def _run(self, dialog: QMessageBox | QFileDialog) -> int:
        self.about_to_show.emit(dialog)
        if isinstance(dialog, QMessageBox):
            self.shown.emit(dialog.windowTitle(), dialog.text())
        return dialog.exec()

    def error(self, parent: QWidget | None, title: str, text: str, problems: list[str] | None = None) -> None:
        """An error message; `problems` are listed (the first MAX_LISTED) under the text."""
        box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok, parent)
        if problems:
            shown = problems[:MAX_LISTED]
            more = len(problems) - len(shown)
            listing = "\n".join(f"• {p}" for p in shown)
            if more:
                listing += f"\n… and {more} more"
            box.setInformativeText(listing)
            box.setDetailedText("\n".join(problems))
        self._run(box)

    def question(
        self,
        parent: QWidget | None,
        title: str,
        text: str,
        buttons: QMessageBox.StandardButton,
        default: QMessageBox.StandardButton,
        informative: str = "",
    ) -> QMessageBox.StandardButton:
        box = QMessageBox(QMessageBox.Icon.Question, title, text, buttons, parent)
        box.setDefaultButton(default)
        if informative:
            box.setInformativeText(informative)
        self._run(box)
        return box.standardButton(box.clickedButton()) if box.clickedButton() else QMessageBox.StandardButton.Cancel

    def information(self, parent: QWidget | None, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok, parent)
        self._run(box)

    def open_file(self, parent: QWidget | None, directory: str = "") -> str | None:
        dialog = QFileDialog(parent, "Open workflow", directory, FILE_FILTER)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        if self._run(dialog) and dialog.selectedFiles():
            return dialog.selectedFiles()[0]
        return None

    def save_file(self, parent: QWidget | None, suggested: str) -> str | None:
        dialog = QFileDialog(parent, "Save workflow", suggested, FILE_FILTER)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("pe.json")
        if self._run(dialog) and dialog.selectedFiles():
            path = dialog.selectedFiles()[0]
            if not path.endswith(".json"):
                path += ".pe.json"
            return path
        return None
