"""Real local servers for tests: a scriptable HTTP server and capturing SMTP servers.

Every server listens on 127.0.0.1 only, runs on a background thread with its
own asyncio loop (so it serves sync tests, async tests on any loop, Qt tests
and CLI subprocesses alike) and is started once per session; the function
fixtures reset its state before each test, so using one costs next to nothing.

HTTP (`http_server` fixture -> `HttpTestServer`)::

    http_server.route("/items", Reply(json={"items": [1, 2]}))
    http_server.route("/flaky", Reply(503), Reply(503), Reply(json={"ok": True}))  # last repeats
    http_server.fail_first("/flaky2", 2, status=503, then=Reply(json={"ok": True}))
    http_server.route("/slow", Reply(hang=True))           # never answers (released at reset)
    http_server.route("/gate", Reply(json={}, held=True))   # answers once the test says so:
    http_server.release_held()                              # ...now (later requests wait again)
    url = http_server.url_for("/items")
    http_server.requests                                    # every request, as RecordedRequest
    http_server.calls("/flaky")                             # how many requests hit that path

Always available after reset: ``/echo`` (any method: a JSON description of
the request) and ``/hang`` (never answers). Unknown paths get 404.

SMTP (`smtp_server`, `smtp_starttls_server`, `smtp_tls_server` -> `SmtpTestServer`)::

    smtp_server.host, smtp_server.port
    smtp_server.messages                                    # CapturedMessage list
    smtp_server.require_auth({"robot": "s3cret"})           # AUTH PLAIN/LOGIN, required
    smtp_server.reply_rcpt["nobody@example.com"] = "550 5.1.1 no such user"
    smtp_server.wait_for_messages(1, timeout=5)             # for other processes' mail

`tls_cert` is a session-wide self-signed certificate for 127.0.0.1/localhost
(made with `cryptography`); point SSL_CERT_FILE at `tls_cert.cert_path` to make
clients trust it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import ipaddress
import json as jsonlib
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"
_UNSET: Any = object()


# --------------------------------------------------------------------- TLS cert
@dataclass(frozen=True)
class TlsCert:
    """A self-signed certificate valid for 127.0.0.1 and localhost (also its own CA)."""

    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_path, self.key_path)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly this certificate."""
        return ssl.create_default_context(cafile=str(self.cert_path))


def make_self_signed_cert(directory: Path) -> TlsCert:
    """Write cert.pem / key.pem for 127.0.0.1 + localhost into `directory`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ProcessEngine test server")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return TlsCert(cert_path, key_path)


# ------------------------------------------------------------------ HTTP server
@dataclass
class Reply:
    """One scripted HTTP answer.

    `json` (any JSON value) or `text` or `body` (bytes) set the payload;
    `content_type` overrides the content type; `delay_s` waits first;
    `hang=True` never answers (until the server is reset or stopped);
    `held=True` answers normally, but only once `release_held()` is called (or at reset);
    `echo=True` answers with a JSON description of the request.
    """

    status: int = 200
    json: Any = _UNSET
    text: str | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay_s: float = 0.0
    hang: bool = False
    held: bool = False
    echo: bool = False


@dataclass
class RecordedRequest:
    """What the HTTP server received (headers keep their case; use `header()` to read)."""

    method: str
    path: str
    query: dict[str, str]
    query_items: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        low = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == low), default)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    def describe(self) -> dict[str, Any]:
        try:
            parsed: Any = self.json() if self.body else None
        except ValueError:
            parsed = None
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.text,
            "json": parsed,
        }


@dataclass
class _Route:
    method: str
    replies: list[Reply]
    served: int = 0

    def next_reply(self) -> Reply:
        reply = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return reply


class _ThreadLoop:
    """An asyncio loop running forever on a daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def call(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


class HttpTestServer:
    """A scriptable aiohttp server on 127.0.0.1 (see the module docstring for usage)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._routes: dict[str, _Route] = {}
        self.requests: list[RecordedRequest] = []
        self._thread = _ThreadLoop("http-test-server")
        self._release: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self.port = self._thread.call(self._start())
        self.reset()

    # -- lifecycle ---------------------------------------------------------
    async def _start(self) -> int:
        self._release = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        return self._runner.addresses[0][1]

    async def _stop(self) -> None:
        if self._release is not None:
            self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def close(self) -> None:
        self._thread.call(self._stop())
        self._thread.stop()

    def _release_hanging(self) -> None:
        async def swap() -> None:
            if self._release is not None:
                self._release.set()
            self._release = asyncio.Event()

        self._thread.call(swap())  # waits, so no request of the next test sees the old event

    def release_held(self) -> None:
        """Let every request waiting on a `held` (or `hang`) reply go on; later ones wait again."""
        self._release_hanging()

    def reset(self) -> None:
        """Forget routes and recorded requests, release hanging requests, restore defaults."""
        self._release_hanging()
        with self._lock:
            self._routes = {
                "/echo": _Route("*", [Reply(echo=True)]),
                "/hang": _Route("*", [Reply(hang=True)]),
            }
            self.requests = []

    # -- scripting ---------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url_for(self, path: str) -> str:
        return self.url + (path if path.startswith("/") else "/" + path)

    def route(self, path: str, *replies: Reply, method: str = "*") -> None:
        """Answer `path` (exact, without query) with `replies` in turn; the last one repeats.

        `method` limits the route to one method (others get 405); "*" takes all.
        """
        if not replies:
            raise ValueError("route() needs at least one Reply")
        with self._lock:
            self._routes[path] = _Route(method.upper(), list(replies))

    def fail_first(
        self, path: str, n: int, *, status: int = 503, then: Reply | None = None, method: str = "*"
    ) -> None:
        """Fail the first `n` calls with `status`, then answer `then` (default 200 {"ok": true})."""
        fail = Reply(status=status, json={"error": f"scripted failure {status}"})
        self.route(path, *([fail] * n), then or Reply(json={"ok": True}), method=method)

    def calls(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def wait_for_requests(
        self, n: int, timeout: float = 5.0, path: str | None = None
    ) -> list[RecordedRequest]:
        """Block until at least `n` requests (to `path`, if given) arrived; return them."""

        def matching() -> list[RecordedRequest]:
            return [r for r in self.requests if path is None or r.path == path]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= n, timeout):
                raise TimeoutError(
                    f"expected {n} request(s) to {path or 'any path'}, got {len(matching())}"
                )
            return matching()

    # -- serving -----------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        rec = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            query_items=list(request.query.items()),
            headers=dict(request.headers),
            body=body,
        )
        with self._changed:
            self.requests.append(rec)
            route = self._routes.get(request.path)
            reply = route.next_reply() if route and route.method in ("*", request.method) else None
            self._changed.notify_all()
        if route is None:
            return web.json_response({"error": f"no route for {request.path}"}, status=404)
        if reply is None:
            return web.json_response({"error": "method not allowed"}, status=405)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.hang or reply.held:
            assert self._release is not None
            await self._release.wait()
        if reply.hang:
            return web.Response(status=503, text="released")
        if reply.echo:
            return web.json_response(rec.describe(), status=reply.status, headers=reply.headers)
        if reply.json is not _UNSET:
            return web.Response(
                status=reply.status,
                text=jsonlib.dumps(reply.json),
                content_type=reply.content_type or "application/json",
                headers=reply.headers,
            )
        if reply.body is not None:
            return web.Response(
                status=reply.status,
                body=reply.body,
                content_type=reply.content_type or "application/octet-stream",
                headers=reply.headers,
            )
        return web.Response(
            status=reply.status,
            text=reply.text or "",
            content_type=reply.content_type or "text/plain",
            headers=reply.headers,
        )


# ------------------------------------------------------------------ SMTP server
@dataclass
class CapturedMessage:
    """One message the SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool  # the session was encrypted (STARTTLS or implicit TLS)
    auth_user: str | None  # the AUTH login name, if the client logged in

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]

    @property
    def text(self) -> str:
        """The plain-text body with the wire's CRLF line ends turned back into LF."""
        body = self.message.get_body(("plain",))
        return body.get_content().replace("\r\n", "\n") if body is not None else ""


class _Handler:
    def __init__(self, server: SmtpTestServer) -> None:
        self.server = server

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        # AUTH is enforced here rather than with aiosmtpd's auth_required, which warns
        # on every connection when TLS is not also required.
        if self.server.auth_required and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.server.reply_rcpt.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.server.reply_data:
            return self.server.reply_data
        msg = CapturedMessage(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            data=bytes(envelope.original_content or envelope.content),
            tls=self.server.mode == "tls" or session.ssl is not None,
            auth_user=session.auth_data if session.authenticated else None,
        )
        with self.server._changed:
            self.server.messages.append(msg)
            self.server._changed.notify_all()
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's Controller, but bound to a free port chosen by the OS (port 0)."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpTestServer:
    """An aiosmtpd server on 127.0.0.1 that captures messages.

    `mode` is "plain", "starttls" (offers STARTTLS) or "tls" (implicit TLS).
    AUTH (PLAIN, LOGIN) is offered always, over plain connections too, and is
    only required after `require_auth(...)`.
    """

    def __init__(self, mode: str = "plain", cert: TlsCert | None = None) -> None:
        if mode not in ("plain", "starttls", "tls"):
            raise ValueError(f"unknown SMTP server mode {mode!r}")
        if mode != "plain" and cert is None:
            raise ValueError(f"SMTP mode {mode!r} needs a TlsCert")
        self.mode = mode
        self.messages: list[CapturedMessage] = []
        self.users: dict[str, str] = {}
        self.reply_rcpt: dict[str, str] = {}
        self.reply_data: str | None = None
        self._changed = threading.Condition()
        self.auth_required = False
        kwargs: dict[str, Any] = {"authenticator": self._authenticate, "auth_require_tls": False}
        if mode == "starttls":
            kwargs["tls_context"] = cert.server_context()  # type: ignore[union-attr]
        if mode == "tls":
            kwargs["ssl_context"] = cert.server_context()  # type: ignore[union-attr]
        self._controller = _Controller(_Handler(self), hostname=HOST, port=0, **kwargs)
        self._controller.start()
        self.host = HOST
        self.port: int = self._controller.port

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode()
        if self.users.get(user) != auth_data.password.decode():
            return AuthResult(success=False, handled=False)  # -> 535 credentials invalid
        return AuthResult(success=True, auth_data=user)

    def require_auth(self, users: dict[str, str]) -> None:
        """Accept only these logins, and refuse mail from clients that did not log in."""
        self.users = dict(users)
        self.auth_required = True

    def release_held(self) -> None:
        """Let every request waiting on a `held` (or `hang`) reply go on; later ones wait again."""
        self._release_hanging()

    def reset(self) -> None:
        with self._changed:
            self.messages = []
        self.users = {}
        self.reply_rcpt = {}
        self.reply_data = None
        self.auth_required = False

    def wait_for_messages(self, n: int, timeout: float = 5.0) -> list[CapturedMessage]:
        """Block until at least `n` messages arrived (for mail sent by other threads/processes)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.messages) >= n, timeout):
                raise TimeoutError(f"expected {n} message(s), got {len(self.messages)}")
            return list(self.messages)

    def close(self) -> None:
        self._controller.stop()


# --------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> TlsCert:
    """A self-signed certificate for 127.0.0.1 / localhost, made once per session."""
    return make_self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def _http_server_session() -> Iterator[HttpTestServer]:
    server = HttpTestServer()
    yield server
    server.close()


@pytest.fixture
def http_server(_http_server_session: HttpTestServer) -> HttpTestServer:
    """The session's HTTP test server, reset (routes, records, hanging requests) for this test."""
    _http_server_session.reset()
    return _http_server_session


def _smtp_fixture(mode: str):  # type: ignore[no-untyped-def]
    @pytest.fixture(scope="session", name=f"_smtp_{mode}_session")
    def session_server(request: pytest.FixtureRequest) -> Iterator[SmtpTestServer]:
        cert = request.getfixturevalue("tls_cert") if mode != "plain" else None
        server = SmtpTestServer(mode, cert)
        yield server
        server.close()

    return session_server


_smtp_plain_session = _smtp_fixture("plain")
_smtp_starttls_session = _smtp_fixture("starttls")
_smtp_tls_session = _smtp_fixture("tls")


@pytest.fixture
def smtp_server(_smtp_plain_session: SmtpTestServer) -> SmtpTestServer:
    """A plain SMTP server (AUTH offered without TLS), reset for this test."""
    _smtp_plain_session.reset()
    return _smtp_plain_session


@pytest.fixture
def smtp_starttls_server(_smtp_starttls_session: SmtpTestServer) -> SmtpTestServer:
    """An SMTP server offering STARTTLS with `tls_cert`, reset for this test."""
    _smtp_starttls_session.reset()
    return _smtp_starttls_session


@pytest.fixture
def smtp_tls_server(_smtp_tls_session: SmtpTestServer) -> SmtpTestServer:
    """An implicit-TLS (SMTPS) server with `tls_cert`, reset for this test."""
    _smtp_tls_session.reset()
    return _smtp_tls_session


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 with nothing listening (for connection-refused tests)."""
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def app_client(app: web.Application) -> AsyncIterator[httpx.AsyncClient]:
    """`app` served on 127.0.0.1 (a free port) while the block runs, and a client of it."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            yield client
    finally:
        await runner.cleanup()
