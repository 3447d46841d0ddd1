"""The Credentials dialog on a real file-backed keyring: add, edit, delete, test; secrets
never shown back; environment credentials read-only; opened from File → Credentials…"""

from __future__ import annotations

import json
import os

import pytest
import sqlalchemy as sa
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDialogButtonBox, QLabel, QLineEdit, QMessageBox

from app.credentials_dialog import CredentialEditor, CredentialsDialog, describe_use
from engine.credentials import resolve_credential, save_credential
from tests.app.conftest import DialogAnswerer
from tests.keyring_file import file_keyring

TOKEN = "ghp-dialog-8Hq2Vx"
PG_SECRET = "pg-dialog-3Lm9"


@pytest.fixture(autouse=True)
def kr(tmp_path, monkeypatch):
    for var in list(os.environ):
        if var.startswith("PROCESSENGINE_CRED_"):
            monkeypatch.delenv(var)
    with file_keyring(tmp_path) as (backend, _env):
        yield backend


@pytest.fixture
def dialog(qtbot):
    d = CredentialsDialog()
    d.answerer = DialogAnswerer(d.dialogs)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    return d


def fill_and_save(d: CredentialsDialog, **fields: str) -> None:
    """Answer the next editor: set the given widgets' text, then press Save."""

    def on_editor(editor: CredentialEditor) -> None:
        def answer() -> None:
            if "kind" in fields:
                editor.kind.setCurrentText(fields["kind"])
            for key in ("name", "public", "secret"):
                if key in fields:
                    getattr(editor, key).setText(fields[key])
            editor.buttons.button(QDialogButtonBox.StandardButton.Save).click()

        QTimer.singleShot(0, answer)

    d.editor_shown = on_editor


def texts(d: CredentialsDialog) -> list[list[str]]:
    return [[d.table.item(r, c).text() for c in range(4)] for r in range(d.table.rowCount())]


def all_text(widget) -> str:
    parts = [w.text() for w in widget.findChildren(QLabel)] + [w.text() for w in widget.findChildren(QLineEdit) if w.echoMode() == QLineEdit.EchoMode.Normal]
    return "\n".join(parts)


def test_add_edit_delete_round_trip(dialog, qtbot, tmp_path):
    fill_and_save(dialog, name="github", kind="bearer", secret=TOKEN)
    dialog.add_button.click()
    assert resolve_credential("github") == {"kind": "bearer", "token": TOKEN}
    fill_and_save(dialog, name="partner", kind="header", public="X-Api-Key", secret="hdr-" + TOKEN)
    dialog.add_button.click()
    assert texts(dialog) == [["github", "bearer", "OS keyring", ""], ["partner", "header", "OS keyring", "header X-Api-Key"]]
    assert dialog.selected().name == "partner"
    # edit with the secret left empty keeps it; only the header name changes
    fill_and_save(dialog, public="X-Key")
    dialog.edit_button.click()
    assert resolve_credential("partner") == {"kind": "header", "name": "X-Key", "value": "hdr-" + TOKEN}
    # a new secret replaces it
    dialog.select("github")
    fill_and_save(dialog, secret="new-" + TOKEN)
    dialog.edit_button.click()
    assert resolve_credential("github")["token"] == "new-" + TOKEN
    dialog.grab().save(str(tmp_path / "credentials.png"))
    assert TOKEN not in all_text(dialog)
    dialog.answerer.answers.append(QMessageBox.StandardButton.Yes)
    dialog.delete_button.click()
    assert dialog.answerer.seen[-1]["text"] == "Delete the credential 'github' from the OS keyring?"
    assert [r[0] for r in texts(dialog)] == ["partner"]
    dialog.select("partner")
    dialog.answerer.answers.append(QMessageBox.StandardButton.Cancel)
    dialog.delete_button.click()
    assert [r[0] for r in texts(dialog)] == ["partner"]


def test_editor_refuses_bad_input_and_never_shows_a_secret(qtbot):
    save_credential("crm", {"kind": "query", "name": "api_key", "value": TOKEN})
    editor = CredentialEditor(name="crm", cred=resolve_credential("crm"))
    qtbot.addWidget(editor)
    assert editor.name.isReadOnly() and editor.secret.text() == "" and editor.public.text() == "api_key"
    assert editor.public_label.text() == "Parameter name" and editor.secret.echoMode() == QLineEdit.EchoMode.Password
    assert TOKEN not in all_text(editor)
    editor.public.setText("")
    editor.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert editor.error.text() == "credential 'crm': field 'name' is empty"
    assert editor.result() == 0  # not accepted
    fresh = CredentialEditor()
    qtbot.addWidget(fresh)
    fresh.kind.setCurrentText("sql")
    assert not fresh.public.isVisibleTo(fresh) and fresh.secret_label.text() == "Database URL"
    fresh.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert "field 'url' is empty" in fresh.error.text()


def test_details_name_the_public_field_by_kind(dialog):
    save_credential("feed", {"kind": "query", "name": "api_key", "value": TOKEN})
    save_credential("mailer", {"kind": "smtp", "username": "robot@example.org", "password": TOKEN})
    dialog.refresh()
    assert texts(dialog) == [["feed", "query", "OS keyring", "query parameter api_key"], ["mailer", "smtp", "OS keyring", "user robot@example.org"]]


def test_env_credentials_are_listed_read_only(dialog, monkeypatch):
    monkeypatch.setenv("PROCESSENGINE_CRED_CI_TOKEN", json.dumps({"kind": "bearer", "token": TOKEN}))
    dialog.refresh()
    assert texts(dialog) == [["CI_TOKEN", "bearer", "environment (read-only)", ""]]
    dialog.select("CI_TOKEN")
    assert not dialog.edit_button.isEnabled() and not dialog.delete_button.isEnabled() and dialog.test_button.isEnabled()


def test_test_shows_what_would_be_sent_masked(dialog, qtbot):
    save_credential("github", {"kind": "bearer", "token": TOKEN})
    dialog.refresh(select="github")
    with qtbot.waitSignal(dialog.tested, timeout=10_000) as got:
        dialog.test_button.click()
    name, ok, message = got.args
    assert (name, ok) == ("github", True)
    assert message == f"Resolved. A request would carry: Authorization: Bearer •••••• ({len(TOKEN)} characters)"
    assert TOKEN not in dialog.status.text() and dialog.status.text().startswith("✓ github: ")


def test_test_connects_to_sql(dialog, qtbot, tmp_path):
    pg = os.environ.get("PROCESSENGINE_TEST_PG_URL")
    url = sa.engine.make_url(pg).set(password=PG_SECRET).render_as_string(hide_password=False) if pg else f"sqlite:///{tmp_path / 'w.db'}"
    save_credential("warehouse", {"kind": "sql", "url": url})
    save_credential("broken", {"kind": "sql", "url": f"postgresql+psycopg://u:{PG_SECRET}@127.0.0.1:1/nope"})
    dialog.refresh(select="warehouse")
    with qtbot.waitSignal(dialog.tested, timeout=20_000) as got:
        dialog.test_button.click()
    assert got.args[1] is True and got.args[2].startswith("Connected to ")
    dialog.select("broken")
    with qtbot.waitSignal(dialog.tested, timeout=20_000) as bad:
        dialog.test_button.click()
    assert bad.args[1] is False and "127.0.0.1" in bad.args[2]
    for text in (got.args[2], bad.args[2], dialog.status.text()):
        assert PG_SECRET not in text


def test_describe_use_every_kind():
    assert describe_use({"kind": "basic", "username": "bob", "password": "abc"}) == "Authorization: Basic •••••• (3 characters) — user 'bob'"
    assert describe_use({"kind": "query", "name": "key", "value": "abcd"}) == "?key=•••••• (4 characters)"
    assert describe_use({"kind": "smtp", "username": "m", "password": "p"}) == "SMTP login as 'm', password •••••• (1 characters)"


def test_file_menu_opens_the_dialog(window, qtbot):
    opened: list[object] = []

    def on_dialog(d) -> None:
        if isinstance(d, CredentialsDialog):
            opened.append(d)
            QTimer.singleShot(0, d.accept)

    window.dialogs.about_to_show.connect(on_dialog)
    action = window.actions_by_name["credentials"]
    assert action in window.menus["file"].actions()
    action.trigger()
    assert len(opened) == 1

