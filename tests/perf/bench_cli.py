"""CLI benchmark: the durable per-node cost of `processengine run --json` and its start-up,
each beside a floor measured in the same run.

Run: python tests/perf/bench_cli.py [--nodes N] [--rounds R] [--phases | --phases-only] [--callgrind] [--against DIR]
- per node: `processengine run chain.pe.json --json` of a chain of N `set` nodes (two
  expressions each) minus the same command on a two-node workflow, divided by N, beside
  one raw sqlite3 WAL commit (synchronous=NORMAL) of a 200-byte row;
- start-up: `processengine run` of a two-node workflow beside a bare Python that imports
  asyncio, sqlite3 and json.
Medians of 5 wall times per round, the commands taking turns (and of the commands' CPU time, user + system, which a
busy machine disturbs far less: a row of its own, with no floor beside it). The floor is taken at the start of
each turn, and a per-node ratio is that turn's per-node cost over that turn's floor (the round's ratio: the median
of its turns'), so a slower minute of the machine, which slows both, does not move the ratio; `--rounds R` repeats
the whole measurement and prints the median and range of the ratios over the rounds. Each is measured warm (the compiled-workflow
cache, `engine.compiled`, holds the file's verdict from an earlier run) and cold (each run with an
empty cache folder). `--phases` adds the load path of the same file timed inside fresh processes
(CPU time, per node), cold and warm: reading and checking the file's shape, validating it
(configs, expressions, graph), rendering every config once as the run does, the workflow
version's content hash with the cache entry (cold only: a warm run finds its version by the kept hash),
and the `--json` report of an in-memory run of the file. `--callgrind` counts the instructions of
the load (with validation, hash and entry when cold), the render and the report instead, per node
(valgrind, deterministic: the difference between files of N / 10 and N nodes). `--against DIR`
measures another copy of the code (e.g. `git worktree add` of the previous commit) in the same
turns, so a change of the machine's load hits both alike. Children run with bytecode caching on
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




def timed(cmd: list[str], env: dict[str, str], code: Path = ROOT) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one command, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=code, env={**env, "PYTHONPATH": str(code)})
    wall_s = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return wall_s, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def one_round(d_path: Path, nodes: int, env: dict[str, str], repeats: int = 5, against: Path | None = None) -> dict[str, float]:
    """Per-node µs (wall and CPU) warm and cold, the WAL floor µs, the two-node run's and a
    bare Python's seconds, measured together (with `against`, that code's per-node µs too,
    keys ending in `@`).

    The commands take turns within each repeat, so a change of the machine's load hits all
    of them alike (timed one block after the other, the ratio swung 2-14x under load).
    Warm: the compiled-workflow cache holds both files' verdicts (`env`'s folder, filled
    before); cold: each of those runs gets an empty cache folder of its own."""
    pe = [sys.executable, "-m", "engine.cli", "run"]
    small, big = d_path / "chain1.pe.json", d_path / f"chain{nodes}.pe.json"
    cmds: dict[str, tuple[list[str], Path]] = {}
    for mark, code in (("", ROOT), *((("@", against),) if against else ())):
        db = str(d_path / f"bench{mark and '-against'}.db")
        for name, path in (("small", small), ("big", big), ("small_cold", small), ("big_cold", big)):
            cmds[name + mark] = ([*pe, str(path), "--db", db, "--json"], code)
    cmds["bare"] = ([sys.executable, "-c", "import asyncio, sqlite3, json"], ROOT)
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    cpus: dict[str, list[float]] = {k: [] for k in cmds}
    floors: list[float] = []
    for i in range(repeats):
        floors.append(floor_sqlite_commit(1000))  # the same floor as bench_store.py, taken in each turn
        for name, (cmd, code) in cmds.items():
            run_env = {**env, CACHE_ENV: str(d_path / "cold" / f"{name}{i}")} if "_cold" in name else env
            w, c = timed(cmd, run_env, code)
            walls[name].append(w)
            cpus[name].append(c)
    wall, cpu = ({k: statistics.median(v) for k, v in got.items()} for got in (walls, cpus))
    got = {
        "floor": statistics.median(floors),
        "small": wall["small"],
        "small_cold": wall["small_cold"],
        "bare": wall["bare"],
    }
    for mark in ("", "@") if against else ("",):
        got[f"per_node{mark}"] = (wall[f"big{mark}"] - wall[f"small{mark}"]) / nodes * 1e6
        got[f"cpu_per_node{mark}"] = (cpu[f"big{mark}"] - cpu[f"small{mark}"]) / nodes * 1e6
        got[f"cold_per_node{mark}"] = (wall[f"big_cold{mark}"] - wall[f"small_cold{mark}"]) / nodes * 1e6
        got[f"cold_cpu_per_node{mark}"] = (cpu[f"big_cold{mark}"] - cpu[f"small_cold{mark}"]) / nodes * 1e6
        for kind, big_run, small_run in (("", "big", "small"), ("cold_", "big_cold", "small_cold")):
            # paired: each turn's per-node cost over the floor taken in that turn (a slower
            # minute of the machine slows both), the median of the turns' ratios
            got[f"{kind}ratio{mark}"] = statistics.median(
                (walls[big_run + mark][i] - walls[small_run + mark][i]) / nodes * 1e6 / floors[i] for i in range(repeats)
            )
    return got


PHASES_CHILD = """
import asyncio, json, sys, time
from functools import reduce
path, counted = sys.argv[1], sys.argv[2]

def phase(name, fn):
    # under callgrind (`--toggle-collect=functools_reduce`) only the phase run inside reduce is counted
    return reduce(lambda _, __: fn(), [0], None) if name == counted else fn()

t0 = time.process_time()
from engine import cli, cli_report, compiled, expressions
t1 = time.process_time()
from engine.nodes import registry
for node_type in ("manual_trigger", "set"):  # the chain's node types, as the run imports them
    registry.find_spec(node_type)
t2 = time.process_time()
steps = {"node types": t2 - t1}
loaded = phase("load", lambda: compiled.load(path, timings=steps))
wf = loaded.workflow
cli._settle_heap()  # as `run` does before the run, which renders the configs
names = expressions.make_names(input={}, nodes={}, vars=wf.variables, loop=None, execution={})

def render():
    for node in wf.nodes:  # as the run's plan renders a config (no field of these types is kept as text)
        expressions.render_config(node.config, (), names, node_id=node.id)

t3 = time.process_time()
phase("render", render)
t4 = time.process_time()
from engine.runtime.runner import run_workflow
from engine.runtime.status import status_object
rec = asyncio.run(run_workflow(wf))  # in memory: the report reads the record, not the store
status = status_object(rec)
t5 = time.process_time()
phase("report", lambda: cli_report.run_json_text(status, rec))
t6 = time.process_time()
print(json.dumps({"imports": t1 - t0, **steps, "render": t4 - t3, "report": t6 - t5, "warm": loaded.warm}))
"""

PHASES = ("node types", "load", "validate", "render", "cache", "report")
PHASE_TEXT = {
    "node types": "node types imported (once per process, every run)",
    "load": "load (read, key, decode, build)",
    "validate": "validate (configs, expressions, graph)",
    "render": "render (every config once)",
    "cache": "version hash + entry (cold; a warm run's version is found by it)",
    "report": "the `--json` report (of an in-memory run of the file)",
}
COUNTED = ("load", "render", "report")  # under callgrind: load is read, key, decode, build (+ validate, hash and entry cold)


def _child(code: Path, path: Path, env: dict[str, str], counted: str = "") -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", PHASES_CHILD, str(path), counted]
    if counted:
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "--toggle-collect=functools_reduce", *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=code, env={**env, "PYTHONPATH": str(code)})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return out


def _fresh(env: dict[str, str], caches: Path, warm: bool, i: object) -> dict[str, str]:
    """The child's environment: one cache folder for every warm run (filled first), a new
    one for each cold run."""
    return {**env, CACHE_ENV: str(caches / f"{'warm' if warm else 'cold'}{i}")}


def phases(path: Path, nodes: int, env: dict[str, str], *, warm: bool, repeats: int = 5, code: Path = ROOT) -> dict[str, list[float]]:
    """CPU seconds of each load-path phase, one fresh process per repeat: cold (each with
    an empty compiled-workflow cache) or warm (the file's verdict kept by a first load)."""
    got: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as caches:
        if warm:
            _child(code, path, _fresh(env, Path(caches), True, 0))
        for i in range(repeats):
            row = json.loads(_child(code, path, _fresh(env, Path(caches), warm, 0 if warm else i)).stdout)
            if row.pop("warm") != warm:
                raise RuntimeError(f"expected a {'warm' if warm else 'cold'} load")
            for phase, seconds in row.items():
                got.setdefault(phase, []).append(seconds)
    return got


def instructions(paths: dict[int, Path], env: dict[str, str], *, warm: bool, code: Path = ROOT) -> dict[str, float]:
    """Instructions per node of each counted phase (callgrind: deterministic), the
    difference between the two files' counts over the difference of their sizes."""
    small, big = sorted(paths)
    got = {}
    with tempfile.TemporaryDirectory() as caches:
        for counted in COUNTED:
            counts = {}
            for n, path in paths.items():
                child_env = _fresh(env, Path(caches), warm, f"{counted}{n}")
                if warm:
                    _child(code, path, child_env)
                out = _child(code, path, child_env, counted)
                if json.loads(out.stdout)["warm"] != warm:
                    raise RuntimeError(f"expected a {'warm' if warm else 'cold'} load")
                counts[n] = float(next(x for x in out.stderr.splitlines() if "Collected" in x).split()[-1])
            got[counted] = (counts[big] - counts[small]) / (big - small)
    return got


def print_phases(cold: dict[str, list[float]], warm: dict[str, list[float]], nodes: int, title: str = "") -> None:
    rounds = len(cold["load"])
    print(f"\n{title}load path of the {nodes:,}-node file, fresh process each time (CPU time, median (range) of {rounds}; "
          "cold: an empty compiled-workflow cache each time, warm: the file's verdict kept)\n")
    print("| phase | cold total | cold per node | warm total | warm per node |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, phases_ in [*((PHASE_TEXT[p], (p,)) for p in PHASES), ("together", PHASES)]:
        cells = []
        for got in (cold, warm):
            ms = [sum(got[p][i] for p in phases_) * 1000 for i in range(rounds)]
            cells += [f"{_spread(ms, '.1f')} ms", f"{statistics.median(ms) * 1000 / nodes:.1f} µs"]
        print(f"| {label} | {' | '.join(cells)} |")


def run_phases(args: argparse.Namespace) -> None:
    """`--phases`: CPU times (or, with `--callgrind`, instructions) of the load path, this
    code and `--against`'s taking turns."""
    codes = [("this code", ROOT)] + ([("against", args.against.resolve())] if args.against else [])
    with tempfile.TemporaryDirectory() as d:
        small = max(2, args.nodes // 10)
        paths = {n: chain_file(Path(d), n) for n in (small, args.nodes)}
        env = child_env(Path(d) / "pycache")
        if args.callgrind:
            print(f"\ninstructions per node (callgrind; files of {small:,} and {args.nodes:,} nodes; load: cold includes validate, version hash, entry)\n")
            print("| code | " + " | ".join(f"{p} {kind}" for kind in ("cold", "warm") for p in COUNTED) + " |")
            print("| --- |" + " ---: |" * (2 * len(COUNTED)))
            for name, code in codes:
                cells = [instructions(paths, env, warm=warm, code=code) for warm in (False, True)]
                print(f"| {name} | " + " | ".join(f"{c[p]:,.0f}" for c in cells for p in COUNTED) + " |")
            return
        got: dict[str, tuple[dict[str, list[float]], dict[str, list[float]]]] = {name: ({}, {}) for name, _ in codes}
        for _ in range(args.rounds):  # the codes take turns, a round at a time
            for name, code in codes:
                for warm, into in zip((False, True), got[name], strict=True):
                    for phase, values in phases(paths[args.nodes], args.nodes, env, warm=warm, code=code).items():
                        into.setdefault(phase, []).extend(values)
        for name, _ in codes:
            print_phases(*got[name], args.nodes, title=f"{name}: " if args.against else "")


def _spread(values: list[float], fmt: str) -> str:
    mid = format(statistics.median(values), fmt)
    return mid if len(values) == 1 else f"{mid} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=2020)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--phases", action="store_true", help="also time the load path in fresh processes")
    parser.add_argument("--phases-only", action="store_true", help="only time the load path")
    parser.add_argument("--callgrind", action="store_true", help="the load path's instructions (valgrind), not its CPU time")
    parser.add_argument("--against", type=Path, help="another copy of the code, measured in turn with this one")
    args = parser.parse_args()
    if args.phases or args.phases_only or args.callgrind:
        run_phases(args)
        if args.phases_only or args.callgrind:
            return
    rounds = []
    with tempfile.TemporaryDirectory() as d:
        d_path = Path(d)
        env = child_env(d_path / "pycache")
        small, big = chain_file(d_path, 1), chain_file(d_path, args.nodes)
        pe = [sys.executable, "-m", "engine.cli", "run"]
        for mark, code in (("", ROOT), *((("-against", args.against.resolve()),) if args.against else ())):
            db = str(d_path / f"bench{mark}.db")
            for wf in (small, big):  # migrate once, fill the bytecode cache, check the output is JSON
                out = subprocess.run([*pe, str(wf), "--db", db, "--json"], capture_output=True, text=True, cwd=code, env={**env, "PYTHONPATH": str(code)})
                json.loads(out.stdout)
        for _ in range(args.rounds):
            rounds.append(one_round(d_path, args.nodes, env, against=args.against.resolve() if args.against else None))
    print_rounds(rounds, args.nodes, against=args.against is not None)


def print_rounds(rounds: list[dict[str, float]], nodes: int, *, against: bool) -> None:
    floors = [r["floor"] for r in rounds]
    print(f"\n{len(rounds)} round(s); median (range) over the rounds; ratio: each turn's per-node cost over the floor "
          "taken in the same turn, the median of a round's turns; warm: the file's verdict kept by an earlier run "
          "(engine.compiled), cold: an empty cache each run" + ("; `@`: the `--against` code, in the same turns" if against else "") + "\n")
    print("| measure | value | floor | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for mark in ("", "@") if against else ("",):
        for kind, key in (("warm", "per_node"), ("cold", "cold_per_node")):
            per_node = [r[key + mark] for r in rounds]
            ratios = [r[("cold_" if kind == "cold" else "") + "ratio" + mark] for r in rounds]
            print(f"| durable CLI chain, per node ({nodes:,} `set` nodes, 2 expressions each, `--json`), {kind}{mark} | {_spread(per_node, '.0f')} µs | {_spread(floors, '.1f')} µs (WAL commit) | {_spread(ratios, '.1f')} |")
        for kind, key in (("warm", "cpu_per_node"), ("cold", "cold_cpu_per_node")):
            print(f"| the same chain, CPU time per node, {kind}{mark} (user + system; steadier than wall time on a busy machine) | {_spread([r[key + mark] for r in rounds], '.0f')} µs | | |")
    bare_ms = [r["bare"] * 1000 for r in rounds]
    for kind, key in (("warm", "small"), ("cold", "small_cold")):
        print(f"| `processengine run` of a two-node workflow, {kind} | {_spread([r[key] * 1000 for r in rounds], '.0f')} ms | {_spread(bare_ms, '.0f')} ms (bare Python) | {_spread([r[key] / r['bare'] for r in rounds], '.1f')} |")


if __name__ == "__main__":
    main()
