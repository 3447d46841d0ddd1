"""Time-travel benchmark: `state --at` latency on a long run, beside loading the whole record.

Run: python tests/perf/bench_travel.py [--steps N] [--http N]
Runs a chain of N `set` nodes durably (SQLite WAL), then measures, in the same process:
the first `steps` call (it computes every step's pusher once), `state_at` at several
positions (median of 5 after the first), and, as the floor a scrub must be compared with,
one `load_record` (what opening the run already costs). Then the store bytes per node of a
chain of `--http` HTTP requests to a local server (small and larger JSON answers), with
recorded I/O on and off (off: `NodeContext.record_io` does nothing, as before recordings
existed). Prints markdown tables; nothing here asserts a time.
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

from engine.nodes.base import NodeContext  # noqa: E402
from engine.service import ExecutionService  # noqa: E402
from engine.travel import History  # noqa: E402
from tests.engine.runtime.helpers import chain, workflow  # noqa: E402
from tests.servers import HttpTestServer, Reply  # noqa: E402


def ms(fn: object, repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def _http_chain(url: str, n: int) -> object:
    nodes = [{"id": "start", "type": "manual_trigger"}]
    nodes += [{"id": f"get_{i}", "type": "http_request", "config": {"url": url}} for i in range(n)]
    conns = [("start" if i == 0 else f"get_{i - 1}", "out", f"get_{i}") for i in range(n)]
    return workflow(nodes, conns)


def _store_bytes(path: Path, wf: object) -> tuple[int, int]:
    """(file bytes after VACUUM, bytes of the recordings' stored data) of one durable run."""
    import sqlalchemy as sa

    svc = ExecutionService(str(path))
    rec = asyncio.run(svc.run(wf))  # type: ignore[arg-type]
    assert rec.status == "completed", rec.error
    svc.close()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        conn.exec_driver_sql("VACUUM")
        recorded = conn.execute(sa.text("SELECT coalesce(sum(length(data)), 0) FROM recordings")).scalar_one()
    engine.dispose()
    return path.stat().st_size, int(recorded)


def bench_recordings(n: int) -> None:
    """Store bytes per HTTP node with recorded I/O on and off."""
    server = HttpTestServer()
    small = {"id": 7, "name": "Ada", "tags": ["a", "b"]}
    large = {"items": [{"id": i, "name": f"item {i}", "price": i * 1.25, "ok": i % 2 == 0} for i in range(150)]}
    server.route("/small", Reply(json=small))
    server.route("/large", Reply(json=large))
    original = NodeContext.record_io
    rows = []
    try:
        with tempfile.TemporaryDirectory() as d:
            base, _ = _store_bytes(Path(d) / "base.db", _http_chain(server.url_for("/small"), 0))
            for name in ("small", "large"):
                url = server.url_for(f"/{name}")
                got = {}
                for mode in ("off", "on"):
                    NodeContext.record_io = original if mode == "on" else (lambda *a, **k: None)  # type: ignore[method-assign]
                    got[mode] = _store_bytes(Path(d) / f"{name}-{mode}.db", _http_chain(url, n))
                rows.append((name, got))
    finally:
        NodeContext.record_io = original  # type: ignore[method-assign]
        server.close()
    print(f"\nStore bytes per HTTP node ({n:,} requests in a chain, SQLite after VACUUM, empty store subtracted)\n")
    print("| answer | bytes/node, recordings off | bytes/node, recordings on | recording data/node (stored) |")
    print("| --- | ---: | ---: | ---: |")
    for name, got in rows:
        (off, _), (on, rec_bytes) = got["off"], got["on"]
        label = "small JSON (~40 B)" if name == "small" else "larger JSON (~9 KB)"
        print(f"| {label} | {(off - base) / n:,.0f} | {(on - base) / n:,.0f} | {rec_bytes / n:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--http", type=int, default=500, help="HTTP nodes for the recording size table (0: skip)")
    args = parser.parse_args()
    if args.http:
        bench_recordings(args.http)
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
