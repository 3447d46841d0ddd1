"""Trust for code outside a sandbox: refused before any node runs unless `--trust` is given."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from engine import trust
from tests.engine.runtime.helpers import workflow
from tests.engine.test_cli import pe, save, start_pe, wait_for_running


def _untrusted_workflow(tmp_path: Path, *, wait_s: float = 0) -> Path:
    marker, marker2 = tmp_path / "marker", tmp_path / "marker2"
    nodes = [
        {"id": "start", "type": "manual_trigger"},
        {"id": "first", "name": "First", "type": "set", "config": {"values": {"ok": True}}},
        {"id": "w", "type": "wait", "config": {"seconds": wait_s}},
        {"id": "touch", "name": "Touch", "type": "execute_command",
         "config": {"command": [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')"]}},
        {"id": "py", "name": "Write", "type": "code",
         "config": {"language": "python", "code": f"open({str(marker2)!r}, 'w').write('y')\nreturn 'written'"}},
        {"id": "js", "name": "Shape", "type": "code", "config": {"code": "return 1;"}},
    ]
    conns = [("start", "out", "first"), ("first", "out", "w"), ("w", "out", "touch"),
             ("touch", "out", "py"), ("py", "out", "js")]
    return save(tmp_path, workflow(nodes, conns), "untrusted.pe.json")


def test_run_without_trust_is_refused_and_nothing_runs(tmp_path):
    path = _untrusted_workflow(tmp_path)
    db = tmp_path / "pe.db"
    out = pe("run", str(path), "--json", db=db)
    assert out.returncode == 2, out.stderr
    data = json.loads(out.stdout)
    assert data["status"] == "invalid"
    assert [(p["node_id"], p["field"]) for p in data["problems"]] == [("touch", "type"), ("py", "type")]
    assert data["problems"][0]["message"].startswith(
        "node 'Touch' runs a command on this machine outside a sandbox; trust the workflow")
    assert "node 'Write' runs Python code" in data["problems"][1]["message"]
    assert not (tmp_path / "marker").exists() and not (tmp_path / "marker2").exists()
    assert json.loads(pe("list", "--json", db=db).stdout) == []  # not even the set node ran
    text = pe("run", str(path), db=db)
    assert text.returncode == 2 and "node 'Touch' runs a command" in text.stderr
    assert "Traceback" not in text.stderr


def test_run_with_trust_runs_them(tmp_path):
    path = _untrusted_workflow(tmp_path)
    out = pe("run", str(path), "--json", "--trust", db=tmp_path / "pe.db")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["outputs"]["touch"] == {"exit_code": 0, "stdout": "", "stderr": ""}
    assert data["outputs"]["py"] == "written" and data["outputs"]["js"] == 1
    assert (tmp_path / "marker").read_text() == "x" and (tmp_path / "marker2").read_text() == "y"


def test_resume_needs_trust_too(tmp_path):
    path = _untrusted_workflow(tmp_path, wait_s=30)
    db = tmp_path / "pe.db"
    proc = start_pe("run", str(path), "--json", "--trust", db=db)
    exec_id = wait_for_running(db, proc)
    assert pe("pause", exec_id, db=db).returncode == 0
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 4, stderr
    refused = pe("resume", exec_id, "--json", db=db)
    assert refused.returncode == 2, refused.stderr
    assert [p["node_id"] for p in json.loads(refused.stdout)["problems"]] == ["touch", "py"]
    assert json.loads(pe("status", exec_id, "--json", db=db).stdout)["status"] == "paused"
    assert not (tmp_path / "marker").exists()


def test_needs_trust_lists_enabled_unsandboxed_nodes_only():
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "js", "type": "code", "config": {"code": "return 1;"}},
            {"id": "py", "type": "code", "config": {"language": "python", "code": "return 1"}},
            {"id": "off", "type": "execute_command", "disabled": True, "config": {"command": ["true"]}},
            {"id": "cmd", "type": "execute_command", "config": {"command": ["true"]}},
        ],
        [("start", "out", "js"), ("js", "out", "py"), ("py", "out", "off"), ("off", "out", "cmd")],
    )
    assert [n.id for n in trust.needs_trust(wf)] == ["py", "cmd"]
    trust.require_trust(wf, trusted=True)
    assert not trust.is_granted()
    with trust.granted():
        assert trust.is_granted()


def test_fingerprint_follows_the_content(tmp_path):
    from engine import fileformat

    wf = workflow([{"id": "start", "type": "manual_trigger"}], [])
    path = tmp_path / "a.pe.json"
    fileformat.save(wf, path)
    first = trust.fingerprint(wf, tmp_path / "." / "a.pe.json")
    assert first[0] == str(path.resolve())
    assert first[1] == hashlib.sha256(path.read_bytes()).hexdigest()  # the saved file's bytes
    wf.nodes[0].name = "Go"
    assert trust.fingerprint(wf, path)[1] != first[1]
    assert trust.fingerprint(wf, None)[0] == ""
