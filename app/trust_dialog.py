"""Asks the user to trust a workflow whose code runs outside a sandbox, once per file.

Python code nodes and `execute_command` nodes run as the user. Before the first run
of such a workflow the app shows `TrustDialog` listing those nodes; "Trust and run"
is remembered in the app settings for the file path and the hash of the workflow's
canonical text (`engine.trust.fingerprint`), so any change to the workflow asks
again. The dialog is opened without a nested event loop (`ask_trust` awaits it), so
the engine and the canvas keep running while it is up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import settings
from engine import trust
from engine.model import Node, Workflow

TRUSTED_KEY = "trust/workflows"  # list of "<sha256> <absolute path>"
MAX_REMEMBERED = 200


def _entry(path: str, digest: str) -> str:
    return f"{digest} {path}"


def remembered() -> list[str]:
    return settings.string_list(settings.settings().value(TRUSTED_KEY, []))


def is_trusted(workflow: Workflow, path: str | None) -> bool:
    """True if the workflow needs no trust, or the user trusted this exact file content."""
    if not trust.needs_trust(workflow):
        return True
    where, digest = trust.fingerprint(workflow, path)
    return _entry(where, digest) in remembered()


def remember(workflow: Workflow, path: str | None) -> None:
    where, digest = trust.fingerprint(workflow, path)
    entry = _entry(where, digest)
    # one entry per path: trusting a new version forgets the old one
    kept = [e for e in remembered() if e.split(" ", 1)[-1] != where or not where]
    settings.set_value(TRUSTED_KEY, [entry, *[e for e in kept if e != entry]][:MAX_REMEMBERED])


def _describe(node: Node) -> str:
    if node.type == "execute_command":
        command = node.config.get("command") if isinstance(node.config, dict) else None
        shown = " ".join(map(str, command)) if isinstance(command, list) else "a command"
        return f"{node.name} — runs: {shown}"
    return f"{node.name} — runs Python code"


class TrustDialog(QDialog):
    """Lists the unsandboxed nodes; Accepted means "trust and run"."""

    def __init__(self, workflow: Workflow, path: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trustDialog")
        self.setWindowTitle("Trust this workflow?")
        self.setModal(True)
        self.nodes = trust.needs_trust(workflow)
        layout = QVBoxLayout(self)
        title = QLabel(f"<b>{workflow.name}</b> runs code on this computer outside the sandbox")
        title.setTextFormat(Qt.TextFormat.RichText)
        title.setWordWrap(True)
        layout.addWidget(title)
        text = QLabel(
            "These nodes run with your own rights: they can read and change your files, "
            "use the network and start programs. Run them only if you trust where this "
            "workflow comes from."
        )
        text.setWordWrap(True)
        layout.addWidget(text)
        self.listing = QListWidget()
        self.listing.addItems([_describe(n) for n in self.nodes])
        self.listing.setMaximumHeight(22 * min(8, len(self.nodes)) + 8)
        layout.addWidget(self.listing)
        where = QLabel(f"File: {path}" if path else "This workflow is not saved: you will be asked again.")
        where.setObjectName("fieldHelp")
        where.setWordWrap(True)
        layout.addWidget(where)
        self.buttons = QDialogButtonBox()
        self.trust_button = QPushButton("Trust and run")
        self.buttons.addButton(self.trust_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.trust_button.setAutoDefault(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.resize(480, self.sizeHint().height())

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.cancel_button.setDefault(True)  # Enter does not trust by accident
        self.cancel_button.setFocus()


# for tests and automation: called with each dialog just before it opens
on_dialog: list[Callable[[TrustDialog], None]] = []


async def ask_trust(workflow: Workflow, path: str | None, parent: QWidget | None = None) -> bool:
    """Whether this run may go on: already trusted, or the user says so now (remembered)."""
    if is_trusted(workflow, path):
        return True
    dialog = TrustDialog(workflow, path, parent)
    answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def settle(result: int) -> None:
        if not answer.done():
            answer.set_result(result == QDialog.DialogCode.Accepted.value)

    dialog.finished.connect(settle)
    for hook in list(on_dialog):
        hook(dialog)
    dialog.open()
    try:
        accepted = await answer
    finally:
        dialog.deleteLater()
    if accepted and path:
        remember(workflow, path)
    return accepted
