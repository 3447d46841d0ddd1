"""http_request `credential`: each kind reaches the server; the secret never reaches a log,
an error message or the node's output (the server answers without echoing it)."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from engine.credentials import CredentialNotFound
from engine.errors import NodeError
from tests.servers import Reply

SECRET = "s3cr3t-Zq81"


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch):
    import os

    for var in list(os.environ):
        if var.startswith("PROCESSENGINE_CRED_"):
            monkeypatch.delenv(var)


def set_cred(monkeypatch, name: str, cred: dict) -> None:
    monkeypatch.setenv("PROCESSENGINE_CRED_" + name.upper().replace("-", "_"), json.dumps(cred))


@pytest.mark.parametrize(
    ("cred", "where", "expected"),
    [
        ({"kind": "bearer", "token": SECRET}, "header", ("Authorization", f"Bearer {SECRET}")),
        ({"kind": "header", "name": "X-Api-Key", "value": SECRET}, "header", ("X-Api-Key", SECRET)),
        ({"kind": "query", "name": "api_key", "value": SECRET}, "query", ("api_key", SECRET)),
        (
            {"kind": "basic", "username": "robot", "password": SECRET},
            "header",
            ("Authorization", "Basic " + base64.b64encode(f"robot:{SECRET}".encode()).decode()),
        ),
    ],
    ids=["bearer", "header", "query", "basic"],
)
async def test_each_kind_is_applied(harness, http_server, monkeypatch, caplog, cred, where, expected):
    caplog.set_level(logging.DEBUG)
    set_cred(monkeypatch, "partner", cred)
    http_server.route("/orders", Reply(json={"ok": True}))
    cfg = {"url": http_server.url_for("/orders?page=2"), "query": {"limit": 10}, "headers": {"Accept": "application/json"}, "credential": "partner"}
    result = await harness.run("http_request", cfg)
    (req,) = http_server.requests
    name, value = expected
    got = req.header(name) if where == "header" else req.query.get(name)
    assert got == value
    assert req.query["page"] == "2" and req.query["limit"] == "10" and req.header("Accept") == "application/json"
    assert result.outputs["out"]["body"] == {"ok": True}
    assert SECRET not in json.dumps(result.outputs) and SECRET not in caplog.text
    assert cfg["headers"] == {"Accept": "application/json"}  # the config is never changed


async def test_query_secret_is_not_in_an_error_message(harness, http_server, monkeypatch, caplog):
    set_cred(monkeypatch, "partner", {"kind": "query", "name": "key", "value": SECRET})
    http_server.route("/boom", Reply(status=503, text="down"))
    with pytest.raises(NodeError) as err:
        await harness.run("http_request", {"url": http_server.url_for("/boom"), "credential": "partner"})
    assert "HTTP 503" in err.value.message and SECRET not in err.value.message and SECRET not in caplog.text


async def test_wrong_kind_is_refused_before_any_request(harness, http_server, monkeypatch):
    set_cred(monkeypatch, "db", {"kind": "sql", "url": f"postgresql://u:{SECRET}@h/d"})
    with pytest.raises(NodeError, match=r"config.credential: credential 'db' is of kind 'sql'; http_request takes basic, bearer, header, query") as err:
        await harness.run("http_request", {"url": http_server.url_for("/x"), "credential": "db"})
    assert SECRET not in str(err.value) and http_server.requests == []


async def test_missing_credential(harness, http_server):
    with pytest.raises(CredentialNotFound, match="credential 'ghost' not found"):
        await harness.run("http_request", {"url": http_server.url_for("/x"), "credential": "ghost"})
    assert http_server.requests == []
