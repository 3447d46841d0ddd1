"""List-node benchmark: cost per item of filter, sort, remove_duplicates and aggregate
(each evaluates an expression over `item` once per item), beside a `set` node run once.

Run: python tests/perf/bench_list_nodes.py [--quick]
Prints a markdown table: best wall time of a few in-memory runs of trigger → node on a
list of order-like objects. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.runtime.runner import run_workflow  # noqa: E402
from tests.engine.runtime.helpers import workflow  # noqa: E402

CASES = [
    ("set (one run, baseline)", "set", {"values": {"n": "{{ len(input) }}"}}),
    ("filter: item.total > 250", "filter", {"condition": "{{ item.total > 250 }}"}),
    ("sort: key item.total", "sort", {"key": "{{ item.total }}"}),
    ("sort: no key (whole object)", "sort", {}),
    ("remove_duplicates: key item.total", "remove_duplicates", {"key": "{{ item.total }}"}),
    ("aggregate: group by country, sum", "aggregate", {"group_by": "{{ item.country }}", "fields": {"s": {"op": "sum", "value": "{{ item.total }}"}}}),
    ("limit: 100", "limit", {"count": 100}),
]


def best_ms(node_type: str, cfg: dict, items: list, repeats: int) -> float:
    wf = workflow([{"id": "t", "type": "manual_trigger"}, {"id": "n", "type": node_type, "config": cfg}], [("t", "out", "n")])
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        rec = asyncio.run(run_workflow(wf, items))
        best = min(best, time.perf_counter() - t0)
        assert rec.status == "completed", rec.main.error
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 2_000 if args.quick else 10_000
    repeats = 2 if args.quick else 5
    items = [{"id": f"A-{i}", "total": (i * 37) % 500, "country": ("DE", "FR", "IT")[i % 3]} for i in range(n)]
    print(f"| node ({n:,} items) | best run, ms | per item, µs |")
    print("| --- | ---: | ---: |")
    for label, node_type, cfg in CASES:
        ms = best_ms(node_type, cfg, items, repeats)
        print(f"| {label} | {ms:.1f} | {ms * 1000 / n:.1f} |")


if __name__ == "__main__":
    main()
