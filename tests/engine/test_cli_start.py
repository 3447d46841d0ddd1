"""What `processengine run` imports: only what the run uses (start-up time is mostly imports)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.engine.test_cli import EXAMPLES, ROOT, pe

# Libraries a durable run of a plain workflow never needs: metrics (serve/worker only),
# SQLAlchemy and migrations (an up-to-date SQLite file is used through sqlite3), HTTP,
# the terminal UI (stderr is not a terminal here), graph algorithms (no loop, no
# cycle), the queue.
NOT_NEEDED = ("sqlalchemy", "prometheus_client", "alembic", "httpx", "rich", "networkx", "aiohttp", "procrastinate")

_CHILD = """
import json, sys
from engine import cli
code = cli.main(["run", sys.argv[1], "--db", sys.argv[2], "--json"])
heavy = json.loads(sys.argv[3])
sys.stderr.write("\\nIMPORTED " + json.dumps([m for m in heavy if m in sys.modules]) + "\\n")
sys.exit(code)
"""


def test_a_plain_run_on_an_up_to_date_database_imports_none_of_the_optional_libraries(tmp_path: Path) -> None:
    db = tmp_path / "pe.db"
    pe("run", str(EXAMPLES / "hello.pe.json"), db=db, check=True)  # creates and migrates the database
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(EXAMPLES / "hello.pe.json"), str(db), json.dumps(NOT_NEEDED)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["status"] == "completed"
    imported = json.loads(out.stderr.rsplit("IMPORTED ", 1)[1])
    assert imported == []


def test_version_is_read_only_when_asked_for() -> None:
    out = subprocess.run([sys.executable, "-m", "engine.cli", "--version"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("processengine ") and out.stdout.strip().split()[-1][0].isdigit()
