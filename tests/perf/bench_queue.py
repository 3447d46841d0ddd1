"""Queue-mode benchmark: throughput with 1, 2 and 4 workers, enqueue-to-start latency, per-node cost on PostgreSQL.

Run: python tests/perf/bench_queue.py [--pg URL] [--runs N] [--quick]
(URL defaults to PROCESSENGINE_TEST_PG_URL; every measurement gets a fresh
database of its own, dropped afterwards.) Prints markdown tables for
docs/performance.md:

1. executions/s of a 10-node workflow (manual trigger + 9 `set` nodes) with 1, 2
   and 4 worker processes (`--concurrency 2` each), all runs enqueued at once;
2. enqueue-to-start latency (the row's `started_at` minus its `created_at`), one
   run at a time on an idle worker, and under the burst of table 1;
3. the durable per-node overhead of one in-process run on PostgreSQL beside
   SQLite, over the in-memory run of the same chain.
Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from engine.queue.client import QueueClient  # noqa: E402
from engine.service import ExecutionService  # noqa: E402
from tests.engine.runtime.helpers import chain  # noqa: E402
from tests.pg import fresh_database  # noqa: E402


@contextmanager
def workers(url: str, n: int, concurrency: int = 2) -> Iterator[list[subprocess.Popen[str]]]:
    procs = [
        subprocess.Popen([sys.executable, "-m", "engine.cli", "worker", "--db", url, "--name", f"bench{i}", "--concurrency", str(concurrency)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        for i in range(n)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            p.stdout.readline()  # "worker ... ready"
        yield procs
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)


def rows(url: str) -> list[Any]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        got = list(conn.execute(sa.text("SELECT status, created_at, started_at, stopped_at FROM executions")))
    engine.dispose()
    return got


async def enqueue(url: str, wf: Any, n: int) -> None:
    with ExecutionService(url) as svc:
        client = await QueueClient(url).open()
        try:
            for _ in range(n):
                await client.enqueue(svc, wf)
        finally:
            await client.close()


def wait_done(url: str, n: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = rows(url)
        if len(got) >= n and all(r.status == "completed" for r in got):
            return
        time.sleep(0.05)
    raise TimeoutError("runs did not finish")


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"{statistics.median(values) * 1000:.0f} / {p95 * 1000:.0f}"


def throughput(base: str, n_workers: int, runs: int) -> tuple[float, list[float]]:
    wf = chain(9, expression=False)
    with fresh_database(base, "pe_bench") as url:
        ExecutionService(url).close()  # migrate before the workers start
        with workers(url, n_workers):
            t0 = time.perf_counter()
            asyncio.run(enqueue(url, wf, runs))
            wait_done(url, runs)
            elapsed = time.perf_counter() - t0
            got = rows(url)
    return runs / elapsed, [r.started_at - r.created_at for r in got]


def idle_latency(base: str, runs: int) -> list[float]:
    wf = chain(9, expression=False)
    with fresh_database(base, "pe_bench") as url:
        ExecutionService(url).close()
        with workers(url, 1):
            for i in range(runs):
                asyncio.run(enqueue(url, wf, 1))
                wait_done(url, i + 1)
            return [r.started_at - r.created_at for r in rows(url)]


def per_node(base: str, n: int = 200, repeats: int = 3) -> dict[str, float]:
    wf = chain(n)

    def best(url: str | None) -> float:
        times = []
        for _ in range(repeats):
            svc = ExecutionService(url, in_memory=url is None)
            t0 = time.perf_counter()
            asyncio.run(svc.run(wf))
            times.append(time.perf_counter() - t0)
            svc.close()
        return min(times)

    mem = best(None)
    with tempfile.TemporaryDirectory() as d:
        lite = best(os.path.join(d, "pe.db"))
    with fresh_database(base, "pe_bench") as url:
        pg = best(url)
    return {"memory": mem / n * 1e6, "sqlite": (lite - mem) / n * 1e6, "postgres": (pg - mem) / n * 1e6}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default=os.environ.get("PROCESSENGINE_TEST_PG_URL"), help="PostgreSQL URL (a server to create databases on)")
    ap.add_argument("--runs", type=int, default=60, help="executions per throughput measurement")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if not args.pg:
        sys.exit("give --pg URL or set PROCESSENGINE_TEST_PG_URL")
    runs = 20 if args.quick else args.runs
    print(f"machine: {os.cpu_count()} CPU(s); {runs} executions of a 10-node workflow per row; workers run --concurrency 2\n")
    print("| workers | executions/s | enqueue-to-start under the burst, median / p95 ms |")
    print("| ---: | ---: | ---: |")
    for n in (1, 2, 4):
        rate, lat = throughput(args.pg, n, runs)
        print(f"| {n} | {rate:.1f} | {ms(lat)} |", flush=True)
    lat = idle_latency(args.pg, 10 if args.quick else 30)
    print(f"\nenqueue-to-start on an idle worker, median / p95: {ms(lat)} ms ({len(lat)} runs)\n")
    cost = per_node(args.pg, 100 if args.quick else 300)
    print("| store | per-node cost over in-memory (µs) |")
    print("| --- | ---: |")
    print(f"| in memory (absolute, per node) | {cost['memory']:.0f} |")
    print(f"| SQLite (WAL file) | {cost['sqlite']:.0f} |")
    print(f"| PostgreSQL (local server) | {cost['postgres']:.0f} |")


if __name__ == "__main__":
    main()
