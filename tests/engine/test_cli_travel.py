"""`steps`, `state` and `diff` through a real subprocess: JSON shapes, text and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.runtime.helpers import workflow
from tests.engine.test_cli import pe, save
from tests.servers import HttpTestServer, Reply


def _branching(tmp_path: Path, url: str) -> Path:
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "get", "type": "http_request", "config": {"url": url}, "retry": "none"},
            {"id": "many", "type": "if", "config": {"condition": "{{ len(input.body['items']) > 2 }}"}},
            {"id": "big", "type": "set", "config": {"values": {"n": "{{ len(input.body['items']) }}"}}},
            {"id": "small", "type": "set", "config": {"values": {"n": 0}}},
        ],
        [("start", "out", "get"), ("get", "out", "many"), ("many", "true", "big"), ("many", "false", "small")],
    )
    return save(tmp_path, wf)


def _run(path: Path, db: Path) -> str:
    out = pe("run", str(path), "--json", db=db)
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["execution_id"])


def test_steps_state_and_diff_as_json(tmp_path: Path, http_server: HttpTestServer) -> None:
    db = tmp_path / "pe.db"
    http_server.route("/items", Reply(json={"items": [1, 2, 3]}), Reply(json={"items": [1]}))
    path = _branching(tmp_path, http_server.url_for("/items"))
    first, second = _run(path, db), _run(path, db)

    steps = json.loads(pe("steps", first, "--json", db=db, check=True).stdout)
    assert [s["node_id"] for s in steps] == ["start", "get", "many", "big"]
    assert set(steps[0]) == {"index", "node_id", "attempt", "status", "started_at", "duration_ms", "thread_id"}

    state = json.loads(pe("state", first, "--at", "1", "--json", db=db, check=True).stdout)
    assert {"variables", "outputs", "stack", "node_status"} <= set(state)
    assert state["outputs"]["get"]["body"] == {"items": [1, 2, 3]}
    assert state["node_status"] == {"start": "succeeded", "get": "succeeded"}
    assert [f["node_id"] for f in state["stack"]] == ["many"]

    diff = json.loads(pe("diff", first, second, "--json", db=db, check=True).stdout)
    assert diff["first_divergence"]["node_id"] == "get"
    assert diff["nodes"]["many"]["left"]["port"] == ["true"]
    assert diff["nodes"]["many"]["right"]["port"] == ["false"]
    assert not diff["nodes"]["get"]["output_equal"]


def test_text_output_and_clear_errors(tmp_path: Path, http_server: HttpTestServer) -> None:
    db = tmp_path / "pe.db"
    http_server.route("/items", Reply(json={"items": [1, 2, 3]}), Reply(json={"items": [1]}))
    path = _branching(tmp_path, http_server.url_for("/items"))
    first, second = _run(path, db), _run(path, db)
    text = pe("diff", first, second, db=db, check=True).stdout
    assert "first divergence at step 1: get (output)" in text
    assert "many: succeeded -> succeeded, branch ['true'] -> ['false']" in text
    assert "next to run: many" in pe("state", first, "--at", "1", db=db, check=True).stdout

    out = pe("state", first, "--at", "9", db=db)
    assert out.returncode == 1 and "there is no step 9" in out.stderr and "Traceback" not in out.stderr
    out = pe("steps", "no-such-run", db=db)
    assert out.returncode == 1 and "no execution 'no-such-run'" in out.stderr and "Traceback" not in out.stderr
