"""CLI of queue mode: `processengine worker`, and `run --queue` (enqueue, then follow it).

Workers need a PostgreSQL store (`--db postgresql+psycopg://…` or PROCESSENGINE_DB);
see docs/team.md for a team setup.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.model import WorkflowVersion


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Callable[[argparse.Namespace], int]]:
    w = sub.add_parser("worker", parents=[common], help="run queued executions (queue mode, PostgreSQL store)")
    w.add_argument("--concurrency", type=_positive_int, default=1, metavar="N", help="executions at once (default: %(default)s)")
    w.add_argument("--name", metavar="NAME", help="worker name shown in history (default: HOST:PID)")
    w.add_argument("--metrics-port", type=int, metavar="PORT", help="serve /metrics and /healthz on this port")
    w.add_argument("--metrics-host", default="127.0.0.1", metavar="HOST", help="address of the /metrics listener (default: %(default)s)")
    w.add_argument("--stalled-after", type=float, default=30.0, metavar="SECONDS",
                   help="a worker silent this long is dead: its executions go to another worker (default: %(default)s)")
    return {"worker": cmd_worker}


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _db_url(args: argparse.Namespace) -> str:
    from engine.paths import resolve_db_url

    return str(resolve_db_url(args.db))


def cmd_worker(args: argparse.Namespace) -> int:
    from engine.queue.jobs import conninfo
    from engine.queue.worker import QueueWorker

    url = _db_url(args)
    conninfo(url)  # refuses a non-PostgreSQL store with a clear error
    worker = QueueWorker(url, concurrency=args.concurrency, name=args.name, stalled_after=args.stalled_after,
                         metrics_port=args.metrics_port, metrics_host=args.metrics_host)
    return asyncio.run(worker.run())


def run_queued(args: argparse.Namespace, workflow: Any, version: WorkflowVersion = (None, None)) -> int:
    """`run FILE --queue`: enqueue, print the id, follow the execution to its end. `version`:
    the workflow's (content hash, canonical document) as its file's load found them."""
    import os

    from engine.cli import _service

    service = _service(args)
    try:
        return asyncio.run(_enqueue_and_follow(args, service, workflow, os.path.abspath(args.file), version))
    finally:
        service.close()


async def _enqueue_and_follow(args: argparse.Namespace, service: Any, workflow: Any, path: str, version: WorkflowVersion) -> int:
    from engine.cli import _report_run
    from engine.queue.client import QueueClient

    client = await QueueClient(service.url).open()
    try:
        eid = await client.enqueue(service, workflow, args.input, variables=dict(args.var), trigger=args.trigger, workflow_file=path,
                                   capture_email=args.capture_email, content_hash=version[0], document=version[1])
    finally:
        await client.close()
    if not args.json:
        sys.stderr.write(f"queued {eid}\n")
    rec = await follow(service, eid)
    return _report_run(rec, args.json)


async def follow(service: Any, execution_id: str, poll_s: float = 0.2) -> Any:
    """Wait until a queued execution ends or pauses (through a worker's takeover, too)."""
    from engine.runtime.record import INTERRUPTED, QUEUED, RUNNING

    while True:
        row = service.store.row(execution_id)
        if service.store.effective_status(row) not in (QUEUED, RUNNING, INTERRUPTED):
            return service.record(execution_id)
        await asyncio.sleep(poll_s)
