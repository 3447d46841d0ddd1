"""`processengine serve` under load and abuse, through a real subprocess and real clients.

50 concurrent requests to a workflow that takes a second are all answered; over
`--max-concurrent` a request gets 503 with Retry-After at once; SIGTERM pauses the
running executions (resumable, none lost) and stops the server; malformed bodies get
4xx, never 500; a request line without an HTTP version is refused.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine import fileformat
from tests.engine.runtime.helpers import workflow
from tests.servers import app_client

ROOT = Path(__file__).resolve().parents[2]


def _slow_workflow(seconds: float) -> Any:
    return workflow(
        [
            {"id": "hook", "type": "webhook_trigger", "config": {"path": "slow", "method": "POST"}},
            {"id": "nap", "type": "wait", "config": {"seconds": seconds}},
            {"id": "reply", "type": "respond_webhook", "config": {"status": 200, "body": "{{ nodes.hook.body }}"}},
        ],
        [("hook", "out", "nap"), ("nap", "out", "reply")],
    )


class Server:
    """A `processengine serve` subprocess on a free port (read from its first line)."""

    def __init__(self, tmp_path: Path, seconds: float, *args: str) -> None:
        path = tmp_path / "slow.pe.json"
        fileformat.save(_slow_workflow(seconds), path)
        self.env = {**os.environ, "PROCESSENGINE_DB": str(tmp_path / "pe.db")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "serve", str(path), "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env, cwd=ROOT,
        )  # fmt: skip
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        found = re.search(r"http://([\d.]+):(\d+)/", line)
        if not found:
            self.proc.kill()
            raise AssertionError(f"serve did not start: {line!r} {self.proc.communicate()[1][-3000:]}")
        self.host, self.port = found.group(1), int(found.group(2))
        self.url = f"http://{self.host}:{self.port}/webhook/slow"

    def cli(self, *args: str) -> Any:
        out = subprocess.run([sys.executable, "-m", "engine.cli", *args, "--json"], capture_output=True, text=True, env=self.env, cwd=ROOT, timeout=60, check=False)
        return json.loads(out.stdout) if out.stdout.strip() else out.stderr

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[Server] = []

    def start(seconds: float, *args: str) -> Server:
        started.append(Server(tmp_path, seconds, *args))
        return started[-1]

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.communicate()


async def _post_many(url: str, n: int, **kw: Any) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        return await asyncio.gather(*(client.post(url, json={"i": i}, **kw) for i in range(n)))


@pytest.mark.timeout(300)
def test_fifty_concurrent_requests_to_a_slow_workflow_are_all_answered(serve: Any) -> None:
    server = serve(1.0)
    replies = asyncio.run(_post_many(server.url, 50))
    assert [r.status_code for r in replies] == [200] * 50
    assert sorted(r.json()["i"] for r in replies) == list(range(50))
    rows = server.cli("list", "--limit", "100")
    assert len(rows) == 50 and {r["status"] for r in rows} == {"completed"}
    code, err = server.stop()
    assert code == 0, err[-2000:]


@pytest.mark.timeout(300)
def test_load_over_the_limit_gets_503_with_retry_after_never_a_hang(serve: Any) -> None:
    server = serve(10.0, "--max-concurrent", "5")  # long enough that all 20 arrive while 5 run
    replies = asyncio.run(_post_many(server.url, 20))
    codes = sorted(r.status_code for r in replies)
    assert codes == [200] * 5 + [503] * 15
    for r in replies:
        if r.status_code == 503:
            assert int(r.headers["Retry-After"]) >= 1 and "busy" in r.json()["error"]
    assert len(server.cli("list", "--limit", "100")) == 5  # refused requests started nothing
    assert server.stop()[0] == 0


@pytest.mark.timeout(300)
def test_sigterm_pauses_running_executions_and_stops(serve: Any) -> None:
    server = serve(60.0)

    async def scenario() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(limits=limits, timeout=120) as client:
            pending = [asyncio.ensure_future(client.post(server.url, json={"i": i})) for i in range(12)]
            while True:  # until all twelve are running (read through the store, as a user would)
                rows = await asyncio.to_thread(server.cli, "list", "--status", "running")
                if isinstance(rows, list) and len(rows) == 12:
                    break
            server.proc.send_signal(signal.SIGTERM)
            replies = await asyncio.gather(*pending)
            await asyncio.to_thread(server.proc.wait, 30)  # well before the runs' 60 s waits would end
            return replies

    replies = asyncio.run(scenario())
    assert server.proc.returncode == 0
    assert {r.status_code for r in replies} == {503}
    assert all(r.json()["status"] == "paused" and "Retry-After" in r.headers for r in replies)
    rows = server.cli("list", "--limit", "100")
    assert len(rows) == 12 and {r["status"] for r in rows} == {"paused"}
    one = server.cli("status", rows[0]["execution_id"])
    assert one["resumable"] is True


def _raw(server: Server, data: bytes) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # the whole request: an HTTP/0.9 one has no blank line
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.timeout(300)
def test_bad_bodies_get_4xx_never_500(serve: Any) -> None:
    server = serve(0.0)
    json_type = {"content-type": "application/json"}
    cases = [
        (b'{"n": ' + b"9" * 5000 + b"}", json_type, 422),
        (b"[" * 5000 + b"]" * 5000, json_type, 422),
        (b'{"s": "\\ud800"}', json_type, 422),
        (b'{"s": NaN}', json_type, 422),
        (b'{"s": 1e999}', json_type, 422),
        (b'{"s": "ok"}', {"content-type": "application/json; charset=no-such-charset"}, 415),
        (b"hello", {"content-type": "text/plain; charset=no-such-charset"}, 415),
        (b"\xff\xfe", {"content-type": "text/plain; charset=utf-8"}, 400),
        (b"{not json", json_type, 400),
    ]
    with httpx.Client(timeout=60) as client:
        for body, headers, expected in cases:
            r = client.post(server.url, content=body, headers=headers)
            assert r.status_code == expected, (body[:40], r.status_code, r.text[:300])
            assert r.json()["error"]
        ok = client.post(server.url, json={"fine": True})
        assert ok.status_code == 200 and ok.json() == {"fine": True}
    assert len(server.cli("list")) == 1  # only the good request ran the workflow
    assert server.stop()[0] == 0


@pytest.mark.timeout(300)
def test_a_request_line_without_http_version_is_refused(serve: Any) -> None:
    server = serve(0.0)
    answer = _raw(server, b"POST /webhook/slow\r\n\r\n")
    assert not answer.startswith(b"HTTP/1.1 200") and b'"fine"' not in answer
    assert answer == b"" or answer.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400", b"HTTP/1.0 505", b"HTTP/1.1 505"))
    answer = _raw(server, b"GET /webhook/slow\r\n")
    assert b"200" not in answer.split(b"\r\n", 1)[0]
    assert server.cli("list") == []  # nothing ran
    assert server.stop()[0] == 0


async def test_more_routes_can_be_mounted_and_share_the_run_limit() -> None:
    """What `serve(..., extend=[fn])` gives another module (a REST API, say): its own
    routes on the same app, starting executions under the same limit and shutdown."""
    from aiohttp import web

    from engine.service import ExecutionService
    from engine.webhook_server import RUNS, Busy, make_app, start_execution

    wf = _slow_workflow(0.0)

    def mount(app: web.Application) -> None:
        async def start(request: web.Request) -> web.Response:
            try:
                rec = await start_execution(request.app, wf, {"body": "api"}, trigger="hook")
            except Busy as exc:
                return web.json_response({"error": str(exc)}, status=503)
            return web.json_response({"status": rec.status})

        app.router.add_post("/api/start", start)

    service = ExecutionService(in_memory=True)
    app = make_app(service, wf, max_concurrent=1)
    mount(app)
    async with app_client(app) as client:
        assert (await client.post("/api/start")).json() == {"status": "completed"}
        assert (await client.post("/webhook/slow", json={"x": 1})).json() == {"x": 1}
        with app[RUNS].slot():  # the one slot taken: both kinds of route are refused
            assert (await client.post("/api/start")).status_code == 503
            busy = await client.post("/webhook/slow", json={"x": 1})
            assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
