"""How a `processengine run`/`resume` process ends (`engine.cli.finish`): without the
interpreter's teardown, yet with everything written. Real subprocesses: the entry points
(`python -m engine.cli`, `python -m app.launcher`) and small scripts that add exit-time
work of their own (a buffering log handler, a temporary folder, a thread still working).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine import fileformat
from engine.cli import QUICK_EXIT
from tests.engine.runtime.helpers import workflow

ROOT = Path(__file__).resolve().parents[2]
BIG = 3_000_000  # characters of the trigger's payload: far more than a pipe holds (64 KiB)


def env_for(db: Path) -> dict[str, str]:
    return {**os.environ, "PROCESSENGINE_DB": str(db), "PYTHONPATH": str(ROOT)}


def _set_after_start(tmp_path: Path, name: str, node_id: str, values: dict[str, str]) -> Path:
    """`name` in `tmp_path`: start -> a `set` node `node_id` with `values`."""
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, {"id": node_id, "type": "set", "config": {"values": values}}],
        [("start", "out", node_id)],
    )
    path = tmp_path / name
    fileformat.save(wf, path)
    return path


def passing_on(tmp_path: Path) -> Path:
    """start (passes its input on) -> keep (copies one field): the report carries the input twice."""
    return _set_after_start(tmp_path, "pass.pe.json", "keep", {"text": "{{ input.text }}"})


def failing(tmp_path: Path) -> Path:
    return _set_after_start(tmp_path, "fail.pe.json", "div", {"q": "{{ input.n / input.zero }}"})


def read_slowly(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """stdout in 1 KiB reads (the writer fills the pipe and waits, again and again), then stderr."""
    assert proc.stdout is not None and proc.stderr is not None
    chunks = []
    while chunk := os.read(proc.stdout.fileno(), 1024):
        chunks.append(chunk)
    return b"".join(chunks), proc.stderr.read()


def executions(db: Path) -> list[tuple[str, str]]:
    """The rows of the run's database, after checking that its store was closed: the last
    connection's close checkpoints the write-ahead log into the database and removes it."""
    assert not Path(f"{db}-wal").exists()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT id, status FROM executions").fetchall()


@pytest.mark.parametrize("entry", ["engine.cli", "app.launcher"])
def test_a_large_report_read_slowly_is_complete_and_the_store_closed(tmp_path: Path, entry: str) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps({"text": "x" * BIG}))
    db = tmp_path / "pe.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", entry, "run", str(passing_on(tmp_path)), "--json", "--input", f"@{payload}", "--log-level", "INFO"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(db), cwd=ROOT,
    )
    out, err = read_slowly(proc)
    assert proc.wait(timeout=120) == 0, err[-2000:]
    report = json.loads(out)
    assert report["status"] == "completed"
    assert report["outputs"]["keep"] == {"text": "x" * BIG}
    last_log_line = err.decode().rstrip().splitlines()[-1]
    assert f"execution={report['execution_id']}" in last_log_line and "completed" in last_log_line, last_log_line
    assert executions(db) == [(report["execution_id"], "completed")]


def test_a_failing_run_keeps_its_exit_code_and_its_whole_report(tmp_path: Path) -> None:
    db = tmp_path / "pe.db"
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", str(failing(tmp_path)), "--json", "--input", '{"n": 1, "zero": 0}'],
        capture_output=True, text=True, env=env_for(db), cwd=ROOT, timeout=120,
    )
    assert out.returncode == 1, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report["status"] == "failed" and report["error"]["node_id"] == "div"
    assert executions(db) == [(report["execution_id"], "failed")]


# A process like the entry points, with exit-time work of its own: a log handler that keeps
# its lines until it is closed (logging.shutdown, an atexit callback), a temporary folder
# removed by its finalizer, and an atexit callback of its own.
EXIT_WORK = """
import atexit, logging, logging.handlers, sys, tempfile
from engine import cli
log_file, marker, folder_file = sys.argv[1:4]
argv = sys.argv[4:]
target = logging.FileHandler(log_file)
held = logging.handlers.MemoryHandler(capacity=10**6, flushLevel=logging.CRITICAL + 1, target=target)
logging.getLogger().addHandler(held)
logging.getLogger().setLevel(logging.INFO)
folder = tempfile.TemporaryDirectory()
open(folder_file, "w").write(folder.name)
atexit.register(lambda: open(marker, "w").write("atexit ran"))
sys.exit(cli.finish(cli.main(argv), argv))
"""


def test_exit_time_work_is_done_before_the_quick_exit(tmp_path: Path) -> None:
    db, log_file, marker, folder_file = tmp_path / "pe.db", tmp_path / "run.log", tmp_path / "marker", tmp_path / "folder"
    out = subprocess.run(
        [sys.executable, "-c", EXIT_WORK, str(log_file), str(marker), str(folder_file), "run", str(passing_on(tmp_path)), "--json", "--input", '{"text": "hi"}'],
        capture_output=True, text=True, env=env_for(db), cwd=ROOT, timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    eid = json.loads(out.stdout)["execution_id"]
    lines = log_file.read_text().splitlines()
    assert any(f"execution={eid} started" in line for line in lines), lines[-5:]
    assert f"execution={eid}" in lines[-1] and "completed" in lines[-1], lines[-5:]
    assert marker.read_text() == "atexit ran"
    assert not Path(folder_file.read_text()).exists()


# A thread still working after `main` returned: it writes its file only once the main
# thread has ended (which the ordinary exit marks before it waits for the other threads).
THREAD_LEFT = """
import sys, threading
from engine import cli
done_file = sys.argv[1]
argv = sys.argv[2:]
def work():
    threading.main_thread().join()
    open(done_file, "w").write("done")
threading.Thread(target=work).start()
sys.exit(cli.finish(cli.main(argv), argv))
"""


def test_a_thread_still_working_is_waited_for(tmp_path: Path) -> None:
    db, done = tmp_path / "pe.db", tmp_path / "done"
    out = subprocess.run(
        [sys.executable, "-c", THREAD_LEFT, str(done), "run", str(failing(tmp_path)), "--json", "--input", '{"n": 1, "zero": 0}'],
        capture_output=True, text=True, env=env_for(db), cwd=ROOT, timeout=120,
    )
    assert out.returncode == 1, out.stderr[-2000:]
    assert json.loads(out.stdout)["status"] == "failed"
    assert done.read_text() == "done"


# `finish` called where the process must not end: the results are printed, then 0.
OTHER_CALLS = """
import threading
from engine.cli import finish
got = [finish(3, ["status", "x"]), finish(5, [])]
t = threading.Thread(target=lambda: got.append(finish(4, ["run", "wf.pe.json"])))
t.start()
t.join()
print(got)
"""


def test_finish_returns_the_code_for_other_commands_and_in_other_threads(tmp_path: Path) -> None:
    """Only `run` and `resume` end the process, and only from the main thread; every other
    call returns its code (in a child process: a quick exit would end this one)."""
    assert QUICK_EXIT == ("run", "resume")
    out = subprocess.run([sys.executable, "-c", OTHER_CALLS], capture_output=True, text=True, env=env_for(tmp_path / "pe.db"), cwd=ROOT, timeout=60)
    assert (out.returncode, out.stdout) == (0, "[3, 5, 4]\n"), out.stderr[-2000:]


@pytest.mark.parametrize("tool", ["cProfile", "trace"])
def test_a_profiled_or_traced_run_ends_the_ordinary_way(tmp_path: Path, tool: str) -> None:
    """`python -m cProfile -o FILE -m engine.cli run ...` writes FILE after the command
    returns, and a tracer (a debugger, `trace`, coverage's tracer) has its own exit-time
    work: with a profiler or a tracer set, the process ends as Python ends it."""
    db, out_file = tmp_path / "pe.db", tmp_path / "profile.out"
    wrap = ["-m", "cProfile", "-o", str(out_file), "-m"] if tool == "cProfile" else ["-m", "trace", "--count", "--coverdir", str(tmp_path / "cover"), "--file", str(out_file), "--module"]
    cmd = [sys.executable, *wrap, "engine.cli", "run", str(passing_on(tmp_path)), "--input", '{"text": "x"}', "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env_for(db), cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout[: out.stdout.rindex("}") + 1])["status"] == "completed"
    assert out_file.exists() and out_file.stat().st_size > 0
