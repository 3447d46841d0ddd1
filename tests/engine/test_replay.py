"""Replay against the real local servers: a replaying re-run makes no request and sends no
email (server counts), answers with what the source run got, warns about a request that
changed (fails with strict replay), and keeps replaying after a pause and a resume."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from engine import events as ev
from engine.errors import EngineError
from tests.engine.runtime.helpers import workflow
from tests.engine.store.fixtures import Db, db_fixture  # noqa: F401
from tests.engine.test_recorded_io import SECRET, _credentials, email_node  # noqa: F401
from tests.servers import HttpTestServer, Reply, SmtpTestServer


def _api_then_mail(http: HttpTestServer, smtp: SmtpTestServer, body: Any = None) -> Any:
    get = {"id": "get", "type": "http_request", "retry": {"max_attempts": 2, "initial_delay_s": 0.01, "jitter": False},
           "config": {"method": "POST", "url": http.url_for("/quote"), "credential": "partner",
                      "json": body if body is not None else {"n": "{{ vars.n }}"}}}
    total = {"id": "total", "type": "set", "config": {"values": {"price": "{{ input.body.price * 2 }}"}}}
    mail = email_node(smtp, "mail", subject="Quote {{ nodes['total'].price }}")
    return workflow([{"id": "start", "type": "manual_trigger"}, get, total, mail],
                    [("start", "out", "get"), ("get", "out", "total"), ("total", "out", "mail")], variables={"n": 4})


async def _source(db: Db, wf: Any) -> str:
    with db.service() as svc:
        rec = await svc.run(wf)
        assert rec.status == "completed", rec.error
        return rec.execution_id


async def test_replay_makes_no_request_and_sends_nothing(db: Db, http_server: HttpTestServer, smtp_server: SmtpTestServer) -> None:
    http_server.fail_first("/quote", 1, status=503, then=Reply(json={"price": 21}))
    source = await _source(db, _api_then_mail(http_server, smtp_server))
    assert http_server.calls("/quote") == 2 and len(smtp_server.messages) == 1
    http_server.route("/quote", Reply(json={"price": 999}))  # what the network would say now
    with db.service() as svc:
        rec = await (await svc.rerun(source, replay={})).task
        assert rec.status == "completed", rec.error
        stored = svc.record(rec.execution_id)
    assert http_server.calls("/quote") == 2 and len(smtp_server.messages) == 1  # nothing went out
    assert rec.main.outputs["total"] == {"price": 42}  # the recorded answer (the last attempt's)
    assert [a["status"] for a in stored.main.attempts["get"]] == ["replayed"]
    assert [a["status"] for a in stored.main.attempts["mail"]] == ["replayed"]
    assert stored.main.attempts["get"][0]["io"]["replayed"] is True
    assert stored.main.node_status["get"] == "succeeded"
    from engine.runtime.status import status_object

    assert "warnings" not in status_object(rec)


async def test_chosen_nodes_only_and_clear_errors(db: Db, http_server: HttpTestServer, smtp_server: SmtpTestServer) -> None:
    http_server.route("/quote", Reply(json={"price": 5}))
    source = await _source(db, _api_then_mail(http_server, smtp_server))
    with db.service() as svc:
        rec = await (await svc.rerun(source, replay={"nodes": ["get"]})).task
        assert rec.status == "completed", rec.error
        assert [a["status"] for a in svc.record(rec.execution_id).main.attempts["mail"]] == ["succeeded"]
        for nodes, message in ((["nope"], "the workflow has no node 'nope'"),
                               (["total"], "node 'total' is a set node"),):
            with pytest.raises(EngineError, match=message):
                await svc.rerun(source, replay={"nodes": nodes})
    assert http_server.calls("/quote") == 1 and len(smtp_server.messages) == 2


async def test_a_changed_request_warns_and_strict_replay_fails(db: Db, http_server: HttpTestServer, smtp_server: SmtpTestServer, caplog: pytest.LogCaptureFixture) -> None:
    http_server.route("/quote", Reply(json={"price": 5}))
    wf = _api_then_mail(http_server, smtp_server, body={"run": "{{ execution.id }}"})  # differs in every run
    source = await _source(db, wf)
    with db.service() as svc:
        rec = await (await svc.rerun(source, replay={})).task
        assert rec.status == "completed", rec.error
        from engine.runtime.status import status_object

        (warning,) = status_object(rec)["warnings"]
        assert warning == "node 'get': the rendered request differs from the recording in body"
        assert warning in caplog.text
        strict = await (await svc.rerun(source, replay={"strict": True})).task
    assert strict.status == "failed" and strict.error["node_id"] == "get"
    assert "differs from the recording in body (strict replay)" in strict.error["message"]
    assert http_server.calls("/quote") == 1 and len(smtp_server.messages) == 1


async def test_a_resumed_replay_keeps_replaying(db: Db, http_server: HttpTestServer) -> None:
    http_server.route("/a", Reply(json={"v": 1}))
    http_server.route("/b", Reply(json={"v": 2}))
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"},
         {"id": "a", "type": "http_request", "config": {"url": http_server.url_for("/a")}},
         {"id": "hold", "type": "wait", "config": {"seconds": 1}},
         {"id": "b", "type": "http_request", "config": {"url": http_server.url_for("/b")}}],
        [("start", "out", "a"), ("a", "out", "hold"), ("hold", "out", "b")],
    )
    source = await _source(db, wf)
    hooks = ev.LifecycleHooks()
    waiting = asyncio.Event()
    hooks.on(ev.NodeStarted, lambda e, r: waiting.set() if e.node_id == "hold" else None)
    with db.service() as svc:
        handle = await svc.rerun(source, replay={}, hooks=hooks)
        await waiting.wait()
        svc.pause(handle.execution_id)
        assert (await handle.task).status == "paused"
    with db.service() as svc:
        done = await (await svc.resume(handle.execution_id)).task
        assert done.status == "completed", done.error
        attempts = svc.record(handle.execution_id).main.attempts
    assert http_server.calls("/a") == 1 and http_server.calls("/b") == 1
    assert attempts["b"][0]["status"] == "replayed" and done.main.outputs["b"]["body"] == {"v": 2}
    assert SECRET not in json.dumps(done.main.outputs)


async def test_a_rerun_can_capture_the_email_its_live_nodes_send(db: Db, http_server: HttpTestServer, smtp_server: SmtpTestServer) -> None:
    http_server.route("/quote", Reply(json={"price": 5}))
    source = await _source(db, _api_then_mail(http_server, smtp_server))
    with db.service() as svc:
        rec = await (await svc.rerun(source, from_node="mail", capture_email=True)).task
        assert rec.status == "completed", rec.error
        assert rec.main.outputs["mail"]["captured"] is True
        from engine.cli_inbox import captured_messages

        (message,) = captured_messages(svc.store.recordings(rec.execution_id))
        assert message["subject"] == "Quote 10" and message["node_id"] == "mail"
    assert len(smtp_server.messages) == 1  # only the source run's


async def test_recorded_nodes_are_those_a_rerun_can_replay(db: Db, http_server: HttpTestServer, smtp_server: SmtpTestServer) -> None:
    from engine.replay import recorded_nodes

    http_server.route("/quote", Reply(json={"price": 5}))
    source = await _source(db, _api_then_mail(http_server, smtp_server))
    with db.service() as svc:
        assert recorded_nodes(svc.store, source) == {"get", "mail"}
