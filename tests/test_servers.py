"""The shared test servers behave as documented (other test tiers rely on them)."""

from __future__ import annotations

import smtplib
import threading
from email.message import EmailMessage

import httpx
import pytest

from tests.servers import Reply


def test_routes_sequences_and_records(http_server):
    http_server.route("/seq", Reply(503), Reply(json={"n": 2}), method="POST")
    with httpx.Client() as c:
        assert c.post(http_server.url_for("/seq"), content=b"a").status_code == 503
        r = c.post(http_server.url_for("/seq?x=1"), json={"k": 1})
        assert (r.status_code, r.json()) == (200, {"n": 2})
        assert c.post(http_server.url_for("/seq")).status_code == 200  # the last reply repeats
        assert c.get(http_server.url_for("/seq")).status_code == 405
        assert c.get(http_server.url_for("/unknown")).status_code == 404
    assert http_server.calls("/seq") == 4
    assert http_server.requests[1].query == {"x": "1"} and http_server.requests[1].json() == {
        "k": 1
    }


def test_fail_first_then_ok(http_server):
    http_server.fail_first("/f", 2, status=502)
    with httpx.Client() as c:
        assert [c.get(http_server.url_for("/f")).status_code for _ in range(3)] == [502, 502, 200]


def test_text_bytes_and_custom_content_types(http_server):
    http_server.route("/t", Reply(text="hi", headers={"X-A": "b"}))
    http_server.route("/b", Reply(body=b"\x00\x01", content_type="image/png"))
    with httpx.Client() as c:
        t = c.get(http_server.url_for("/t"))
        b = c.get(http_server.url_for("/b"))
    assert (t.text, t.headers["content-type"].split(";")[0], t.headers["x-a"]) == (
        "hi",
        "text/plain",
        "b",
    )
    assert (b.content, b.headers["content-type"]) == (b"\x00\x01", "image/png")


def test_echo_describes_the_request(http_server):
    with httpx.Client() as c:
        d = c.put(http_server.url_for("/echo?a=1"), json=[1], headers={"X-T": "v"}).json()
    assert (d["method"], d["path"], d["query"], d["json"], d["headers"]["X-T"]) == (
        "PUT",
        "/echo",
        {"a": "1"},
        [1],
        "v",
    )


def test_reset_releases_hanging_requests_and_forgets_routes(http_server):
    http_server.route("/gone", Reply())
    result: dict[str, int] = {}

    def call() -> None:
        result["status"] = httpx.get(http_server.url_for("/hang"), timeout=10).status_code

    t = threading.Thread(target=call)
    t.start()
    http_server.wait_for_requests(1, path="/hang")
    http_server.reset()
    t.join(5)
    assert result == {"status": 503}
    assert http_server.requests == [] and httpx.get(http_server.url_for("/gone")).status_code == 404


def test_a_held_reply_answers_when_released(http_server):
    http_server.route("/gate", Reply(json={"ok": True}, held=True))
    result: dict[str, object] = {}

    def call() -> None:
        reply = httpx.get(http_server.url_for("/gate"), timeout=30)
        result["reply"] = (reply.status_code, reply.json())

    t = threading.Thread(target=call)
    t.start()
    http_server.wait_for_requests(1, path="/gate")
    assert t.is_alive() and result == {}  # held: no answer yet
    http_server.release_held()
    t.join(30)
    assert result == {"reply": (200, {"ok": True})}


def test_wait_for_requests_times_out(http_server):
    with pytest.raises(TimeoutError, match="expected 1 request"):
        http_server.wait_for_requests(1, timeout=0.05)


def test_smtp_capture_with_stdlib_client(smtp_server):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "S"
    msg.set_content("line 1\nline 2\n")
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as s:
        s.send_message(msg)
    (got,) = smtp_server.wait_for_messages(1)
    assert (got.mail_from, got.rcpt_tos, got.message["Subject"], got.text) == (
        "a@example.com",
        ["b@example.com"],
        "S",
        "line 1\nline 2\n",
    )


def test_smtp_auth_required_and_tls_flags(smtp_starttls_server, tls_cert):
    smtp_starttls_server.require_auth({"u": "p"})
    msg = EmailMessage()
    msg["From"], msg["To"] = "a@example.com", "b@example.com"
    msg.set_content("x")
    with smtplib.SMTP(smtp_starttls_server.host, smtp_starttls_server.port, timeout=5) as s:
        with pytest.raises(smtplib.SMTPSenderRefused) as err:
            s.send_message(msg)
        assert err.value.smtp_code == 530
    with smtplib.SMTP(smtp_starttls_server.host, smtp_starttls_server.port, timeout=5) as s:
        s.starttls(context=tls_cert.client_context())
        s.login("u", "p")
        s.send_message(msg)
    (got,) = smtp_starttls_server.messages
    assert got.tls and got.auth_user == "u"


def test_smtp_implicit_tls(smtp_tls_server, tls_cert):
    msg = EmailMessage()
    msg["From"], msg["To"] = "a@example.com", "b@example.com"
    msg.set_content("x")
    with smtplib.SMTP_SSL(
        smtp_tls_server.host, smtp_tls_server.port, context=tls_cert.client_context(), timeout=5
    ) as s:
        s.send_message(msg)
    assert smtp_tls_server.messages[0].tls


def test_smtp_wait_for_messages_times_out(smtp_server):
    with pytest.raises(TimeoutError, match="expected 1 message"):
        smtp_server.wait_for_messages(1, timeout=0.05)
