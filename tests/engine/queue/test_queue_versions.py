"""`run --queue` and `serve --queue` save the version a queued run uses from its file's kept hash.

The rows must be what saving the workflow from scratch writes (same hash and document),
one version for the same file however often it is enqueued, a new one for a changed file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine import fileformat
from tests.engine.api.helpers import ServeProcess
from tests.engine.runtime.helpers import workflow
from tests.engine.test_cli import ROOT
from tests.engine.test_serve_versions import expected_row, hook_workflow, saved

pytestmark = pytest.mark.postgres


def run_queued(path: Path, db: str, cache: str) -> dict[str, Any]:
    env = {**os.environ, "PROCESSENGINE_DB": db, "PROCESSENGINE_CACHE_DIR": cache}
    out = subprocess.run([sys.executable, "-m", "engine.cli", "run", str(path), "--queue", "--json"], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    status: dict[str, Any] = json.loads(out.stdout)
    assert status["status"] == "completed", status
    return status


def greet(who: str) -> Any:
    return workflow([{"id": "start", "type": "manual_trigger"}, {"id": "greet", "type": "set", "config": {"values": {"hi": who}}}], [("start", "out", "greet")])


@pytest.mark.timeout(300)
def test_queued_versions_are_saved_as_before_and_a_changed_file_gets_a_new_one(tmp_path: Path, queue_db: str, start_worker: Any) -> None:
    start_worker("v1")
    cache = str(tmp_path / "cache")
    path = tmp_path / "greet.pe.json"
    fileformat.save(greet("ann"), path)
    first = expected_row(path)
    run_queued(path, queue_db, cache)  # cold: the cache entry is written
    run_queued(path, queue_db, cache)  # warm: the hash is known
    run_queued(path, queue_db, "")  # no cache: hashed once at load
    fileformat.save(greet("bob"), path)
    assert run_queued(path, queue_db, cache)["outputs"]["greet"] == {"hi": "bob"}
    hook = tmp_path / "hook.pe.json"
    fileformat.save(hook_workflow("q", "queued"), hook)
    server = ServeProcess("serve", str(hook), "--queue", "--port", "0", env={"PROCESSENGINE_DB": queue_db, "PROCESSENGINE_CACHE_DIR": cache})
    try:
        found = re.search(r"(http://[\d.]+:\d+)/webhook/", server.wait_line("serving "))
        assert found, server.out
        for i in range(2):
            answer = httpx.post(f"{found.group(1)}/webhook/q", json={"i": i}, timeout=60)
            assert answer.status_code == 200 and answer.json() == {"reply": "queued", "got": {"i": i}}, answer.text
    finally:
        assert server.stop() == 0
    versions, used = saved(queue_db)
    assert [v[1:] for v in versions] == [first, expected_row(path), expected_row(hook)]
    ids = [v[0] for v in versions]
    assert used == [ids[0]] * 3 + [ids[1]] + [ids[2]] * 2
