"""The control API in queue mode (`serve --api --queue`): runs start queued, control works on any worker."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.engine.api.helpers import ServeProcess, quick_doc, waiting_doc
from tests.engine.queue.conftest import wait_until

pytestmark = pytest.mark.postgres

TOKEN = "queue-token"
API = "/api/v1/process-engine/executions"


@pytest.fixture
def api(queue_db: str, procs: list[ServeProcess], free_port: int) -> tuple[httpx.Client, ServeProcess]:
    server = ServeProcess("serve", "--api", "--queue", "--port", str(free_port), "--token", TOKEN, "--db", queue_db)
    procs.append(server)
    client = httpx.Client(base_url=server.base_url(), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    return client, server


def status_of(client: httpx.Client, eid: str) -> dict[str, Any]:
    return client.get(f"{API}/processes/{eid}/status").json()


def wait_status(client: httpx.Client, eid: str, wanted: str, timeout: float = 60) -> dict[str, Any]:
    return wait_until(lambda: (s if (s := status_of(client, eid))["status"] == wanted else None), timeout=timeout, what=f"{eid} {wanted}")


def metric(client: httpx.Client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


def test_queued_until_a_worker_runs_it_and_cancel_drops_a_waiting_job(api: tuple[httpx.Client, ServeProcess], start_worker: Any) -> None:
    client, _ = api
    first = client.post(API, json={"workflow": quick_doc()})
    assert first.status_code == 202 and first.json()["status"] == "queued"
    second = client.post(API, json={"workflow": quick_doc()}).json()["execution_id"]
    assert status_of(client, second)["status"] == "queued" and status_of(client, second).get("worker") is None
    assert [s["execution_id"] for s in client.get(API, params={"status": "queued"}).json()] == [second, first.json()["execution_id"]]
    assert metric(client, "processengine_queue_depth") == 2.0
    assert client.post(f"{API}/processes/{second}/pause").status_code == 409  # only running runs pause
    assert client.post(f"{API}/processes/{second}/cancel").json() == {"execution_id": second, "status": "cancelled"}
    assert metric(client, "processengine_queue_depth") == 1.0
    worker = start_worker("q1", 1, "--metrics-port", "0")
    metrics_url = next(line for line in worker.out if "metrics on" in line).split("metrics on ", 1)[1].strip()
    done = wait_status(client, first.json()["execution_id"], "completed")
    assert done["worker"] == "q1"
    assert status_of(client, second)["status"] == "cancelled" and status_of(client, second).get("worker") is None
    text = httpx.get(metrics_url).text  # the worker's own numbers: it ran the one that was not cancelled
    assert 'processengine_executions_total{status="completed"} 1.0' in text
    assert 'processengine_node_duration_seconds_count{node_type="set"} 1.0' in text


def test_pause_resume_cancel_reach_the_run_on_whichever_worker(api: tuple[httpx.Client, ServeProcess], start_worker: Any) -> None:
    client, _ = api
    start_worker("a", 1)
    start_worker("b", 1)
    eid = client.post(API, json={"workflow": waiting_doc(60)}).json()["execution_id"]
    first = wait_status(client, eid, "running")
    assert first["worker"] in ("a", "b")
    assert client.post(f"{API}/processes/{eid}/pause").status_code == 200
    wait_status(client, eid, "paused")
    r = client.post(f"{API}/processes/{eid}/resume")
    assert r.status_code == 200 and r.json()["status"] in ("queued", "running")
    again = wait_status(client, eid, "running")
    assert again["worker"] in ("a", "b")
    assert client.post(f"{API}/processes/{eid}/cancel").status_code == 200
    wait_status(client, eid, "cancelled")
    assert client.post(f"{API}/processes/{eid}/resume").status_code == 409


def test_a_queued_webhook_gets_the_reply_of_the_worker_that_ran_it(queue_db: str, procs: list[ServeProcess], start_worker: Any, free_port: int) -> None:
    from tests.engine.api.helpers import EXAMPLES

    server = ServeProcess("serve", str(EXAMPLES / "webhook_echo.pe.json"), "--queue", "--port", str(free_port), "--db", queue_db)
    procs.append(server)
    base = server.base_url()
    start_worker("hook-worker", 2)
    r = httpx.post(f"{base}/webhook/echo?name=zoe", json={"n": 3}, timeout=60)
    assert r.status_code == 201, r.text
    assert r.json()["who"] == "zoe" and r.json()["received"] == {"n": 3}
    with httpx.Client(base_url=base) as c:
        assert c.get(API).status_code == 404  # webhooks only: no API without --api


def test_without_queue_flag_the_body_chooses(queue_db: str, procs: list[ServeProcess], start_worker: Any, free_port: int) -> None:
    server = ServeProcess("serve", "--api", "--port", str(free_port), "--token", TOKEN, "--db", queue_db)
    procs.append(server)
    client = httpx.Client(base_url=server.base_url(), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    here = client.post(API, json={"workflow": quick_doc()}).json()
    assert here["status"] == "running"
    assert wait_status(client, here["execution_id"], "completed").get("worker") is None  # ran in the server
    queued = client.post(API, json={"workflow": quick_doc(), "queue": True}).json()
    assert queued["status"] == "queued"
    start_worker("chooser", 1)
    assert wait_status(client, queued["execution_id"], "completed")["worker"] == "chooser"
