"""`processengine credentials` through a real subprocess and a real file-backed keyring;
then a real run that uses stored credentials, with the secret searched for in the database
file, the log output and stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import fileformat
from tests.engine.runtime.helpers import workflow
from tests.keyring_file import file_keyring
from tests.servers import Reply

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-9fQ2xLr8"
PG_SECRET = "pgpw-4Hk1Zt"
SQLITE_SECRET = "sqlitepath-7Yb3"


@pytest.fixture
def env(tmp_path):
    with file_keyring(tmp_path) as (_backend, kr_env):
        clean = {k: v for k, v in os.environ.items() if not k.startswith("PROCESSENGINE_CRED_")}
        yield {**clean, **kr_env, "PROCESSENGINE_DB": str(tmp_path / "pe.db")}


def pe(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], input=stdin, capture_output=True, text=True, timeout=60, env=env, cwd=ROOT
    )


def test_set_list_delete_with_secrets_from_stdin(env):
    assert pe(env, "credentials", "set", "github", "--kind", "bearer", "--stdin", stdin=TOKEN + "\n").returncode == 0
    out = pe(env, "credentials", "set", "partner", "--kind", "header", "--key-name", "X-Api-Key", stdin="hdr-" + TOKEN)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "saved credential 'partner' (header) in the OS keyring\n"
    basic = pe(env, "credentials", "set", "mail", "--kind", "smtp", "--username", "robot@example.org", stdin="smtp-" + TOKEN)
    assert basic.returncode == 0, basic.stderr
    env2 = {**env, "PROCESSENGINE_CRED_CI": json.dumps({"kind": "sql", "url": f"postgresql://ci:{PG_SECRET}@db/ci"})}
    listed = pe(env2, "credentials", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [
        {"name": "CI", "kind": "sql", "source": "env", "fields": {}},
        {"name": "github", "kind": "bearer", "source": "keyring", "fields": {}},
        {"name": "mail", "kind": "smtp", "source": "keyring", "fields": {"username": "robot@example.org"}},
        {"name": "partner", "kind": "header", "source": "keyring", "fields": {"name": "X-Api-Key"}},
    ]
    text = pe(env2, "credentials", "list", "--log-level", "DEBUG")
    assert "partner  header  keyring  name=X-Api-Key\n" in text.stdout
    for output in (listed.stdout, listed.stderr, text.stdout, text.stderr):
        assert TOKEN not in output and PG_SECRET not in output
    # the stored token is exactly what was piped in (newline stripped)
    from engine.credentials import resolve_credential

    assert resolve_credential("github") == {"kind": "bearer", "token": TOKEN}
    gone = pe(env, "credentials", "delete", "github")
    assert (gone.returncode, gone.stdout) == (0, "deleted credential 'github'\n")
    again = pe(env, "credentials", "delete", "github")
    assert again.returncode == 1 and "no credential 'github' in the OS keyring" in again.stderr
    assert [c["name"] for c in json.loads(pe(env, "credentials", "list", "--json").stdout)] == ["mail", "partner"]


def test_bad_input_is_refused_without_saving(env):
    no_key = pe(env, "credentials", "set", "p", "--kind", "query", stdin="v")
    assert no_key.returncode == 64 and "needs --key-name" in no_key.stderr
    empty = pe(env, "credentials", "set", "p", "--kind", "bearer", stdin="")
    assert empty.returncode == 1 and "no token given (nothing saved)" in empty.stderr
    kind = pe(env, "credentials", "set", "p", "--kind", "oauth", stdin="x")
    assert kind.returncode == 64 and "invalid choice: 'oauth'" in kind.stderr
    # there is no flag that takes a secret on the command line
    argv = pe(env, "credentials", "set", "p", "--kind", "bearer", "--token", TOKEN)
    assert argv.returncode == 64 and "unrecognized arguments" in argv.stderr
    assert json.loads(pe(env, "credentials", "list", "--json").stdout) == []


def test_a_run_never_leaks_a_secret_into_the_store_logs_or_json(env, tmp_path, http_server):
    """Bearer token for HTTP (keyring), a sql credential with a password (PostgreSQL) or a
    secret-bearing path (SQLite): search the database file, stderr at DEBUG and stdout."""
    assert pe(env, "credentials", "set", "api", "--kind", "bearer", stdin=TOKEN).returncode == 0
    pg = os.environ.get("PROCESSENGINE_TEST_PG_URL")
    if pg:
        db_url = sa.engine.make_url(pg).set(password=PG_SECRET).render_as_string(hide_password=False)
        secrets = [TOKEN, PG_SECRET]
    else:
        (tmp_path / SQLITE_SECRET).mkdir()
        db_url = f"sqlite:///{tmp_path / SQLITE_SECRET / 'x.db'}"
        secrets = [TOKEN, SQLITE_SECRET]
    assert pe(env, "credentials", "set", "warehouse", "--kind", "sql", stdin=db_url).returncode == 0
    http_server.route("/orders", Reply(json={"orders": [{"id": 1}, {"id": 2}]}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"url": http_server.url_for("/orders"), "credential": "api"}},
            {"id": "count", "type": "sql_query", "config": {"credential": "warehouse", "query": "SELECT :n AS n", "params": {"n": "{{ len(input.body.orders) }}"}, "read_only": True}},
            {"id": "bad", "type": "sql_query", "config": {"credential": "warehouse", "query": "SELEC oops"}, "on_error": "continue"},
        ],
        [("start", "out", "get"), ("get", "out", "count"), ("count", "out", "bad")],
    )
    path = tmp_path / "wf.pe.json"
    fileformat.save(wf, path)
    run = pe(env, "run", str(path), "--json", "--log-level", "DEBUG")
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert result["outputs"]["count"]["rows"] == [{"n": 2}]
    assert result["attempts"]["bad"][0]["status"] == "failed"
    assert http_server.requests[0].header("Authorization") == f"Bearer {TOKEN}"
    assert "get" in run.stderr  # the DEBUG log really was captured
    status = pe(env, "status", result["execution_id"], "--json")
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("pe.db*"))
    assert len(stored) > 10_000
    for secret in secrets:
        for where, text in (("stdout", run.stdout), ("stderr", run.stderr), ("status", status.stdout), ("file", path.read_text())):
            assert secret not in text, f"{secret!r} leaked into {where}"
        assert secret.encode() not in stored, f"{secret!r} leaked into the database file"


def test_no_usable_keyring_is_a_clear_error(env):
    broken = {**env, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    out = pe(broken, "credentials", "set", "github", "--kind", "bearer", stdin=TOKEN)
    assert out.returncode == 1 and "the OS keyring cannot be written (NoKeyringError" in out.stderr
    assert TOKEN not in out.stderr + out.stdout
    listed = pe(broken, "credentials", "list")
    assert listed.returncode == 0 and listed.stdout.startswith("no credentials")


def test_secret_from_a_hidden_prompt_on_a_terminal(env):
    """On a terminal the secret is asked with echo off (getpass), and what is typed is stored."""
    import pty
    import select
    import termios
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "credentials", "set", "github", "--kind", "bearer"],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT, start_new_session=True,
    )
    os.close(slave)
    try:
        prompt = b""
        deadline = time.monotonic() + 30
        while b"token for 'github': " not in prompt and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 0.5)
            if ready:
                prompt += os.read(proc.stderr.fileno(), 1024)
        assert b"token for 'github': " in prompt
        assert not termios.tcgetattr(master)[3] & termios.ECHO  # echo is off while it waits
        os.write(master, (TOKEN + "\n").encode())
        out, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out == b"saved credential 'github' (bearer) in the OS keyring\n" and TOKEN.encode() not in out + err
    from engine.credentials import resolve_credential

    assert resolve_credential("github") == {"kind": "bearer", "token": TOKEN}
