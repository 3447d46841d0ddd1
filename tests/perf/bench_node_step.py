"""Node-step benchmark: the orchestrator's own cost per node, apart from the store's.

Run: python tests/perf/bench_node_step.py [--nodes N] [--rounds R] [--against DIR] [--callgrind]
A chain of N `set` nodes with two expressions each (the file `bench_cli.py` runs) is run
in one process, once per mode:
- `memory`: in memory, nobody subscribed (the orchestrator, rendering, validation, the
  output check);
- `events`: the same with a plain no-op subscriber to NodeStarted and NodeFinished (the
  events are built and dispatched);
- `bare`: `memory` with rendering, config validation and the output check stubbed out:
  the orchestrator's own part alone;
- `durable`: an `ExecutionService` on a SQLite file (the checkpointer and its commits).
CPU time per node (`time.process_time`), each mode in a fresh child process with the
heap loaded before the run frozen, as the CLI does; medians of R rounds. `--against DIR`
runs the same children on another copy of the code (e.g. `git archive <commit>` unpacked
in DIR), the two taking turns. `--callgrind` counts instructions instead (valgrind: a
chain of 1,020 minus one of 220, loading subtracted; slow, but the machine's load does not
move it: `durable` then commits every 200 nodes, as a 5 ms group window does at full
speed, instead of by the clock, its control poller never wakes, and the workflow's version
is found by its content hash as in a warm CLI run; every child hashes strings with the same
seed). Prints markdown; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODES = ("memory", "events", "bare", "durable")

CHILD = r"""
import asyncio, gc, json, sys, tempfile, time
from pathlib import Path
n, mode, bench, fixed = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "fixed"
sys.path.append(bench)
from engine import events as ev, fileformat
from engine.graph import ensure_valid
from engine.runtime.runner import run_workflow
from engine.service import ExecutionService
from bench_cli_chain import chain_file
d = Path(tempfile.mkdtemp())
path = chain_file(d, n)
wf = fileformat.load(path, check_configs=False)
ensure_valid(wf, file=str(path))
svc = ExecutionService(str(d / "b.db"))
document, content_hash = fileformat.canonical(wf)  # a warm CLI run knows the version's hash: no re-encoding
svc.store.save_workflow(wf, content_hash=content_hash, document=document)
asyncio.run(run_workflow(fileformat.load(chain_file(d, 3), check_configs=False)))  # imports, caches
hooks = None
if mode == "events":
    hooks = ev.LifecycleHooks()
    hooks.on(ev.NodeStarted, lambda e, r: None)
    hooks.on(ev.NodeFinished, lambda e, r: None)
if mode == "bare":
    from engine.nodes.set_node import SetConfig
    from engine.runtime import orchestrator, plan
    cfg = SetConfig(values={"i": 1, "k": 1})
    plan.expressions = type("Stub", (), {"render": staticmethod(lambda value, names, **kw: value),
                                         "render_config": staticmethod(lambda config, kept, names, **kw: dict(config))})
    plan.Plan._validate = staticmethod(lambda node, spec, raw: cfg)
    orchestrator.checked_text = lambda value: (None, None)
if mode == "durable" and fixed:  # commits every 200 nodes, not by the clock (valgrind runs ~50 times slower)
    from engine import service
    from engine.store import checkpoint
    checkpoint.GROUP_WINDOW, checkpoint.GROUP_ROWS = 3600.0, 400
    service.POLL_EVERY = 3600.0  # the control poller never wakes (its ticks are timing noise under valgrind)
gc.collect()
gc.freeze()
t = time.process_time()
if mode != "none":
    rec = asyncio.run(svc.run(wf, content_hash=content_hash) if mode == "durable" else run_workflow(wf, hooks=hooks))
    assert rec.status == "completed", rec.error
print(json.dumps(time.process_time() - t))
"""

CHAIN = '''
from engine import fileformat
from engine.fileformat import parse

def chain_file(directory, n):
    nodes = [{"id": "start", "type": "manual_trigger", "name": "start", "config": {}}]
    conns = []
    prev = "start"
    for i in range(n):
        nodes.append({"id": f"n{i}", "name": f"n{i}", "type": "set",
                      "config": {"values": {"i": "{{ " + str(i) + " + 1 }}", "k": "{{ vars.k }}"}}})
        conns.append({"from": prev, "from_port": "out", "to": f"n{i}", "to_port": "in"})
        prev = f"n{i}"
    doc = {"format": "processengine/1", "id": "wf-chain", "name": "chain", "variables": {"k": 1},
           "nodes": nodes, "connections": conns}
    path = directory / f"chain{n}.pe.json"
    fileformat.save(parse(doc), path)
    return path
'''


def child(code: Path, bench: Path, n: int, mode: str, callgrind: bool) -> float:
    """CPU seconds (or instructions, under callgrind) of one run of `mode`."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    cmd = [sys.executable, "-c", CHILD, str(n), mode, str(bench), "fixed" if callgrind else "clock"]
    if callgrind:
        env["PYTHONHASHSEED"] = "0"  # the same dict probes in every child: string hashes otherwise move counts by thousands a node
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=code)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    if callgrind:
        line = next(x for x in out.stderr.splitlines() if "Collected" in x)
        return float(line.split()[-1])
    return float(json.loads(out.stdout))


def per_node(code: Path, bench: Path, n: int, mode: str, callgrind: bool) -> float:
    if not callgrind:
        return child(code, bench, n, mode, False) / (n + 1) * 1e6
    small, big = 220, 1020  # instructions: loading and start subtracted at each size
    runs = {size: child(code, bench, size, mode, True) - child(code, bench, size, "none", True) for size in (small, big)}
    return (runs[big] - runs[small]) / (big - small)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=2020)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--against", type=Path, help="another copy of the code, run in turn with this one")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--callgrind", action="store_true", help="count instructions (needs valgrind)")
    args = ap.parse_args()
    if args.callgrind and shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")
    bench = Path(os.environ.get("TMPDIR", "/tmp")) / "bench_node_step"
    bench.mkdir(exist_ok=True)
    (bench / "bench_cli_chain.py").write_text(CHAIN)
    codes = {"this code": ROOT, **({"against": args.against.resolve()} if args.against else {})}
    modes = args.modes.split(",")
    rounds = 1 if args.callgrind else args.rounds
    got: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for mode in modes:
            for name, code in codes.items():
                got.setdefault((name, mode), []).append(per_node(code, bench, args.nodes, mode, args.callgrind))
    unit = "instructions per node" if args.callgrind else f"CPU µs per node, median (range) of {rounds}"
    print(f"\nchain of {args.nodes if not args.callgrind else '1,020 - 220'} `set` nodes, {unit}\n")
    print("| mode | " + " | ".join(codes) + " |")
    print("| --- |" + " ---: |" * len(codes))
    for mode in modes:
        cells = []
        for name in codes:
            v = got[(name, mode)]
            fmt = ",.0f" if args.callgrind else ".1f"
            mid = format(statistics.median(v), fmt)
            cells.append(mid if len(v) == 1 else f"{mid} ({format(min(v), fmt)}-{format(max(v), fmt)})")
        print(f"| {mode} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
