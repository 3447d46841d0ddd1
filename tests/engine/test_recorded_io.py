"""Recorded I/O and the capture inbox against the real local HTTP and SMTP servers.

Recordings are stored per attempt with credentials redacted (the database files are
searched for the secret, compressed rows decompressed first), large bodies are capped
and compressed, and captured email never reaches the SMTP server but lands in the store
- also after a pause and a resume in another service.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine import events as ev
from engine.recorded_io import BODY_CAP, REDACTED
from engine.service import ExecutionService
from tests.engine.runtime.helpers import workflow
from tests.engine.store.fixtures import Db, db_fixture  # noqa: F401
from tests.servers import HttpTestServer, Reply, SmtpTestServer

SECRET = "tok-9f3Kq7Zx"
PASSWORD = "pw-Lm28Rv6T"


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSENGINE_CRED_PARTNER", json.dumps({"kind": "bearer", "token": SECRET}))
    monkeypatch.setenv("PROCESSENGINE_CRED_KEYED", json.dumps({"kind": "query", "name": "api_key", "value": SECRET}))
    monkeypatch.setenv("PROCESSENGINE_CRED_MAIL", json.dumps({"kind": "smtp", "username": "robot", "password": PASSWORD}))


def email_node(server: SmtpTestServer, node_id: str = "mail", **extra: Any) -> dict[str, Any]:
    cfg = {"smtp_host": server.host, "smtp_port": server.port, "from": "Robot <robot@example.com>",
           "to": "ann@example.org", "subject": "Report {{ vars.n }}", "text": "Hello Ann,\nreport {{ vars.n }}.\n",
           "timeout_s": 5, **extra}
    return {"id": node_id, "type": "send_email", "config": cfg, "retry": "none"}


def _all_stored_text(path: Path) -> str:
    """Every byte of the SQLite files, with each compressed recording inflated too."""
    blobs = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        for (data,) in conn.execute(sa.text("SELECT data FROM recordings WHERE encoding = 'zjson'")):
            blobs += zlib.decompress(data)
    engine.dispose()
    return blobs.decode("latin-1")


async def test_http_attempts_are_recorded_redacted(tmp_path: Path, http_server: HttpTestServer) -> None:
    http_server.fail_first("/orders", 1, status=503, then=Reply(echo=True))
    http_server.route("/keyed", Reply(json={"ok": True}))
    http_server.route("/big", Reply(text="x" * (BODY_CAP + 5000)))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "retry": {"max_attempts": 2, "initial_delay_s": 0.01, "jitter": False},
             "config": {"method": "POST", "url": http_server.url_for("/orders?page=2"), "credential": "partner",
                        "headers": {"Cookie": "session=abc123xyz", "X-Trace": "t1"}, "json": {"n": 1}}},
            {"id": "keyed", "type": "http_request", "config": {"url": http_server.url_for("/keyed"), "credential": "keyed"}},
            {"id": "big", "type": "http_request", "config": {"url": http_server.url_for("/big")}},
        ],
        [("start", "out", "get"), ("get", "out", "keyed"), ("keyed", "out", "big")],
    )
    db = tmp_path / "pe.db"
    with ExecutionService(f"sqlite:///{db}") as svc:
        rec = await svc.run(wf)
        assert rec.status == "completed", rec.error
        recs = svc.store.recordings(rec.execution_id)
        assert [(r["node_id"], r["attempt"]) for r in recs] == [("get", 1), ("get", 2), ("keyed", 1), ("big", 1)]
        first, second = recs[0], recs[1]
        assert first["response"]["status"] == 503 and second["response"]["status"] == 200
        sent = second["request"]
        assert sent["method"] == "POST" and sent["body"] == {"n": 1}
        assert sent["headers"]["Authorization"] == REDACTED and sent["headers"]["Cookie"] == REDACTED
        assert sent["headers"]["X-Trace"] == "t1"
        echoed = json.loads(second["response"]["body"])  # the server echoed the token back: scrubbed too
        assert SECRET not in json.dumps(echoed) and REDACTED in json.dumps(echoed)
        assert recs[2]["request"]["url"].endswith(f"/keyed?api_key={REDACTED.replace('[', '%5B').replace(']', '%5D')}")
        big = recs[3]["response"]["body"]
        assert len(big) < BODY_CAP + 100 and big.endswith("[truncated: 5000 more characters]")
        loaded = svc.record(rec.execution_id)
        assert [a["io"]["response"]["status"] for a in loaded.main.attempts["get"]] == [503, 200]
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        encodings = dict(conn.execute(sa.text("SELECT node_id, encoding FROM recordings WHERE node_id IN ('big', 'keyed')")).all())
    engine.dispose()
    assert encodings == {"big": "zjson", "keyed": "json"}
    stored = _all_stored_text(db)
    assert SECRET not in stored and stored.count(REDACTED) >= 3


async def test_email_is_recorded_without_the_password(db: Db, smtp_server: SmtpTestServer) -> None:
    smtp_server.require_auth({"robot": PASSWORD})
    wf = workflow([{"id": "start", "type": "manual_trigger"}, email_node(smtp_server, credential="mail")],
                  [("start", "out", "mail")], variables={"n": 7})
    with db.service() as svc:
        rec = await svc.run(wf)
        assert rec.status == "completed", rec.error
        (r,) = svc.store.recordings(rec.execution_id, "mail")
    assert len(smtp_server.messages) == 1 and not r["captured"]
    assert r["kind"] == "email" and r["request"]["subject"] == "Report 7" and r["request"]["login"] == REDACTED
    assert r["response"]["accepted"] == ["ann@example.org"]
    assert PASSWORD not in json.dumps(r)


async def test_capture_sends_nothing_and_survives_a_resume(db: Db, smtp_server: SmtpTestServer) -> None:
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, email_node(smtp_server, "first"),
         {"id": "hold", "type": "wait", "config": {"seconds": 2}}, email_node(smtp_server, "second", to="bob@example.org")],
        [("start", "out", "first"), ("first", "out", "hold"), ("hold", "out", "second")],
        variables={"n": 1},
    )
    hooks = ev.LifecycleHooks()
    waiting = asyncio.Event()
    hooks.on(ev.NodeStarted, lambda e, r: waiting.set() if e.node_id == "hold" else None)
    with db.service() as svc:
        handle = await svc.start(wf, capture_email=True, hooks=hooks)
        await waiting.wait()
        svc.pause(handle.execution_id)
        assert (await handle.task).status == "paused"
        eid = handle.execution_id
    with db.service() as svc:
        rec, _ = svc.store.load_record(eid)
        assert rec.io.capture_email
        done = await (await svc.resume(eid)).task
        assert done.status == "completed", done.error
        msgs = svc.store.recordings(eid)
    assert smtp_server.messages == []
    assert [(m["node_id"], m["captured"], m["request"]["to"]) for m in msgs] == [
        ("first", True, ["ann@example.org"]), ("second", True, ["bob@example.org"])]
    assert done.main.outputs["second"]["captured"] is True


async def test_in_memory_runs_put_recordings_on_attempts(http_server: HttpTestServer) -> None:
    http_server.fail_first("/m", 1, status=502)
    wf = workflow([{"id": "start", "type": "manual_trigger"},
                   {"id": "get", "type": "http_request", "config": {"url": http_server.url_for("/m")},
                    "retry": {"max_attempts": 2, "initial_delay_s": 0.01, "jitter": False}}],
                  [("start", "out", "get")])
    with ExecutionService(in_memory=True) as svc:
        rec = await svc.run(wf)
    assert [a["io"]["response"]["status"] for a in rec.main.attempts["get"]] == [502, 200]
    assert rec.io.pending == {}


def test_uncollected_recordings_stay_bounded() -> None:
    from engine.recorded_io import PENDING_CAP, RunIO, keep_pending

    io = RunIO()
    for i in range(PENDING_CAP + 50):
        keep_pending(io, ("main", f"n{i}", 1), {"kind": "http"})
    assert len(io.pending) == PENDING_CAP and ("main", f"n{PENDING_CAP + 49}", 1) in io.pending
    assert ("main", "n0", 1) not in io.pending
