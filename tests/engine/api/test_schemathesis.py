"""Schemathesis against the OpenAPI document a real `serve --api` serves: no 5xx, no schema violations.

Every check runs except `positive_data_acceptance`: a request that fits the schema
may still hold a workflow that does not validate (no trigger, a cycle, an unknown
node type) and is rightly refused with 422 and its problems, which the schema
cannot express. The POST's links let the stateful phase pause, resume and cancel
the executions it starts.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.engine.api.helpers import ServeProcess

TOKEN = "fuzz-token"


def test_schemathesis_finds_no_server_errors_or_schema_violations(tmp_path: Path, free_port: int) -> None:
    server = ServeProcess("serve", "--api", "--port", str(free_port), "--token", TOKEN, "--db", str(tmp_path / "pe.db"))
    try:
        base = server.base_url()
        exe = shutil.which("schemathesis") or shutil.which("st")
        cmd = [exe] if exe else [sys.executable, "-m", "schemathesis.cli"]
        out = subprocess.run(
            [*cmd, "run", f"{base}/openapi.json", "-H", f"Authorization: Bearer {TOKEN}",
             "--checks", "all", "--exclude-checks", "positive_data_acceptance",
             "--max-examples", "40", "--seed", "7", "--generation-database", "none", "--request-timeout", "30"],
            capture_output=True, text=True, timeout=900, cwd=tmp_path,  # its cache stays out of the tree
        )
        assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
        assert "passed" in out.stdout
    finally:
        assert server.stop() == 0
