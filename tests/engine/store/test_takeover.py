"""Who may continue a run: a live owner keeps it, a takeover is one atomic claim, and a
finished run's status is never overwritten - with real processes, through the CLI.

A stalled owner is a child process stopped with SIGSTOP (alive, its loop not running);
its heartbeat is made stale by writing an old time into its row (what 30 s of stalling
would leave), so no test waits for the clock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine import fileformat
from engine.store import schema as t
from engine.store.store import InvalidExecutionState
from tests.engine.store.fixtures import Db, backend_params, pg_url
from tests.engine.store.workflows import napping
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]


class Owner:
    """A child process running one workflow (tests/engine/store/child.py)."""

    def __init__(self, url: str, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.engine.store.child", url, "default", "run", str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("EXEC "):
            self.proc.kill()
            raise AssertionError(f"the child did not start: {line!r} {self.proc.communicate()[1][-2000:]}")
        self.execution_id = line.split()[1]

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=120)
        return self.proc.returncode, out, err


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Any]:
    db = tmp_path / "pe.db"
    url = f"sqlite:///{db}"
    children: list[Owner] = []

    def start(seconds: float) -> tuple[Owner, sa.Engine]:
        path = tmp_path / "nap.pe.json"
        fileformat.save(napping(seconds), path)
        children.append(Owner(url, path))
        return children[-1], sa.create_engine(url)

    yield start
    for child in children:
        if child.proc.poll() is None:
            child.proc.send_signal(signal.SIGCONT)
            child.proc.kill()
            child.proc.communicate()


def _cli(engine: sa.Engine, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PROCESSENGINE_DB": str(engine.url.database)}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)


def _row(engine: sa.Engine, eid: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.executions).where(t.executions.c.id == eid)).one()


def _set(engine: sa.Engine, eid: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(t.executions.update().where(t.executions.c.id == eid).values(**values))


def _wait_for_node(engine: sa.Engine, eid: str, node: str) -> None:
    """Until the node is in flight (the run's checkpoint says so)."""
    wait_until(lambda: node in (_row(engine, eid).in_flight or ""), 60, f"node {node!r} in flight")


def test_a_live_owner_whose_loop_stalled_keeps_its_run(setup: Any) -> None:
    child, engine = setup(3.0)
    _wait_for_node(engine, child.execution_id, "nap")
    child.proc.send_signal(signal.SIGSTOP)  # alive, but its loop does not run: no heartbeat
    _set(engine, child.execution_id, heartbeat_at=time.time() - 120)
    status = _cli(engine, "status", child.execution_id, "--json")
    assert '"status": "running"' in status.stdout, status.stdout + status.stderr
    resume = _cli(engine, "resume", child.execution_id)
    assert resume.returncode != 0
    assert "is running" in resume.stderr and "Traceback" not in resume.stderr
    child.proc.send_signal(signal.SIGCONT)
    code, out, err = child.finish()
    assert code == 0 and "STATUS completed" in out, err[-2000:]
    assert _row(engine, child.execution_id).status == "completed"


def test_a_takeover_wins_once_and_the_old_owner_never_overwrites_it(setup: Any) -> None:
    """An owner on another host is judged by its heartbeat alone: stale, it may be taken
    over - and when it wakes up, it finds out and stops, writing nothing."""
    child, engine = setup(2.0)
    _wait_for_node(engine, child.execution_id, "nap")
    child.proc.send_signal(signal.SIGSTOP)
    _set(engine, child.execution_id, owner_host="elsewhere.example", heartbeat_at=time.time() - 120)
    assert '"status": "interrupted"' in _cli(engine, "status", child.execution_id, "--json").stdout
    resumed = _cli(engine, "resume", child.execution_id, "--json")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _row(engine, child.execution_id).status == "completed"
    child.proc.send_signal(signal.SIGCONT)
    code, _, err = child.finish()
    assert code != 0 and "taken over" in err
    assert "UNIQUE" not in err and "Traceback" not in err
    row = _row(engine, child.execution_id)
    assert row.status == "completed" and row.error is None
    again = _cli(engine, "resume", child.execution_id)
    assert again.returncode != 0 and "completed" in again.stderr and "Traceback" not in again.stderr


def test_two_resumers_race_one_wins_the_other_gets_a_clear_message(setup: Any) -> None:
    child, engine = setup(1.0)
    _wait_for_node(engine, child.execution_id, "nap")
    child.proc.kill()  # SIGKILL: the run is interrupted
    child.finish()
    env = {**os.environ, "PROCESSENGINE_DB": str(engine.url.database)}
    racers = [
        subprocess.Popen([sys.executable, "-m", "engine.cli", "resume", child.execution_id], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        for _ in range(4)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in racers]
    winners = [r for r in results if r[0] == 0]
    assert len(winners) == 1, results
    for code, _, err in results:
        assert "Traceback" not in err and "UNIQUE" not in err and "IntegrityError" not in err
        if code != 0:
            assert "taken over" in err or "is running" in err or "is completed" in err, err
    row = _row(engine, child.execution_id)
    assert row.status == "completed"


@pytest.mark.parametrize("backend", backend_params())
async def test_a_finished_status_is_never_overwritten(backend: str, tmp_path: Path) -> None:
    db = Db(backend, str(tmp_path / "pe.db") if backend == "sqlite" else pg_url(), f"t-{uuid.uuid4().hex[:12]}")
    svc = db.service()
    try:
        rec = await svc.run(napping(0.0))
        assert rec.status == "completed"
        with pytest.raises(InvalidExecutionState, match="keeps its status"):
            svc.mark_failed(rec.execution_id, "marked failed after an interruption")
        with pytest.raises(InvalidExecutionState):
            svc.cancel(rec.execution_id)
        assert svc.status(rec.execution_id)["status"] == "completed"
        assert svc.store.set_stopped(rec.execution_id, "interrupted") is False
    finally:
        svc.close()
