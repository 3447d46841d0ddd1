"""Checkpointer and report benchmark: the CPU the durable record and the `--json` report
add per node, each measured alone in one process.

Run: python tests/perf/bench_checkpoint.py [--nodes N] [--repeats R] [--json]
- run: the same chain as `bench_cli.py` (N `set` nodes, two expressions each), loaded
  and validated once, then run by a bare `Orchestrator` R times with the checkpointer
  attached (a SQLite WAL file, as `processengine run --db` writes it) and R times with a
  no-op handler on the same events instead, alternating; the checkpointer's share is
  the difference of the CPU times (`time.process_time`: the commits' SQLite work
  included, the machine's other load excluded). The checkpointer is the orchestrator's
  recorder (called directly per node) where the code has one; the no-op handlers still
  make the node events built, so the share is net of building them. The heap is settled as the CLI does it
  (`gc.freeze`, young collections every 20,000 allocations).
- report: what `run --json` does with the finished record (`status_object`,
  `outputs_and_attempts`, the JSON text), R times.
Best of R, per node. `--json` prints one JSON line (for scripts that alternate builds).
Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine import events as ev  # noqa: E402
from engine.runtime.orchestrator import Orchestrator, new_record  # noqa: E402
from engine.service import ExecutionService  # noqa: E402
from engine.store.checkpoint import Checkpointer  # noqa: E402
from engine.store.sql import RawTransaction  # noqa: E402
from tests.perf.bench_cli import chain_file  # noqa: E402

GC_YOUNG = 20_000  # as engine.cli._settle_heap


def _noop(e: Any, r: Any) -> None:
    return None


def _hooks(checkpointer: Checkpointer | None) -> ev.LifecycleHooks:
    hooks = ev.LifecycleHooks()
    if checkpointer is not None:
        checkpointer.subscribe(hooks)
        return hooks
    for kind in (ev.NodeStarted, ev.NodeRetrying, ev.NodeFinished, ev.ThreadStarted, ev.ThreadFinished, *ev.TERMINAL_EVENTS):
        hooks.on(kind, _noop)
    return hooks


def run_once(svc: ExecutionService, wf: Any, durable: bool) -> tuple[float, Any]:
    """(CPU seconds of the run, its record): a bare orchestrator, with or without the checkpointer."""
    import uuid

    rec = new_record(wf, execution_id=str(uuid.uuid4()), workspace=svc.workspace)
    checkpointer = None
    if durable:
        store = svc.store
        checkpointer = Checkpointer(store.raw, rec, owner_token=store.me.token)
        checkpointer.initial(create=store.new_execution_row(rec, store.save_workflow(wf), store.me))
    recorder = {"recorder": checkpointer} if checkpointer is not None and hasattr(checkpointer, "node_finished") else {}
    orch = Orchestrator(wf, rec, hooks=_hooks(checkpointer), **recorder)

    async def go() -> Any:
        t = time.process_time()
        out = await orch.run()
        return time.process_time() - t, out

    took, out = asyncio.run(go())
    if checkpointer is not None:
        checkpointer.close()
    if out.status != "completed":
        raise RuntimeError(f"the run ended {out.status}: {out.error}")
    return took, out


def report_once(rec: Any) -> tuple[float, int]:
    """(CPU seconds, characters) of what `run --json` makes of a finished record."""
    from engine import cli_report
    from engine.runtime.status import outputs_and_attempts, status_object

    run_json_text = getattr(cli_report, "run_json_text", None)  # None: the code before it (for A/B runs)
    t = time.process_time()
    status = status_object(rec)
    if run_json_text is not None:
        text, _ = run_json_text(status, rec)
    else:
        outputs, attempts = outputs_and_attempts(rec)
        text, _ = cli_report.json_text({**status, "outputs": outputs, "attempts": attempts})
    return time.process_time() - t, len(text)


def measure(nodes: int, repeats: int) -> dict[str, Any]:
    from engine import fileformat
    from engine.graph import ensure_valid

    with tempfile.TemporaryDirectory() as d:
        path = chain_file(Path(d), nodes)
        wf = fileformat.load(path, check_configs=False)
        ensure_valid(wf, file=str(path))
        svc = ExecutionService(str(Path(d) / "bench.db"))
        try:
            run_once(svc, wf, True)  # warm: migrations, statements, node modules, caches
            run_once(svc, wf, False)
            gc.collect()
            gc.freeze()
            young = gc.get_threshold()
            gc.set_threshold(GC_YOUNG, young[1], young[2])
            bare, durable, report = [], [], []
            commits = 0
            chars = 0
            for _ in range(repeats):
                bare.append(run_once(svc, wf, False)[0])
                before = RawTransaction.committed
                took, rec = run_once(svc, wf, True)
                commits = RawTransaction.committed - before
                durable.append(took)
                took, chars = report_once(rec)
                report.append(took)
                del rec
                gc.collect()
            gc.unfreeze()
        finally:
            svc.close()
    per = nodes + 1
    return {
        "nodes": nodes,
        "bare_us": min(bare) / per * 1e6,
        "durable_us": min(durable) / per * 1e6,
        "checkpointer_us": (min(durable) - min(bare)) / per * 1e6,
        "report_us": min(report) / per * 1e6,
        "commits": commits,
        "report_chars": chars,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=2020)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="one JSON line instead of the table")
    args = parser.parse_args()
    got = measure(args.nodes, args.repeats)
    if args.json:
        print(json.dumps(got))
        return
    print(f"\n{args.nodes:,}-node chain, CPU time per node, best of {args.repeats}\n")
    print("| measure | µs per node |")
    print("| --- | ---: |")
    print(f"| run, no-op handlers | {got['bare_us']:.1f} |")
    print(f"| run, checkpointer attached ({got['commits']} commits) | {got['durable_us']:.1f} |")
    print(f"| the checkpointer's share | {got['checkpointer_us']:.1f} |")
    print(f"| the `--json` report ({got['report_chars']:,} characters) | {got['report_us']:.1f} |")


if __name__ == "__main__":
    main()
