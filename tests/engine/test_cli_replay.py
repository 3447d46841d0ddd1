"""`rerun ID --replay` through a real subprocess: zero requests and no email (server counts),
`replayed` attempts, `warnings` for a changed request, `--strict-replay` fails, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.test_cli import pe, save
from tests.engine.test_replay import _api_then_mail
from tests.servers import HttpTestServer, Reply, SmtpTestServer


def _source(path: Path, db: Path) -> str:
    out = pe("run", str(path), "--json", db=db)
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["execution_id"])


def test_rerun_replay_answers_from_the_recording(tmp_path: Path, http_server: HttpTestServer, smtp_server: SmtpTestServer, monkeypatch) -> None:
    monkeypatch.setenv("PROCESSENGINE_CRED_PARTNER", json.dumps({"kind": "bearer", "token": "tok-cli-Zx81"}))
    db = tmp_path / "pe.db"
    http_server.route("/quote", Reply(json={"price": 21}))
    path = save(tmp_path, _api_then_mail(http_server, smtp_server))
    source = _source(path, db)
    assert http_server.calls("/quote") == 1 and len(smtp_server.wait_for_messages(1)) == 1
    http_server.route("/quote", Reply(json={"price": 999}))

    out = pe("rerun", source, "--replay", "--json", db=db)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "completed" and "warnings" not in result
    assert [a["status"] for a in result["attempts"]["get"]] == ["replayed"]
    assert [a["status"] for a in result["attempts"]["mail"]] == ["replayed"]
    assert result["outputs"]["total"] == {"price": 42}
    # from a node, replaying one chosen node: the trigger is reused, the email is sent for real
    out = pe("rerun", source, "--from", "get", "--replay", "get", "--json", db=db)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert [a["status"] for a in result["attempts"]["start"]] == ["reused"]
    assert [a["status"] for a in result["attempts"]["get"]] == ["replayed"]
    assert [a["status"] for a in result["attempts"]["mail"]] == ["succeeded"]
    assert http_server.calls("/quote") == 1 and len(smtp_server.wait_for_messages(2)) == 2


def test_changed_request_warns_and_strict_replay_fails(tmp_path: Path, http_server: HttpTestServer, smtp_server: SmtpTestServer, monkeypatch) -> None:
    monkeypatch.setenv("PROCESSENGINE_CRED_PARTNER", json.dumps({"kind": "bearer", "token": "tok-cli-Zx81"}))
    db = tmp_path / "pe.db"
    http_server.route("/quote", Reply(json={"price": 5}))
    path = save(tmp_path, _api_then_mail(http_server, smtp_server, body={"run": "{{ execution.id }}"}))
    source = _source(path, db)

    out = pe("rerun", source, "--replay", "--json", db=db)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["warnings"] == ["node 'get': the rendered request differs from the recording in body"]
    assert "differs from the recording in body" in out.stderr  # the log line
    replayed = json.loads(out.stdout)["execution_id"]
    status = json.loads(pe("status", replayed, "--json", db=db, check=True).stdout)
    assert status["warnings"] == ["node 'get': the rendered request differs from the recording in body"]
    assert "warnings" not in json.loads(pe("status", source, "--json", db=db, check=True).stdout)

    out = pe("rerun", source, "--replay", "--strict-replay", "--json", db=db)
    assert out.returncode == 1
    result = json.loads(out.stdout)
    assert result["status"] == "failed" and result["error"]["node_id"] == "get"
    assert "(strict replay)" in result["error"]["message"]
    assert http_server.calls("/quote") == 1 and len(smtp_server.wait_for_messages(1)) == 1

    bad = pe("rerun", source, "--replay", "nope", db=db)
    assert bad.returncode == 1 and "the workflow has no node 'nope'" in bad.stderr and "Traceback" not in bad.stderr
    bad = pe("rerun", source, "--strict-replay", db=db)
    assert bad.returncode == 64 and "--strict-replay goes with --replay" in bad.stderr
