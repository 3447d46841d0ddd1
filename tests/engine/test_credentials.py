"""Credentials with kinds: environment (whole JSON, the user/password pair), then a real
file-backed keyring (keyrings.alt in a temp dir), and the keyring index for listing."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from keyring.errors import PasswordDeleteError

from engine.credentials import (
    INDEX_ENTRY,
    INDEX_SERVICE,
    KEYRING_SERVICE,
    CredentialInvalid,
    CredentialNotFound,
    delete_credential,
    env_name,
    env_vars,
    list_credentials,
    resolve_credential,
    save_credential,
    store_credential,
)
from tests.keyring_file import file_keyring


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for var in list(os.environ):
        if var.startswith("PROCESSENGINE_CRED_"):
            monkeypatch.delenv(var)


@pytest.fixture
def kr(tmp_path):
    with file_keyring(tmp_path) as (backend, _env):
        yield backend


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


def test_pair_from_env_is_basic(monkeypatch, no_keyring):
    monkeypatch.setenv("PROCESSENGINE_CRED_SMTP_MAIN_USERNAME", "robot")
    monkeypatch.setenv("PROCESSENGINE_CRED_SMTP_MAIN_PASSWORD", "pw")
    assert resolve_credential("smtp-main") == {"kind": "basic", "username": "robot", "password": "pw"}
    assert resolve_credential("smtp-main", ("smtp",))["password"] == "pw"  # a user+password serves smtp too


def test_env_password_alone_is_enough(monkeypatch, no_keyring):
    monkeypatch.setenv("PROCESSENGINE_CRED_TOKEN_PASSWORD", "t0k")
    assert resolve_credential("token") == {"kind": "basic", "username": "", "password": "t0k"}


@pytest.mark.parametrize(
    "cred",
    [
        {"kind": "bearer", "token": "tok-123"},
        {"kind": "header", "name": "X-Api-Key", "value": "k-9"},
        {"kind": "query", "name": "api_key", "value": "q-1"},
        {"kind": "smtp", "username": "mailer", "password": "s3"},
        {"kind": "sql", "url": "postgresql://u:p@db/x"},
        {"kind": "basic", "username": "u", "password": "p"},
    ],
)
def test_whole_json_in_env_for_every_kind(monkeypatch, no_keyring, cred):
    monkeypatch.setenv("PROCESSENGINE_CRED_API", json.dumps(cred))
    assert resolve_credential("api") == cred


def test_whole_json_wins_over_the_pair(monkeypatch, no_keyring):
    monkeypatch.setenv("PROCESSENGINE_CRED_API", json.dumps({"kind": "bearer", "token": "t"}))
    monkeypatch.setenv("PROCESSENGINE_CRED_API_PASSWORD", "p")
    assert resolve_credential("api")["kind"] == "bearer"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"kind": "bearer", "token": "sekrit"', "PROCESSENGINE_CRED_API is not valid JSON"),
        ('{"kind": "oauth", "token": "sekrit"}', "unknown kind 'oauth'"),
        ('{"kind": "bearer", "tokn": "sekrit"}', "a bearer credential has no field tokn"),
        ('{"kind": "bearer", "token": 5}', "field 'token' must be a string"),
        ('{"kind": "header", "value": "sekrit"}', "field 'name' is empty"),
        ('{"kind": "sql", "url": ""}', "field 'url' is empty"),
        ('["sekrit"]', "must be a JSON object"),
    ],
)
def test_bad_env_json_is_named_without_the_secret(monkeypatch, no_keyring, raw, message):
    monkeypatch.setenv("PROCESSENGINE_CRED_API", raw)
    with pytest.raises(CredentialInvalid) as err:
        resolve_credential("api")
    assert message in err.value.message and "'api'" in err.value.message
    assert "sekrit" not in str(err.value) and not err.value.retryable


def test_missing_everywhere_is_a_clear_non_retryable_error(no_keyring):
    with pytest.raises(CredentialNotFound) as err:
        resolve_credential("ghost")
    msg = err.value.message
    assert not err.value.retryable and err.value.error_type == "CredentialNotFound"
    for part in ("'ghost'", "PROCESSENGINE_CRED_GHOST (JSON)", "PROCESSENGINE_CRED_GHOST_PASSWORD", "processengine credentials set ghost", "'processengine'"):
        assert part in msg


@pytest.mark.parametrize("name", ["", "  "])
def test_empty_name(name):
    with pytest.raises(CredentialNotFound, match="non-empty"):
        resolve_credential(name)


def test_wrong_kind_for_the_node(monkeypatch, no_keyring):
    monkeypatch.setenv("PROCESSENGINE_CRED_DB", json.dumps({"kind": "sql", "url": "sqlite://"}))
    with pytest.raises(CredentialInvalid, match="credential 'db' is of kind 'sql'; this node takes basic or bearer"):
        resolve_credential("db", ("basic", "bearer"))


def test_keyring_old_layout_and_plain_secret(kr):
    kr.set_password(KEYRING_SERVICE, "smtp-main", json.dumps({"username": "k", "password": "kp"}))
    assert resolve_credential("smtp-main") == {"kind": "basic", "username": "k", "password": "kp"}
    kr.set_password(KEYRING_SERVICE, "api", "just-a-token")
    assert resolve_credential("api") == {"kind": "basic", "username": "", "password": "just-a-token"}


def test_env_wins_over_keyring(kr, monkeypatch):
    store_credential("smtp", "from-keyring", "kp")
    monkeypatch.setenv("PROCESSENGINE_CRED_SMTP_USERNAME", "from-env")
    monkeypatch.setenv("PROCESSENGINE_CRED_SMTP_PASSWORD", "ep")
    assert resolve_credential("smtp") == {"kind": "basic", "username": "from-env", "password": "ep"}


def test_save_list_delete_round_trip_in_a_real_file(kr, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    save_credential("github", {"kind": "bearer", "token": "ghp_s3cret"})
    save_credential("partner-api", {"kind": "header", "name": "X-Api-Key", "value": "hdr-s3cret"})
    monkeypatch.setenv("PROCESSENGINE_CRED_CI_DB", json.dumps({"kind": "sql", "url": "postgresql://ci:pg-s3cret@db/ci"}))
    text = Path(kr.file_path).read_text(encoding="utf-8")
    assert "[processengine]\ngithub = " in text  # really in the file-backed store (base64 there)
    assert json.loads(kr.get_password(INDEX_SERVICE, INDEX_ENTRY)) == ["github", "partner-api"]
    listed = [c.as_json() for c in list_credentials()]
    assert listed == [
        {"name": "CI_DB", "kind": "sql", "source": "env", "fields": {}},
        {"name": "github", "kind": "bearer", "source": "keyring", "fields": {}},
        {"name": "partner-api", "kind": "header", "source": "keyring", "fields": {"name": "X-Api-Key"}},
    ]
    assert resolve_credential("github") == {"kind": "bearer", "token": "ghp_s3cret"}
    delete_credential("github")
    assert [c.name for c in list_credentials()] == ["CI_DB", "partner-api"]
    with pytest.raises(CredentialNotFound):
        resolve_credential("github")
    with pytest.raises(PasswordDeleteError):
        delete_credential("github")
    for secret in ("ghp_s3cret", "hdr-s3cret", "pg-s3cret"):
        assert secret not in caplog.text and secret not in json.dumps(listed)


def test_save_refuses_a_bad_shape(kr):
    with pytest.raises(CredentialInvalid, match="unknown kind 'x'"):
        save_credential("a", {"kind": "x"})
    with pytest.raises(CredentialInvalid, match="non-empty"):
        save_credential(" ", {"kind": "bearer", "token": "t"})
    assert kr.get_password(KEYRING_SERVICE, "a") is None
