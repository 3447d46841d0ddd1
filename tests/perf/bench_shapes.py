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
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

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


def durable_per_node(wf: Workflow, nodes: int) -> float:
    """Microseconds per node of the run's own recorded duration (best of 2)."""
    best = float("inf")
    for _ in range(2):
        with tempfile.TemporaryDirectory() as d:
            svc = ExecutionService(str(Path(d) / "b.db"))
            gc.collect()
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    q = args.quick
    fw = (250, 1000) if q else (500, 4000)
    cn = (2000, 10_000) if q else (2000, 50_000)
    print("\n| shape | small | µs/node | large | µs/node | large / small |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    a, b = durable_per_node(fan_out(fw[0]), fw[0] + 2), durable_per_node(fan_out(fw[1]), fw[1] + 2)
    print(f"| fan-out → merge | W = {fw[0]:,} | {a:.0f} | W = {fw[1]:,} | {b:.0f} | {b / a:.2f} |")
    a, b = durable_per_node(chain(cn[0]), cn[0] + 1), durable_per_node(chain(cn[1]), cn[1] + 1)
    print(f"| chain | N = {cn[0]:,} | {a:.0f} | N = {cn[1]:,} | {b:.0f} | {b / a:.2f} |")
    k = 2000 if q else 10_000
    size, live = loop_file_sizes(k)
    print(f"\nLoop of {k:,} items: database {size:.1f} MB, live data {live:.1f} MB ({size / live:.1f} times)")
    n = 20_000 if q else 100_000
    print(f"Chain of {n:,} nodes: peak RSS {peak_rss_mb(n):.0f} MB")


if __name__ == "__main__":
    t = time.perf_counter()
    main()
    print(f"\n(benchmark took {time.perf_counter() - t:.0f} s)", file=sys.stderr)
