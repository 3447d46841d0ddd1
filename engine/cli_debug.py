"""Debugger commands: `rerun`, `retry-now`, `give-up` (and the resume flags' translation).

`run`/`resume` take the debugging flags themselves (`--break`, `--step`, `--to`,
`--no-pins`, and on resume `--var`, `--set-input`, `--clear-breaks`); this module
adds the verbs that act on an execution by id. Exit codes are the CLI's: a re-run
ends like a run (0 completed, 1 failed, 3 cancelled, 4 paused); `retry-now` and
`give-up` exit 0 once the request is made, 1 when no node waits to retry.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], int]


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    """Add the debugger's commands to the CLI parser."""
    r = sub.add_parser("rerun", parents=[common], help="re-run an execution from a node, reusing everything upstream")
    r.add_argument("id", help="the execution to re-run")
    r.add_argument("--from", dest="from_node", metavar="NODE_ID", help="start here with the input it had; run what is downstream")
    r.add_argument("--to", dest="to_node", metavar="NODE_ID", help="stop after this node (alone: run just this node with its recorded input)")
    r.add_argument("--file", metavar="FILE", help="use this (edited) workflow file instead of the version the execution ran")
    r.add_argument("--no-pins", action="store_true", help="run pinned nodes for real")
    r.add_argument("--break", dest="breaks", action="append", default=[], metavar="NODE_ID[:EXPR]", help="pause before this node")
    r.add_argument("--json", action="store_true", help="print the status object, outputs and attempts as JSON")
    r.add_argument("--replay", nargs="*", metavar="NODE_ID", help="answer HTTP and email nodes (all, or these) from the execution's recordings: no request, no email")
    r.add_argument("--strict-replay", action="store_true", help="with --replay: a rendered request that differs from its recording fails the node")
    r.add_argument("--trust", action="store_true", help="allow Python code and execute_command nodes (they run outside a sandbox)")
    for name, text in (
        ("retry-now", "end the retry wait of the node waiting to retry: its next attempt starts at once"),
        ("give-up", "stop retrying the waiting node: its on_error applies to its last error"),
    ):
        c = sub.add_parser(name, parents=[common], help=text)
        c.add_argument("id", help="execution id")
    return {"rerun": cmd_rerun, "retry-now": cmd_retry_control, "give-up": cmd_retry_control}


def resume_options(args: argparse.Namespace) -> dict[str, Any]:
    """The debugging keywords of `ExecutionService.resume` from `resume`'s flags."""
    opts: dict[str, Any] = {
        "breakpoints": args.breaks,
        "clear_breaks": args.clear_breaks,
        "step": args.step,
        "to": args.to,
        "variables": dict(args.var),
    }
    if hasattr(args, "set_input"):
        opts["set_input"] = args.set_input
    return opts


def cmd_rerun(args: argparse.Namespace) -> int:
    from engine import trust
    from engine.cli import EXIT_USAGE, _drive, _load, _report_invalid, _report_run, _service
    from engine.errors import WorkflowInvalid

    replay = None if args.replay is None else {"nodes": args.replay or None, "strict": args.strict_replay}
    if args.strict_replay and replay is None:
        sys.stderr.write("processengine rerun: --strict-replay goes with --replay\n")
        return EXIT_USAGE
    if not args.from_node and not args.to_node and replay is None:
        sys.stderr.write("processengine rerun: give --from NODE_ID, --to NODE_ID, --replay or a combination\n")
        return EXIT_USAGE
    workflow = None
    if args.file:
        try:
            workflow = _load(args.file)
        except WorkflowInvalid as exc:
            return _report_invalid(exc, args.json)
    service = _service(args)
    try:
        try:
            trust.require_trust(workflow or service.workflow_of(args.id), trusted=args.trust, file=args.file)
        except WorkflowInvalid as exc:
            return _report_invalid(exc, args.json)
        start = service.rerun(
            args.id,
            from_node=args.from_node,
            to_node=args.to_node,
            workflow=workflow,
            workflow_file=os.path.abspath(args.file) if args.file else None,
            pins=not args.no_pins,
            breakpoints=args.breaks,
            replay=replay,
        )
        with trust.granted(args.trust):
            rec = asyncio.run(_drive(service, start))
        return _report_run(rec, args.json)
    finally:
        service.close()


def cmd_retry_control(args: argparse.Namespace) -> int:
    from engine.cli import _service

    service = _service(args)
    try:
        if args.command == "retry-now":
            service.retry_now(args.id)
        else:
            service.give_up(args.id)
    finally:
        service.close()
    sys.stdout.write(f"{args.command} requested for {args.id}\n")
    return 0
