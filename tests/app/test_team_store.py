"""Settings → Team store: the URL in settings, the password only in the keyring, and runs on that PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError
from PySide6.QtWidgets import QMainWindow
from sqlalchemy.engine import make_url

from app.team_store import (
    KEYRING_SERVICE,
    TeamStoreDialog,
    install_menu,
    save,
    split_url,
    team_db_url,
)
from tests.engine.runtime.helpers import chain
from tests.engine.store.fixtures import pg_url


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.store.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def settings_text(settings_dir: Path) -> str:
    return "".join(p.read_text() for p in settings_dir.rglob("*.ini"))


def test_password_goes_to_the_keyring_never_to_the_settings_file(qtbot, memory_keyring, isolated_settings) -> None:
    dialog = TeamStoreDialog()
    qtbot.addWidget(dialog)
    dialog.url.setText("postgresql://alice:s3cret-pw@db.example:5432/pe")
    dialog.enabled.setChecked(True)
    dialog.show()
    dialog.grab().save("/tmp/team_store.png")
    dialog._save()
    assert dialog.result() == dialog.DialogCode.Accepted
    kept = "postgresql+psycopg://alice@db.example:5432/pe"
    assert memory_keyring.store == {(KEYRING_SERVICE, kept): "s3cret-pw"}
    text = settings_text(isolated_settings)
    assert "db.example" in text and "s3cret-pw" not in text
    assert make_url(team_db_url()).password == "s3cret-pw"


def test_bad_urls_are_refused_with_a_reason(qtbot, memory_keyring) -> None:
    for text, needle in (("sqlite:///x.db", "PostgreSQL"), ("postgresql://host-only", "database"), ("::nonsense", "not a database URL")):
        with pytest.raises(ValueError, match=needle):
            split_url(text)
    dialog = TeamStoreDialog()
    qtbot.addWidget(dialog)
    dialog.url.setText("sqlite:///x.db")
    dialog._save()
    assert "PostgreSQL" in dialog.feedback.text() and team_db_url() is None


def test_off_means_the_local_store(memory_keyring) -> None:
    save("postgresql://bob@db.example/pe", "pw", enabled=False)
    assert team_db_url() is None


def test_the_settings_menu_opens_the_dialog(qtbot) -> None:
    window = QMainWindow()
    window.menus = {}  # type: ignore[attr-defined]
    qtbot.addWidget(window)
    install_menu(window)
    (action,) = window.menus["settings"].actions()  # type: ignore[attr-defined]
    assert action.text() == "&Team store…"


@pytest.mark.postgres
def test_connection_test_and_runs_on_the_team_store(qtbot, memory_keyring) -> None:
    from app.runner.backend import open_service

    url = make_url(pg_url())
    dialog = TeamStoreDialog()
    qtbot.addWidget(dialog)
    dialog.url.setText(url.render_as_string(hide_password=False))  # a password in the URL goes to the keyring
    dialog.password.setText(str(url.password or ""))
    dialog.enabled.setChecked(True)
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.feedback.text().startswith(("connected", "cannot")), timeout=60000)
    assert dialog.feedback.text().startswith("connected"), dialog.feedback.text()
    dialog._save()
    full = team_db_url()
    assert full is not None and os.environ.get("PROCESSENGINE_DB") is None
    svc = open_service(full, workspace="team-store-test")
    try:
        rec = asyncio.run(svc.run(chain(3)))
        assert svc.status(rec.execution_id)["status"] == "completed"
        assert svc.store.dialect == "postgresql"
    finally:
        svc.delete(rec.execution_id)
        svc.close()
