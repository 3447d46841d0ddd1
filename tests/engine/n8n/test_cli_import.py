"""`processengine import` and the imported files through `validate` and `run`, as real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.engine.test_cli import pe
from tests.servers import Reply

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"


def test_import_writes_the_file_and_prints_the_summary(tmp_path: Path) -> None:
    src = CORPUS / "enescingoz__disk-space-watchdog.json"
    out = tmp_path / "watchdog.pe.json"
    r = pe("import", str(src), "-o", str(out), db=tmp_path / "db")
    assert r.returncode == 0, r.stderr
    assert "4 mapped, 2 unsupported" in r.stdout
    assert "Check Disk Usage (SSH) [n8n-nodes-base.ssh v1]" in r.stdout
    doc = json.loads(out.read_text())
    assert doc["format"] == "processengine/1" and len(doc["nodes"]) == 6
    v = pe("validate", str(out), "--json", db=tmp_path / "db")
    assert v.returncode == 2
    problems = json.loads(v.stdout)["problems"]
    assert sum("unsupported node n8n-nodes-base.ssh v1" in p["message"] for p in problems) == 1
    assert sum("unsupported node n8n-nodes-base.telegram v1.2" in p["message"] for p in problems) == 1


def test_import_json_summary_and_default_output(tmp_path: Path) -> None:
    src = tmp_path / "poll.json"
    src.write_text((HERE / "workflows" / "poll_until_done.json").read_text())
    r = pe("import", str(src), "--json", db=tmp_path / "db")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["status"] == "imported" and data["output"] == str(tmp_path / "poll.pe.json")
    assert data["counts"]["mapped"] == 7 and data["counts"]["unsupported"] == 0
    assert data["counts"]["untranslated"] == 0 and data["counts"]["connections"] == 6
    assert {e["original"] for e in data["expressions"]} >= {"={{ $json.state }}"}
    assert (tmp_path / "poll.pe.json").exists()


def test_import_refuses_what_is_not_an_n8n_export(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"format": "processengine/1"}')
    r = pe("import", str(bad), db=tmp_path / "db")
    assert r.returncode == 2 and "not an n8n workflow export" in r.stderr and str(bad) in r.stderr
    r = pe("import", str(tmp_path / "missing.json"), "--json", db=tmp_path / "db")
    assert r.returncode == 2 and "cannot read file" in json.loads(r.stdout)["problems"][0]["message"]


def test_imported_polling_loop_validates_with_a_warning_and_runs(tmp_path: Path, http_server: Any) -> None:
    http_server.route("/jobs", Reply(json={"job_id": "j7"}))
    http_server.route("/jobs/j7", Reply(json={"state": "queued"}), Reply(json={"state": "done", "result_url": "u"}))
    out = tmp_path / "poll.pe.json"
    assert pe("import", str(HERE / "workflows" / "poll_until_done.json"), "-o", str(out), db=tmp_path / "db").returncode == 0
    v = pe("validate", str(out), db=tmp_path / "db")
    assert v.returncode == 0 and "warning: unreachable" in v.stdout
    r = pe("run", str(out), "--var", f"base_url={http_server.url}", "--json", db=tmp_path / "db")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    doc = json.loads(out.read_text())
    result = next(n["id"] for n in doc["nodes"] if n["name"] == "Result")
    assert data["outputs"][result] == {"url": "u", "job": "j7"}
    assert http_server.calls("/jobs/j7") == 2
