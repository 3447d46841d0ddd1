"""`processengine`: the headless CLI (and the launcher of the desktop app).

Exit codes (DESIGN.md): 0 completed, 1 failed, 2 invalid workflow, 3
cancelled, 4 paused; 64 a bad command line. Imports stay lazy so `processengine run` of a
small workflow starts fast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger("engine.cli")

EXIT_CODES = {"completed": 0, "failed": 1, "invalid": 2, "cancelled": 3, "paused": 4, "interrupted": 4}
EXIT_USAGE = 64  # sysexits EX_USAGE: bad command line (2 is reserved for an invalid workflow)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a bad command line; 2 means "invalid workflow" here."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parse_var(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--var takes KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def _parse_json_arg(text: str) -> Any:
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as fh:
            text = fh.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc.msg}") from None


def build_parser() -> argparse.ArgumentParser:
    from engine import __version__

    common = _Parser(add_help=False)
    common.add_argument("--db", metavar="URL", help="SQLite path or SQLAlchemy URL (default: PROCESSENGINE_DB or the user data dir)")
    common.add_argument("--workspace", default="default", metavar="NAME", help="workspace (default: %(default)s)")
    common.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper)

    p = _Parser(prog="processengine", description="ProcessEngine: run, inspect and design workflows.")
    p.add_argument("--version", action="version", version=f"processengine {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    r = sub.add_parser("run", parents=[common], help="run a workflow file to its end")
    r.add_argument("file")
    r.add_argument("--var", action="append", default=[], type=_parse_var, metavar="KEY=VALUE", help="override a workflow variable (JSON where it parses)")
    r.add_argument("--input", type=_parse_json_arg, default=None, metavar="JSON|@FILE", help="the trigger payload")
    r.add_argument("--trigger", metavar="NODE_ID", help="start from this trigger node")
    r.add_argument("--json", action="store_true", help="print the status object, outputs and attempts as JSON")
    r.add_argument("--no-pins", action="store_true", help="run pinned nodes for real (pins are used by default)")
    r.add_argument("--to", metavar="NODE_ID", help="run only this node and its ancestors, then pause")
    _debug_flags(r)
    r.add_argument("--trust", action="store_true", help="allow Python code and execute_command nodes (they run outside a sandbox)")
    r.add_argument("--queue", action="store_true", help="enqueue for a worker (PostgreSQL store) and follow it")

    v = sub.add_parser("validate", parents=[common], help="check a workflow file")
    v.add_argument("file")
    v.add_argument("--json", action="store_true")

    s = sub.add_parser("status", parents=[common], help="show an execution's status")
    s.add_argument("id")
    s.add_argument("--json", action="store_true")

    ls = sub.add_parser("list", parents=[common], help="list executions, newest first")
    ls.add_argument("--status", choices=["queued", "running", "paused", "completed", "failed", "cancelled", "interrupted"])
    ls.add_argument("--workflow", metavar="WORKFLOW_ID")
    ls.add_argument("--since", metavar="ISO_DATE")
    ls.add_argument("--limit", type=int)
    ls.add_argument("--json", action="store_true")

    for name, text in (("pause", "ask a running execution to pause (state saved)"), ("cancel", "cancel an execution")):
        c = sub.add_parser(name, parents=[common], help=text)
        c.add_argument("id")

    rs = sub.add_parser("resume", parents=[common], help="resume a paused or interrupted execution in this process")
    rs.add_argument("id")
    rs.add_argument("--json", action="store_true")
    rs.add_argument("--var", action="append", default=[], type=_parse_var, metavar="KEY=VALUE", help="change a variable while paused (recorded)")
    rs.add_argument("--set-input", type=_parse_json_arg, default=argparse.SUPPRESS, metavar="JSON|@FILE", help="replace the pending node's input (recorded)")
    rs.add_argument("--clear-breaks", action="store_true", help="drop every breakpoint of the execution")
    rs.add_argument("--to", metavar="NODE_ID", help="run up to and including this node, then pause")
    _debug_flags(rs)
    rs.add_argument("--trust", action="store_true", help="allow Python code and execute_command nodes (they run outside a sandbox)")

    pr = sub.add_parser("prune", parents=[common], help="delete old finished executions")
    pr.add_argument("--older-than", type=float, required=True, metavar="DAYS")
    pr.add_argument("--keep-failed", action="store_true")

    sv = sub.add_parser("serve", parents=[common], help="listen for the workflows' webhook triggers (and, with --api, the REST API)")
    sv.add_argument("file", nargs="*")
    sv.add_argument("--api", action="store_true", help="also serve the REST API (/api/v1/process-engine, /docs, /metrics)")
    sv.add_argument("--queue", action="store_true", help="enqueue every execution for workers instead of running it here")
    sv.add_argument("--token", metavar="TOKEN", help="the API's bearer token (default: PROCESSENGINE_API_TOKEN or a token file)")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8080)
    sv.add_argument("--var", action="append", default=[], type=_parse_var, metavar="KEY=VALUE")
    sv.add_argument("--max-body", type=int, default=1024 * 1024, metavar="BYTES", help="request body size limit")
    sv.add_argument("--max-concurrent", type=int, default=64, metavar="N", help="executions run at once; more requests get 503 with Retry-After (default: %(default)s)")

    for module in _extension_modules():
        COMMANDS.update(module.register(sub, common))

    st = sub.add_parser("studio", parents=[common], help="open the desktop app")
    st.add_argument("file", nargs="?")
    st.add_argument("--run", action="store_true", help="start the loaded workflow")
    st.add_argument("--screenshot", metavar="PNG", help="save the window as PNG once loaded (with --run: once the run ended) and exit")
    return p


def _debug_flags(p: argparse.ArgumentParser) -> None:
    """`--break NODE_ID[:EXPR]` (repeatable) and `--step`, shared by run and resume."""
    p.add_argument("--break", dest="breaks", action="append", default=[], metavar="NODE_ID[:EXPR]", help="pause before this node (when EXPR over its input holds)")
    p.add_argument("--step", action="store_true", help="run one node, then pause before the next")


# Command groups that live in modules of their own (engine/cli_*.py). Each module has
# `register(sub, common) -> {command name: handler}`; it keeps its heavy imports inside
# the handlers so `processengine run` stays quick to start.
EXTENSIONS: tuple[str, ...] = (
    "engine.cli_debug",
    "engine.cli_travel",
    "engine.cli_credentials",
    "engine.cli_n8n",
    "engine.cli_queue",
)


def _extension_modules() -> list[Any]:
    import importlib

    return [importlib.import_module(name) for name in EXTENSIONS]


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _service(args: argparse.Namespace) -> Any:
    from engine.service import ExecutionService

    return ExecutionService(args.db, workspace=args.workspace)


def _load(path: str) -> Any:
    """Load and validate; raises WorkflowInvalid with every problem."""
    from engine import fileformat
    from engine.graph import ensure_valid

    # the file's shape first (nothing else can be read without it), then configs and
    # the graph together, so every problem of a readable file is listed at once
    wf = fileformat.load(path, check_configs=False)
    ensure_valid(wf, file=path)
    return wf


def _report_invalid(exc: Any, as_json: bool) -> int:
    if as_json:
        _print_json({"status": "invalid", "problems": [p.to_json() for p in exc.problems]})
    else:
        sys.stderr.write(f"{exc}\n")
    return 2


def _report_run(rec: Any, as_json: bool) -> int:
    from engine.runtime.status import outputs_and_attempts, progress_text, status_object

    status = status_object(rec)
    if as_json:
        outputs, attempts = outputs_and_attempts(rec)
        _print_json({**status, "outputs": outputs, "attempts": attempts})
    else:
        line = f"{status['execution_id']}  {status['status']}  {progress_text(status['progress'])}  {status['timing']['duration_ms'] or 0:.0f} ms"
        sys.stdout.write(line + "\n")
        if status["error"]:
            sys.stderr.write(f"error at node {status['error']['node_id']!r}: {status['error']['message']}\n")
        if status["status"] == "paused":
            if status.get("paused_at"):
                at = status["paused_at"]
                sys.stdout.write(f"paused before node {at['node_id']!r} ({at['reason']})\n")
            sys.stdout.write(f"resume with: processengine resume {status['execution_id']}\n")
    return EXIT_CODES.get(status["status"], 1)


async def _drive(service: Any, start: Any) -> Any:
    """Run a started execution; Ctrl-C pauses it (state saved), a second Ctrl-C cancels."""
    handle = await start
    loop = asyncio.get_running_loop()
    presses = 0

    def on_signal() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            sys.stderr.write("pausing (state saved); press Ctrl-C again to cancel\n")
            handle.control.pause()
        else:
            handle.control.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # non-POSIX
            loop.add_signal_handler(sig, on_signal)
    return await service.wait(handle.execution_id)


def cmd_run(args: argparse.Namespace) -> int:
    from engine import trust
    from engine.errors import WorkflowInvalid

    try:
        wf = _load(args.file)
        trust.require_trust(wf, trusted=args.trust, file=args.file)
    except WorkflowInvalid as exc:
        return _report_invalid(exc, args.json)
    if args.queue:
        from engine.cli_queue import run_queued

        return run_queued(args, wf)
    service = _service(args)
    try:
        import os

        with trust.granted(args.trust):
            rec = asyncio.run(
                _drive(
                    service,
                    service.start(
                        wf,
                        args.input,
                        variables=dict(args.var),
                        trigger=args.trigger,
                        workflow_file=os.path.abspath(args.file),
                        pins=not args.no_pins,
                        breakpoints=args.breaks,
                        step=args.step,
                        to=args.to,
                    ),
                )
            )
        return _report_run(rec, args.json)
    finally:
        service.close()


def cmd_resume(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        before = service.status(args.id)
        if before.get("status") == "interrupted":
            sys.stderr.write(_rerun_warning(before) + "\n")
        from engine import trust
        from engine.cli_debug import resume_options
        from engine.errors import WorkflowInvalid

        try:
            trust.require_trust(service.workflow_of(args.id), trusted=args.trust)
        except WorkflowInvalid as exc:
            return _report_invalid(exc, args.json)
        with trust.granted(args.trust):
            rec = asyncio.run(_drive(service, service.resume(args.id, **resume_options(args))))
        return _report_run(rec, args.json)
    finally:
        service.close()


def cmd_validate(args: argparse.Namespace) -> int:
    from engine.errors import WorkflowInvalid

    try:
        wf = _load(args.file)
    except WorkflowInvalid as exc:
        return _report_invalid(exc, args.json)
    from engine.graph import validate

    warnings = [p for p in validate(wf, file=args.file) if not p.is_error]  # e.g. unreachable nodes
    if args.json:
        _print_json({"status": "valid", "problems": [p.to_json() for p in warnings]})
    else:
        sys.stdout.write(f"{args.file}: valid ({len(wf.nodes)} nodes, {len(wf.connections)} connections)\n")
        sys.stdout.writelines(f"  - {p}\n" for p in warnings)
    return 0


def _fmt_status_line(s: dict[str, Any]) -> str:
    from engine.runtime.status import progress_text

    dur = s["timing"]["duration_ms"]
    return (
        f"{s['execution_id']}  {s['status']:<11} {progress_text(s['progress'])}  started {s['timing']['started_at']}  "
        f"{'' if dur is None else f'{dur:.0f} ms'}"
    )


def _rerun_warning(s: dict[str, Any]) -> str:
    flight = s.get("in_flight") or {}
    node = flight.get("node_id")
    if not node:
        return f"interrupted; resume with: processengine resume {s['execution_id']}"
    effect = " and has side effects (it may e.g. send an email again)" if flight.get("side_effects") else ""
    return f"interrupted while node {node!r} was running{effect}: resume runs it again"


def cmd_status(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        s = service.status(args.id)
    finally:
        service.close()
    if args.json:
        _print_json(s)
    else:
        sys.stdout.write(_fmt_status_line(s) + "\n")
        if s.get("status") == "interrupted":
            sys.stdout.write(_rerun_warning(s) + "\n")
        if s.get("paused_at"):
            sys.stdout.write(f"paused before node {s['paused_at']['node_id']!r} ({s['paused_at']['reason']})\n")
        if s.get("error"):
            sys.stdout.write(f"error at node {s['error']['node_id']!r}: {s['error']['message']}\n")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from datetime import datetime

    since = datetime.fromisoformat(args.since) if args.since else None
    service = _service(args)
    try:
        rows = service.list(status=args.status, workflow_id=args.workflow, since=since, limit=args.limit)
    finally:
        service.close()
    if args.json:
        _print_json(rows)
    else:
        for s in rows:
            sys.stdout.write(_fmt_status_line(s) + "\n")
    return 0


def cmd_control(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        getattr(service, args.command)(args.id)
    finally:
        service.close()
    sys.stdout.write(f"{args.command} requested for {args.id}\n")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        n = service.prune(older_than_days=args.older_than, keep_failed=args.keep_failed)
    finally:
        service.close()
    sys.stdout.write(f"deleted {n} executions\n")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from engine.errors import WorkflowInvalid
    from engine.webhook_server import ServeError, serve

    if args.api or args.queue or len(args.file) != 1:
        from engine.api.server import cmd_serve_many

        return cmd_serve_many(args)
    args.file = args.file[0]
    try:
        wf = _load(args.file)
    except WorkflowInvalid as exc:
        return _report_invalid(exc, False)
    service = _service(args)
    try:
        return asyncio.run(serve(service, wf, host=args.host, port=args.port, variables=dict(args.var), max_body=args.max_body, workflow_file=args.file, max_concurrent=args.max_concurrent))
    except ServeError as exc:
        sys.stderr.write(f"{args.file}: {exc}\n")
        return 2
    finally:
        service.close()


def studio_argv(args: argparse.Namespace) -> list[str]:
    """The desktop app's own command line, from a parsed `studio` command."""
    argv: list[str] = []
    if args.file:
        argv.append(args.file)
    if args.run:
        argv.append("--run")
    if args.screenshot:
        argv += ["--screenshot", args.screenshot]
    if args.db:
        argv += ["--db", args.db]
    if args.workspace != "default":
        argv += ["--workspace", args.workspace]
    return argv


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "resume": cmd_resume,
    "validate": cmd_validate,
    "status": cmd_status,
    "list": cmd_list,
    "pause": cmd_control,
    "cancel": cmd_control,
    "prune": cmd_prune,
    "serve": cmd_serve,
}


def main(argv: Sequence[str] | None = None, *, studio: Callable[[list[str]], int] | None = None) -> int:
    """Run one command. `studio` opens the desktop app: the engine never imports the
    app, so the launcher (`app.launcher`, the `processengine` script) passes it in."""
    parser = build_parser()  # also adds the extension modules' commands to COMMANDS
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in (*COMMANDS, "studio") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["studio", *argv]  # plain `processengine [FILE]` opens the app
    args = parser.parse_args(argv)
    if args.command == "studio":
        if studio is None:
            sys.stderr.write("processengine: the desktop app is started by the `processengine` command, not engine.cli\n")
            return EXIT_USAGE
        return studio(studio_argv(args))
    _setup_logging(args.log_level)
    from engine.errors import EngineError

    try:
        return COMMANDS[args.command](args)
    except EngineError as exc:
        sys.stderr.write(f"processengine: {exc}\n")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
