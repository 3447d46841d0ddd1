"""`processengine studio FILE --run --screenshot PNG` in a real process: run, screenshot, exit 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from engine import fileformat
from engine.service import ExecutionService
from tests.app.runner.helpers import http_retry_workflow, wait_workflow
from tests.servers import Reply

ROOT = Path(__file__).resolve().parents[3]


def studio(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": str(ROOT),
        "PROCESSENGINE_DATA_DIR": str(tmp_path / "data"),
        "PROCESSENGINE_LOG_DIR": str(tmp_path / "logs"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    return subprocess.run([sys.executable, "-m", "app.main", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)


def _png(path: Path) -> bool:
    return path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_run_then_screenshot_after_the_end(tmp_path):
    wf_file = tmp_path / "wait.pe.json"
    fileformat.save(wait_workflow(0.4), wf_file)
    shot = tmp_path / "shots" / "run.png"
    db = tmp_path / "studio.db"
    proc = studio(tmp_path, str(wf_file), "--run", "--screenshot", str(shot), "--db", str(db), "--workspace", "docs")
    assert proc.returncode == 0, proc.stderr
    assert _png(shot)
    with ExecutionService(str(db), workspace="docs") as svc:
        runs = svc.list_runs()
    assert [r["status"] for r in runs] == ["completed"]
    assert runs[0]["progress"]["completed"] == 4
    assert (tmp_path / "logs" / "processengine.log").read_text().count("completed") >= 1


def test_a_failed_run_still_exits_0_with_a_screenshot(tmp_path, http_server):
    http_server.route("/down", Reply(status=500, json={"error": "down"}))
    wf = http_retry_workflow(http_server.url_for("/down"))
    wf.node("get").retry = "none"
    wf_file = tmp_path / "down.pe.json"
    fileformat.save(wf, wf_file)
    shot = tmp_path / "failed.png"
    db = tmp_path / "studio.db"
    proc = studio(tmp_path, str(wf_file), "--run", "--screenshot", str(shot), "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    assert _png(shot)
    with ExecutionService(str(db)) as svc:
        (run,) = svc.list_runs()
    assert run["status"] == "failed" and run["error"]["node_id"] == "get"
