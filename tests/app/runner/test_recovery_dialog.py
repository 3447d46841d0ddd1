"""Start-up recovery after a real child process running a workflow was killed with SIGKILL."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.runner import controller as rc
from app.runner.install import install_runner
from app.runner.recovery import RecoveryDialog
from engine import fileformat
from engine.paths import sqlite_url
from tests.app.runner.helpers import workflow
from tests.servers import Reply

ROOT = Path(__file__).resolve().parents[3]


def notify_workflow(url: str):
    """start -> prepare -> notify (HTTP POST: side effects) -> done."""
    return workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "prep", "type": "set", "name": "Prepare", "config": {"values": {"msg": "hello"}}},
            {"id": "notify", "type": "http_request", "name": "Notify", "config": {"method": "POST", "url": url, "json": {"m": "{{ input.msg }}"}, "timeout_s": 60}, "retry": "none"},
            {"id": "done", "type": "set", "name": "Done", "config": {"values": {"ok": True}}},
        ],
        [("start", "out", "prep"), ("prep", "out", "notify"), ("notify", "out", "done")],
        wf_id="wf-notify",
        name="Notify people",
    )


def run_child_and_kill(db: str, wf_file: Path, http_server, path: str) -> str:
    """Run the workflow in a child process; SIGKILL it while the POST is in flight."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.engine.store.child", sqlite_url(db), "default", "run", str(wf_file)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        execution_id = None
        deadline = time.monotonic() + 30
        while execution_id is None and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.1)
            if ready:
                line = proc.stdout.readline()
                if line.startswith("EXEC "):
                    execution_id = line.split()[1]
                elif not line and proc.poll() is not None:
                    break
        assert execution_id, proc.stderr.read() if proc.poll() is not None else "child did not start"
        http_server.wait_for_requests(1, timeout=20, path=path)  # the POST is in flight, hanging
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        return execution_id
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def killed_run(tmp_path, http_server, db_path):
    http_server.route("/notify", Reply(hang=True), Reply(json={"sent": True}))
    wf_file = tmp_path / "notify.pe.json"
    fileformat.save(notify_workflow(http_server.url_for("/notify")), wf_file)
    return run_child_and_kill(db_path, wf_file, http_server, "/notify"), wf_file


def test_recovery_dialog_flags_side_effects_and_resumes(window, qloop, engine, db_path, killed_run, http_server, qtbot):
    execution_id, _ = killed_run
    ui = install_runner(window, db=db_path, engine=engine, recover=True)
    try:
        qtbot.waitUntil(lambda: ui.recovery_dialog is not None and ui.recovery_dialog.isVisible(), timeout=10000)
        dialog: RecoveryDialog = ui.recovery_dialog
        assert dialog.windowModality() == Qt.WindowModality.WindowModal  # open(): non-blocking
        assert [r["execution_id"] for r in dialog.runs] == [execution_id]
        run = dialog.runs[0]
        assert run["workflow_name"] == "Notify people" and run["in_flight"] == "Notify" and run["side_effects"]
        assert dialog.flagged() == [execution_id]
        item = dialog.tree.topLevelItem(0)
        assert item.text(3).startswith("⚠ Notify") and "side effects" in item.text(3)
        assert item.text(2) == "2 completed, 0 failed, 0 skipped of 4 (50%)"  # the words of every surface
        assert "Notify" in dialog.resume_button.text() and "twice" in dialog.warning.text()
        assert http_server.calls("/notify") == 1  # nothing ran again before the user chose
        dialog.resume_button.click()
        c = ui.controller
        qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=15000)
        assert not dialog.isVisible()
        assert c.execution_id == execution_id
        states = {i.node_id: i.run_state for i in window.scene.node_items()}
        assert states == {"start": "succeeded", "prep": "succeeded", "notify": "succeeded", "done": "succeeded"}
        assert http_server.calls("/notify") == 2  # the flagged node did run again
        assert c.call_blocking(lambda s: s.status(execution_id))["status"] == "completed"
    finally:
        ui.shutdown()


def test_recovery_mark_failed_and_open(window, qloop, engine, db_path, killed_run, qtbot):
    execution_id, _ = killed_run
    ui = install_runner(window, db=db_path, engine=engine, recover=True)
    try:
        qtbot.waitUntil(lambda: ui.recovery_dialog is not None and ui.recovery_dialog.isVisible(), timeout=10000)
        dialog = ui.recovery_dialog
        dialog.open_button.click()  # view it read-only first: nothing runs
        c = ui.controller
        qtbot.waitUntil(lambda: c.state == rc.VIEWING, timeout=5000)
        assert window.scene.node_item("prep").run_state == "succeeded"
        assert window.scene.node_item("done").run_state == "pending"
        assert c.resume_action.isEnabled()
        # a second dialog (e.g. next start-up) marks it failed
        ui.recovery_dialog = None
        qtbot.waitUntil(lambda: not c._tasks, timeout=5000)
        c.spawn(ui.check_recovery())
        qtbot.waitUntil(lambda: ui.recovery_dialog is not None, timeout=5000)
        ui.recovery_dialog.fail_button.click()
        qtbot.waitUntil(lambda: c.call_blocking(lambda s: s.status(execution_id))["status"] == "failed", timeout=5000)
        assert not ui.recovery_dialog.isVisible()
        assert c.call_blocking(lambda s: s.recover()) == []
    finally:
        ui.shutdown()
