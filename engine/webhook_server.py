"""`processengine serve`: the webhook listener (aiohttp, not a hand-written parser).

Each request to `/webhook/<path>` with the trigger's method runs the workflow
as its own execution, with `{headers, query, body}` as the trigger payload;
the `respond_webhook` node sets the reply. Schedule triggers fire on their interval.

What keeps it serving under load and abuse:
- at most `max_concurrent` executions run at once; a request over that gets 503 with
  Retry-After at once (never a queue that grows until the clients time out);
- bodies are parsed strictly (no NaN/Infinity, no integer over 4,300 digits, no lone
  surrogate, a known charset): a bad body is a 4xx and never starts a run;
- a request line without an HTTP version (HTTP/0.9) is refused before routing;
- on SIGTERM/SIGINT new requests get 503, running executions are paused (resumable
  with `resume`, nothing lost) and the server stops within a few seconds.

Extending: `create_app` builds the Application (middlewares, run limiter, shutdown),
`add_workflow` mounts a workflow's webhook routes and schedule triggers on it, and
`serve` takes `extend=[fn]` - each `fn(app)` may add routes of its own (for example a
REST API) before the server starts. `start_execution(app, ...)` starts a run under the
same limit and shutdown, for any route that starts executions.

`version`: the workflow's (content hash, canonical document) as its file's load found
them (`engine.compiled`), so a request does not encode and hash the whole workflow again
to find its saved version; (None, None) when unknown.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.typedefs import Handler

from engine.errors import EngineError
from engine.jsonvalue import JSONValueError, MalformedJSON, loads_strict, unstorable
from engine.model import Workflow, WorkflowVersion

__all__ = [
    "DEFAULT_MAX_CONCURRENT",
    "RETRY_AFTER_S",
    "RUNS",
    "SERVICE",
    "Busy",
    "RunLimiter",
    "ServeError",
    "add_workflow",
    "create_app",
    "make_app",
    "run_until_signal",
    "serve",
    "start_execution",
]

log = logging.getLogger("engine.serve")

DEFAULT_MAX_CONCURRENT = 64
PAUSE_WAIT_S = 3.0  # how long a shutdown waits for running executions to pause
RETRY_AFTER_S = 1


class ServeError(EngineError):
    """`serve` cannot start (for example: the workflow has nothing to listen for)."""


class Busy(Exception):
    """No execution slot is free, or the server is stopping."""


class _Refused(Exception):
    """A request body this listener will not run a workflow with (a 4xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(kw_only=True)
class RunLimiter:
    """The executions this server runs now: counted against `limit`, paused on shutdown."""

    limit: int
    stopping: bool = False
    running: dict[str, Any] = field(default_factory=dict)  # execution id -> RunHandle
    _reserved: int = 0

    @contextlib.contextmanager
    def slot(self) -> Any:
        if self.stopping:
            raise Busy("the server is stopping")
        if self._reserved >= self.limit:
            raise Busy(f"the server is busy ({self.limit} executions running)")
        self._reserved += 1
        try:
            yield
        finally:
            self._reserved -= 1

    async def pause_all(self, service: Any, timeout: float) -> None:
        """Stop taking runs, pause every running one and wait (up to `timeout`) for them."""
        self.stopping = True
        handles = list(self.running.values())
        for handle in handles:
            with contextlib.suppress(EngineError):
                service.pause(handle.execution_id)
        tasks = [h.task for h in handles if not h.task.done()]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=timeout)
            if late:
                log.warning("%d execution(s) did not pause in %.0f s; they resume as interrupted", len(late), timeout)
        log.info("stopped with %d execution(s) paused", len(handles), extra={"paused": len(handles)})


SERVICE: web.AppKey[Any] = web.AppKey("processengine.service", object)
RUNS: web.AppKey[RunLimiter] = web.AppKey("processengine.runs", RunLimiter)

# headers never copied into a payload that may end up in logs or outputs
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


async def start_execution(app: web.Application, wf: Workflow, payload: Any, **kw: Any) -> Any:
    """Run `wf` under the server's limit (raises Busy) and return its record when it ends or pauses."""
    service, runs = app[SERVICE], app[RUNS]
    with runs.slot():
        handle = await service.start(wf, payload, **kw)
        runs.running[handle.execution_id] = handle
        if runs.stopping:  # the stop began while this run was being created
            service.pause(handle.execution_id)
        try:
            return await asyncio.shield(handle.task)  # a dropped client never kills the run
        finally:
            runs.running.pop(handle.execution_id, None)


def _busy(reason: str, **extra: Any) -> web.Response:
    return web.json_response({"error": reason, **extra}, status=503, headers={"Retry-After": str(RETRY_AFTER_S)})


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _decode_body(request: web.Request, raw: bytes) -> Any:
    """The body as JSON data, form fields or text; raises _Refused (a 4xx) when it cannot be."""
    charset = request.charset or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        raise _Refused(415, f"unknown charset {charset[:40]!r}") from None
    try:
        text = raw.decode(charset, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise _Refused(400, f"the body is not valid {charset[:40]} text") from None
    ctype = request.content_type
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            return loads_strict(text)
        except MalformedJSON as exc:
            raise _Refused(400, f"malformed JSON body: {exc}") from None
        except JSONValueError as exc:
            raise _Refused(422, f"the JSON body cannot be used: {exc}") from None
    if ctype == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    return text


def _handler(wf: Workflow, node_id: str, variables: dict[str, Any] | None, workflow_file: str | None, version: WorkflowVersion) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.app[RUNS].stopping:
            return _busy("the server is stopping")
        raw = await request.read()  # raises 413 (HTTPRequestEntityTooLarge) over max_body
        try:
            body = _decode_body(request, raw) if raw else None
        except _Refused as exc:
            return _error(exc.status, str(exc))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _SECRET_HEADERS}
        payload = {"headers": headers, "query": dict(request.query), "body": body}
        problem = unstorable(payload)
        if problem:
            return _error(422, f"the request cannot be used: {problem}")
        try:
            rec = await start_execution(request.app, wf, payload, variables=variables, trigger=node_id, workflow_file=workflow_file,
                                        content_hash=version[0], document=version[1])
        except Busy as exc:
            return _busy(str(exc))
        return _reply(rec)

    return handle


def _reply(rec: Any) -> web.StreamResponse:
    from engine.runtime.status import status_object

    if rec.status == "paused":  # the server is stopping; `resume` finishes the run
        return _busy("the server stopped; the execution is paused", execution_id=rec.execution_id, status="paused")
    if rec.response is not None:
        resp = rec.response
        body_out = resp.get("body")
        code = int(resp.get("status", 200))
        if isinstance(body_out, (dict, list, int, float, bool)) or body_out is None:
            return web.json_response(body_out, status=code, headers=resp.get("headers") or None)
        return web.Response(text=str(body_out), status=code, headers=resp.get("headers") or None)
    status = status_object(rec)
    code = 200 if rec.status == "completed" else 500
    return web.json_response({"execution_id": rec.execution_id, "status": status["status"], "error": status["error"]}, status=code)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse HTTP/0.9; turn any failure of one request into a JSON 4xx/5xx, never a crash."""
    if request.version < (1, 0):
        if request.transport is not None:
            request.transport.close()  # an HTTP/0.9 reply has no status line: say nothing
        raise web.HTTPBadRequest()
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:  # one bad request must never stop the server
        log.exception("request failed", extra={"path": request.path})
        return _error(500, str(exc)[:500])


def create_app(service: Any, *, max_body: int = 1 << 20, max_concurrent: int = DEFAULT_MAX_CONCURRENT) -> web.Application:
    """The Application every listener route is mounted on (add routes to `app.router`)."""
    app = web.Application(client_max_size=max_body, middlewares=[_guard])
    app[SERVICE] = service
    app[RUNS] = RunLimiter(limit=max(1, max_concurrent))
    return app


def add_workflow(app: web.Application, wf: Workflow, *, variables: dict[str, Any] | None = None, workflow_file: str | None = None, schedules: bool = True,
                 version: WorkflowVersion = (None, None)) -> None:  # fmt: skip
    """Mount `wf`'s webhook triggers as routes and run its schedule triggers while the app runs
    (`schedules=False`: the caller fires them, e.g. once per due time across processes)."""
    for node in wf.nodes:
        if node.type == "webhook_trigger":
            path = str(node.config.get("path", "")).strip("/")
            method = str(node.config.get("method", "POST")).upper()
            app.router.add_route(method, f"/webhook/{path}", _handler(wf, node.id, variables, workflow_file, version))
    timed = [n.id for n in wf.nodes if n.type == "schedule_trigger"] if schedules else []
    if timed:

        async def scheduled(app: web.Application) -> Any:
            tasks = [asyncio.create_task(_schedule_loop(app, wf, n, variables, workflow_file, version)) for n in timed]
            yield
            for t in tasks:
                t.cancel()

        app.cleanup_ctx.append(scheduled)


def make_app(service: Any, wf: Workflow, *, variables: dict[str, Any] | None = None, max_body: int = 1 << 20,
             workflow_file: str | None = None, max_concurrent: int = DEFAULT_MAX_CONCURRENT, version: WorkflowVersion = (None, None)) -> web.Application:  # fmt: skip
    """Build the aiohttp application serving every webhook trigger of `wf`."""
    app = create_app(service, max_body=max_body, max_concurrent=max_concurrent)
    add_workflow(app, wf, variables=variables, workflow_file=workflow_file, version=version)
    return app


async def _schedule_loop(app: web.Application, wf: Workflow, node_id: str, variables: dict[str, Any] | None, workflow_file: str | None, version: WorkflowVersion) -> None:
    """Fire a schedule trigger at its `every_s` interval or cron times, until cancelled."""
    from datetime import UTC, datetime

    from engine.nodes.schedule_trigger import next_fire_times

    config = wf.node(node_id).config
    while True:
        now = datetime.now(UTC)
        (when,) = next_fire_times(config, now, 1)
        await asyncio.sleep(max(0.0, (when - now).total_seconds()))
        try:
            await start_execution(app, wf, {}, variables=variables, trigger=node_id, workflow_file=workflow_file, content_hash=version[0], document=version[1])
        except Busy as exc:
            log.warning("scheduled run of %s skipped: %s", node_id, exc, extra={"node_id": node_id})
        except Exception:
            log.exception("scheduled run of %s failed", node_id, extra={"node_id": node_id})


async def serve(service: Any, wf: Workflow, *, host: str = "127.0.0.1", port: int = 8080, variables: dict[str, Any] | None = None,
                max_body: int = 1 << 20, workflow_file: str | None = None, max_concurrent: int = DEFAULT_MAX_CONCURRENT,
                extend: Iterable[Callable[[web.Application], None]] = (), version: WorkflowVersion = (None, None)) -> int:  # fmt: skip
    """Serve until SIGINT/SIGTERM; returns the process exit code."""
    if not any(n.type in ("webhook_trigger", "schedule_trigger") for n in wf.nodes):
        raise ServeError(f"workflow {wf.name!r} has no webhook or schedule trigger: there is nothing to serve")
    app = make_app(service, wf, variables=variables, max_body=max_body, workflow_file=workflow_file, max_concurrent=max_concurrent, version=version)
    for fn in extend:
        fn(app)
    return await run_until_signal(app, host=host, port=port, banner=lambda url: f"serving {wf.name!r} on {url}/webhook/")


async def run_until_signal(app: web.Application, *, host: str, port: int, banner: Callable[[str], str]) -> int:
    """Listen until SIGINT/SIGTERM, then pause running executions and stop (within seconds)."""
    runner = web.AppRunner(app, access_log=log)
    await runner.setup()
    site = web.TCPSite(runner, host, port, shutdown_timeout=1.0)
    await site.start()
    addresses = runner.addresses  # (host, port, ...) of each bound socket
    bound = addresses[0] if addresses else (host, port)
    sys.stdout.write(banner(f"http://{bound[0]}:{bound[1]}") + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # non-POSIX
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await app[RUNS].pause_all(app[SERVICE], PAUSE_WAIT_S)
        await runner.cleanup()
    return 0
