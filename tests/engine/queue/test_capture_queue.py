"""`run --queue --capture-email`: the capture flag travels with the queued execution to the worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.engine.runtime.helpers import workflow
from tests.engine.test_cli import ROOT, save
from tests.engine.test_recorded_io import email_node
from tests.servers import SmtpTestServer

pytestmark = pytest.mark.postgres


def pe(*args: str, db: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess on the queue's PostgreSQL store."""
    env = {**os.environ, "PROCESSENGINE_DB": db}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def _mail_file(tmp_path: Path, server: SmtpTestServer) -> Path:
    wf = workflow([{"id": "start", "type": "manual_trigger"}, email_node(server, "notify")], [("start", "out", "notify")], variables={"n": 7})
    return save(tmp_path, wf)


def test_a_queued_run_with_capture_on_keeps_its_email_in_the_inbox(tmp_path: Path, queue_db: str, start_worker: Any, smtp_server: SmtpTestServer) -> None:
    start_worker("cap1")
    out = pe("run", str(_mail_file(tmp_path, smtp_server)), "--queue", "--capture-email", "--json", db=queue_db)
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["status"] == "completed"
    assert json.loads(pe("status", status["execution_id"], "--json", db=queue_db).stdout)["worker"] == "cap1"  # a worker ran it
    assert status["outputs"]["notify"]["captured"] is True
    assert smtp_server.messages == []  # nothing reached the SMTP server
    inbox = json.loads(pe("inbox", status["execution_id"], "--json", db=queue_db).stdout)
    assert [(m["node_id"], m["subject"], m["to"]) for m in inbox] == [("notify", "Report 7", ["ann@example.org"])]


def test_a_queued_run_without_capture_sends_its_email(tmp_path: Path, queue_db: str, start_worker: Any, smtp_server: SmtpTestServer) -> None:
    start_worker("cap2")
    out = pe("run", str(_mail_file(tmp_path, smtp_server)), "--queue", "--json", db=queue_db)
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["status"] == "completed" and "captured" not in status["outputs"]["notify"]
    assert [m.message["Subject"] for m in smtp_server.wait_for_messages(1)] == ["Report 7"]
    assert json.loads(pe("inbox", status["execution_id"], "--json", db=queue_db).stdout) == []
