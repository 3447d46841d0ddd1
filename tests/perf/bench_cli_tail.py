"""Where the CPU time of `processengine run --json` goes, part by part, outside the load path.

Run: python tests/perf/bench_cli_tail.py [--nodes N] [--repeats R] [--exit {exit,fast}]
Each repeat runs `engine.cli.main(["run", FILE, "--db", DB, "--json"])` in a fresh process
on the chain of bench_cli.py and on its two-node workflow, with process-CPU timers around
cmd_run's parts (the functions are wrapped; no profiler runs), the time of the collector's
collections (`gc.callbacks`) and what the process spends after `main` returned (the
interpreter's exit, read from the child's rusage in the parent). `--exit fast` ends the
child as the `python -m engine.cli` entry does after a command (`engine.cli.finish`);
`--exit exit` lets the interpreter tear everything down, as a plain `sys.exit` does.
Prints markdown: per part, the median CPU ms of each workflow and the difference per node.
Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.perf.bench_cli import chain_file, child_env  # noqa: E402

CHILD = r"""
import time
T0 = time.process_time()
import asyncio, gc, json, os, sys
spent = {}
def timed(name, fn):
    def wrapper(*a, **kw):
        t = time.process_time()
        try:
            return fn(*a, **kw)
        finally:
            spent[name] = spent.get(name, 0.0) + time.process_time() - t
    return wrapper
gc_start = [0.0]
def on_gc(phase, info):
    if phase == "start":
        gc_start[0] = time.process_time()
    else:
        spent["gc collections (any, before the exit)"] = spent.get("gc collections (any, before the exit)", 0.0) + time.process_time() - gc_start[0]
gc.callbacks.append(on_gc)
import engine.cli as cli
from engine import trust, service
from engine.store import store, checkpoint
spent["imports before main"] = time.process_time() - T0
from engine import compiled
compiled.load = timed("load + validate (not this part)", compiled.load)  # what cmd_run calls
trust.require_trust = timed("trust", trust.require_trust)
cli._live = timed("live progress", cli._live)
cli._service = timed("open the service", cli._service)
cli._settle_heap = timed("settle heap (gc.freeze)", cli._settle_heap)
asyncio.run = timed("asyncio.run (the run)", asyncio.run)
store.ExecutionStore.save_workflow = timed("  save the workflow version", store.ExecutionStore.save_workflow)
checkpoint.Checkpointer.close = timed("  checkpointer close", checkpoint.Checkpointer.close)
def timed_async(name, fn):
    async def wrapper(*a, **kw):
        t = time.process_time()
        try:
            return await fn(*a, **kw)
        finally:
            spent[name] = spent.get(name, 0.0) + time.process_time() - t
    return wrapper
from engine.runtime import orchestrator
orchestrator.Orchestrator.run = timed_async("  the orchestrator's run", orchestrator.Orchestrator.run)
checkpoint.Checkpointer.initial = timed("  first checkpoint", checkpoint.Checkpointer.initial)
cli._report_run = timed("report (--json)", cli._report_run)
service.ExecutionService.close = timed("close the service", service.ExecutionService.close)
t = time.process_time()
argv = ["run", sys.argv[1], "--db", sys.argv[2], "--json"]
stdout = sys.stdout
sys.stdout = open(os.devnull, "w")
code = cli.main(argv)
sys.stdout.flush()
sys.stdout = stdout
spent["main (all of it)"] = time.process_time() - t
spent["T at main's end"] = time.process_time()
os.write(int(sys.argv[4]), json.dumps(spent).encode())
os.close(int(sys.argv[4]))
if sys.argv[3] == "fast":
    code = cli.finish(code, argv)
sys.exit(code)
"""

ORDER = (
    "imports before main",
    "main (all of it)",
    "load + validate (not this part)",
    "trust",
    "live progress",
    "open the service",
    "settle heap (gc.freeze)",
    "asyncio.run (the run)",
    "  save the workflow version",
    "  checkpointer close",
    "  first checkpoint",
    "  the orchestrator's run",
    "report (--json)",
    "close the service",
    "gc collections (any, before the exit)",
    "main, not in a part above",
    "exit (after main)",
    "whole process (rusage)",
)


def one(path: Path, db: str, how: str, env: dict[str, str]) -> dict[str, float]:
    """CPU seconds per part of one fresh `run` process."""
    import os

    read, write = os.pipe()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), db, how, str(write)], cwd=ROOT, env=env, pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write)
    with os.fdopen(read) as f:
        got = json.loads(f.read() or "{}")
    err = proc.stderr.read() if proc.stderr else b""
    if proc.wait() != 0:
        raise RuntimeError(err.decode()[-2000:])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    whole = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    parts = [k for k in got if k in ORDER[2:] and not k.startswith(("  ", "gc"))]
    got["main, not in a part above"] = got["main (all of it)"] - sum(got[k] for k in parts)
    got["exit (after main)"] = whole - got.pop("T at main's end")
    got["whole process (rusage)"] = whole
    return got


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=2020)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--exit", choices=("exit", "fast"), default="exit")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        d_path = Path(d)
        env = child_env(d_path / "pycache")
        small, big = chain_file(d_path, 1), chain_file(d_path, args.nodes)
        db = str(d_path / "bench.db")
        one(small, db, args.exit, env)  # migrate once, fill the bytecode cache
        one(big, db, args.exit, env)
        runs: dict[str, list[dict[str, float]]] = {"small": [], "big": []}
        for _ in range(args.repeats):
            for name, path in (("small", small), ("big", big)):
                runs[name].append(one(path, db, args.exit, env))
    print(f"\nCPU ms per part, median of {args.repeats} fresh processes (exit: {args.exit}); per node = (big - small) / {args.nodes:,}\n")
    print(f"| part | two-node | {args.nodes:,} nodes | per node µs |")
    print("| --- | ---: | ---: | ---: |")
    for part in ORDER:
        s = statistics.median(r.get(part, 0.0) for r in runs["small"]) * 1000
        b = statistics.median(r.get(part, 0.0) for r in runs["big"]) * 1000
        print(f"| {part} | {s:.2f} | {b:.2f} | {(b - s) * 1000 / args.nodes:.2f} |")


if __name__ == "__main__":
    main()
