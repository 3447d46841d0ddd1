"""Store benchmark: durable per-node overhead beside the raw SQLite commit floor.

Run: python tests/perf/bench_store.py [--quick] [--pg URL]
Prints markdown tables (paste into docs/performance.md). For chains of `set`
nodes (N = 10 ... 10,000) it runs the same workflow in memory and durably
(ExecutionService on a SQLite WAL file) and reports the durable overhead per
node beside the floor measured in the same run: one raw sqlite3 WAL commit
(synchronous=NORMAL, as the store uses) of a 200-byte row. Also the memory an
ExecutionService keeps per finished execution (tracemalloc). Nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from engine.service import ExecutionService  # noqa: E402
from engine.store.sql import RawTransaction  # noqa: E402
from tests.engine.runtime.helpers import chain  # noqa: E402


def floor_sqlite_commit(n: int = 3000) -> float:
    """Microseconds for one BEGIN / INSERT 200 B / COMMIT on a WAL file."""
    with tempfile.TemporaryDirectory() as d:
        con = sqlite3.connect(os.path.join(d, "floor.db"), isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
        row = os.urandom(200)
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            for _ in range(n):
                con.execute("BEGIN")
                con.execute("INSERT INTO t (v) VALUES (?)", (row,))
                con.execute("COMMIT")
            best = min(best, (time.perf_counter() - t) / n)
        con.close()
    return best * 1e6


async def timed_run(svc: ExecutionService, n: int, repeats: int) -> float:
    wf = chain(n)
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        t = time.perf_counter()
        rec = await svc.run(wf)
        best = min(best, time.perf_counter() - t)
        assert rec.status == "completed", rec.error
    return best


def measure(url: str | None, sizes: list[int]) -> list[dict[str, Any]]:
    rows = []

    async def go() -> None:
        mem = ExecutionService(in_memory=True)
        durable = ExecutionService(url)
        await timed_run(durable, 10, 1)  # warm caches (compiled statements, node modules)
        for n in sizes:
            repeats = 5 if n <= 1000 else 3
            t_mem = await timed_run(mem, n, repeats)
            mem._records.clear()
            before = RawTransaction.committed
            t_dur = await timed_run(durable, n, repeats)
            nodes = n + 1
            rows.append(
                {
                    "n": n,
                    "mem_us": t_mem / nodes * 1e6,
                    "dur_us": t_dur / nodes * 1e6,
                    "over_us": (t_dur - t_mem) / nodes * 1e6,
                    "commits": (RawTransaction.committed - before) / repeats,
                }
            )
        durable.close()

    asyncio.run(go())
    return rows


def memory_per_execution(url: str, runs: int = 200) -> tuple[float, float]:
    """Bytes an ExecutionService keeps per finished execution (durable, and in memory)."""

    async def go(svc: ExecutionService) -> float:
        wf = chain(10)
        for _ in range(5):
            await svc.run(wf)  # warm-up: caches, compiled statements, imports
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(runs):
            await svc.run(wf)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        return (after - before) / runs

    durable = ExecutionService(url)
    try:
        kept_durable = asyncio.run(go(durable))
    finally:
        durable.close()
    kept_memory = asyncio.run(go(ExecutionService(in_memory=True)))
    return kept_durable, kept_memory


def table(title: str, rows: list[dict[str, Any]], floor: float) -> None:
    print(f"\n{title}\n")
    print("| N (set nodes) | in memory, us/node | durable, us/node | durable overhead, us/node | / WAL commit floor | commits per run |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['n']} | {r['mem_us']:.1f} | {r['dur_us']:.1f} | {r['over_us']:.1f} | "
            f"{r['over_us'] / floor:.2f}x | {r['commits']:.0f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="N up to 1000 only")
    ap.add_argument("--pg", default=os.environ.get("PROCESSENGINE_TEST_PG_URL"), help="also measure this PostgreSQL URL")
    args = ap.parse_args()
    sizes = [10, 100, 1000] if args.quick else [10, 100, 1000, 10000]
    floor = floor_sqlite_commit()
    print(f"floor: raw sqlite3 WAL commit (synchronous=NORMAL) of a 200-byte row: {floor:.1f} us")
    with tempfile.TemporaryDirectory() as d:
        url = "sqlite:///" + os.path.join(d, "bench.db")
        table("SQLite (WAL file)", measure(url, sizes), floor)
        kept_durable, kept_memory = memory_per_execution("sqlite:///" + os.path.join(d, "mem.db"))
    print(
        f"\nmemory kept per finished execution (10-node chain, tracemalloc over 200 runs): "
        f"{kept_durable / 1024:.1f} KB durable service; {kept_memory / 1024:.1f} KB in-memory service "
        "(which keeps every record by design)"
    )
    if args.pg:
        engine = sa.create_engine(args.pg.replace("postgresql://", "postgresql+psycopg://", 1))
        engine.dispose()
        table("PostgreSQL (same code; ratio still against the SQLite floor)", measure(args.pg, sizes), floor)


if __name__ == "__main__":
    main()
