from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import ValidationError

from engine.credentials import CredentialNotFound
from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.send_email import SendEmailConfig


def email_cfg(server, **extra):
    cfg = {
        "smtp_host": server.host,
        "smtp_port": server.port,
        "from": "Robot <robot@example.com>",
        "to": "ann@example.org",
        "subject": "Report ready",
        "text": "Hello Ann,\nthe report is ready.\n",
        "timeout_s": 5,
    }
    cfg.update(extra)
    return cfg


@pytest.fixture
def smtp_credential(monkeypatch):
    monkeypatch.setenv("PROCESSENGINE_CRED_SMTP_MAIN_USERNAME", "robot")
    monkeypatch.setenv("PROCESSENGINE_CRED_SMTP_MAIN_PASSWORD", "s3cret-PW")
    return "smtp-main"


async def test_plain_send_and_content_on_the_server(harness, smtp_server):
    out = (await harness.run("send_email", email_cfg(smtp_server))).outputs["out"]
    (msg,) = smtp_server.messages
    assert msg.mail_from == "robot@example.com"
    assert msg.rcpt_tos == ["ann@example.org"]
    m = msg.message
    assert m["From"] == "Robot <robot@example.com>"
    assert m["To"] == "ann@example.org"
    assert m["Subject"] == "Report ready"
    assert msg.text == "Hello Ann,\nthe report is ready.\n"
    assert out == {"message_id": m["Message-ID"], "accepted": ["ann@example.org"]}
    assert out["message_id"].endswith("@example.com>")
    assert not msg.tls and msg.auth_user is None


async def test_to_as_list_with_cc_and_bcc(harness, smtp_server):
    cfg = email_cfg(
        smtp_server,
        to=["Ann <ann@example.org>", "bob@example.org"],
        cc="carl@example.org",
        bcc=["dora@example.org"],
    )
    out = (await harness.run("send_email", cfg)).outputs["out"]
    (msg,) = smtp_server.messages
    expected = ["ann@example.org", "bob@example.org", "carl@example.org", "dora@example.org"]
    assert msg.rcpt_tos == expected
    assert out["accepted"] == expected
    assert msg.message["To"] == "Ann <ann@example.org>, bob@example.org"
    assert msg.message["Cc"] == "carl@example.org"
    assert msg.message["Bcc"] is None and b"dora" not in msg.data


async def test_comma_separated_string_and_unicode(harness, smtp_server):
    cfg = email_cfg(smtp_server, to="Änne <anne@example.org>, bob@example.org", subject="Grüße ✓", text="naïve café\n")
    out = (await harness.run("send_email", cfg)).outputs["out"]
    (msg,) = smtp_server.messages
    assert out["accepted"] == ["anne@example.org", "bob@example.org"]
    assert msg.message["Subject"] == "Grüße ✓"
    assert msg.message["To"].addresses[0].display_name == "Änne"
    assert msg.text == "naïve café\n"


async def test_duplicate_recipients_get_one_copy(harness, smtp_server):
    cfg = email_cfg(smtp_server, to=["ann@example.org"], cc=["ann@example.org"])
    out = (await harness.run("send_email", cfg)).outputs["out"]
    assert out["accepted"] == ["ann@example.org"] and smtp_server.messages[0].rcpt_tos == ["ann@example.org"]


async def test_starttls(harness, smtp_starttls_server):
    cfg = email_cfg(smtp_starttls_server, starttls=True, verify_tls=False)
    await harness.run("send_email", cfg)
    (msg,) = smtp_starttls_server.messages
    assert msg.tls


async def test_starttls_off_sends_in_clear_even_when_offered(harness, smtp_starttls_server):
    await harness.run("send_email", email_cfg(smtp_starttls_server))
    assert smtp_starttls_server.messages[0].tls is False


async def test_starttls_verifies_against_ssl_cert_file(harness, smtp_starttls_server, tls_cert, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_cert.cert_path))
    await harness.run("send_email", email_cfg(smtp_starttls_server, starttls=True))
    assert smtp_starttls_server.messages[0].tls


async def test_untrusted_certificate_is_not_retryable(harness, smtp_tls_server, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(NodeError) as err:
        await harness.run("send_email", email_cfg(smtp_tls_server, tls=True))
    assert (err.value.retryable, err.value.error_type) == (False, "tls")
    assert "CERTIFICATE_VERIFY_FAILED" in err.value.message
    assert smtp_tls_server.messages == []


async def test_implicit_tls(harness, smtp_tls_server):
    out = (await harness.run("send_email", email_cfg(smtp_tls_server, tls=True, verify_tls=False))).outputs["out"]
    (msg,) = smtp_tls_server.messages
    assert msg.tls and out["accepted"] == ["ann@example.org"]


async def test_auth_with_env_credential(harness, smtp_starttls_server, smtp_credential, caplog):
    caplog.set_level(logging.DEBUG)
    smtp_starttls_server.require_auth({"robot": "s3cret-PW"})
    cfg = email_cfg(smtp_starttls_server, starttls=True, verify_tls=False, credential=smtp_credential)
    await harness.run("send_email", cfg)
    (msg,) = smtp_starttls_server.messages
    assert msg.auth_user == "robot" and msg.tls
    assert "s3cret-PW" not in caplog.text


async def test_auth_over_plain_connection_warns(harness, smtp_server, smtp_credential, caplog):
    smtp_server.require_auth({"robot": "s3cret-PW"})
    await harness.run("send_email", email_cfg(smtp_server, credential=smtp_credential))
    assert smtp_server.messages[0].auth_user == "robot"
    assert "without TLS" in caplog.text and "s3cret-PW" not in caplog.text


async def test_wrong_password_is_not_retryable(harness, smtp_server, smtp_credential):
    smtp_server.require_auth({"robot": "another"})
    with pytest.raises(NodeError) as err:
        await harness.run("send_email", email_cfg(smtp_server, credential=smtp_credential))
    assert (err.value.retryable, err.value.status) == (False, 535)
    assert "s3cret-PW" not in err.value.message
    assert smtp_server.messages == []


async def test_auth_required_without_credential(harness, smtp_server):
    smtp_server.require_auth({"robot": "x"})
    with pytest.raises(NodeError) as err:
        await harness.run("send_email", email_cfg(smtp_server))
    assert (err.value.retryable, err.value.status) == (False, 530)


async def test_missing_credential_names_where_to_put_it(harness, smtp_server, monkeypatch):
    monkeypatch.delenv("PROCESSENGINE_CRED_NOPE_PASSWORD", raising=False)
    with pytest.raises(CredentialNotFound) as err:
        await harness.run("send_email", email_cfg(smtp_server, credential="nope"))
    assert not err.value.retryable
    assert "PROCESSENGINE_CRED_NOPE_PASSWORD" in err.value.message
    assert smtp_server.messages == []


async def test_connection_refused_is_retryable(harness, free_port):
    cfg = {"smtp_host": "127.0.0.1", "smtp_port": free_port, "from": "a@example.com", "to": "b@example.com"}
    with pytest.raises(NodeError) as err:
        await harness.run("send_email", cfg)
    assert (err.value.retryable, err.value.error_type) == (True, "connection")
    assert f"127.0.0.1:{free_port}" in err.value.message


async def test_silent_server_times_out_retryably(harness, http_server):
    # an HTTP server never sends an SMTP greeting
    cfg = {"smtp_host": "127.0.0.1", "smtp_port": http_server.port, "from": "a@example.com",
           "to": "b@example.com", "timeout_s": 0.3}
    with pytest.raises(NodeError) as err:
        await harness.run("send_email", cfg)
    assert (err.value.retryable, err.value.error_type) == (True, "timeout")


@pytest.mark.parametrize(("reply", "retryable"), [("550 5.1.1 no such user", False), ("450 4.2.1 mailbox busy", True)])
async def test_refused_recipients(harness, smtp_server, reply, retryable):
    smtp_server.reply_rcpt["ann@example.org"] = reply
    with pytest.raises(NodeError) as err:
        await harness.run("send_email", email_cfg(smtp_server))
    assert (err.value.retryable, err.value.status) == (retryable, int(reply[:3]))
    assert "ann@example.org" in err.value.message


async def test_partly_refused_recipients_report_the_accepted_ones(harness, smtp_server):
    smtp_server.reply_rcpt["ann@example.org"] = "550 5.1.1 no such user"
    out = (await harness.run("send_email", email_cfg(smtp_server, to=["ann@example.org", "bob@example.org"]))).outputs["out"]
    assert out["accepted"] == ["bob@example.org"]
    assert smtp_server.messages[0].rcpt_tos == ["bob@example.org"]


@pytest.mark.parametrize(("reply", "retryable"), [("451 4.3.0 try again later", True), ("554 5.6.0 rejected", False)])
async def test_data_rejection(harness, smtp_server, reply, retryable):
    smtp_server.reply_data = reply
    with pytest.raises(NodeError) as err:
        await harness.run("send_email", email_cfg(smtp_server))
    assert (err.value.retryable, err.value.status) == (retryable, int(reply[:3]))


def test_config_defaults():
    cfg = SendEmailConfig.model_validate({"smtp_host": "h", "from": "a@x.org", "to": "b@y.org"})
    assert (cfg.smtp_port, cfg.starttls, cfg.tls, cfg.verify_tls, cfg.credential) == (25, False, False, True, None)
    assert (cfg.cc, cfg.bcc, cfg.subject, cfg.text, cfg.timeout_s) == ([], [], "", "", 30.0)
    assert cfg.to == ["b@y.org"] and cfg.sender == "a@x.org"


@pytest.mark.parametrize(
    ("patch", "loc", "text"),
    [
        ({"tls": True, "starttls": True}, ("tls",), "set either `tls` (implicit TLS) or `starttls`, not both"),
        ({"to": "not-an-address"}, ("to",), "invalid email address 'not-an-address'"),
        ({"to": []}, ("to",), "at least one recipient is required"),
        ({"to": 5}, ("to",), "valid list"),
        ({"from": "a@x.org, b@x.org"}, ("from",), "`from` must be exactly one address"),
        ({"subject": "a\nBcc: evil@x.org"}, ("subject",), "subject must be a single line"),
        ({"smtp_port": 0}, ("smtp_port",), "greater than or equal to 1"),
        ({"sender": "a@x.org"}, ("sender",), "Extra inputs are not permitted"),
        ({"password": "x"}, ("password",), "Extra inputs are not permitted"),
    ],
)
def test_config_errors_name_the_field(patch, loc, text):
    base = {"smtp_host": "h", "from": "a@x.org", "to": "b@y.org"}
    with pytest.raises(ValidationError) as err:
        SendEmailConfig.model_validate({**base, **patch})
    first = err.value.errors()[0]
    assert first["loc"] == loc and text in first["msg"]


def test_required_fields():
    with pytest.raises(ValidationError) as err:
        SendEmailConfig.model_validate({})
    assert {e["loc"][0] for e in err.value.errors()} == {"smtp_host", "from", "to"}


def test_spec(harness):
    spec = registry.get_spec("send_email")
    node = harness.node("send_email", {})
    assert spec.default_retry == "default" and spec.has_side_effects(node) and not spec.pure
    assert spec.category == "Actions" and spec.output_ports(node) == ["out"]
    assert "from" in SendEmailConfig.model_json_schema()["properties"]


async def test_cancelling_a_send_to_a_silent_server(harness):
    connected = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()  # and never send the greeting
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cfg = {"smtp_host": "127.0.0.1", "smtp_port": port, "from": "a@example.com", "to": "b@example.com"}
    try:
        task = asyncio.ensure_future(harness.run("send_email", cfg))
        await asyncio.wait_for(connected.wait(), 10)  # connected, waiting for a greeting that never comes
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 1.0)
    finally:
        server.close()
        await server.wait_closed()


async def test_credential_without_username_is_refused_before_connecting(harness, smtp_server, monkeypatch):
    monkeypatch.delenv("PROCESSENGINE_CRED_TOKEN_ONLY_USERNAME", raising=False)
    monkeypatch.setenv("PROCESSENGINE_CRED_TOKEN_ONLY_PASSWORD", "pw")
    with pytest.raises(NodeError, match="credential 'token-only' has no username") as err:
        await harness.run("send_email", email_cfg(smtp_server, credential="token-only"))
    assert not err.value.retryable and smtp_server.messages == []
