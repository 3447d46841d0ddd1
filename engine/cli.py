"""`processengine`: the headless CLI (and the launcher of the desktop app).

Exit codes (DESIGN.md): 0 completed, 1 failed, 2 invalid workflow, 3
cancelled, 4 paused; 64 a bad command line (every value is checked by `engine.cli_args`
while parsing, so a bad one is a one-line error, never a traceback), 130 Ctrl-C outside
run/resume, 141 stdout closed early. Imports stay lazy so `processengine run` of a
small workflow starts fast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from engine import cli_args, cli_report

__all__ = [
    "EXIT_CODES",
    "EXIT_INTERRUPTED",
    "EXIT_PIPE",
    "EXIT_USAGE",
    "EXTENSIONS",
    "QUICK_EXIT",
    "RUN_COMMANDS",
    "build_parser",
    "finish",
    "main",
    "studio_argv",
]

log = logging.getLogger("engine.cli")

EXIT_CODES = {"completed": 0, "failed": 1, "invalid": 2, "cancelled": 3, "paused": 4, "interrupted": 4}
EXIT_USAGE = 64  # sysexits EX_USAGE: bad command line (2 is reserved for an invalid workflow)
EXIT_INTERRUPTED = 130  # 128 + SIGINT: Ctrl-C in a command other than run/resume
EXIT_PIPE = 141  # 128 + SIGPIPE: stdout's reader went away


EPILOG = """\
exit codes:
  0   completed (other commands: done)
  1   failed, or an error (unknown execution, unreachable database, ...)
  2   invalid workflow (every problem is listed)
  3   cancelled
  4   paused or interrupted (resume with: processengine resume ID)
  64  bad command line (unknown command or option, bad value)
  130 Ctrl-C in a command other than run or resume
  141 stdout was closed early (e.g. piped into head)

Ctrl-C during run or resume pauses the run (state saved); a second Ctrl-C, while
the first is being handled, cancels it. `processengine` alone opens the desktop app.
Run `processengine COMMAND --help` for a command's options.
"""


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a bad command line; 2 means "invalid workflow" here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _common_options() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--db", metavar="URL",
        help="execution database: a SQLite file path or an SQLAlchemy URL (postgresql+psycopg://...); "
        "default: $PROCESSENGINE_DB, else processengine.db in the user data directory",
    )
    common.add_argument("--workspace", default="default", metavar="NAME", help="workspace: executions are kept apart per workspace (default: %(default)s)")
    common.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper,
        help="log lines on stderr from this level up (default: %(default)s)",
    )
    return common


def _add_run_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    r = sub.add_parser("run", parents=[common], help="run a workflow file to its end", epilog=EPILOG,
                       description="Run a workflow file to its end. Without --json: a short result on stdout and, "
                       "on a terminal, live progress on stderr.")
    r.add_argument("file", metavar="FILE", help="the workflow file (*.pe.json)")
    r.add_argument("--var", action="append", default=[], type=cli_args.var, metavar="KEY=VALUE",
                   help="set a workflow variable; VALUE is JSON where it parses (42, true, [1]), else text (repeatable)")
    r.add_argument("--input", type=cli_args.json_input, default=None, metavar="JSON|@FILE",
                   help="the trigger's payload, as JSON or @FILE holding JSON (default: {})")
    r.add_argument("--trigger", metavar="NODE_ID", help="start from this trigger node (default: the manual trigger, else the first trigger)")
    r.add_argument("--json", action="store_true", help="print the status object, outputs and attempts as JSON")
    r.add_argument("--no-pins", action="store_true", help="run pinned nodes for real (pins are used by default)")
    r.add_argument("--to", metavar="NODE_ID", help="run only this node and its ancestors, then pause")
    _debug_flags(r)
    r.add_argument("--trust", action="store_true", help="allow Python code and execute_command nodes (they run outside a sandbox)")
    r.add_argument("--capture-email", action="store_true", help="keep every email in the execution's inbox instead of sending it (see `inbox ID`)")
    r.add_argument("--queue", action="store_true", help="enqueue for a worker (PostgreSQL store) and follow it")

    rs = sub.add_parser("resume", parents=[common], help="resume a paused or interrupted execution in this process", epilog=EPILOG)
    rs.add_argument("id", metavar="ID", help="execution id")
    rs.add_argument("--json", action="store_true", help="print the status object, outputs and attempts as JSON")
    rs.add_argument("--var", action="append", default=[], type=cli_args.var, metavar="KEY=VALUE", help="change a variable while paused (recorded); VALUE is JSON where it parses, else text")
    rs.add_argument("--set-input", type=cli_args.json_input, default=argparse.SUPPRESS, metavar="JSON|@FILE", help="replace the pending node's input (recorded)")
    rs.add_argument("--clear-breaks", action="store_true", help="drop every breakpoint of the execution")
    rs.add_argument("--to", metavar="NODE_ID", help="run up to and including this node, then pause")
    _debug_flags(rs)
    rs.add_argument("--trust", action="store_true", help="allow Python code and execute_command nodes (they run outside a sandbox)")

    v = sub.add_parser("validate", parents=[common], help="check a workflow file and list every problem")
    v.add_argument("file", metavar="FILE", help="the workflow file (*.pe.json)")
    v.add_argument("--json", action="store_true", help='print {"status", "problems": [{node_id, field, message}]}')


def _add_store_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("status", parents=[common], help="show an execution's status")
    s.add_argument("id", metavar="ID", help="execution id")
    s.add_argument("--json", action="store_true", help="print the status object as JSON")

    ls = sub.add_parser("list", parents=[common], help="list executions, newest first")
    ls.add_argument("--status", choices=["queued", "running", "paused", "completed", "failed", "cancelled", "interrupted"], help="only executions in this state")
    ls.add_argument("--workflow", metavar="WORKFLOW_ID", help="only executions of this workflow id")
    ls.add_argument("--since", type=cli_args.since, metavar="WHEN",
                    help="only executions started since WHEN: an ISO 8601 date or time (2026-05-01, 2026-05-01T09:30, "
                    "local time unless an offset is given) or an age (30m, 12h, 7d, 2w)")
    ls.add_argument("--limit", type=cli_args.positive_int, metavar="N", help="at most N executions (default: all)")
    ls.add_argument("--json", action="store_true", help="print a list of status objects as JSON")

    for name, text in (("pause", "ask a running execution to pause (state saved), also in another process"),
                       ("cancel", "cancel a running, paused or interrupted execution")):
        c = sub.add_parser(name, parents=[common], help=text)
        c.add_argument("id", metavar="ID", help="execution id")
        c.add_argument("--json", action="store_true", help='print {"execution_id", "status"} (the status right after the request)')

    pr = sub.add_parser("prune", parents=[common], help="delete old finished executions")
    pr.add_argument("--older-than", type=cli_args.days, required=True, metavar="DAYS", help="delete executions that finished more than DAYS days ago (required)")
    pr.add_argument("--keep-failed", action="store_true", help="keep failed executions")


def _add_app_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    sv = sub.add_parser("serve", parents=[common], help="listen for the workflows' webhook triggers (and, with --api, the REST API)",
                        description="Answer the workflows' webhook triggers at http://HOST:PORT/webhook/<path> and fire their schedule triggers.")
    sv.add_argument("file", nargs="*", metavar="FILE", help="workflow files (*.pe.json)")
    sv.add_argument("--api", action="store_true", help="also serve the REST API (/api/v1/process-engine, /docs, /metrics)")
    sv.add_argument("--queue", action="store_true", help="enqueue every execution for workers instead of running it here")
    sv.add_argument("--token", metavar="TOKEN", help="the API's bearer token (default: PROCESSENGINE_API_TOKEN or a token file)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    sv.add_argument("--port", type=cli_args.port, default=8080, help="TCP port; 0 picks a free one (default: %(default)s)")
    sv.add_argument("--var", action="append", default=[], type=cli_args.var, metavar="KEY=VALUE",
                    help="set a workflow variable for every run; VALUE is JSON where it parses, else text (repeatable)")
    sv.add_argument("--max-body", type=cli_args.positive_int, default=1024 * 1024, metavar="BYTES", help="request body size limit (default: %(default)s)")
    sv.add_argument("--max-concurrent", type=cli_args.positive_int, default=64, metavar="N", help="executions run at once; more requests get 503 with Retry-After (default: %(default)s)")

    st = sub.add_parser("studio", parents=[common], help="open the desktop app (also: processengine with no arguments)")
    st.add_argument("file", nargs="?", metavar="FILE", help="a workflow file to open")
    st.add_argument("--run", action="store_true", help="start the loaded workflow")
    st.add_argument("--screenshot", metavar="PNG", help="save the window as PNG once loaded (with --run: once the run ended) and exit; needs no display")


class _VersionAction(argparse.Action):
    """`--version`, looked up only when asked for (reading the installed distribution's
    metadata imports importlib.metadata: about 20 ms of every start otherwise)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: str | None = None) -> None:
        from engine import __version__

        sys.stdout.write(f"processengine {__version__}\n")
        parser.exit()


RUN_COMMANDS = ("run", "resume", "validate")  # the commands `_add_run_commands` adds
QUICK_EXIT = ("run", "resume")  # they run a workflow here: no collections before it, no teardown after


def build_parser(*, run_commands_only: bool = False) -> argparse.ArgumentParser:
    """The whole command line; with `run_commands_only`, only `RUN_COMMANDS` (for a command
    line that starts with one of them, which parses, helps and errs the same way): the
    other commands' modules and parsers were ~7 ms of every `run`'s start."""
    common = _common_options()
    p = _Parser(prog="processengine", description="ProcessEngine: run, inspect and design workflows.", epilog=EPILOG)
    p.add_argument("--version", action=_VersionAction, nargs=0, help="show the version and exit")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    _add_run_commands(sub, common)
    if run_commands_only:
        return p
    _add_store_commands(sub, common)
    for module in _extension_modules():
        COMMANDS.update(module.register(sub, common))
    _add_app_commands(sub, common)
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
    "engine.cli_inbox",
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
    cli_report.print_json(obj)


def _service(args: argparse.Namespace) -> Any:
    from engine.service import ExecutionService

    return ExecutionService(args.db, workspace=args.workspace)


def _load(path: str) -> Any:
    """Load and validate (`engine.compiled.load`); raises WorkflowInvalid with every problem.

    The file's shape first (nothing else can be read without it), then configs and the
    graph together, so every problem of a readable file is listed at once - or neither,
    when these exact bytes were found valid before."""
    from engine import compiled

    return compiled.load(path).workflow


def _load_versioned(path: str) -> Any:
    """`engine.compiled.load`, with the version's content hash always known: `serve` and
    `run --queue` save the version at every request or enqueue, so with no compiled-workflow
    cache the workflow is encoded and hashed here, once per loaded file."""
    from engine import compiled, fileformat

    loaded = compiled.load(path)
    if loaded.content_hash is None:
        loaded.document, loaded.content_hash = fileformat.canonical(loaded.workflow)
    return loaded


GC_YOUNG = 20_000  # allocations between young collections during a CLI run (Python's default: 700)


def _settle_heap() -> None:
    """Before a CLI run: what is loaded so far (modules, the workflow, its plan) lives
    until the process ends, so the collector stops scanning it (`gc.freeze`), and young
    collections run less often. The run's own garbage is mostly acyclic (freed by
    reference counting); full collections still happen, over the run's objects only.
    The collector, paused since the command started (`_pause_collections`), is switched
    back on."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG, middle, old)
    gc.enable()


def _report_invalid(exc: Any, as_json: bool) -> int:
    if as_json:
        _print_json({"status": "invalid", "problems": [p.to_json() for p in exc.problems]})
    else:
        sys.stderr.write(f"{exc}\n")
    return 2


def _report_run(rec: Any, as_json: bool, wf: Any = None) -> int:
    from engine.runtime.status import outputs_and_attempts, status_object

    status = status_object(rec)
    if as_json:
        cli_report.print_run_json(status, rec)
    else:
        outputs, attempts = outputs_and_attempts(rec)
        sys.stdout.write("\n".join(cli_report.run_summary(status, outputs, attempts, wf)) + "\n")
        if status["status"] == "paused":
            if status.get("paused_at"):
                at = status["paused_at"]
                sys.stdout.write(f"paused before node {at['node_id']!r} ({at['reason']})\n")
            sys.stdout.write(f"resume with: processengine resume {status['execution_id']}\n")
    return EXIT_CODES.get(status["status"], 1)


class Interrupts:
    """Ctrl-C (SIGINT) and SIGTERM for a whole `run`/`resume` command.

    The first pauses the run (state saved); a second, arriving any time before the
    command has settled its result, cancels it: still running, it is cancelled in
    flight, already paused, the paused execution is cancelled. The handlers stay in
    place until the process ends, so a late signal never kills an exiting process
    (Python's default handler would, with exit -2); once the result is settled, further
    signals are ignored.
    """

    def __init__(self) -> None:
        self.count = 0
        self.settled = False
        self._control: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def attach(self, control: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._control, self._loop = control, loop
        if self.count:  # a signal came while the run was being set up
            loop.call_soon(self._apply)

    def detach(self) -> None:
        self._control = self._loop = None

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.settled:
            return
        self.count += 1
        if self.count <= 2:
            # straight to the file descriptor: the handler may run while sys.stderr is mid-write
            text = "pausing (state saved); press Ctrl-C again to cancel\n" if self.count == 1 else "cancelling\n"
            with contextlib.suppress(OSError):
                os.write(sys.stderr.fileno(), text.encode())
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._apply)  # also wakes the loop out of select()

    def _apply(self) -> None:
        if self._control is not None:
            (self._control.pause if self.count == 1 else self._control.cancel)()

    @property
    def cancel_wanted(self) -> bool:
        return self.count >= 2


async def _drive(service: Any, start: Any, interrupts: Interrupts | None = None, progress: Any = None) -> Any:
    """Run a started execution to its end or pause, with Ctrl-C handled by `interrupts`
    (a fresh set when the caller, e.g. `rerun`, brings none)."""
    if interrupts is None:
        interrupts = Interrupts()
        interrupts.install()
    handle = await start
    interrupts.attach(handle.control, asyncio.get_running_loop())
    try:
        if progress is None:
            return await service.wait(handle.execution_id)
        with progress:
            return await service.wait(handle.execution_id)
    finally:
        interrupts.detach()


def _settle(service: Any, rec: Any, interrupts: Interrupts) -> Any:
    """A second Ctrl-C that came after the run had already paused still cancels it."""
    interrupts.settled = True
    if interrupts.cancel_wanted and rec.status == "paused":
        service.cancel(rec.execution_id)
        rec.status = rec.main.status = "cancelled"
    return rec


def _live(wf: Any, total: int) -> Any:
    """Live progress on a terminal's stderr, else None (nothing extra in pipes and logs)."""
    if not cli_report.LiveProgress.wanted():
        return None
    return cli_report.LiveProgress(wf, total)


def _check_trigger(wf: Any, trigger: str | None) -> None:
    """`--trigger` must name one of the workflow's trigger nodes (listed if not)."""
    if trigger is None:
        return
    from engine.nodes.registry import get_spec

    triggers = [n for n in wf.nodes if get_spec(n.type).is_trigger]
    if any(n.id == trigger for n in triggers):
        return
    listed = ", ".join(f"{n.id} ({n.type})" for n in triggers) or "none"
    raise cli_args.UsageError(f"--trigger {trigger}: the workflow has no trigger node with that id; its triggers: {listed}")


def cmd_run(args: argparse.Namespace) -> int:
    from engine import compiled, trust
    from engine.errors import WorkflowInvalid

    try:
        loaded = compiled.load(args.file)
        wf = loaded.workflow
        trust.require_trust(wf, trusted=args.trust, file=args.file)
    except WorkflowInvalid as exc:
        return _report_invalid(exc, args.json)
    if args.queue:
        from engine.cli_queue import run_queued

        return run_queued(args, wf, (loaded.content_hash, loaded.document))
    _check_trigger(wf, args.trigger)
    interrupts = Interrupts()
    interrupts.install()
    progress = _live(wf, len(wf.nodes))
    service = _service(args)
    _settle_heap()
    try:
        start = service.start(
            wf, args.input, variables=dict(args.var), trigger=args.trigger,
            workflow_file=os.path.abspath(args.file), hooks=progress.hooks() if progress else None,
            pins=not args.no_pins, breakpoints=args.breaks, step=args.step, to=args.to,
            capture_email=args.capture_email, content_hash=loaded.content_hash, document=loaded.document,
        )
        with trust.granted(args.trust):
            rec = _settle(service, asyncio.run(_drive(service, start, interrupts, progress)), interrupts)
        return _report_run(rec, args.json, wf)
    finally:
        service.close()


def cmd_resume(args: argparse.Namespace) -> int:
    interrupts = Interrupts()
    interrupts.install()
    service = _service(args)
    try:
        before = service.status(args.id)
        if before.get("status") == "interrupted":
            sys.stderr.write(_rerun_warning(before) + "\n")
        wf = service.workflow_of(args.id)
        from engine import trust
        from engine.errors import WorkflowInvalid

        try:
            trust.require_trust(wf, trusted=args.trust)
        except WorkflowInvalid as exc:
            return _report_invalid(exc, args.json)
        progress = _live(wf, len(wf.nodes))
        from engine.cli_debug import resume_options

        _settle_heap()
        start = service.resume(args.id, hooks=progress.hooks() if progress else None, **resume_options(args))
        with trust.granted(args.trust):
            rec = _settle(service, asyncio.run(_drive(service, start, interrupts, progress)), interrupts)
        return _report_run(rec, args.json, wf)
    finally:
        service.close()


def cmd_validate(args: argparse.Namespace) -> int:
    from engine import compiled
    from engine.errors import WorkflowInvalid

    try:
        loaded = compiled.load(args.file, warnings=True)  # checked even when found valid before
    except WorkflowInvalid as exc:
        return _report_invalid(exc, args.json)
    wf = loaded.workflow
    warnings = loaded.warnings or []  # e.g. unreachable nodes (always looked for with warnings=True)
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


def _cut_short_nodes(service: Any, execution_id: str) -> list[str]:
    """Nodes whose last attempt a pause cut short mid-I/O (they run again on resume)."""
    main = service.record(execution_id).main
    return [node for node, tries in main.attempts.items() if tries and tries[-1].get("status") == "interrupted"]


def cmd_status(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        s = service.status(args.id)
        cut = _cut_short_nodes(service, args.id) if s.get("status") == "paused" and not args.json else []
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
        for node in cut:
            sys.stdout.write(f"node {node!r} was cut short by the pause: resume runs it again\n")
        if s.get("error"):
            sys.stdout.write(f"error at node {s['error']['node_id']!r}: {s['error']['message']}\n")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        rows = service.list_runs(status=args.status, workflow_id=args.workflow, since=args.since, limit=args.limit)
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
        status = service.status(args.id)["status"]
    finally:
        service.close()
    if args.json:
        _print_json({"execution_id": args.id, "status": status})
    else:
        sys.stdout.write(f"{args.command} requested for {args.id} (now {status})\n")
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
        loaded = _load_versioned(args.file)
    except WorkflowInvalid as exc:
        return _report_invalid(exc, False)
    service = _service(args)
    try:
        return asyncio.run(serve(service, loaded.workflow, host=args.host, port=args.port, variables=dict(args.var), max_body=args.max_body,
                                 workflow_file=args.file, max_concurrent=args.max_concurrent, version=(loaded.content_hash, loaded.document)))
    except ServeError as exc:
        sys.stderr.write(f"{args.file}: {exc}\n")
        return 2
    except OSError as exc:  # the address: unknown host, port in use, no permission
        sys.stderr.write(f"processengine serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}\n")
        return 1
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


# Options every command takes; before the command they are a usage error with a hint.
_COMMON_FLAGS = ("--db", "--workspace", "--log-level")


def _usage_error(parser: argparse.ArgumentParser, message: str) -> int:
    parser.print_usage(sys.stderr)
    sys.stderr.write(f"{parser.prog}: error: {message}\n")
    return EXIT_USAGE


def _stdout_gone() -> int:
    """The reader of stdout went away (`list | head`): end quietly, as a C tool would."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the exit-time flush then has nowhere to fail
    return EXIT_PIPE


def _dispatch(args: argparse.Namespace) -> int:
    from engine.errors import EngineError

    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()
        return code
    except EngineError as exc:
        sys.stderr.write(f"processengine: {exc}\n")
        return 1
    except OSError as exc:  # an unreadable file, an unwritable database folder, ...
        if isinstance(exc, BrokenPipeError):
            return _stdout_gone()
        name = f" {exc.filename!r}" if exc.filename else ""
        sys.stderr.write(f"processengine: {exc.strerror or exc}{name}\n")
        return 1
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except cli_args.UsageError:
        raise  # main() prints it with the usage line (exit 64)
    except Exception as exc:  # a bug: one line for the user, the traceback in the debug log
        log.debug("%s failed", args.command, exc_info=True)
        sys.stderr.write(f"processengine: internal error in {args.command}: {type(exc).__name__}: {exc} (details: --log-level DEBUG)\n")
        return 1


def main(argv: Sequence[str] | None = None, *, studio: Callable[[list[str]], int] | None = None) -> int:
    """Run one command. Only no arguments at all (or `studio`) opens the desktop app;
    anything unknown is a usage error (64), so a typo never starts a GUI. `studio`
    opens the app: the engine never imports it, so the launcher (`app.launcher`, the
    `processengine` script) passes it in."""
    argv = list(sys.argv[1:] if argv is None else argv)
    paused = _pause_collections(argv)
    try:
        return _command(argv, studio)
    finally:
        if paused:
            gc.enable()


def _pause_collections(argv: list[str]) -> bool:
    """No garbage collection from here until the run starts (`_settle_heap` switches it
    back on): what `run` and `resume` import, load and open before it lives on, and
    scanning it found next to nothing (about 40 collections, 8-13 ms, most of it over
    modules being imported). True when paused here (main switches it back on)."""
    if not argv or argv[0] not in QUICK_EXIT or "--queue" in argv or not gc.isenabled():
        return False
    gc.disable()
    return True


def _command(argv: list[str], studio: Callable[[list[str]], int] | None) -> int:
    # the whole parser also adds the extension modules' commands to COMMANDS
    parser = build_parser(run_commands_only=bool(argv) and argv[0] in RUN_COMMANDS)
    if not argv:
        argv = ["studio"]
    if argv[0].split("=")[0] in _COMMON_FLAGS:
        command = next((a for a in argv if a in (*COMMANDS, "studio")), "COMMAND")
        option = argv[:1] if "=" in argv[0] else argv[:2]
        return _usage_error(parser, f"{argv[0].split('=')[0]} goes after the command: processengine {command} {' '.join(option)} ...")
    if argv[0] not in (*COMMANDS, "studio") and os.path.isfile(argv[0]):
        return _usage_error(parser, f"{argv[0]!r} is not a command; to open it in the app: processengine studio {argv[0]}; to run it: processengine run {argv[0]}")
    args = parser.parse_args(argv)
    if args.command is None:
        return _usage_error(parser, "a command is required")
    if args.command == "studio":
        if studio is None:
            sys.stderr.write("processengine: the desktop app is started by the `processengine` command, not engine.cli\n")
            return EXIT_USAGE
        return studio(studio_argv(args))
    _setup_logging(args.log_level)
    try:
        return _dispatch(args)
    except cli_args.UsageError as exc:
        return _usage_error(parser, str(exc))


def finish(code: int, argv: Sequence[str]) -> int:
    """End a `processengine` process whose command line was `argv` and whose `main`
    returned `code`; returns `code` when the process should end the ordinary way.

    After `run` and `resume` everything is written (the store closed, stdout flushed),
    and the interpreter's teardown would only free the run's objects one by one (about
    2 µs a node, and ~10 ms of modules for any run). Those processes end with `os._exit`
    once the exit-time work that matters is done (`_exit_quickly`). Only the entry
    points call this: `main` itself returns, for callers in the same process."""
    if argv[:1] and argv[0] in QUICK_EXIT and _only_thread() and not _watched():
        _exit_quickly(code)
    return code


def _watched() -> bool:
    """A profiler or a tracer is set (`python -m cProfile -o FILE`, `trace`, a debugger):
    what runs the command writes its results after it returns, so the process ends the
    ordinary way."""
    return sys.getprofile() is not None or sys.gettrace() is not None


def _only_thread() -> bool:
    """Nothing else is running: no thread that the ordinary exit would wait for (a
    worker pool's threads are joined there), and this is the main thread."""
    import threading

    main_thread = threading.main_thread()
    if threading.current_thread() is not main_thread:
        return False
    return all(t is main_thread or t.daemon or not t.is_alive() for t in threading.enumerate())


def _exit_quickly(code: int) -> None:
    """`os._exit(code)` after the `atexit` work (log handlers flushed and closed by
    `logging.shutdown`, `weakref.finalize` cleanups such as temporary folders,
    multiprocessing's and coverage's exit work) and a flush of stdout and stderr.
    Returns only if a flush fails: the ordinary exit then reports it as it always has."""
    import atexit

    atexit._run_exitfuncs()  # runs each callback once (they are cleared), printing any that fails
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(finish(main(), sys.argv[1:]))
