"""Engine benchmark: per-node overhead of chains of `set` nodes, beside floors.

Run: python tests/perf/bench_engine.py [--quick]
Prints a markdown table (paste into docs/performance.md). Floors are measured in
the same run: an asyncio task round trip and a raw sqlite3 WAL commit of a
200-byte row. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.runtime.runner import run_workflow  # noqa: E402
from tests.demo import example_path  # noqa: E402
from tests.engine.runtime.helpers import chain  # noqa: E402


def floor_asyncio_task(n: int = 20000) -> float:
    async def noop() -> None:
        return None

    async def main() -> float:
        t = time.perf_counter()
        for _ in range(n):
            await asyncio.ensure_future(noop())
        return (time.perf_counter() - t) / n

    return asyncio.run(main()) * 1e6


def floor_sqlite_commit(n: int = 2000) -> float:
    with tempfile.TemporaryDirectory() as d:
        con = sqlite3.connect(os.path.join(d, "floor.db"), isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
        row = os.urandom(200)
        t = time.perf_counter()
        for _ in range(n):
            con.execute("BEGIN")
            con.execute("INSERT INTO t (v) VALUES (?)", (row,))
            con.execute("COMMIT")
        el = (time.perf_counter() - t) / n
        con.close()
    return el * 1e6


def per_node_in_memory(n: int, repeats: int) -> float:
    wf = chain(n)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        rec = asyncio.run(run_workflow(wf))
        times.append(time.perf_counter() - t)
        assert rec.status == "completed"
    return min(times) / (n + 1) * 1e6  # min: the overhead without scheduler noise


def cli_wall(repeats: int = 5) -> float:
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "bench.db")
        cmd = [sys.executable, "-m", "engine.cli", "run", str(example_path("hello")), "--db", db]
        env = {**os.environ, "PROCESSENGINE_CACHE_DIR": os.path.join(d, "workflow-cache")}  # never the user's cache
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env=env)  # create + migrate the DB once
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env=env)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes = [10, 100, 1000] if args.quick else [10, 100, 1000, 10000]
    task_floor = floor_asyncio_task()
    sql_floor = floor_sqlite_commit()
    print(f"floors: asyncio task round trip {task_floor:.1f} us; sqlite3 WAL commit (200 B) {sql_floor:.1f} us\n")
    print("| N (set nodes) | in memory, us/node | / asyncio-task floor |")
    print("| ---: | ---: | ---: |")
    for n in sizes:
        repeats = 5 if n <= 1000 else 3
        us = per_node_in_memory(n, repeats)
        print(f"| {n} | {us:.1f} | {us / task_floor:.1f}x |")
    try:
        wall = cli_wall()
        print(f"\n`processengine run` of a two-node workflow: {wall * 1000:.0f} ms wall (median of 5)")
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        print(f"\nCLI wall time not measured: {exc}")


if __name__ == "__main__":
    main()
