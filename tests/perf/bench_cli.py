"""CLI benchmark: the durable per-node cost of `processengine run --json` and its start-up,
each beside a floor measured in the same run.

Run: python tests/perf/bench_cli.py [--nodes N]
- per node: `processengine run chain.pe.json --json` of a chain of N `set` nodes (two
  expressions each) minus the same command on a two-node workflow, divided by N, beside
  one raw sqlite3 WAL commit (synchronous=NORMAL) of a 200-byte row;
- start-up: `processengine run` of a two-node workflow beside a bare Python that imports
  asyncio, sqlite3 and json.
Medians of 5 wall times per round, the commands taking turns (and of the commands' CPU time, user + system, which a
busy machine disturbs far less: a row of its own, with no floor beside it); `--rounds R` repeats the whole measurement and prints
the median and range of the ratios over the rounds. Each is measured warm (the compiled-workflow
cache, `engine.compiled`, holds the file's verdict from an earlier run) and cold (each run with an
empty cache folder). `--phases` adds the load path of the same file timed inside fresh processes
(CPU time, per node), cold and warm: reading and checking the file's shape, validating it
(configs, expressions, graph), rendering every config once as the run does, and the workflow
version's content hash with the cache entry (cold only: a warm run finds its version by the kept hash). Children run with bytecode caching on
(an installed package has its `.pyc` files; this machine's environment sets
PYTHONDONTWRITEBYTECODE, which would recompile the engine's modules at every start), with
the cache in a temporary folder. Prints markdown; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine import fileformat  # noqa: E402
from engine.compiled import CACHE_ENV  # noqa: E402
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


def child_env(cache: Path) -> dict[str, str]:
    """The environment of an installed command: bytecode cached (in `cache`), and a
    compiled-workflow cache of the benchmark's own beside it (never the user's)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    env[CACHE_ENV] = str(cache.parent / "workflow-cache")
    return env




def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one command, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    wall_s = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return wall_s, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def one_round(d_path: Path, nodes: int, env: dict[str, str], repeats: int = 5) -> dict[str, float]:
    """Per-node µs (wall and CPU) warm and cold, the WAL floor µs, the two-node run's and a
    bare Python's seconds, measured together.

    The commands take turns within each repeat, so a change of the machine's load hits all
    of them alike (timed one block after the other, the ratio swung 2-14x under load).
    Warm: the compiled-workflow cache holds both files' verdicts (`env`'s folder, filled
    before); cold: each of those runs gets an empty cache folder of its own."""
    db = str(d_path / "bench.db")
    pe = [sys.executable, "-m", "engine.cli", "run"]
    small, big = d_path / "chain1.pe.json", d_path / f"chain{nodes}.pe.json"
    cmds = {
        "small": [*pe, str(small), "--db", db, "--json"],
        "big": [*pe, str(big), "--db", db, "--json"],
        "small_cold": [*pe, str(small), "--db", db, "--json"],
        "big_cold": [*pe, str(big), "--db", db, "--json"],
        "bare": [sys.executable, "-c", "import asyncio, sqlite3, json"],
    }
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    cpus: dict[str, list[float]] = {k: [] for k in cmds}
    for i in range(repeats):
        for name, cmd in cmds.items():
            run_env = {**env, CACHE_ENV: str(d_path / "cold" / f"{name}{i}")} if name.endswith("_cold") else env
            w, c = timed(cmd, run_env)
            walls[name].append(w)
            cpus[name].append(c)
    wall, cpu = ({k: statistics.median(v) for k, v in got.items()} for got in (walls, cpus))
    return {
        "per_node": (wall["big"] - wall["small"]) / nodes * 1e6,
        "cpu_per_node": (cpu["big"] - cpu["small"]) / nodes * 1e6,
        "cold_per_node": (wall["big_cold"] - wall["small_cold"]) / nodes * 1e6,
        "cold_cpu_per_node": (cpu["big_cold"] - cpu["small_cold"]) / nodes * 1e6,
        "floor": floor_sqlite_commit(),  # the same floor as bench_store.py
        "small": wall["small"],
        "small_cold": wall["small_cold"],
        "bare": wall["bare"],
    }


PHASES_CHILD = """
import json, sys, time
t0 = time.process_time()
from engine import cli, compiled, expressions
t1 = time.process_time()
from engine.nodes import registry
for node_type in ("manual_trigger", "set"):  # the chain's node types, as the run imports them
    registry.find_spec(node_type)
t2 = time.process_time()
path = sys.argv[1]
steps = {"node types": t2 - t1}
loaded = compiled.load(path, timings=steps)
wf = loaded.workflow
cli._settle_heap()  # as `run` does before the run, which renders the configs
t3 = time.process_time()
names = expressions.make_names(input={}, nodes={}, vars=wf.variables, loop=None, execution={})
for node in wf.nodes:  # as the run's plan renders a config (no field of these types is kept as text)
    expressions.render_config(node.config, (), names, node_id=node.id)
t4 = time.process_time()
print(json.dumps({"imports": t1 - t0, **steps, "render": t4 - t3, "warm": loaded.warm}))
"""

PHASES = ("node types", "load", "validate", "render", "cache")
PHASE_TEXT = {
    "node types": "node types imported (once per process, every run)",
    "load": "load (read, key, decode, build)",
    "validate": "validate (configs, expressions, graph)",
    "render": "render (every config once)",
    "cache": "version hash + entry (cold; a warm run's version is found by it)",
}


def phases(path: Path, nodes: int, env: dict[str, str], *, warm: bool, repeats: int = 5) -> dict[str, list[float]]:
    """CPU seconds of each load-path phase, one fresh process per repeat: cold (each with
    an empty compiled-workflow cache) or warm (the file's verdict kept by a first load)."""
    got: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as caches:
        cmd = [sys.executable, "-c", PHASES_CHILD, str(path)]
        if warm:
            env = {**env, "PROCESSENGINE_CACHE_DIR": caches}
            subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=True)
        for i in range(repeats):
            if not warm:
                env = {**env, "PROCESSENGINE_CACHE_DIR": str(Path(caches) / str(i))}
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
            if out.returncode != 0:
                raise RuntimeError(out.stderr[-2000:])
            row = json.loads(out.stdout)
            if row.pop("warm") != warm:
                raise RuntimeError(f"expected a {'warm' if warm else 'cold'} load")
            for phase, seconds in row.items():
                got.setdefault(phase, []).append(seconds)
    return got


def print_phases(cold: dict[str, list[float]], warm: dict[str, list[float]], nodes: int) -> None:
    rounds = len(cold["load"])
    print(f"\nload path of the {nodes:,}-node file, fresh process each time (CPU time, median (range) of {rounds}; "
          "cold: an empty compiled-workflow cache each time, warm: the file's verdict kept)\n")
    print("| phase | cold total | cold per node | warm total | warm per node |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, phases_ in [*((PHASE_TEXT[p], (p,)) for p in PHASES), ("together", PHASES)]:
        cells = []
        for got in (cold, warm):
            ms = [sum(got[p][i] for p in phases_) * 1000 for i in range(rounds)]
            cells += [f"{_spread(ms, '.1f')} ms", f"{statistics.median(ms) * 1000 / nodes:.1f} µs"]
        print(f"| {label} | {' | '.join(cells)} |")


def _spread(values: list[float], fmt: str) -> str:
    mid = format(statistics.median(values), fmt)
    return mid if len(values) == 1 else f"{mid} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=2020)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--phases", action="store_true", help="also time the load path in fresh processes")
    parser.add_argument("--phases-only", action="store_true", help="only time the load path")
    args = parser.parse_args()
    if args.phases or args.phases_only:
        with tempfile.TemporaryDirectory() as d:
            big = chain_file(Path(d), args.nodes)
            env = child_env(Path(d) / "pycache")
            cold, warm = phases(big, args.nodes, env, warm=False), phases(big, args.nodes, env, warm=True)
        print_phases(cold, warm, args.nodes)
        if args.phases_only:
            return
    rounds = []
    with tempfile.TemporaryDirectory() as d:
        d_path = Path(d)
        env = child_env(d_path / "pycache")
        small, big = chain_file(d_path, 1), chain_file(d_path, args.nodes)
        pe = [sys.executable, "-m", "engine.cli", "run"]
        db = str(d_path / "bench.db")
        for wf in (small, big):  # migrate once, fill the bytecode cache, check the output is JSON
            out = subprocess.run([*pe, str(wf), "--db", db, "--json"], capture_output=True, text=True, cwd=ROOT, env=env)
            json.loads(out.stdout)
        for _ in range(args.rounds):
            rounds.append(one_round(d_path, args.nodes, env))
    floors = [r["floor"] for r in rounds]
    print(f"\n{len(rounds)} round(s); median (range); warm: the file's verdict kept by an earlier run "
          "(engine.compiled), cold: an empty cache each run\n")
    print("| measure | value | floor | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for kind, key in (("warm", "per_node"), ("cold", "cold_per_node")):
        per_node = [r[key] for r in rounds]
        print(f"| durable CLI chain, per node ({args.nodes:,} `set` nodes, 2 expressions each, `--json`), {kind} | {_spread(per_node, '.0f')} µs | {_spread(floors, '.1f')} µs (WAL commit) | {_spread([r[key] / r['floor'] for r in rounds], '.1f')} |")
    for kind, key in (("warm", "cpu_per_node"), ("cold", "cold_cpu_per_node")):
        print(f"| the same chain, CPU time per node, {kind} (user + system; steadier than wall time on a busy machine) | {_spread([r[key] for r in rounds], '.0f')} µs | | |")
    bare_ms = [r["bare"] * 1000 for r in rounds]
    for kind, key in (("warm", "small"), ("cold", "small_cold")):
        print(f"| `processengine run` of a two-node workflow, {kind} | {_spread([r[key] * 1000 for r in rounds], '.0f')} ms | {_spread(bare_ms, '.0f')} ms (bare Python) | {_spread([r[key] / r['bare'] for r in rounds], '.1f')} |")


if __name__ == "__main__":
    main()
