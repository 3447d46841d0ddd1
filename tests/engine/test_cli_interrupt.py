"""Ctrl-C on `processengine run`, through a real subprocess, real SIGINTs and a real local
HTTP server whose request never answers: one Ctrl-C pauses at once (the request is cut
short and runs again on resume), a second one cancels, a late one never kills the process.
Every step waits for a condition (a request arriving, a line on stderr, the process
ending), never for time to pass."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.engine.runtime.helpers import workflow
from tests.engine.test_cli import _slow_workflow, pe, save, start_pe, wait_for_running
from tests.servers import Reply

REQUEST_TIMEOUT_S = 600  # a pause that waited for the request would hit the test's timeout first


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "pe.db"


def _fetch_workflow(tmp_path: Path, url: str) -> Path:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "fetch", "type": "http_request", "config": {"method": "GET", "url": url, "timeout_s": REQUEST_TIMEOUT_S}},
        ],
        [("start", "out", "fetch")],
    )
    return save(tmp_path, wf, "fetch.pe.json")


def _start_hanging_run(tmp_path: Path, db: Path, http_server: Any, *args: str) -> subprocess.Popen[str]:
    http_server.route("/items", Reply(hang=True))
    proc = start_pe("run", str(_fetch_workflow(tmp_path, http_server.url_for("/items"))), *args, db=db)
    http_server.wait_for_requests(1, timeout=60, path="/items")  # the request is in flight
    return proc


def _stderr_line(proc: subprocess.Popen[str], text: str) -> None:
    """Read stderr until a line containing `text` (the process said so)."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"stderr ended without {text!r}: {''.join(seen)[-2000:]}")


def _status(db: Path, execution_id: str) -> str:
    return json.loads(pe("status", execution_id, "--json", db=db).stdout)["status"]


def test_one_ctrl_c_cuts_a_never_answering_request_short_and_resume_runs_it_again(db: Path, tmp_path: Path, http_server: Any) -> None:
    proc = _start_hanging_run(tmp_path, db, http_server, "--json")
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)  # far below the request's own 600 s timeout
    assert proc.returncode == 4, stderr
    data = json.loads(stdout)
    assert data["status"] == "paused"
    (cut,) = data["attempts"]["fetch"]
    assert cut["status"] == "interrupted" and "resume runs it again" in cut["error"]["message"]
    assert _status(db, data["execution_id"]) == "paused"
    status = pe("status", data["execution_id"], db=db)
    assert "node 'fetch' was cut short by the pause: resume runs it again" in status.stdout

    http_server.route("/items", Reply(200, json={"items": [1, 2]}))
    out = pe("resume", data["execution_id"], "--json", db=db)
    assert out.returncode == 0, out.stderr
    done = json.loads(out.stdout)
    assert done["status"] == "completed"
    assert [a["status"] for a in done["attempts"]["fetch"]] == ["interrupted", "succeeded"]
    assert done["outputs"]["fetch"]["body"] == {"items": [1, 2]}
    assert http_server.calls("/items") == 2  # the cut request was sent again


def test_plain_run_says_which_node_was_cut_short(db: Path, tmp_path: Path, http_server: Any) -> None:
    proc = _start_hanging_run(tmp_path, db, http_server)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 4, stderr
    assert "'fetch'" in stdout and "resume runs it again" in stdout
    assert "resume with: processengine resume " in stdout
    assert "Traceback" not in stderr


def _start_waiting_run(tmp_path: Path, db: Path) -> subprocess.Popen[str]:
    """A run in a `wait` node: a pause ends it at once (nothing to cut short)."""
    proc = start_pe("run", str(_slow_workflow(tmp_path, seconds=REQUEST_TIMEOUT_S)), "--json", db=db)
    wait_for_running(db, proc, timeout=60)
    return proc


def test_a_second_ctrl_c_while_the_pause_is_handled_cancels(db: Path, tmp_path: Path) -> None:
    """Another process holds the database's write lock, so the pause cannot be recorded
    before the second Ctrl-C has arrived: a double Ctrl-C, made deterministic. (The
    pause itself is instant: the run had already paused when the second one came.)"""
    proc = _start_waiting_run(tmp_path, db)
    lock = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")
        proc.send_signal(signal.SIGINT)
        _stderr_line(proc, "press Ctrl-C again to cancel")
        proc.send_signal(signal.SIGINT)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3, stderr
    data = json.loads(stdout)
    assert data["status"] == "cancelled"
    assert _status(db, data["execution_id"]) == "cancelled"


def test_a_late_second_ctrl_c_never_kills_the_exiting_process(db: Path, tmp_path: Path) -> None:
    """Whenever the second Ctrl-C lands, the process ends with the code of what the
    database recorded (3 cancelled or 4 paused), never killed by the signal (-2)."""
    proc = _start_waiting_run(tmp_path, db)
    proc.send_signal(signal.SIGINT)
    _stderr_line(proc, "press Ctrl-C again to cancel")
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode in (3, 4), (proc.returncode, stderr[-2000:])
    data = json.loads(stdout)
    assert _status(db, data["execution_id"]) == {3: "cancelled", 4: "paused"}[proc.returncode] == data["status"]
    assert "Traceback" not in stderr
