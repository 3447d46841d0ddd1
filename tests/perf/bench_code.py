"""Code node benchmark: a JavaScript call on the run's isolate and a Python child start,
beside a `set` node doing the same small step.

Run: python tests/perf/bench_code.py [--quick]
Prints a markdown table (paste into docs/performance.md). Each row runs a chain
start -> N nodes in memory and divides the best of a few runs by N; the isolate's
start is measured on its own (it is paid once per run). Not a test: nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine import trust  # noqa: E402
from engine.nodes.js_runtime import JsIsolate  # noqa: E402
from engine.runtime.runner import run_workflow  # noqa: E402
from tests.engine.runtime.helpers import workflow  # noqa: E402

ORDERS = [{"id": f"A-{i}", "customer": f"c{i % 7}", "total": i * 1.5} for i in range(100)]
STEPS: dict[str, tuple[str, dict[str, Any]]] = {
    "set": ("set", {"values": {"i": "{{ input.i + 1 if 'i' in input else 1 }}"}}),
    "code, JavaScript": ("code", {"code": "return { i: (input.i ?? 0) + 1 };"}),
    "code, JavaScript, 100-order list in and out": (
        "code", {"code": "return input.map(o => ({ ...o, big: o.total > 50 }));"}),
    "code, Python (a child process per call)": (
        "code", {"language": "python", "code": "return {'i': input.get('i', 0) + 1}"}),
}


def chain(node_type: str, config: dict[str, Any], n: int):  # type: ignore[no-untyped-def]
    nodes = [{"id": "start", "type": "manual_trigger"}]
    nodes += [{"id": f"n{i}", "type": node_type, "config": config} for i in range(n)]
    conns = [("start" if i == 0 else f"n{i - 1}", "out", f"n{i}") for i in range(n)]
    return workflow(nodes, conns)


def per_node_us(name: str, n: int, repeats: int) -> float:
    node_type, config = STEPS[name]
    wf = chain(node_type, config, n)
    payload = ORDERS if "list" in name else {}
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        with trust.granted():
            rec = asyncio.run(run_workflow(wf, payload))
        best = min(best, time.perf_counter() - t)
        assert rec.status == "completed", rec.main.error
    return best / n * 1e6


def isolate_start_ms(repeats: int = 5) -> float:
    async def once() -> float:
        isolate = JsIsolate()
        t = time.perf_counter()
        await isolate.call("return 1;", {"input": None}, timeout_s=10, memory_mb=128)
        elapsed = time.perf_counter() - t
        isolate.close()
        return elapsed

    return min(asyncio.run(once()) for _ in range(repeats)) * 1000


def python_start_floor_ms(repeats: int = 10) -> float:
    """A bare `python -I -c pass`: the part of a Python code node's cost that is the interpreter's."""
    import subprocess

    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-c", "pass"], check=True)
        best = min(best, time.perf_counter() - t)
    return best * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes = {"set": 200, "code, JavaScript": 200, "code, JavaScript, 100-order list in and out": 100,
             "code, Python (a child process per call)": 10 if args.quick else 30}
    repeats = 2 if args.quick else 4
    start = isolate_start_ms()
    base = per_node_us("set", sizes["set"], repeats)
    print("| node | N in the chain | µs per node (best run) | / `set` |")
    print("| --- | ---: | ---: | ---: |")
    for name, n in sizes.items():
        us = base if name == "set" else per_node_us(name, n, repeats)
        print(f"| {name} | {n} | {us:,.0f} | {us / base:.1f}x |")
    print(f"\nJavaScript isolate start (once per run, first call included): {start:.1f} ms")
    print(f"Floor for Python: a bare `python -I -c pass` takes {python_start_floor_ms():.1f} ms")


if __name__ == "__main__":
    main()
