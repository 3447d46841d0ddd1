"""The debugger's CLI contract through real subprocesses: pins, breakpoints, stepping, edits, re-runs, retry control."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from engine.model import Workflow
from tests.engine.runtime.helpers import chain, workflow
from tests.engine.test_cli import pe, save, start_pe, wait_for_running
from tests.engine.test_service_debug import flaky, http_then_sets, looping
from tests.servers import Reply


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "pe.db"


def run_json(*args: str, db: Path) -> tuple[int, dict[str, Any]]:
    out = pe(*args, "--json", db=db)
    assert out.stdout, out.stderr
    return out.returncode, json.loads(out.stdout)


def statuses(data: dict[str, Any], node: str) -> list[str]:
    return [a["status"] for a in data["attempts"][node]]


def test_a_pinned_http_node_makes_no_request(db: Path, tmp_path: Path, http_server: Any) -> None:
    http_server.route("/n", Reply(json={"n": 1}))
    f = save(tmp_path, http_then_sets(http_server.url_for("/n"), pin={"status": 200, "body": {"n": 41}}))
    code, data = run_json("run", str(f), db=db)
    assert code == 0 and http_server.calls("/n") == 0
    assert statuses(data, "get") == ["pinned"] and data["outputs"]["b"] == {"n": 420}
    code, data = run_json("run", str(f), "--no-pins", db=db)
    assert code == 0 and http_server.calls("/n") == 1 and data["outputs"]["b"] == {"n": 20}


def test_rerun_from_a_node_after_an_http_node_makes_no_request(db: Path, tmp_path: Path, http_server: Any) -> None:
    http_server.route("/n", Reply(json={"n": 1}))
    wf = http_then_sets(http_server.url_for("/n"))
    f = save(tmp_path, wf)
    code, src = run_json("run", str(f), db=db)
    assert code == 0 and http_server.calls("/n") == 1
    code, data = run_json("rerun", src["execution_id"], "--from", "a", db=db)
    assert code == 0 and http_server.calls("/n") == 1
    assert data["rerun_of"] == src["execution_id"] and data["execution_id"] != src["execution_id"]
    assert statuses(data, "get") == ["reused"] and statuses(data, "a") == ["succeeded"]
    assert data["outputs"]["b"] == {"n": 20}
    # the edited file instead of the saved version
    wf.get("b").config = {"values": {"n": "{{ input.n * 100 }}"}}
    edited = save(tmp_path, wf, "edited.pe.json")
    code, data = run_json("rerun", src["execution_id"], "--from", "b", "--file", str(edited), db=db)
    assert code == 0 and data["outputs"]["b"] == {"n": 200} and http_server.calls("/n") == 1
    # --to alone: just that node, with its recorded input; what follows waits (paused)
    code, data = run_json("rerun", src["execution_id"], "--to", "a", db=db)
    assert code == 4 and data["paused_at"]["reason"] == "to" and data["paused_at"]["node_id"] == "b"
    assert statuses(data, "a") == ["succeeded"] and "b" not in data["attempts"]


def test_breakpoint_then_step_counts(db: Path, tmp_path: Path) -> None:
    f = save(tmp_path, chain(4))
    code, data = run_json("run", str(f), "--break", "s2", db=db)
    assert code == 4 and data["status"] == "paused"
    assert data["paused_at"] == {**data["paused_at"], "node_id": "s2", "reason": "breakpoint", "input": {"i": 1}}
    eid = data["execution_id"]
    ran = sum(len(v) for v in data["attempts"].values())
    pending = []
    while code == 4:
        pending.append(data["paused_at"]["node_id"])
        code, data = run_json("resume", eid, "--step", db=db)
        now = sum(len(v) for v in data["attempts"].values())
        assert now - ran == 1  # exactly one node per step
        ran = now
        if code == 4:
            assert data["paused_at"]["reason"] == "step"
    assert code == 0 and pending == ["s2", "s3", "s4"] and data["outputs"]["s4"] == {"i": 4}


def test_conditional_breakpoint_in_a_loop_holds_across_processes(db: Path, tmp_path: Path) -> None:
    f = save(tmp_path, looping(5))
    code, data = run_json("run", str(f), "--break", "body:{{ input >= 2 }}", db=db)
    seen = []
    while code == 4:
        seen.append((data["paused_at"]["input"], data["paused_at"]["stack"][0]["loop"]["index"]))
        code, data = run_json("resume", data["execution_id"], db=db)
    assert code == 0 and seen == [(2, 2), (3, 3), (4, 4)]
    out = pe("status", data["execution_id"], "--json", db=db)
    assert json.loads(out.stdout)["paused_at"] is None


def test_breakpoint_inside_a_sub_workflow(db: Path, tmp_path: Path) -> None:
    child = workflow(
        [{"id": "in", "type": "manual_trigger"}, {"id": "double", "type": "set", "config": {"values": {"d": "{{ input.n * 2 }}"}}}],
        [("in", "out", "double")],
    )
    child.id = "child-wf"
    save(tmp_path, child, "child.pe.json")
    parent = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "call", "type": "sub_workflow", "config": {"file": "child.pe.json", "inputs": {"n": 21}}},
            {"id": "after", "type": "set", "config": {"values": {"r": "{{ input.d }}"}}},
        ],
        [("start", "out", "call"), ("call", "out", "after")],
    )
    f = save(tmp_path, parent)
    code, data = run_json("run", str(f), "--break", "double", db=db)
    assert code == 4 and data["paused_at"]["node_id"] == "double"
    assert [s["node_id"] for s in data["paused_at"]["stack"]] == ["double", "call"]
    code, data = run_json("resume", data["execution_id"], "--set-input", '{"n": 5}', db=db)
    assert code == 0 and data["outputs"]["after"] == {"r": 10}


def vars_workflow() -> Workflow:
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {"x": 1}}},
            {"id": "b", "type": "set", "config": {"values": {"y": "{{ input.x + vars.k }}"}}},
        ],
        [("start", "out", "a"), ("a", "out", "b")],
        variables={"k": 1},
    )


def test_editing_while_paused(db: Path, tmp_path: Path) -> None:
    f = save(tmp_path, vars_workflow())
    code, data = run_json("run", str(f), "--break", "b", db=db)
    assert code == 4 and data["paused_at"]["input"] == {"x": 1}
    code, data = run_json("resume", data["execution_id"], "--var", "k=5", "--set-input", '{"x": 100}', db=db)
    assert code == 0 and data["outputs"]["b"] == {"y": 105}


def test_to_then_resume_and_clear_breaks(db: Path, tmp_path: Path) -> None:
    f = save(tmp_path, chain(4))
    code, data = run_json("run", str(f), "--to", "s2", "--break", "s3", "--break", "s4", db=db)
    assert code == 4 and data["paused_at"]["reason"] == "to" and set(data["attempts"]) == {"start", "s1", "s2"}
    code, data = run_json("resume", data["execution_id"], "--clear-breaks", db=db)
    assert code == 0 and data["outputs"]["s4"] == {"i": 4}


def test_text_output_says_where_it_paused(db: Path, tmp_path: Path) -> None:
    f = save(tmp_path, chain(2))
    out = pe("run", str(f), "--break", "s2", db=db)
    assert out.returncode == 4 and "paused before node 's2' (breakpoint)" in out.stdout
    eid = next(line.split()[1] for line in out.stdout.splitlines() if line.strip().startswith("execution "))
    out = pe("status", eid, db=db)
    assert "paused before node 's2' (breakpoint)" in out.stdout


def test_bad_debug_arguments_get_clear_errors(db: Path, tmp_path: Path) -> None:
    f = save(tmp_path, chain(2))
    out = pe("run", str(f), "--break", "nope", db=db)
    assert out.returncode == 1 and "no node 'nope'" in out.stderr and "Traceback" not in out.stderr
    out = pe("run", str(f), "--to", "nope", db=db)
    assert out.returncode == 1 and "no node 'nope'" in out.stderr
    out = pe("rerun", "abc", db=db)
    assert out.returncode == 64 and "--from" in out.stderr
    out = pe("resume", "abc", "--set-input", "{bad", db=db)
    assert out.returncode == 64 and "not valid JSON" in out.stderr
    _, data = run_json("run", str(f), db=db)
    out = pe("retry-now", data["execution_id"], db=db)
    assert out.returncode == 1 and "no node is waiting to retry" in out.stderr


@pytest.mark.parametrize("verb", ["retry-now", "give-up"])
def test_retry_control_from_another_process(db: Path, tmp_path: Path, http_server: Any, verb: str) -> None:
    http_server.fail_first("/flaky", 1)
    f = save(tmp_path, flaky(http_server.url_for("/flaky")))
    proc = start_pe("run", str(f), "--json", db=db)
    try:
        eid = wait_for_running(db, proc)
        http_server.wait_for_requests(1, 20.0, "/flaky")
        deadline = time.monotonic() + 20
        while True:  # the failed attempt reaches the store within a group-commit window
            out = pe(verb, eid, db=db)
            if out.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert out.returncode == 0, out.stderr
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    data = json.loads(stdout)
    if verb == "retry-now":
        assert proc.returncode == 0 and statuses(data, "get") == ["failed", "retry_now", "succeeded"]
    else:
        assert proc.returncode == 1 and statuses(data, "get") == ["failed", "give_up"]
        assert data["error"]["node_id"] == "get"


def test_a_debug_session_survives_a_crash(db: Path, tmp_path: Path, http_server: Any) -> None:
    """kill -9 while running between two breakpoints: a resume elsewhere still stops at the next one."""
    http_server.route("/slow", Reply(hang=True))
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {"x": 1}}},
            {"id": "get", "type": "http_request", "config": {"url": http_server.url_for("/slow"), "timeout_s": 60}, "retry": "none"},
            {"id": "b", "type": "set", "config": {"values": {"y": 2}}},
        ],
        [("start", "out", "a"), ("a", "out", "get"), ("get", "out", "b")],
    )
    f = save(tmp_path, wf)
    code, data = run_json("run", str(f), "--break", "a", "--break", "b", db=db)
    assert code == 4 and data["paused_at"]["node_id"] == "a"
    eid = data["execution_id"]
    proc = start_pe("resume", eid, "--json", db=db)
    try:
        http_server.wait_for_requests(1, 30.0, "/slow")  # the HTTP node is in flight
    finally:
        proc.kill()
        proc.communicate()
    st = json.loads(pe("status", eid, "--json", db=db).stdout)
    assert st["status"] == "interrupted" and st["paused_at"] is None
    # the HTTP node runs again (it was in flight); the breakpoint on b still holds
    http_server.route("/slow", Reply(json={"ok": True}))
    code, data = run_json("resume", eid, db=db)
    assert code == 4 and data["paused_at"]["node_id"] == "b" and data["paused_at"]["reason"] == "breakpoint"
    code, data = run_json("resume", eid, "--clear-breaks", db=db)
    assert code == 0 and data["outputs"]["b"] == {"y": 2}


def test_rerun_of_code_outside_the_sandbox_needs_trust(db: Path, tmp_path: Path) -> None:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "py", "type": "code", "config": {"language": "python", "code": "return {'n': 41}"}},
            {"id": "b", "type": "set", "config": {"values": {"n": "{{ input.n + 1 }}"}}},
        ],
        [("start", "out", "py"), ("py", "out", "b")],
    )
    f = save(tmp_path, wf)
    code, src = run_json("run", str(f), "--trust", db=db)
    assert code == 0 and src["outputs"]["b"] == {"n": 42}
    code, data = run_json("rerun", src["execution_id"], "--from", "py", db=db)
    assert code == 2 and data["status"] == "invalid" and data["problems"][0]["node_id"] == "py"
    code, data = run_json("rerun", src["execution_id"], "--from", "py", "--trust", db=db)
    assert code == 0 and data["outputs"]["b"] == {"n": 42}
