"""The Credentials dialog: list, add, edit, delete and test named credentials.

It writes the OS keyring through `engine.credentials` (the same store the CLI's
`processengine credentials` uses), so a workflow only ever holds a credential's name.
Secrets are typed into password fields, never shown back: editing leaves a secret
unchanged unless a new one is typed. Credentials defined in the environment
(`PROCESSENGINE_CRED_*`) are listed read-only. "Test" runs off the GUI thread: it
resolves the credential and, for `sql`, connects and runs `SELECT 1` read-only; for
the HTTP kinds it shows what a request would carry, with the secret masked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.dialogs import Dialogs
from engine import credentials as creds

KIND_HELP = {
    "basic": "User name and password, sent as HTTP Basic auth (or an SMTP login).",
    "bearer": "A token, sent as 'Authorization: Bearer <token>'.",
    "header": "One HTTP header carrying a secret, e.g. X-Api-Key.",
    "query": "One query parameter carrying a secret, e.g. ?api_key=…",
    "smtp": "User name and password to log in to an SMTP server.",
    "sql": "A database URL (SQLAlchemy), password included, for the SQL query node.",
}
PUBLIC_LABELS = {"username": "User name", "name": "Header name"}
SECRET_LABELS = {"password": "Password", "token": "Token", "value": "Value", "url": "Database URL"}


def masked(secret: str) -> str:
    """A secret as the dialog shows it: dots and its length, nothing of its text."""
    return f"•••••• ({len(secret)} characters)"


def describe_use(cred: dict[str, str]) -> str:
    """What a node would send with this credential, the secret masked (for "Test")."""
    kind = cred["kind"]
    if kind == "basic":
        return f"Authorization: Basic {masked(cred['password'])} — user {cred['username']!r}"
    if kind == "bearer":
        return f"Authorization: Bearer {masked(cred['token'])}"
    if kind == "header":
        return f"{cred['name']}: {masked(cred['value'])}"
    if kind == "query":
        return f"?{cred['name']}={masked(cred['value'])}"
    if kind == "smtp":
        return f"SMTP login as {cred['username']!r}, password {masked(cred['password'])}"
    return "database URL " + masked(cred["url"])


def check_credential(name: str) -> str:
    """Resolve `name` and, for sql, connect; a one-line report without the secret. Blocking."""
    cred = creds.resolve_credential(name)
    if cred["kind"] != "sql":
        return "Resolved. A request would carry: " + describe_use(cred)
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from engine.nodes.sql_query import safe_target

    url = make_url(cred["url"])
    started = time.perf_counter()
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar()
            conn.rollback()
    finally:
        engine.dispose()
    return f"Connected to {safe_target(url)} in {(time.perf_counter() - started) * 1000:.0f} ms"


def _details(info: creds.CredentialInfo) -> str:
    """The public fields of a listed credential, in words (never the secret)."""
    words = {"username": "user", "name": "query parameter" if info.kind == "query" else "header"}
    return ", ".join(f"{words.get(k, k)} {v}" for k, v in info.public.items() if v)


class _TestRunner(QObject):
    """Runs a test on a worker thread; `finished(name, ok, message)` arrives on the GUI thread."""

    finished = Signal(str, bool, str)

    def start(self, name: str) -> None:
        threading.Thread(target=self._run, args=(name,), daemon=True, name="credential-test").start()

    def _run(self, name: str) -> None:
        try:
            self.finished.emit(name, True, check_credential(name))
        except Exception as exc:  # every failure becomes a message, never a traceback
            text = getattr(exc, "message", None) or str(exc).split("\n", 1)[0]
            self.finished.emit(name, False, _scrub(text, name))


def _scrub(text: str, name: str) -> str:
    """A driver message with any secret of credential `name` cut out (belt and braces)."""
    try:
        cred = creds.resolve_credential(name)
    except Exception:
        return text
    secret = cred.get(creds.secret_field(cred["kind"]), "")
    return text.replace(secret, "••••••") if secret else text


class CredentialEditor(QDialog):
    """Add or edit one credential; on accept `values()` holds what to save."""

    def __init__(self, parent: QWidget | None = None, *, name: str = "", cred: dict[str, str] | None = None) -> None:
        super().__init__(parent)
        self.editing = cred is not None
        self.setWindowTitle("Edit credential" if self.editing else "Add credential")
        self.name = QLineEdit(name)
        self.name.setPlaceholderText("e.g. github, crm-api, warehouse-db")
        self.name.setReadOnly(self.editing)
        self.kind = QComboBox()
        self.kind.addItems(list(creds.KINDS))
        self.help = QLabel()
        self.help.setWordWrap(True)
        self.public = QLineEdit()
        self.public_label = QLabel()
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret_label = QLabel()
        self.error = QLabel()
        self.error.setStyleSheet("color: #dc2626")
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Kind", self.kind)
        form.addRow("", self.help)
        form.addRow(self.public_label, self.public)
        form.addRow(self.secret_label, self.secret)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.kind.currentTextChanged.connect(self._kind_changed)
        if cred is not None:
            self.kind.setCurrentText(cred["kind"])
            self.public.setText(next(iter(creds.public_fields(cred).values()), ""))
        self._kind_changed(self.kind.currentText())
        self.setMinimumWidth(440)

    def _kind_changed(self, kind: str) -> None:
        public, secret = creds.KINDS[kind]
        self.help.setText(KIND_HELP[kind])
        field = public[0] if public else None
        label = PUBLIC_LABELS.get(field or "", "")
        if kind == "query":
            label = "Parameter name"
        self.public_label.setText(label)
        self.public_label.setVisible(field is not None)
        self.public.setVisible(field is not None)
        self.secret_label.setText(SECRET_LABELS[secret])
        self.secret.setPlaceholderText("unchanged — type to replace" if self.editing else "")

    def values(self) -> tuple[str, dict[str, str]]:
        """(name, credential) as typed; an empty secret while editing means "keep the old one"."""
        kind = self.kind.currentText()
        public, secret = creds.KINDS[kind]
        data = {"kind": kind, secret: self.secret.text()}
        for field in public:
            data[field] = self.public.text().strip()
        return self.name.text().strip(), data

    def _accept(self) -> None:
        name, data = self.values()
        _, secret = creds.KINDS[data["kind"]]
        if self.editing and not data[secret]:
            try:
                old = creds.resolve_credential(name)
            except creds.CredentialNotFound:
                old = {}
            data[secret] = old.get(secret, "")
        try:
            creds.validate(data, f"credential {name!r}")
            if not name:
                raise creds.CredentialInvalid("the name is empty")
        except creds.CredentialInvalid as exc:
            self.error.setText(exc.message)
            return
        self._data = (name, data)
        self.accept()

    def result_data(self) -> tuple[str, dict[str, str]]:
        return self._data


class CredentialsDialog(QDialog):
    """The list of credentials with Add, Edit, Delete and Test."""

    tested = Signal(str, bool, str)  # name, ok, message (for tests and the status line)

    def __init__(self, parent: QWidget | None = None, dialogs: Dialogs | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Credentials")
        self.dialogs = dialogs or Dialogs(self)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Name", "Kind", "Stored in", "Details"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.status = QLabel("Secrets are kept in the OS keyring; workflows only name them.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.add_button = QPushButton("Add…")
        self.edit_button = QPushButton("Edit…")
        self.delete_button = QPushButton("Delete")
        self.test_button = QPushButton("Test")
        close = QPushButton("Close")
        row = QHBoxLayout()
        for b in (self.add_button, self.edit_button, self.delete_button, self.test_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.status)
        layout.addLayout(row)
        self.runner = _TestRunner(self)
        self.runner.finished.connect(self._tested)
        self.add_button.clicked.connect(self.add)
        self.edit_button.clicked.connect(self.edit)
        self.delete_button.clicked.connect(self.delete)
        self.test_button.clicked.connect(self.test)
        close.clicked.connect(self.accept)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.edit())
        self.infos: list[creds.CredentialInfo] = []
        # called with each editor just before it runs, like Dialogs.about_to_show (tests, automation)
        self.editor_shown: Callable[[CredentialEditor], None] | None = None
        self.resize(640, 360)
        self.refresh()

    # -- list -------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        try:
            self.infos = creds.list_credentials()
        except Exception as exc:  # no usable keyring backend
            self.infos = []
            self.status.setText(f"The OS keyring cannot be read: {exc}")
        self.table.setRowCount(len(self.infos))
        for r, info in enumerate(self.infos):
            details = _details(info)
            source = "environment (read-only)" if info.source == "env" else "OS keyring"
            for c, text in enumerate((info.name, info.kind, source, details)):
                item = QTableWidgetItem(text)
                if info.source == "env":
                    item.setToolTip("Set by a PROCESSENGINE_CRED_* environment variable; change it there.")
                self.table.setItem(r, c, item)
            if info.name == select:
                self.table.selectRow(r)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self._update_buttons()

    def selected(self) -> creds.CredentialInfo | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        return self.infos[min(rows)] if rows else None

    def select(self, name: str) -> None:
        for r, info in enumerate(self.infos):
            if info.name == name:
                self.table.selectRow(r)

    def _update_buttons(self) -> None:
        info = self.selected()
        self.edit_button.setEnabled(info is not None and info.source == "keyring")
        self.delete_button.setEnabled(info is not None and info.source == "keyring")
        self.test_button.setEnabled(info is not None)

    # -- actions ----------------------------------------------------------------
    def _run_editor(self, editor: CredentialEditor) -> bool:
        if self.editor_shown is not None:
            self.editor_shown(editor)
        return editor.exec() == QDialog.DialogCode.Accepted

    def add(self) -> None:
        editor = CredentialEditor(self)
        if self._run_editor(editor):
            self._save(*editor.result_data())

    def edit(self) -> None:
        info = self.selected()
        if info is None or info.source != "keyring":
            return
        try:
            cred = creds.resolve_credential(info.name)
        except creds.CredentialNotFound as exc:
            self.status.setText(exc.message)
            return
        editor = CredentialEditor(self, name=info.name, cred=cred)
        if self._run_editor(editor):
            self._save(*editor.result_data())

    def _save(self, name: str, data: dict[str, str]) -> None:
        try:
            creds.save_credential(name, data)
        except Exception as exc:
            self.dialogs.error(self, "Credentials", f"The credential could not be saved: {getattr(exc, 'message', exc)}")
            return
        self.status.setText(f"Saved {name!r} ({data['kind']}) in the OS keyring.")
        self.refresh(select=name)

    def delete(self) -> None:
        info = self.selected()
        if info is None or info.source != "keyring":
            return
        answer = self.dialogs.question(
            self, "Delete credential", f"Delete the credential {info.name!r} from the OS keyring?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel,
            "Workflows that name it will fail until it is added again.",
        )  # fmt: skip
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            creds.delete_credential(info.name)
        except Exception as exc:
            self.status.setText(f"Could not delete {info.name!r}: {exc}")
            return
        self.status.setText(f"Deleted {info.name!r}.")
        self.refresh()

    def test(self) -> None:
        info = self.selected()
        if info is None:
            return
        self.test_button.setEnabled(False)
        self.status.setText(f"Testing {info.name!r}…")
        self.runner.start(info.name)

    def _tested(self, name: str, ok: bool, message: str) -> None:
        self.status.setText(("✓ " if ok else "✗ ") + f"{name}: {message}")
        self.status.setStyleSheet("" if ok else "color: #dc2626")
        self._update_buttons()
        self.tested.emit(name, ok, message)
