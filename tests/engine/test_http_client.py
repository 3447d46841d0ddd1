from __future__ import annotations

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
