"""Settings → Team store: run against a shared PostgreSQL store (the one queue workers use).

The URL, without its password, is kept in the settings file; the password goes
to the OS keyring (service `ProcessEngine team store`, user = the URL), never to
a file. At start the app opens `team_db_url()` when the team store is on;
`--db` and `PROCESSENGINE_DB` still win. A change applies at the next start
(the open store holds running executions).
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import settings

KEY_URL = "store/team_url"
KEY_ON = "store/use_team"
KEYRING_SERVICE = "ProcessEngine team store"


class TeamStoreError(ValueError):
    """The text is not a PostgreSQL URL the team store can use."""


def split_url(text: str) -> tuple[str, str | None]:
    """(the URL without its password, the password written in it, if any); refuses non-PostgreSQL URLs."""
    from sqlalchemy.engine import URL, make_url

    raw = text.strip()
    if raw.startswith(("postgresql://", "postgres://")):
        raw = "postgresql+psycopg://" + raw.split("://", 1)[1]
    try:
        url = make_url(raw)
    except Exception:
        raise TeamStoreError(f"not a database URL: {text!r} (e.g. postgresql://user@host:5432/processengine)") from None
    if not url.drivername.startswith("postgresql"):
        raise TeamStoreError(f"the team store is PostgreSQL; got {url.drivername!r}")
    if not url.host or not url.database:
        raise TeamStoreError("the URL needs a host and a database name (postgresql://user@host:5432/processengine)")
    password = url.password
    bare = URL.create(url.drivername, url.username, None, url.host, url.port, url.database, url.query)
    return bare.render_as_string(hide_password=False), (str(password) if password else None)


def save(url_text: str, password: str | None, enabled: bool) -> str:
    """Keep the URL (no password) in settings and the password in the keyring; returns the URL kept."""
    import keyring

    url, inline = split_url(url_text)
    secret = password or inline
    if secret:
        keyring.set_password(KEYRING_SERVICE, url, secret)
    settings.set_value(KEY_URL, url)
    settings.set_value(KEY_ON, enabled)
    return url


def team_db_url() -> str | None:
    """The full team store URL (password from the keyring) when the team store is on, else None."""
    if not settings.get_bool(KEY_ON, False):
        return None
    url = settings.get_str(KEY_URL, "")
    if not url:
        return None
    import keyring
    from sqlalchemy.engine import make_url

    secret = keyring.get_password(KEYRING_SERVICE, url)
    full = make_url(url) if not secret else make_url(url).set(password=secret)
    return full.render_as_string(hide_password=False)


class _Probe(QObject):
    done = Signal(bool, str)


class TeamStoreDialog(QDialog):
    """The Team store settings: URL, password (to the keyring), on/off, a connection test."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Team store")
        self.url = QLineEdit(settings.get_str(KEY_URL, ""))
        self.url.setPlaceholderText("postgresql://user@host:5432/processengine")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("kept in the system keyring")
        self.enabled = QCheckBox("Run against the team store (from the next start)")
        self.enabled.setChecked(settings.get_bool(KEY_ON, False))
        self.test_button = QPushButton("Test connection")
        self.feedback = QLabel()
        self.feedback.setWordWrap(True)
        form = QFormLayout()
        form.addRow("PostgreSQL URL", self.url)
        form.addRow("Password", self.password)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Share runs with your team: executions live in this PostgreSQL database,\n"
                                "where processengine worker processes also run queued executions."))
        layout.addLayout(form)
        layout.addWidget(self.enabled)
        layout.addWidget(self.test_button)
        layout.addWidget(self.feedback)
        layout.addWidget(buttons)
        self._probe = _Probe()
        self._probe.done.connect(self._tested)
        self.test_button.clicked.connect(self.test_connection)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        self.resize(520, self.sizeHint().height())

    def _full_url(self) -> str:
        from sqlalchemy.engine import make_url

        url, inline = split_url(self.url.text())
        secret = self.password.text() or inline
        if not secret:
            import keyring

            secret = keyring.get_password(KEYRING_SERVICE, url)
        return make_url(url).set(password=secret).render_as_string(hide_password=False) if secret else url

    def test_connection(self) -> None:
        """Open the store on a thread (it migrates a new database); the answer comes back as a signal."""
        try:
            url = self._full_url()
        except TeamStoreError as exc:
            self._tested(False, str(exc))
            return
        self.test_button.setEnabled(False)
        self.feedback.setText("connecting…")
        threading.Thread(target=self._probe_store, args=(url,), daemon=True).start()

    def _probe_store(self, url: str) -> None:
        from engine.service import ExecutionService

        try:
            with ExecutionService(url) as svc:
                n = len(svc.list_runs(limit=1000))
            self._probe.done.emit(True, f"connected: {n} execution(s) in workspace 'default'")
        except Exception as exc:  # shown to the user, with the password hidden by the store
            self._probe.done.emit(False, f"cannot connect: {exc}")

    def _tested(self, ok: bool, text: str) -> None:
        self.test_button.setEnabled(True)
        self.feedback.setText(text)
        self.feedback.setStyleSheet("color: #15803d;" if ok else "color: #b91c1c;")

    def _save(self) -> None:
        try:
            save(self.url.text(), self.password.text() or None, self.enabled.isChecked())
        except TeamStoreError as exc:
            self._tested(False, str(exc))
            return
        self.accept()


def install_menu(window: Any) -> None:
    """Settings → Team store… in the main window's menu bar (before Help)."""
    menu = window.menuBar().addMenu("&Settings")
    help_menu = window.menus.get("help")
    if help_menu is not None:
        window.menuBar().insertMenu(help_menu.menuAction(), menu)
    window.menus["settings"] = menu
    menu.addAction("&Team store…", lambda: TeamStoreDialog(window).exec())
