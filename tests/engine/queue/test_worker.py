"""Queue mode on the real PostgreSQL with several real worker processes.

Side effects are counted on the local HTTP test server: each execution posts
`{"run": <execution id>, "step": k}` once per step, so a lost or repeated step
shows up as a count other than one.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from engine import fileformat
from engine.model import Workflow
from engine.service import ExecutionService
from tests.engine.queue.conftest import wait_until
from tests.servers import Reply

pytestmark = pytest.mark.postgres


def side_effect_workflow(base: str, steps: int = 5, slow_step: int = 3, **extra: Any) -> Workflow:
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "manual_trigger"}]
    conns = []
    prev = "start"
    for k in range(1, steps + 1):
        path = "/slow" if k == slow_step else "/fx"
        nodes.append({"id": f"s{k}", "type": "http_request", "retry": "none",
                      "config": {"method": "POST", "url": base + path, "json": {"run": "{{ execution.id }}", "step": k}}})
        conns.append({"from": prev, "from_port": "out", "to": f"s{k}", "to_port": "in"})
        prev = f"s{k}"
    doc = {"format": "processengine/1", "id": "wf-fx", "name": "fx",
           "nodes": [{"name": n["id"], "position": [0, 0], "config": {}, **n} for n in nodes], "connections": conns, **extra}
    return fileformat.parse(doc)


def enqueue(url: str, wf: Workflow, n: int) -> list[str]:
    from engine.queue.client import QueueClient

    async def go() -> list[str]:
        with ExecutionService(url) as svc:
            client = await QueueClient(url).open()
            try:
                return [await client.enqueue(svc, wf) for _ in range(n)]
            finally:
                await client.close()

    return asyncio.run(go())


def statuses(url: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    with ExecutionService(url) as svc:
        return {i: svc.status(i) for i in ids}


def all_completed(url: str, ids: list[str]) -> dict[str, dict[str, Any]] | None:
    got = statuses(url, ids)
    return got if all(s["status"] == "completed" for s in got.values()) else None


def effects(http_server: Any) -> Counter[tuple[str, int]]:
    got: Counter[tuple[str, int]] = Counter()
    for r in list(http_server.requests):
        if r.path in ("/fx", "/slow"):
            body = r.json()
            got[(body["run"], body["step"])] += 1
    return got


def test_killed_worker_loses_nothing_and_repeats_at_most_the_in_flight_step(queue_db: str, start_worker: Any, http_server: Any) -> None:
    http_server.route("/fx", Reply(json={"ok": True}))
    http_server.route("/slow", Reply(json={"ok": True}, held=True))  # s3 answers once the worker is dead
    workers = {name: start_worker(name, 2) for name in ("w1", "w2", "w3")}
    ids = enqueue(queue_db, side_effect_workflow(http_server.url), 6)

    # kill a worker while it is inside the slow side-effect step of one of its runs: held
    # there until the kill, however long the machine takes to get there
    http_server.wait_for_requests(1, timeout=60, path="/slow")
    inside = wait_until(lambda: [(i, s) for i, s in statuses(queue_db, ids).items() if s["status"] == "running" and (s.get("in_flight") or {}).get("node_id") == "s3"], what="a run inside s3")
    run, victim = inside[0][0], inside[0][1]["worker"]
    wait_until(lambda: effects(http_server)[(run, 3)], what="that run's step 3 request at the server")  # sent, not only begun
    killed_runs = {i for i, s in statuses(queue_db, ids).items() if s.get("worker") == victim and s["status"] == "running"}
    workers[victim].proc.send_signal(signal.SIGKILL)
    workers[victim].proc.wait(timeout=30)
    http_server.route("/slow", Reply(json={"ok": True}))  # the repeated step 3 answers at once
    http_server.release_held()

    final = wait_until(lambda: all_completed(queue_db, ids), timeout=120, what="every execution to complete")
    counts = effects(http_server)
    for eid in ids:
        per_step = [counts[(eid, k)] for k in range(1, 6)]
        assert all(c >= 1 for c in per_step), f"{eid} lost a side effect: {per_step}"
        assert sum(c - 1 for c in per_step) <= (1 if eid in killed_runs else 0), f"{eid} repeated: {per_step}"
    assert all(final[i]["worker"] != victim for i in killed_runs)  # taken over by another worker
    assert sum(counts[(run, k)] for k in range(1, 6)) == 6  # its in-flight step 3 did run again


def test_concurrency_limit_holds_across_workers(queue_db: str, start_worker: Any, http_server: Any) -> None:
    http_server.route("/fx", Reply(json={"ok": True}))
    http_server.route("/slow", Reply(json={"ok": True}, delay_s=0.8))
    wf = side_effect_workflow(http_server.url, steps=3, slow_step=2, concurrency=2)
    for name in ("c1", "c2", "c3"):
        start_worker(name, 3)  # 9 slots: only the workflow's limit can hold runs back
    ids = enqueue(queue_db, wf, 8)
    wait_until(lambda: all_completed(queue_db, ids), timeout=120, what="completion")
    engine = sa.create_engine(queue_db)
    with engine.connect() as conn:
        rows = list(conn.execute(sa.text("SELECT started_at, stopped_at, worker FROM executions")))
    engine.dispose()
    edges = sorted([(r.started_at, 1) for r in rows] + [(r.stopped_at, -1) for r in rows], key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, delta in edges:
        running += delta
        peak = max(peak, running)
    assert peak == 2, f"at most 2 at once (and the 9 slots did run 2): peak {peak}"
    assert len({r.worker for r in rows}) >= 2


def test_schedule_fires_once_per_due_time_with_two_servers_and_two_workers(queue_db: str, start_worker: Any, procs: list[Any], tmp_path: Any) -> None:
    from tests.engine.api.helpers import ServeProcess

    doc = {"format": "processengine/1", "id": "wf-tick", "name": "tick",
           "nodes": [{"id": "tick", "type": "schedule_trigger", "name": "tick", "position": [0, 0], "config": {"every_s": 1}},
                     {"id": "mark", "type": "set", "name": "mark", "position": [1, 0], "config": {"values": {"at": "{{ input.fired_at }}"}}}],
           "connections": [{"from": "tick", "from_port": "out", "to": "mark", "to_port": "in"}]}
    path = tmp_path / "tick.pe.json"
    path.write_text(json.dumps(doc))
    start_worker("s1", 2)
    start_worker("s2", 2)
    servers = []
    for _ in range(2):
        p = ServeProcess("serve", str(path), "--queue", "--port", "0", "--db", queue_db)
        procs.append(p)
        p.wait_line("metrics on")
        servers.append(p)
    engine = sa.create_engine(queue_db)

    def fired() -> list[Any]:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT trigger_payload, status FROM executions")))

    wait_until(lambda: len(fired()) >= 5, timeout=60, what="five schedule fires")
    for p in servers:
        assert p.stop() == 0
    def finished() -> list[Any] | None:
        rows = fired()
        return rows if all(x.status == "completed" for x in rows) else None

    rows = wait_until(finished, what="the fired runs to finish")
    engine.dispose()
    times = [json.loads(r.trigger_payload)["fired_at"] for r in rows]
    assert len(times) == len(set(times)), f"a due time fired twice: {sorted(times)}"


def test_sigterm_pauses_and_hands_the_run_to_another_worker(queue_db: str, start_worker: Any, http_server: Any) -> None:
    http_server.route("/fx", Reply(json={"ok": True}))
    http_server.route("/slow", Reply(json={"ok": True}, delay_s=3.0))
    wf = side_effect_workflow(http_server.url, steps=4, slow_step=2)
    workers = {name: start_worker(name, 1) for name in ("t1", "t2")}
    (eid,) = enqueue(queue_db, wf, 1)
    http_server.wait_for_requests(1, timeout=60, path="/slow")
    first = statuses(queue_db, [eid])[eid]["worker"]
    (other,) = set(workers) - {first}
    workers[first].proc.send_signal(signal.SIGTERM)
    assert workers[first].proc.wait(timeout=60) == 0
    assert "pausing 1 execution(s)" in workers[first].proc.stderr.read()
    done = wait_until(lambda: all_completed(queue_db, [eid]), timeout=60, what="completion on the other worker")
    assert done[eid]["worker"] == other
    counts = effects(http_server)
    assert [counts[(eid, k)] for k in range(1, 5)] == [1, 1, 1, 1]  # a pause lets the step in flight finish


def test_run_queue_enqueues_and_follows_to_the_end(queue_db: str, start_worker: Any) -> None:
    import subprocess
    import sys

    from tests.engine.api.helpers import EXAMPLES, ROOT

    start_worker("r1", 1)
    out = subprocess.run([sys.executable, "-m", "engine.cli", "run", str(EXAMPLES / "hello.pe.json"), "--queue", "--json", "--db", queue_db],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["status"] == "completed" and data["outputs"]["greet"]["message"] == "Hello, world!"
    assert statuses(queue_db, [data["execution_id"]])[data["execution_id"]]["worker"] == "r1"


def test_worker_refuses_a_sqlite_store(tmp_path: Any) -> None:
    import subprocess
    import sys

    from tests.engine.api.helpers import ROOT

    out = subprocess.run([sys.executable, "-m", "engine.cli", "worker", "--db", str(tmp_path / "pe.db")],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 1 and "PostgreSQL" in out.stderr and "Traceback" not in out.stderr


def test_a_run_whose_workflow_cannot_be_read_fails_visibly(queue_db: str, start_worker: Any, http_server: Any) -> None:
    (eid,) = enqueue(queue_db, side_effect_workflow(http_server.url, steps=1), 1)
    engine = sa.create_engine(queue_db)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE workflows SET document = '{\"format\": \"processengine/99\"}'"))
    engine.dispose()
    start_worker("f1", 1)
    st = wait_until(lambda: (s if (s := statuses(queue_db, [eid])[eid])["status"] == "failed" else None), what="the run to fail")
    assert "could not start it" in st["error"]["message"] and "processengine/99" in st["error"]["message"]
    assert http_server.calls("/fx") == 0
