"""Shape benchmark: does the durable cost per node stay flat as the work grows?

Run: python tests/perf/bench_shapes.py [--quick]
Durable runs (ExecutionService on a SQLite WAL file) of three shapes, each at a small and a
large size, reporting the execution's own recorded duration per node and the ratio
large / small (flat = 1.0):

- fan-out: trigger -> W parallel `set` nodes -> merge (W = 500 and 4,000);
- chain: N `set` nodes in a row (N = 2,000 and 50,000);
- loop: a loop over K items with a one-node body (K = 10,000): database file size
  beside its live data (the size of a VACUUM INTO copy).
Also the peak RSS of a 100,000-node chain in a child process. Nothing here asserts.

The collector (`--collector`): "run" leaves it as `processengine run` does for its run
(`engine.cli._settle_heap`: what exists before the run frozen, young collections every
20,000 allocations; the studio also freezes the heap for a run), "default" keeps Python's
thresholds with nothing frozen (a service embedded in a program of its own), where the
full collections inside a large run walk the whole heap, workflow included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine import cli  # noqa: E402
from engine.model import Workflow  # noqa: E402
from engine.service import ExecutionService  # noqa: E402
from tests.engine.runtime.helpers import chain, workflow  # noqa: E402


def fan_out(width: int) -> Workflow:
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "manual_trigger"}, {"id": "m", "type": "merge", "config": {}}]
    conns: list[tuple[str, str, str]] = []
    for i in range(width):
        nodes.append({"id": f"s{i}", "type": "set", "config": {"values": {"i": i}}})
        conns += [("start", "out", f"s{i}"), (f"s{i}", "out", "m")]
    return workflow(nodes, conns)


def loop(items: int) -> Workflow:
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "each", "type": "loop", "config": {"items": "{{ vars.items }}", "max_iterations": items + 1}},
            {"id": "body", "type": "set", "config": {"values": {"sq": "{{ loop.item * loop.item }}"}}},
        ],
        [("start", "out", "each"), ("each", "loop", "body"), ("body", "out", "each")],
        variables={"items": list(range(items))},
    )


@contextlib.contextmanager
def collector(policy: str) -> Iterator[None]:
    """The collector during one run (see the module's docstring), put back afterwards."""
    saved = gc.get_threshold()
    if policy == "run":
        cli._settle_heap()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)


def durable_per_node(wf: Workflow, nodes: int, policy: str = "run") -> float:
    """Microseconds per node of the run's own recorded duration (best of 2)."""
    best = float("inf")
    for _ in range(2):
        with tempfile.TemporaryDirectory() as d:
            svc = ExecutionService(str(Path(d) / "b.db"))
            gc.collect()
            with collector(policy):
                rec = asyncio.run(svc.run(wf))
            assert rec.status == "completed", rec.error
            best = min(best, (rec.stopped_at - rec.started_at) / nodes * 1e6)
            svc.close()
    return best


def loop_file_sizes(items: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "loop.db"
        svc = ExecutionService(str(path))
        rec = asyncio.run(svc.run(loop(items)))
        assert rec.status == "completed", rec.error
        svc.close()
        import sqlite3

        con = sqlite3.connect(path)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute(f"VACUUM INTO '{Path(d) / 'live.db'}'")
        con.close()
        size = sum(p.stat().st_size for p in Path(d).glob("loop.db*"))
        return size / 1e6, (Path(d) / "live.db").stat().st_size / 1e6


CHILD = """
import asyncio, resource, sys, tempfile
from pathlib import Path
sys.path.insert(0, {root!r})
from engine.service import ExecutionService
from tests.engine.runtime.helpers import chain
with tempfile.TemporaryDirectory() as d:
    svc = ExecutionService(str(Path(d) / "c.db"))
    rec = asyncio.run(svc.run(chain({n})))
    svc.close()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, rec.status)
"""


def peak_rss_mb(n: int) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), n=n)], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[0])


def _ratios(make: Any, sizes: tuple[int, int], extra: int, rounds: int, policies: list[str]) -> dict[str, tuple[list[float], list[float]]]:
    """Per policy, per-node µs of the small and the large size, `rounds` times (all taking turns)."""
    got: dict[str, tuple[list[float], list[float]]] = {p: ([], []) for p in policies}
    for _ in range(rounds):
        for policy in policies:
            small, large = got[policy]
            small.append(durable_per_node(make(sizes[0]), sizes[0] + extra, policy))
            large.append(durable_per_node(make(sizes[1]), sizes[1] + extra, policy))
    return got


def _row(name: str, label: str, sizes: tuple[int, int], small: list[float], large: list[float]) -> str:
    ratios = sorted(b / a for a, b in zip(small, large, strict=True))
    mid = statistics.median(ratios)
    return (
        f"| {name} | {label} = {sizes[0]:,} | {statistics.median(small):.0f} ({min(small):.0f}-{max(small):.0f}) "
        f"| {label} = {sizes[1]:,} | {statistics.median(large):.0f} ({min(large):.0f}-{max(large):.0f}) "
        f"| {mid:.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f}) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--rounds", type=int, default=1, help="repeat each pair; medians and ranges are printed")
    parser.add_argument("--only", choices=("fanout", "chain", "loop", "rss"), action="append", help="only these parts")
    parser.add_argument("--collector", choices=("run", "default", "both"), default="both", help="the collector during a run")
    args = parser.parse_args()
    q = args.quick
    only = set(args.only or ("fanout", "chain", "loop", "rss"))
    fw = (250, 1000) if q else (500, 4000)
    cn = (2000, 10_000) if q else (2000, 50_000)
    policies = ["run", "default"] if args.collector == "both" else [args.collector]
    print("\n| shape | small | µs/node, median (range) | large | µs/node, median (range) | large / small, median (range) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    if "fanout" in only:
        for policy, got in _ratios(fan_out, fw, 2, args.rounds, policies).items():
            print(_row(f"fan-out → merge, collector: {policy}", "W", fw, *got))
    if "chain" in only:
        for policy, got in _ratios(chain, cn, 1, args.rounds, policies).items():
            print(_row(f"chain, collector: {policy}", "N", cn, *got))
    if "loop" in only:
        k = 2000 if q else 10_000
        size, live = loop_file_sizes(k)
        print(f"\nLoop of {k:,} items: database {size:.1f} MB, live data {live:.1f} MB ({size / live:.1f} times)")
    if "rss" in only:
        n = 20_000 if q else 100_000
        print(f"Chain of {n:,} nodes: peak RSS {peak_rss_mb(n):.0f} MB")


if __name__ == "__main__":
    t = time.perf_counter()
    main()
    print(f"\n(benchmark took {time.perf_counter() - t:.0f} s)", file=sys.stderr)
