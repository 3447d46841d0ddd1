"""The shared httpx client a run lends to its HTTP nodes.

One `httpx.AsyncClient` per run keeps connections pooled across the many
requests a loop body makes, and closing it at run end releases every socket.
The runtime owns the lifetime: it creates the client lazily (a run without
HTTP nodes never pays for it) through `SharedHttpClient` and closes it when
the run ends. The clients of one process share their TLS context (`tls_context`).
"""

from __future__ import annotations

import logging
import os
import ssl
import threading

import httpx

from engine import __version__

log = logging.getLogger(__name__)

# httpx logs every request at INFO with the full URL, user-info password and query
# tokens included; `http_request` logs its own redacted line instead. A level set
# explicitly elsewhere (e.g. for debugging) is left alone.
_httpx_log = logging.getLogger("httpx")
if _httpx_log.level == logging.NOTSET:
    _httpx_log.setLevel(logging.WARNING)

#: Per-run connection limits: enough parallelism for sub-workflow threads, small
#: enough that a runaway loop cannot open thousands of sockets.
DEFAULT_LIMITS = httpx.Limits(
    max_connections=50, max_keepalive_connections=10, keepalive_expiry=30.0
)
#: Fallback timeout; `http_request` always passes its own `timeout_s` per request.
DEFAULT_TIMEOUT = httpx.Timeout(30.0)
USER_AGENT = f"ProcessEngine/{__version__}"
#: Loopback never goes through an environment proxy (httpx only honours NO_PROXY,
#: and a stray HTTP_PROXY must not send local traffic off the machine).
_LOOPBACK_DIRECT: dict[str, None] = {
    "all://127.0.0.1": None,
    "all://localhost": None,
    "all://[::1]": None,
}


_TLS_CONTEXTS: dict[tuple[bool, bool, str | None, str | None], ssl.SSLContext] = {}
_TLS_LOCK = threading.Lock()


def tls_context(*, verify: bool = True, trust_env: bool = True) -> ssl.SSLContext:
    """The process's TLS context for this way of verifying, made once: loading the CA
    bundle was 20-40 ms of CPU that every run's client paid again. A context holds no
    connection, so clients on different threads and event loops share it safely (each
    connection is made from it); the CA variables read when it is made (SSL_CERT_FILE,
    SSL_CERT_DIR) are part of the key, so changing them still takes effect."""
    env = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")) if trust_env and verify else (None, None)
    key = (verify, trust_env, *env)
    with _TLS_LOCK:
        ctx = _TLS_CONTEXTS.get(key)
        if ctx is None:
            ctx = _TLS_CONTEXTS[key] = httpx.create_ssl_context(verify=verify, trust_env=trust_env)
    return ctx


def make_client(*, trust_env: bool = True, verify: bool = True) -> httpx.AsyncClient:
    """Return a new AsyncClient with the engine's limits, timeout and user agent.

    `trust_env` keeps the usual proxy / CA-bundle environment variables working
    (HTTP_PROXY, NO_PROXY, SSL_CERT_FILE) as a desktop user expects, except that
    loopback addresses always connect directly. Redirects are followed (httpx
    caps them at 20). Its TLS context is the process's (`tls_context`); connections made
    from it ask for HTTP/1.1 only, as every client here does.
    """
    return httpx.AsyncClient(
        limits=DEFAULT_LIMITS,
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=True,
        trust_env=trust_env,
        verify=tls_context(verify=verify, trust_env=trust_env),
        headers={"user-agent": USER_AGENT},
        mounts=dict(_LOOPBACK_DIRECT),
    )


class SharedHttpClient:
    """Lazily creates one client on first `get()`; `aclose()` closes it (idempotent).

    Pass `holder.get` as `NodeServices.http_client` and await `holder.aclose()`
    when the run ends.
    """

    def __init__(self, **client_kwargs: bool) -> None:
        self._kwargs = client_kwargs
        self._client: httpx.AsyncClient | None = None

    def get(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = make_client(**self._kwargs)
        return self._client

    @property
    def created(self) -> bool:
        return self._client is not None

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and not client.is_closed:
            await client.aclose()
