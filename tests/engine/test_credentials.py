from __future__ import annotations

import json

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import PasswordDeleteError

from engine.credentials import (
    KEYRING_SERVICE,
    CredentialNotFound,
    delete_credential,
    env_name,
    env_vars,
    resolve_credential,
    store_credential,
)


class MemoryKeyring(KeyringBackend):
    """An in-process keyring backend (keyring's own plugin interface), so no OS store is touched."""

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


@pytest.fixture
def no_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.mark.parametrize(("name", "expected"), [("smtp", "SMTP"), ("smtp-main", "SMTP_MAIN"), ("my.cred 2", "MY_CRED_2"), ("Ä1", "_1")])
def test_env_names(name, expected):
    assert env_name(name) == expected
    assert env_vars(name) == (f"PROCESSENGINE_CRED_{expected}_USERNAME", f"PROCESSENGINE_CRED_{expected}_PASSWORD")


def test_from_env(monkeypatch, no_keyring):
    monkeypatch.setenv("PROCESSENGINE_CRED_SMTP_MAIN_USERNAME", "robot")
    monkeypatch.setenv("PROCESSENGINE_CRED_SMTP_MAIN_PASSWORD", "pw")
    assert resolve_credential("smtp-main") == {"username": "robot", "password": "pw"}


def test_env_password_alone_is_enough(monkeypatch, no_keyring):
    monkeypatch.delenv("PROCESSENGINE_CRED_TOKEN_USERNAME", raising=False)
    monkeypatch.setenv("PROCESSENGINE_CRED_TOKEN_PASSWORD", "t0k")
    assert resolve_credential("token") == {"username": "", "password": "t0k"}


def test_missing_everywhere_is_a_clear_non_retryable_error(monkeypatch, no_keyring):
    monkeypatch.delenv("PROCESSENGINE_CRED_GHOST_PASSWORD", raising=False)
    with pytest.raises(CredentialNotFound) as err:
        resolve_credential("ghost")
    msg = err.value.message
    assert not err.value.retryable and err.value.error_type == "CredentialNotFound"
    assert "'ghost'" in msg and "PROCESSENGINE_CRED_GHOST_PASSWORD" in msg and "'processengine'" in msg


@pytest.mark.parametrize("name", ["", "  "])
def test_empty_name(name):
    with pytest.raises(CredentialNotFound, match="non-empty"):
        resolve_credential(name)


def test_keyring_json_layout(memory_keyring, monkeypatch):
    monkeypatch.delenv("PROCESSENGINE_CRED_SMTP_MAIN_PASSWORD", raising=False)
    memory_keyring.set_password(KEYRING_SERVICE, "smtp-main", json.dumps({"username": "k", "password": "kp"}))
    assert resolve_credential("smtp-main") == {"username": "k", "password": "kp"}


def test_keyring_plain_secret_is_a_password(memory_keyring, monkeypatch):
    monkeypatch.delenv("PROCESSENGINE_CRED_API_PASSWORD", raising=False)
    memory_keyring.set_password(KEYRING_SERVICE, "api", "just-a-token")
    assert resolve_credential("api") == {"username": "", "password": "just-a-token"}


def test_env_wins_over_keyring(memory_keyring, monkeypatch):
    store_credential("smtp", "from-keyring", "kp")
    monkeypatch.setenv("PROCESSENGINE_CRED_SMTP_USERNAME", "from-env")
    monkeypatch.setenv("PROCESSENGINE_CRED_SMTP_PASSWORD", "ep")
    assert resolve_credential("smtp") == {"username": "from-env", "password": "ep"}


def test_store_and_delete_round_trip(memory_keyring, monkeypatch):
    monkeypatch.delenv("PROCESSENGINE_CRED_MAIL_PASSWORD", raising=False)
    store_credential("mail", "u", "p w")
    assert json.loads(memory_keyring.store[(KEYRING_SERVICE, "mail")]) == {"username": "u", "password": "p w"}
    assert resolve_credential("mail") == {"username": "u", "password": "p w"}
    delete_credential("mail")
    with pytest.raises(CredentialNotFound):
        resolve_credential("mail")
