"""The CLI contract, through a real subprocess: stdout JSON and exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine import fileformat
from tests.demo import EXAMPLES
from tests.engine.runtime.helpers import workflow
from tests.servers import Reply

ROOT = Path(__file__).resolve().parents[2]


def pe(*args: str, db: Path, timeout: float = 60, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PROCESSENGINE_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, check=check)


def start_pe(*args: str, db: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PROCESSENGINE_DB": str(db)}
    return subprocess.Popen([sys.executable, "-m", "engine.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def wait_for_running(db: Path, proc: subprocess.Popen[str], timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        out = pe("list", "--json", db=db)
        rows = json.loads(out.stdout or "[]")
        seen.append(",".join(r["status"] for r in rows) or out.stderr[-300:])
        if rows and rows[0]["status"] == "running":
            return rows[0]["execution_id"]
        time.sleep(0.1)
    proc.kill()
    out, err = proc.communicate()
    raise AssertionError(f"no running execution appeared; saw {seen}; the run said {out[-2000:]!r} {err[-3000:]!r}")


def save(tmp_path: Path, wf: Any, name: str = "wf.pe.json") -> Path:
    p = tmp_path / name
    fileformat.save(wf, p)
    return p


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "pe.db"


def test_version() -> None:
    out = subprocess.run([sys.executable, "-m", "engine.cli", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.startswith("processengine 0.")


def test_run_json_completed_with_outputs_and_attempts(db: Path) -> None:
    out = pe("run", str(EXAMPLES / "hello.pe.json"), "--json", "--var", "who=tests", db=db)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["status"] == "completed" and data["resumable"] is False
    assert data["outputs"]["greet"] == {"message": "Hello, tests!", "length": 5}
    assert data["progress"] == {"total": 2, "completed": 2, "failed": 0, "skipped": 0, "percent": 100.0}
    (attempt,) = data["attempts"]["greet"]
    assert attempt["status"] == "succeeded" and attempt["error"] is None
    assert set(attempt) >= {"status", "started_at", "duration_ms", "error"}
    assert set(data["timing"]) == {"started_at", "stopped_at", "duration_ms"}
    assert data["error"] is None
    # the run is in the database
    st = pe("status", data["execution_id"], "--json", db=db)
    assert json.loads(st.stdout)["status"] == "completed"


def test_var_values_are_json_where_they_parse(db: Path, tmp_path: Path) -> None:
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, {"id": "s", "type": "set", "config": {"values": {"n": "{{ vars.n }}", "t": "{{ vars.t }}"}}}],
        [("start", "out", "s")],
    )
    out = pe("run", str(save(tmp_path, wf)), "--json", "--var", "n=41", "--var", "t=not json", db=db)
    assert json.loads(out.stdout)["outputs"]["s"] == {"n": 41, "t": "not json"}


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.pe.json")))
def test_every_example_validates(example: str, db: Path) -> None:
    out = pe("validate", str(EXAMPLES / example), db=db)
    assert out.returncode == 0, out.stderr


def test_invalid_workflow_exit_2_lists_problems_and_runs_nothing(db: Path, tmp_path: Path) -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {}}},
            {"id": "b", "type": "set", "config": {"values": {}}},
        ],
        [("start", "out", "a"), ("a", "out", "b"), ("b", "out", "a")],
    )
    path = save(tmp_path, wf)
    out = pe("run", str(path), "--json", db=db)
    assert out.returncode == 2
    data = json.loads(out.stdout)
    assert data["status"] == "invalid"
    assert any("cycle" in p["message"] for p in data["problems"])
    assert all(set(p) == {"node_id", "field", "message"} for p in data["problems"])
    assert json.loads(pe("list", "--json", db=db).stdout) == []
    v = pe("validate", str(path), db=db)
    assert v.returncode == 2 and "cycle" in v.stderr


def test_broken_file_is_a_clear_error_not_a_traceback(db: Path, tmp_path: Path) -> None:
    p = tmp_path / "broken.pe.json"
    p.write_text("{ not json")
    out = pe("run", str(p), db=db)
    assert out.returncode == 2
    assert "broken.pe.json" in out.stderr and "Traceback" not in out.stderr


def test_failed_run_exit_1(db: Path, tmp_path: Path, http_server) -> None:
    http_server.route("/boom", Reply(500, json={"err": True}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"method": "GET", "url": http_server.url_for("/boom")}, "retry": {"max_attempts": 2, "initial_delay_s": 0.01}},
        ],
        [("start", "out", "get")],
    )
    out = pe("run", str(save(tmp_path, wf)), "--json", db=db)
    assert out.returncode == 1
    data = json.loads(out.stdout)
    assert data["status"] == "failed" and data["error"]["node_id"] == "get"
    assert [a["status"] for a in data["attempts"]["get"]] == ["failed", "failed"]
    assert data["outputs"]["start"] == {}


def _slow_workflow(tmp_path: Path, seconds: float = 30) -> Path:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "before", "type": "set", "config": {"values": {"step": 1}}},
            {"id": "w", "type": "wait", "config": {"seconds": seconds}},
            {"id": "after", "type": "set", "config": {"values": {"step": "{{ input.step + 1 }}"}}},
        ],
        [("start", "out", "before"), ("before", "out", "w"), ("w", "out", "after")],
    )
    return save(tmp_path, wf, "slow.pe.json")


def test_pause_from_another_process_then_resume(db: Path, tmp_path: Path, http_server) -> None:
    """The run waits on a request that never answers: the pause (through the database)
    cuts it short at once, and the resume sends it again (no race with a timer)."""
    http_server.route("/step", Reply(hang=True))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "before", "type": "set", "config": {"values": {"step": 1}}},
            {"id": "fetch", "type": "http_request", "config": {"method": "GET", "url": http_server.url_for("/step"), "timeout_s": 600}},
            {"id": "after", "type": "set", "config": {"values": {"step": "{{ input.body.step + 1 }}"}}},
        ],
        [("start", "out", "before"), ("before", "out", "fetch"), ("fetch", "out", "after")],
    )
    proc = start_pe("run", str(save(tmp_path, wf)), "--json", db=db)
    http_server.wait_for_requests(1, timeout=60, path="/step")
    exec_id = wait_for_running(db, proc)
    assert pe("pause", exec_id, db=db).returncode == 0
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 4, stderr
    assert json.loads(stdout)["status"] == "paused"
    st = json.loads(pe("status", exec_id, "--json", db=db).stdout)
    assert st["status"] == "paused" and st["resumable"] is True
    http_server.route("/step", Reply(json={"step": 1}))
    out = pe("resume", exec_id, "--json", db=db)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["status"] == "completed"
    assert data["outputs"]["before"] == {"step": 1} and data["outputs"]["after"] == {"step": 2}
    assert len(data["attempts"]["before"]) == 1  # the whole execution, nothing before the cut ran twice
    assert [a["status"] for a in data["attempts"]["fetch"]] == ["interrupted", "succeeded"]


def test_cancel_from_another_process_exit_3(db: Path, tmp_path: Path) -> None:
    path = _slow_workflow(tmp_path, seconds=3600)
    proc = start_pe("run", str(path), "--json", db=db)
    exec_id = wait_for_running(db, proc)
    assert pe("cancel", exec_id, db=db).returncode == 0
    stdout, stderr = proc.communicate(timeout=30)  # the hour-long wait was cut short
    assert proc.returncode == 3, stderr
    assert json.loads(stdout)["status"] == "cancelled"


def test_ctrl_c_pauses_with_state_saved(db: Path, tmp_path: Path) -> None:
    path = _slow_workflow(tmp_path)
    proc = start_pe("run", str(path), db=db)
    exec_id = wait_for_running(db, proc)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 4
    assert json.loads(pe("status", exec_id, "--json", db=db).stdout)["status"] == "paused"


def test_list_newest_first_and_filter(db: Path) -> None:
    ids = []
    for _ in range(3):
        ids.append(json.loads(pe("run", str(EXAMPLES / "hello.pe.json"), "--json", db=db).stdout)["execution_id"])
    rows = json.loads(pe("list", "--json", db=db).stdout)
    assert [r["execution_id"] for r in rows] == list(reversed(ids))
    assert json.loads(pe("list", "--status", "failed", "--json", db=db).stdout) == []
    other = json.loads(pe("list", "--json", "--workspace", "other", db=db).stdout)
    assert other == []


def test_unknown_execution_is_a_clear_error(db: Path) -> None:
    pe("run", str(EXAMPLES / "hello.pe.json"), db=db)
    out = pe("status", "no-such-id", db=db)
    assert out.returncode == 1 and "no-such-id" in out.stderr and "Traceback" not in out.stderr


def test_serve_answers_webhooks_and_survives_bad_requests(db: Path, free_port: int) -> None:
    proc = start_pe("serve", str(EXAMPLES / "webhook_echo.pe.json"), "--port", str(free_port), "--max-body", "1000", db=db)
    try:
        base = f"http://127.0.0.1:{free_port}/webhook/echo"
        deadline = time.monotonic() + 20
        while True:
            try:
                r = httpx.post(base, json={"hello": "world"}, params={"name": "ada"}, timeout=10)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert r.status_code == 201
        assert r.json() == {"received": {"hello": "world"}, "who": "ada"}
        bad = httpx.post(base, content=b"{not json", headers={"content-type": "application/json"}, timeout=10)
        assert bad.status_code == 400
        big = httpx.post(base, content=b"x" * 5000, headers={"content-type": "text/plain"}, timeout=10)
        assert big.status_code == 413
        wrong = httpx.get(base, timeout=10)
        assert wrong.status_code == 405
        again = httpx.post(base, json={"n": 2}, timeout=10)
        assert again.status_code == 201 and again.json()["who"] == "anonymous"
        rows = json.loads(pe("list", "--json", db=db).stdout)
        assert len(rows) == 2  # each request is its own execution; bad requests ran nothing
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_killed_run_shows_interrupted_and_resume_warns_then_finishes(db: Path, tmp_path: Path, http_server) -> None:
    http_server.route("/orders", Reply(hang=True), Reply(status=201, json={"id": 7}))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "prep", "type": "set", "config": {"values": {"item": "book"}}},
            {"id": "post", "type": "http_request", "config": {"method": "POST", "url": http_server.url_for("/orders"), "json": "{{ input }}"}},
        ],
        [("start", "out", "prep"), ("prep", "out", "post")],
    )
    proc = start_pe("run", str(save(tmp_path, wf)), "--json", db=db)
    exec_id = wait_for_running(db, proc)
    deadline = time.monotonic() + 20
    while http_server.calls("/orders") < 1:
        assert time.monotonic() < deadline, "the POST never arrived"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=20)
    st = pe("status", exec_id, db=db)
    assert "interrupted" in st.stdout
    assert "node 'post' was running and has side effects" in st.stdout
    out = pe("resume", exec_id, "--json", db=db)
    assert out.returncode == 0, out.stderr
    assert "resume runs it again" in out.stderr
    data = json.loads(out.stdout)
    assert data["status"] == "completed"
    assert data["outputs"]["post"]["body"] == {"id": 7}
    assert len(data["attempts"]["prep"]) == 1  # the finished node did not run again
    assert http_server.calls("/orders") == 2  # only the in-flight POST ran twice


def test_list_filters_prune_and_retention(db: Path, tmp_path: Path) -> None:
    import sqlite3
    from datetime import UTC, datetime, timedelta

    hello = json.loads(pe("run", str(EXAMPLES / "hello.pe.json"), "--json", db=db).stdout)
    fan = json.loads(pe("run", str(EXAMPLES / "fan_out_merge.pe.json"), "--json", db=db).stdout)
    rows = json.loads(pe("list", "--workflow", hello["workflow_id"], "--json", db=db).stdout)
    assert [r["execution_id"] for r in rows] == [hello["execution_id"]]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert json.loads(pe("list", "--since", future, "--json", db=db).stdout) == []
    assert len(json.loads(pe("list", "--since", "2020-01-01", "--json", db=db).stdout)) == 2
    # age the hello run by 10 days, then prune runs older than 5 days
    con = sqlite3.connect(db)
    cols = [r[1] for r in con.execute("PRAGMA table_info(executions)")]
    time_cols = [c for c in cols if c.endswith("_at")]
    for col in time_cols:
        con.execute(f"UPDATE executions SET {col} = {col} - 10 * 86400 WHERE id = ? AND {col} IS NOT NULL", (hello["execution_id"],))
    con.commit()
    con.close()
    out = pe("prune", "--older-than", "5", db=db)
    assert out.returncode == 0 and "deleted 1" in out.stdout, out.stdout + out.stderr
    assert [r["execution_id"] for r in json.loads(pe("list", "--json", db=db).stdout)] == [fan["execution_id"]]
    # automatic retention on open: everything finished is older than 0.000001 days by now
    env_out = subprocess.run(
        [sys.executable, "-m", "engine.cli", "list", "--json"],
        capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "PROCESSENGINE_DB": str(db), "PROCESSENGINE_RETENTION_DAYS": "0.000001"},
    )
    assert json.loads(env_out.stdout) == []


def test_serve_fires_schedule_triggers(db: Path, tmp_path: Path, free_port: int) -> None:
    wf = workflow(
        [
            {"id": "tick", "type": "schedule_trigger", "config": {"every_s": 0.3}},
            {"id": "stamp", "type": "set", "config": {"values": {"at": "{{ input.fired_at }}"}}},
        ],
        [("tick", "out", "stamp")],
    )
    proc = start_pe("serve", str(save(tmp_path, wf)), "--port", str(free_port), db=db)
    try:
        deadline = time.monotonic() + 30
        rows: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            rows = json.loads(pe("list", "--status", "completed", "--json", db=db).stdout or "[]")
            if len(rows) >= 2:
                break
            time.sleep(0.2)
        assert len(rows) >= 2, rows
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    out = json.loads(pe("status", rows[0]["execution_id"], "--json", db=db).stdout)
    assert out["status"] == "completed"


def test_bad_command_line_is_64_not_the_invalid_workflow_code(db: Path) -> None:
    out = pe("run", str(EXAMPLES / "hello.pe.json"), "--var", "novalue", db=db)
    assert out.returncode == 64 and "KEY=VALUE" in out.stderr
    assert pe("list", "--status", "nonsense", db=db).returncode == 64


def test_serve_without_anything_to_listen_for_exits_2(db: Path) -> None:
    out = pe("serve", str(EXAMPLES / "hello.pe.json"), "--port", "0", db=db, timeout=30)
    assert out.returncode == 2 and "nothing to serve" in out.stderr


def test_validate_lists_config_and_graph_problems_at_once(db: Path, tmp_path: Path) -> None:
    doc = {
        "format": "processengine/1",
        "id": "wf",
        "name": "many problems",
        "nodes": [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "w", "type": "wait", "name": "W", "config": {"seconds": -1}},
            {"id": "x", "type": "teleport", "name": "X"},
            {"id": "lonely", "type": "set", "name": "Lonely", "config": {"values": {}}},
        ],
        "connections": [{"from": "start", "to": "w"}, {"from": "w", "to": "x"}],
    }
    path = tmp_path / "many.pe.json"
    path.write_text(json.dumps(doc))
    out = pe("validate", str(path), "--json", db=db)
    assert out.returncode == 2
    got = {(p["node_id"], p["field"]) for p in json.loads(out.stdout)["problems"]}
    assert ("w", "config.seconds") in got and ("x", "type") in got and ("lonely", None) in got


def test_engine_cli_alone_does_not_open_the_app(db: Path) -> None:
    """The engine never imports the app; only the `processengine` launcher can open it."""
    out = pe("studio", str(EXAMPLES / "hello.pe.json"), db=db)
    assert out.returncode == 64 and "desktop app" in out.stderr


def test_studio_command_line_is_passed_to_the_app() -> None:
    from engine.cli import build_parser, studio_argv

    args = build_parser().parse_args(["studio", "f.pe.json", "--run", "--screenshot", "x.png", "--db", "d.db", "--workspace", "w"])
    assert studio_argv(args) == ["f.pe.json", "--run", "--screenshot", "x.png", "--db", "d.db", "--workspace", "w"]
