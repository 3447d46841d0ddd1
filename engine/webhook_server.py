"""`processengine serve`: the webhook listener (aiohttp, not a hand-written parser).

Each request to `/webhook/<path>` with the trigger's method runs the workflow
as its own execution, with `{headers, query, body}` as the trigger payload;
the `respond_webhook` node sets the reply. Malformed or oversized requests get
a 4xx and the server keeps serving. Schedule triggers fire on their interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from engine.errors import EngineError
from engine.model import Workflow

log = logging.getLogger("engine.serve")

class ServeError(EngineError):
    """`serve` cannot start (for example: the workflow has nothing to listen for)."""


# headers never copied into a payload that may end up in logs or outputs
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def _payload(request: web.Request, body: Any) -> dict[str, Any]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _SECRET_HEADERS}
    return {"headers": headers, "query": dict(request.query), "body": body}


def make_app(service: Any, wf: Workflow, *, variables: dict[str, Any] | None = None, max_body: int = 1 << 20, workflow_file: str | None = None, app: web.Application | None = None) -> web.Application:
    """Build the aiohttp application serving every webhook trigger of `wf` (or add them to `app`)."""
    from engine.runtime.status import status_object

    adding = app is not None
    app = app if app is not None else web.Application(client_max_size=max_body)
    hooks = [n for n in wf.nodes if n.type == "webhook_trigger"]

    def handler_for(node_id: str) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            raw = await request.read()  # raises 413 (HTTPRequestEntityTooLarge) over max_body
            body: Any = None
            if raw:
                ctype = request.content_type
                text = raw.decode(request.charset or "utf-8", errors="strict") if raw else ""
                if ctype == "application/json" or ctype.endswith("+json"):
                    try:
                        body = json.loads(text)
                    except json.JSONDecodeError as exc:
                        return web.json_response({"error": f"malformed JSON body: {exc.msg}"}, status=400)
                elif ctype == "application/x-www-form-urlencoded":
                    body = dict(parse_qsl(text, keep_blank_values=True))
                else:
                    body = text
            rec = await service.run(wf, _payload(request, body), variables=variables, trigger=node_id, workflow_file=workflow_file)
            if rec.response is not None:
                resp = rec.response
                body_out = resp.get("body")
                if isinstance(body_out, (dict, list, int, float, bool)) or body_out is None:
                    return web.json_response(body_out, status=int(resp.get("status", 200)), headers=resp.get("headers") or None)
                return web.Response(text=str(body_out), status=int(resp.get("status", 200)), headers=resp.get("headers") or None)
            status = status_object(rec)
            code = 200 if rec.status == "completed" else 500
            return web.json_response({"execution_id": rec.execution_id, "status": status["status"], "error": status["error"]}, status=code)

        return handle

    for node in hooks:
        path = str(node.config.get("path", "")).strip("/")
        method = str(node.config.get("method", "POST")).upper()
        app.router.add_route(method, f"/webhook/{path}", handler_for(node.id))

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except UnicodeDecodeError:
            return web.json_response({"error": "request body is not valid text in its charset"}, status=400)
        except Exception as exc:  # one bad request must never stop the server
            log.exception("webhook request failed")
            return web.json_response({"error": str(exc)}, status=500)

    if not adding:
        app.middlewares.append(errors)
    return app


async def _schedule_loop(service: Any, wf: Workflow, node_id: str, variables: dict[str, Any] | None, workflow_file: str | None) -> None:
    """Fire a schedule trigger at its `every_s` interval or cron times, until cancelled."""
    from datetime import UTC, datetime

    from engine.nodes.schedule_trigger import next_fire_times

    config = wf.node(node_id).config
    while True:
        now = datetime.now(UTC)
        (when,) = next_fire_times(config, now, 1)
        await asyncio.sleep(max(0.0, (when - now).total_seconds()))
        try:
            await service.run(wf, {}, variables=variables, trigger=node_id, workflow_file=workflow_file)
        except Exception:
            log.exception("scheduled run of %s failed", node_id)


async def serve(service: Any, wf: Workflow, *, host: str = "127.0.0.1", port: int = 8080, variables: dict[str, Any] | None = None, max_body: int = 1 << 20, workflow_file: str | None = None) -> int:
    """Serve until SIGINT/SIGTERM; returns the process exit code."""
    import signal

    if not any(n.type in ("webhook_trigger", "schedule_trigger") for n in wf.nodes):
        raise ServeError(f"workflow {wf.name!r} has no webhook or schedule trigger: there is nothing to serve")
    app = make_app(service, wf, variables=variables, max_body=max_body, workflow_file=workflow_file)
    runner = web.AppRunner(app, access_log=log)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname() if site._server and site._server.sockets else (host, port)  # type: ignore[union-attr]
    sys.stdout.write(f"serving {wf.name!r} on http://{bound[0]}:{bound[1]}/webhook/\n")
    sys.stdout.flush()
    tasks = []
    for n in wf.nodes:
        if n.type == "schedule_trigger":
            tasks.append(asyncio.create_task(_schedule_loop(service, wf, n.id, variables, workflow_file)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # non-POSIX
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for t in tasks:
            t.cancel()
        await runner.cleanup()
    return 0
