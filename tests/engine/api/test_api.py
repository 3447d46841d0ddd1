"""The control API through a real `serve --api` process and a real HTTP client (httpx)."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engine.api.helpers import ServeProcess, quick_doc, waiting_doc

TOKEN = "test-token-123"
API = "/api/v1/process-engine/executions"


@pytest.fixture
def server(tmp_path: Path, free_port: int) -> Iterator[tuple[str, ServeProcess]]:
    proc = ServeProcess("serve", "--api", "--port", str(free_port), "--token", TOKEN, "--db", str(tmp_path / "pe.db"))
    try:
        yield proc.base_url(), proc
    finally:
        proc.stop()


@pytest.fixture
def client(server: tuple[str, ServeProcess]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as c:
        yield c


def wait_status(client: httpx.Client, eid: str, wanted: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        body = client.get(f"{API}/processes/{eid}/status").json()
        seen.append(body.get("status"))
        if body.get("status") == wanted:
            return body
        time.sleep(0.05)
    raise AssertionError(f"{eid} never became {wanted}; saw {seen[-5:]}")


def test_execute_status_and_list(client: httpx.Client) -> None:
    other = client.post(API, json={"workflow": waiting_doc()}).json()["execution_id"]
    assert client.post(f"{API}/processes/{other}/cancel").status_code == 200
    wait_status(client, other, "cancelled")
    r = client.post(API, json={"workflow": quick_doc(), "variables": {"who": "api"}})
    assert r.status_code == 202, r.text
    ref = r.json()
    assert set(ref) == {"execution_id", "status"} and ref["status"] == "running"
    st = wait_status(client, ref["execution_id"], "completed")
    assert st["workflow_id"] == "wf-quick" and st["progress"]["completed"] == 2 and st["error"] is None
    # the saved workflow id starts another run
    again = client.post(API, json={"workflow": "wf-quick"})
    assert again.status_code == 202, again.text
    wait_status(client, again.json()["execution_id"], "completed")
    listed = client.get(API, params={"workflow_id": "wf-quick", "status": "completed", "limit": 10}).json()
    assert [s["execution_id"] for s in listed] == [again.json()["execution_id"], ref["execution_id"]]
    assert client.get(API, params={"limit": 1}).json()[0]["execution_id"] == again.json()["execution_id"]
    assert [s["execution_id"] for s in client.get(API, params={"status": "cancelled"}).json()] == [other]
    assert len(client.get(API).json()) == 3


def test_pause_resume_cancel_and_state_conflicts(client: httpx.Client) -> None:
    eid = client.post(API, json={"workflow": waiting_doc()}).json()["execution_id"]
    wait_status(client, eid, "running")
    r = client.post(f"{API}/processes/{eid}/pause")
    assert r.status_code == 200 and r.json()["execution_id"] == eid
    wait_status(client, eid, "paused")
    assert client.post(f"{API}/processes/{eid}/pause").status_code == 409
    r = client.post(f"{API}/processes/{eid}/resume")
    assert r.status_code == 200, r.text
    wait_status(client, eid, "running")
    assert client.post(f"{API}/processes/{eid}/resume").status_code == 409  # already running
    assert client.post(f"{API}/processes/{eid}/cancel").status_code == 200
    st = wait_status(client, eid, "cancelled")
    assert st["resumable"] is False
    for verb in ("pause", "resume", "cancel"):
        r = client.post(f"{API}/processes/{eid}/{verb}")
        assert r.status_code == 409 and "cancelled" in r.json()["error"], (verb, r.text)


@pytest.mark.parametrize("verb", ["status", "pause", "resume", "cancel"])
def test_unknown_id_is_404(client: httpx.Client, verb: str) -> None:
    method = client.get if verb == "status" else client.post
    r = method(f"{API}/processes/no-such-id/{verb}")
    assert r.status_code == 404 and "no-such-id" in r.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "malformed"),
        (b"[1, 2]", 400, "malformed"),
        (b"{}", 422, "workflow"),
        (b'{"workflow": "x", "surprise": 1}', 422, "surprise"),
        (b'{"workflow": {"format": "processengine/1", "id": "w", "nodes": []}}', 422, "invalid workflow"),
        (b'{"workflow": "never-saved"}', 404, "never-saved"),
        (b'{"workflow": "wf", "queue": true}', 404, "wf"),
    ],
)
def test_bad_bodies_get_4xx(client: httpx.Client, body: bytes, status: int, needle: str) -> None:
    r = client.post(API, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert needle in r.text


def test_invalid_workflow_lists_its_problems(client: httpx.Client) -> None:
    bad = quick_doc()
    bad["nodes"][1]["type"] = "no_such_type"
    r = client.post(API, json={"workflow": bad})
    assert r.status_code == 422
    problems = r.json()["problems"]
    assert any(p["node_id"] == "greet" for p in problems), problems


def test_queue_without_postgres_is_400(client: httpx.Client) -> None:
    r = client.post(API, json={"workflow": quick_doc(), "queue": True})
    assert r.status_code == 400 and "PostgreSQL" in r.json()["error"]


def test_bad_list_filters_are_422(client: httpx.Client) -> None:
    assert client.get(API, params={"limit": 0}).status_code == 422
    assert client.get(API, params={"status": "sleeping"}).status_code == 422


def test_token_is_required_on_the_api_but_not_for_loopback_metrics(server: tuple[str, ServeProcess]) -> None:
    base, _ = server
    assert httpx.get(base + API).status_code == 401
    assert httpx.get(base + API, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(base + API, headers={"Authorization": TOKEN}).status_code == 401  # not a bearer header
    assert httpx.get(base + "/healthz").json() == {"status": "ok", "queue": False}
    doc = httpx.get(base + "/openapi.json").json()
    assert doc["openapi"].startswith("3.") and f"{API}/processes/{{execution_id}}/pause" in doc["paths"]
    page = httpx.get(base + "/docs")
    assert page.status_code == 200 and "/docs/static/swagger-ui-bundle.js" in page.text and "http" not in page.text.split("<body>")[1].replace('"/', "")
    assert httpx.get(base + "/docs/static/swagger-ui-bundle.js").status_code == 200


def test_metrics_count_runs_and_node_durations(client: httpx.Client, server: tuple[str, ServeProcess]) -> None:
    eid = client.post(API, json={"workflow": quick_doc()}).json()["execution_id"]
    wait_status(client, eid, "completed")
    text = httpx.get(server[0] + "/metrics").text
    assert 'processengine_executions_total{status="completed"} 1.0' in text
    assert "processengine_executions_running 0.0" in text
    assert 'processengine_node_duration_seconds_count{node_type="set"} 1.0' in text
    assert "processengine_node_retries_total" in text and "processengine_queue_depth" in text


def test_non_loopback_host_needs_an_explicit_token(tmp_path: Path, free_port: int) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "PROCESSENGINE_API_TOKEN": ""}
    proc = ServeProcess("serve", "--api", "--host", "0.0.0.0", "--port", str(free_port), "--db", str(tmp_path / "pe.db"), env=env)
    assert proc.proc.wait(timeout=60) == 64
    assert "without an explicit token" in proc.proc.stderr.read()


def test_token_file_is_created_private_and_only_its_path_is_printed(tmp_path: Path, free_port: int) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "PROCESSENGINE_API_TOKEN": ""}
    proc = ServeProcess("serve", "--api", "--port", str(free_port), "--db", str(tmp_path / "pe.db"), env=env)
    try:
        line = proc.wait_line("API token from ")
        path = Path(line.split("API token from ", 1)[1].strip())
        assert path.is_relative_to(tmp_path / "data")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        token = path.read_text().strip()
        base = proc.base_url()
        assert token not in "".join(proc.out)
        assert httpx.get(base + API, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert httpx.get(base + API).status_code == 401
    finally:
        proc.stop()


def test_sigterm_pauses_the_api_runs_of_the_server(tmp_path: Path, free_port: int) -> None:
    db = str(tmp_path / "pe.db")
    proc = ServeProcess("serve", "--api", "--port", str(free_port), "--token", TOKEN, "--db", db)
    base = proc.base_url()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as c:
        eid = c.post(API, json={"workflow": waiting_doc()}).json()["execution_id"]
        wait_status(c, eid, "running")
    assert proc.stop() == 0
    again = ServeProcess("serve", "--api", "--port", str(free_port), "--token", TOKEN, "--db", db)
    try:
        with httpx.Client(base_url=again.base_url(), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as c:
            st = c.get(f"{API}/processes/{eid}/status").json()
            assert st["status"] == "paused" and st["resumable"] is True
    finally:
        again.stop()


def test_serve_answers_the_webhooks_of_several_files(tmp_path: Path, free_port: int) -> None:
    import json

    from tests.engine.api.helpers import EXAMPLES

    doc = json.loads((EXAMPLES / "webhook_echo.pe.json").read_text())
    doc["id"] = "second-echo"
    doc["nodes"][0]["config"]["path"] = "echo2"
    second = tmp_path / "echo2.pe.json"
    second.write_text(json.dumps(doc))
    proc = ServeProcess("serve", str(EXAMPLES / "webhook_echo.pe.json"), str(second), "--port", str(free_port), "--db", str(tmp_path / "pe.db"))
    try:
        base = proc.base_url()
        for path in ("echo", "echo2"):
            r = httpx.post(f"{base}/webhook/{path}?name=ann", json={"n": 1}, timeout=30)
            assert r.status_code == 201 and r.json()["who"] == "ann", (path, r.text)
        assert httpx.get(base + API).status_code == 404  # no --api: no API routes
    finally:
        proc.stop()


def test_beyond_loopback_with_an_explicit_token_metrics_need_it_too(tmp_path: Path, free_port: int) -> None:
    proc = ServeProcess("serve", "--api", "--host", "0.0.0.0", "--port", str(free_port), "--db", str(tmp_path / "pe.db"),
                        env={"PROCESSENGINE_API_TOKEN": TOKEN})
    try:
        line = proc.wait_line("API token from ")
        assert "PROCESSENGINE_API_TOKEN" in line and TOKEN not in "".join(proc.out)
        base = f"http://127.0.0.1:{free_port}"
        proc.base_url()
        assert httpx.get(base + "/metrics").status_code == 401
        assert httpx.get(base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert httpx.get(base + API, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    finally:
        proc.stop()
