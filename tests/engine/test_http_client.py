from __future__ import annotations

import ssl

import httpx

from engine.http_client import USER_AGENT, SharedHttpClient, make_client


async def test_make_client_talks_to_a_real_server(http_server):
    async with make_client() as client:
        response = await client.get(http_server.url_for("/echo"))
    assert response.status_code == 200
    assert response.json()["headers"]["User-Agent"] == USER_AGENT


async def test_loopback_bypasses_environment_proxy(http_server, free_port, monkeypatch):
    # a proxy that does not exist: any request routed through it would fail
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{free_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with make_client() as client:
        assert (await client.get(http_server.url_for("/echo"))).status_code == 200
        assert (await client.get(f"http://localhost:{http_server.port}/echo")).status_code == 200


async def test_shared_client_is_lazy_single_and_closable(http_server):
    holder = SharedHttpClient()
    assert not holder.created
    first = holder.get()
    assert holder.get() is first and holder.created
    assert (await first.get(http_server.url_for("/echo"))).status_code == 200
    await holder.aclose()
    assert first.is_closed and not holder.created
    await holder.aclose()  # idempotent
    second = holder.get()  # a closed holder makes a fresh client on demand
    assert second is not first and isinstance(second, httpx.AsyncClient)
    await holder.aclose()


# -- one TLS context per process -------------------------------------------------------
async def _https_get_on_this_loop(tls_cert, **client_kwargs: bool) -> int | str:
    """Serve HTTPS (the self-signed certificate) on the running loop and GET it with a
    client from `make_client`: the status, or the TLS error's class name."""
    from aiohttp import web

    app = web.Application()
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls_cert.server_context())
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with make_client(**client_kwargs) as client:
            try:
                return (await client.get(f"https://127.0.0.1:{port}/")).status_code
            except httpx.ConnectError as exc:
                cause: BaseException | None = exc
                while cause is not None and not isinstance(cause, ssl.SSLError):
                    cause = cause.__cause__ or cause.__context__
                return type(cause or exc).__name__
    finally:
        await runner.cleanup()


def test_clients_on_separate_event_loops_share_one_tls_context_and_each_verifies(tls_cert, monkeypatch):
    """One `asyncio.run` per CLI run, the GUI's and the server's loops: every client's
    connections are made from the one context, and each still verifies the server."""
    import asyncio

    from engine.http_client import tls_context

    monkeypatch.setenv("SSL_CERT_FILE", str(tls_cert.cert_path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    assert tls_context() is tls_context()
    assert asyncio.run(_https_get_on_this_loop(tls_cert)) == 200
    assert asyncio.run(_https_get_on_this_loop(tls_cert)) == 200


def test_the_ca_variables_still_decide_after_a_context_was_made(tls_cert, monkeypatch):
    """Trusting the self-signed certificate through SSL_CERT_FILE, then not (the default CA
    bundle refuses it), then not verifying at all: each client follows its settings."""
    import asyncio

    from engine.http_client import tls_context

    monkeypatch.setenv("SSL_CERT_FILE", str(tls_cert.cert_path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    trusting = tls_context()
    assert asyncio.run(_https_get_on_this_loop(tls_cert)) == 200
    monkeypatch.delenv("SSL_CERT_FILE")
    assert tls_context() is not trusting
    assert asyncio.run(_https_get_on_this_loop(tls_cert)) == "SSLCertVerificationError"
    assert asyncio.run(_https_get_on_this_loop(tls_cert, trust_env=False, verify=True)) == "SSLCertVerificationError"
    assert asyncio.run(_https_get_on_this_loop(tls_cert, verify=False)) == 200
