"""Time-travel benchmark: `state --at` latency on a long run, beside loading the whole record.

Run: python tests/perf/bench_travel.py [--steps N]
Runs a chain of N `set` nodes durably (SQLite WAL), then measures, in the same process:
the first `steps` call (it computes every step's pusher once), `state_at` at several
positions (median of 5 after the first), and, as the floor a scrub must be compared with,
one `load_record` (what opening the run already costs). Prints a markdown table; nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.service import ExecutionService  # noqa: E402
from engine.travel import History  # noqa: E402
from tests.engine.runtime.helpers import chain  # noqa: E402


def ms(fn: object, repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10_000)
    args = parser.parse_args()
    n = args.steps
    with tempfile.TemporaryDirectory() as d:
        svc = ExecutionService(str(Path(d) / "travel.db"))
        rec = asyncio.run(svc.run(chain(n)))
        eid = rec.execution_id
        history = History(svc.store, svc.workflow_of)
        t = time.perf_counter()
        steps = history.steps(eid)
        first = (time.perf_counter() - t) * 1000
        rows = [("first `steps` (loads the run, computes every pusher)", first)]
        for k in (0, n // 4, n // 2, 3 * n // 4, n - 2, n - 1):
            rows.append((f"`state --at {k}`", ms(lambda k=k: history.state_at(eid, k))))
        rows.append(("floor: `load_record` of the whole run", ms(lambda: svc.store.load_record(eid))))
        svc.close()
        size = sum(p.stat().st_size for p in Path(d).glob("travel.db*"))
    print(f"\nTime travel on a {len(steps):,}-step run (chain of {n:,} `set` nodes, SQLite file {size / 1e6:.1f} MB)\n")
    print("| operation | ms (median of 5) |")
    print("| --- | ---: |")
    for name, value in rows:
        print(f"| {name} | {value:.1f} |")


if __name__ == "__main__":
    main()
