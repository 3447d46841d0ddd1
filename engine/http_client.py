"""The shared httpx client a run lends to its HTTP nodes.

One `httpx.AsyncClient` per run keeps connections pooled across the many
requests a loop body makes, and closing it at run end releases every socket.
The runtime owns the lifetime: it creates the client lazily (a run without
HTTP nodes never pays for it) through `SharedHttpClient` and closes it when
the run ends.
"""

from __future__ import annotations

import logging

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


def make_client(*, trust_env: bool = True, verify: bool = True) -> httpx.AsyncClient:
    """Return a new AsyncClient with the engine's limits, timeout and user agent.

    `trust_env` keeps the usual proxy / CA-bundle environment variables working
    (HTTP_PROXY, NO_PROXY, SSL_CERT_FILE) as a desktop user expects, except that
    loopback addresses always connect directly. Redirects are followed (httpx
    caps them at 20).
    """
    return httpx.AsyncClient(
        limits=DEFAULT_LIMITS,
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=True,
        trust_env=trust_env,
        verify=verify,
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
