"""CLI benchmark: the durable per-node cost of `processengine run --json` and its start-up,
each beside a floor measured in the same run.

Run: python tests/perf/bench_cli.py [--nodes N]
- per node: `processengine run chain.pe.json --json` of a chain of N `set` nodes (two
  expressions each) minus the same command on a two-node workflow, divided by N, beside
  one raw sqlite3 WAL commit (synchronous=NORMAL) of a 200-byte row;
- start-up: `processengine run` of a two-node workflow beside a bare Python that imports
  asyncio, sqlite3 and json.
Medians of 5 wall times. Prints markdown; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine import fileformat  # noqa: E402
from tests.engine.runtime.helpers import workflow  # noqa: E402
from tests.perf.bench_store import floor_sqlite_commit  # noqa: E402


def chain_file(directory: Path, n: int) -> Path:
    nodes = [{"id": "start", "type": "manual_trigger"}]
    conns = []
    prev = "start"
    for i in range(n):
        nodes.append({"id": f"n{i}", "type": "set", "config": {"values": {"i": "{{ " + str(i) + " + 1 }}", "k": "{{ vars.k }}"}}})
        conns.append((prev, "out", f"n{i}"))
        prev = f"n{i}"
    path = directory / f"chain{n}.pe.json"
    fileformat.save(workflow(nodes, conns, variables={"k": 1}), path)
    return path


def wall(cmd: list[str], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        times.append(time.perf_counter() - t)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=2020)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        d_path = Path(d)
        db = str(d_path / "bench.db")
        pe = [sys.executable, "-m", "engine.cli", "run"]
        small, big = chain_file(d_path, 1), chain_file(d_path, args.nodes)
        subprocess.run([*pe, str(small), "--db", db], check=True, capture_output=True, cwd=ROOT)  # migrate once
        t_small = wall([*pe, str(small), "--db", db, "--json"])
        t_big = wall([*pe, str(big), "--db", db, "--json"])
        bare = wall([sys.executable, "-c", "import asyncio, sqlite3, json"])
        floor = floor_sqlite_commit()  # the same floor as bench_store.py
        json.loads(subprocess.run([*pe, str(big), "--db", db, "--json"], capture_output=True, text=True, cwd=ROOT).stdout)
    per_node = (t_big - t_small) / args.nodes * 1e6
    print("\n| measure | value | floor | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| durable CLI chain, per node ({args.nodes:,} `set` nodes, 2 expressions each, `--json`) | {per_node:.0f} µs | {floor:.0f} µs (WAL commit) | {per_node / floor:.1f} |")
    print(f"| `processengine run` of a two-node workflow | {t_small * 1000:.0f} ms | {bare * 1000:.0f} ms (bare Python) | {t_small / bare:.1f} |")


if __name__ == "__main__":
    main()
