"""Send email: one plain-text message over SMTP (aiosmtplib).

Failures are classified for the retry policy: a refused or dropped
connection, a timeout and 4xx SMTP replies (temporary) are retryable; 5xx
replies (permanent), TLS certificate problems and missing credentials are
not. The SMTP reply code rides on the NodeError as `status`. Credentials are
resolved by name through the run's services and are never logged.

TLS: `tls` connects with implicit TLS (usually port 465), `starttls` upgrades a
plain connection (usually port 587). Certificates are verified against the
system trust store; `SSL_CERT_FILE` adds a CA bundle (e.g. a company CA) and
`verify_tls: false` turns verification off for test servers.
"""

from __future__ import annotations

import email.utils
import ssl
from email.message import EmailMessage
from typing import Any

import aiosmtplib
from pydantic import Field, ValidationInfo, field_validator

from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, NodeSpec
from engine.recorded_io import REDACTED, cap_body, check_replay


def _address_list(v: Any) -> Any:
    """'a@x, B <b@y>' or a list of such entries -> a list of single-address entries."""
    if v is None:
        return []
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list):
        return v  # let pydantic report the type
    entries: list[str] = []
    for item in v:
        if not isinstance(item, str):
            return v
        for name, addr in email.utils.getaddresses([item]):
            if not addr or "@" not in addr:
                raise ValueError(f"invalid email address {item!r}")
            entries.append(email.utils.formataddr((name, addr)) if name else addr)
    return entries


def envelope_address(entry: str) -> str:
    return email.utils.parseaddr(entry)[1]


class SendEmailConfig(NodeConfig):
    smtp_host: str = Field(description="SMTP server host name or IP address.")
    smtp_port: int = Field(
        25, ge=1, le=65535, description="SMTP server port (587 for STARTTLS, 465 for TLS)."
    )
    starttls: bool = Field(
        False, description="Upgrade the connection with STARTTLS before sending."
    )
    tls: bool = Field(False, description="Connect with implicit TLS (SMTPS); excludes `starttls`.")
    verify_tls: bool = Field(
        True,
        description="Verify the server's TLS certificate (system trust store plus SSL_CERT_FILE). "
        "Turn off only for test servers with self-signed certificates.",
    )
    credential: str | None = Field(
        None, description="Name of a stored credential (username + password) to log in with."
    )
    sender: str = Field(
        alias="from", description="Sender address, e.g. 'Robot <robot@example.com>'."
    )
    to: list[str] = Field(
        description="Recipient address, a comma-separated string or a list of addresses."
    )
    cc: list[str] = Field(
        default_factory=list, description="Carbon-copy recipients (string or list)."
    )
    bcc: list[str] = Field(
        default_factory=list,
        description="Blind-copy recipients (string or list; not shown in headers).",
    )
    subject: str = Field("", description="Subject line.")
    text: str = Field("", description="Plain-text message body.")
    timeout_s: float = Field(
        30.0, gt=0, description="Time limit for each network operation, in seconds."
    )

    @field_validator("to", "cc", "bcc", mode="before")
    @classmethod
    def _addresses(cls, v: Any) -> Any:
        return _address_list(v)

    @field_validator("to")
    @classmethod
    def _some_recipient(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one recipient is required")
        return v

    @field_validator("sender")
    @classmethod
    def _one_sender(cls, v: str) -> str:
        entries: list[str] = _address_list(v)  # a str in, a list of str out
        if len(entries) != 1:
            raise ValueError(f"`from` must be exactly one address, got {v!r}")
        return entries[0]

    @field_validator("tls")
    @classmethod
    def _one_tls_mode(cls, v: bool, info: ValidationInfo) -> bool:
        if v and info.data.get("starttls"):
            raise ValueError("set either `tls` (implicit TLS) or `starttls`, not both")
        return v

    @field_validator("subject")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if "\n" in v or "\r" in v:
            raise ValueError("subject must be a single line")
        return v


def build_message(cfg: SendEmailConfig) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(cfg.to)
    if cfg.cc:
        msg["Cc"] = ", ".join(cfg.cc)
    msg["Subject"] = cfg.subject
    msg["Date"] = email.utils.formatdate(localtime=True)
    domain = envelope_address(cfg.sender).rpartition("@")[2] or "processengine.local"
    msg["Message-ID"] = email.utils.make_msgid(domain=domain)  # no getfqdn(): it may block on DNS
    msg.set_content(cfg.text)
    return msg


def _smtp_error(exc: Exception, where: str) -> NodeError:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        details = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        return NodeError(
            f"{where}: all recipients refused ({details})",
            retryable=bool(codes) and all(400 <= c < 500 for c in codes),
            status=codes[0] if codes else None,
            error_type="smtp_refused",
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return NodeError(
            f"{where}: SMTP {exc.code} {exc.message}",
            retryable=400 <= exc.code < 500,
            status=exc.code,
            error_type="smtp_reply",
        )
    if isinstance(exc, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return NodeError(f"{where}: TLS failed: {exc}", error_type="tls")
    if isinstance(exc, TimeoutError):  # SMTPTimeoutError and SMTPConnectTimeoutError too
        return NodeError(f"{where}: timed out: {exc}", retryable=True, error_type="timeout")
    if isinstance(exc, OSError):  # refused, reset, disconnected, DNS failure
        return NodeError(f"{where}: {exc}", retryable=True, error_type="connection")
    return NodeError(f"{where}: {exc}", error_type="smtp")


class SendEmailSpec(NodeSpec):
    type = "send_email"
    title = "Send email"
    category = "Actions"
    description = (
        "Sends a plain-text email over SMTP (optional STARTTLS / TLS and login with a stored "
        "credential); outputs {message_id, accepted}."
    )
    icon = "mail"
    config_model = SendEmailConfig
    side_effects = True
    default_retry = "default"

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: SendEmailConfig = ctx.config
        msg = build_message(cfg)
        recipients = list(dict.fromkeys(envelope_address(a) for a in (*cfg.to, *cfg.cc, *cfg.bcc)))
        request = recorded_message(cfg, msg)
        replay = ctx.replayed_io()
        if replay is not None:
            return _replay(ctx, request, replay)
        if ctx.services.io.capture_email:
            ctx.record_io("email", request, None, captured=True)
            ctx.log.info("captured %s for %d recipient(s); nothing was sent", msg["Message-ID"], len(recipients))
            return NodeResult.out({"message_id": msg["Message-ID"], "accepted": recipients, "captured": True})
        username, password = _login(ctx, cfg)
        secrets = (password,) if password else ()
        where = f"SMTP {cfg.smtp_host}:{cfg.smtp_port}"
        try:
            refused, reply = await aiosmtplib.send(
                msg,
                sender=envelope_address(cfg.sender),
                recipients=recipients,
                hostname=cfg.smtp_host,
                port=cfg.smtp_port,
                username=username,
                password=password,
                use_tls=cfg.tls,
                start_tls=cfg.starttls,
                validate_certs=cfg.verify_tls,
                timeout=cfg.timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            err = _smtp_error(exc, where)
            ctx.record_io("email", request, {"error": str(err)}, secrets=secrets)
            raise err from None
        for addr, resp in refused.items():
            ctx.log.warning("%s refused recipient %s: %s %s", where, addr, resp.code, resp.message)
        accepted = [a for a in recipients if a not in refused]
        response = {
            "accepted": accepted,
            "refused": {a: f"{r.code} {r.message}" for a, r in refused.items()},
            "reply": reply,
        }
        ctx.record_io("email", request, response, secrets=secrets)
        ctx.log.info(
            "sent %s to %d recipient(s) via %s: %s", msg["Message-ID"], len(accepted), where, reply
        )
        return NodeResult.out({"message_id": msg["Message-ID"], "accepted": accepted})


def _login(ctx: NodeContext, cfg: SendEmailConfig) -> tuple[str | None, str | None]:
    """(username, password) of the configured credential, or (None, None) for no login."""
    if not cfg.credential:
        return None, None
    cred = ctx.services.credential(cfg.credential)
    username, password = cred.get("username") or "", cred.get("password") or ""
    if not username:
        raise NodeError(
            f"credential {cfg.credential!r} has no username",
            error_type="CredentialNotFound",
        )
    if not (cfg.tls or cfg.starttls):
        ctx.log.warning(
            "logging in to %s without TLS: the password crosses the network in clear",
            cfg.smtp_host,
        )
    return username, password


def recorded_message(cfg: SendEmailConfig, msg: EmailMessage) -> dict[str, Any]:
    """The message as a recording keeps it (a login is noted, never its password)."""
    return {
        "smtp": f"{cfg.smtp_host}:{cfg.smtp_port}",
        "login": REDACTED if cfg.credential else None,
        "from": cfg.sender,
        "to": list(cfg.to),
        "cc": list(cfg.cc),
        "bcc": list(cfg.bcc),
        "subject": cfg.subject,
        "text": cap_body(cfg.text),
        "message_id": msg["Message-ID"],
        "date": msg["Date"],
    }


def _replay(ctx: NodeContext, request: dict[str, Any], recorded: dict[str, Any]) -> NodeResult:
    """Answer from the source run's recording: no message leaves the machine."""
    diff = check_replay(ctx, "email", request, recorded, ())
    response = recorded.get("response")
    ctx.record_io(
        "email", request, response, captured=bool(recorded.get("captured")), replayed=True, mismatch=diff
    )
    if response is not None and "error" in response:
        raise NodeError(f"(replayed) {response['error']}", error_type="replay")
    old = recorded.get("request") or {}
    accepted = (response or {}).get("accepted")
    if accepted is None:  # a captured message: every recipient
        accepted = [envelope_address(a) for a in (*request["to"], *request["cc"], *request["bcc"])]
    ctx.log.info("replayed %s from the recording; nothing was sent", old.get("message_id"))
    return NodeResult.out({"message_id": old.get("message_id"), "accepted": accepted})


SPEC = registry.register(SendEmailSpec())
