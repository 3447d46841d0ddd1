"""`processengine serve [FILE ...] [--api] [--queue]`: webhooks of many workflows, the API, metrics.

One aiohttp application: each workflow's webhook routes (`engine.webhook_server`),
with `--api` the control API, `/openapi.json`, `/docs` and `/healthz`, and always
`/metrics`. With `--queue` every execution (webhook, schedule, API) is put on
the queue for workers; a webhook request then waits for a worker to finish the
run, so the `respond_webhook` reply still reaches the caller. Schedules fire
once per due time across every process serving the workflow.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import dataclass
from typing import Any, NamedTuple

from aiohttp import web

from engine.api.auth import ApiToken
from engine.api.context import ApiContext, api_middleware
from engine.model import Workflow, WorkflowVersion

log = logging.getLogger("engine.serve")


class QueuedRunner:
    """The service as the webhook routes see it (`start` / `pause`), with runs going through the queue.

    `start` enqueues and returns a handle whose task follows the execution until a
    worker ends or pauses it. `pause` on shutdown stops following (the worker keeps the
    run); a run this process started itself (an API request with `"queue": false`) is
    paused as usual.
    """

    def __init__(self, service: Any, client: Any) -> None:
        self.service = service
        self.client = client
        self._following: dict[str, asyncio.Task[Any]] = {}

    async def start(self, wf: Workflow, inputs: Any = None, **kw: Any) -> Any:
        from engine.cli_queue import follow

        eid = await self.client.enqueue(self.service, wf, inputs, **kw)
        task = asyncio.get_running_loop().create_task(follow(self.service, eid))
        self._following[eid] = task
        task.add_done_callback(lambda _t: self._following.pop(eid, None))
        return _Followed(execution_id=eid, task=task)

    def pause(self, execution_id: str) -> None:
        task = self._following.get(execution_id)
        if task is not None:
            task.cancel()
        else:
            self.service.pause(execution_id)


class Served(NamedTuple):
    """A workflow `serve` listens for: its file, and its version's (content hash, canonical
    document) as the file's load found them: requests find the saved version without
    encoding and hashing the workflow again."""

    workflow: Workflow
    path: str | None
    version: WorkflowVersion = (None, None)


@dataclass(kw_only=True)
class _Followed:
    execution_id: str
    task: asyncio.Task[Any]


def build_app(service: Any, workflows: list[Served], ctx: ApiContext, *, api: bool, variables: dict[str, Any] | None = None,
              max_body: int = 1 << 20, max_concurrent: int = 64) -> web.Application:  # fmt: skip
    """The listener's application with every workflow's webhooks, the API when asked, /metrics."""
    from engine import metrics
    from engine.api import docs, views
    from engine.webhook_server import RUNS, add_workflow, create_app

    runner = QueuedRunner(service, ctx.queue) if ctx.queue_all else service
    app = create_app(runner, max_body=max_body, max_concurrent=max_concurrent)
    app.middlewares.append(api_middleware)
    ctx.runs = app[RUNS]
    for wf, path, version in workflows:
        add_workflow(app, wf, variables=variables, workflow_file=path, schedules=False, version=version)
    app[ApiContext.KEY] = ctx

    async def serve_metrics(request: web.Request) -> web.Response:
        body, ctype = metrics.render()
        return web.Response(body=body, headers={"Content-Type": ctype})

    app.router.add_get("/metrics", serve_metrics)
    if api:
        views.add_routes(app)
        docs.add_routes(app)

    async def schedules(app: web.Application) -> Any:
        tasks = _schedule_tasks(ctx, workflows, variables)
        yield
        for t in tasks:
            t.cancel()

    app.cleanup_ctx.append(schedules)
    return app


def _schedule_tasks(ctx: ApiContext, workflows: list[Served], variables: dict[str, Any] | None) -> list[asyncio.Task[Any]]:
    from engine.queue.schedules import schedule_loop

    tasks = []
    for wf, path, (content_hash, document) in workflows:
        for node in wf.nodes:
            if node.type != "schedule_trigger":
                continue

            async def start(payload: dict[str, Any], wf: Workflow = wf, node_id: str = node.id, path: str | None = path,
                            content_hash: str | None = content_hash, document: str | None = document) -> str:  # fmt: skip
                if ctx.queue_all:
                    assert ctx.queue is not None, "serve --queue opens the queue client"
                    return str(await ctx.queue.enqueue(ctx.service, wf, payload, variables=variables, trigger=node_id, workflow_file=path,
                                                       content_hash=content_hash, document=document))
                handle = await ctx.service.start(wf, payload, variables=variables, trigger=node_id, workflow_file=path,
                                                 content_hash=content_hash, document=document)
                ctx._keep(handle)
                return str(handle.execution_id)

            tasks.append(asyncio.create_task(schedule_loop(ctx.service, wf, node.id, start)))
    return tasks


async def serve_many(service: Any, workflows: list[Served], *, host: str, port: int, api: bool, queue: bool, token: ApiToken | None,
                     variables: dict[str, Any] | None = None, max_body: int = 1 << 20, max_concurrent: int = 64) -> int:  # fmt: skip
    """Serve until SIGINT/SIGTERM (running executions of this process are paused); returns the exit code."""
    from engine import metrics
    from engine.queue.client import QueueClient, queued_row_count
    from engine.queue.jobs import QueueError
    from engine.webhook_server import run_until_signal

    client = None
    is_pg = (service.url or "").startswith("postgresql")
    if queue and not is_pg:
        raise QueueError("serve --queue needs a PostgreSQL store (--db postgresql://...)")
    if is_pg and (queue or api):
        client = await QueueClient(service.url).open()
    try:
        ctx = ApiContext(service=service, queue=client, queue_all=queue, token=token, host=host)
        metrics.enable(queue_depth=(lambda: float(queued_row_count(service))) if is_pg else None)
        app = build_app(service, workflows, ctx, api=api, variables=variables, max_body=max_body, max_concurrent=max_concurrent)
        return await run_until_signal(app, host=host, port=port, banner=lambda url: _announce(url, workflows, api, queue, token))
    finally:
        if client is not None:
            await client.close()


def _announce(base: str, workflows: list[Served], api: bool, queue: bool, token: ApiToken | None) -> str:
    lines = [f"serving {served.workflow.name!r} on {base}/webhook/" for served in workflows]
    if api:
        lines.append(f"API on {base}/api/v1/process-engine (docs: {base}/docs)")
        if token is not None:
            lines.append(f"API token from {token.source}")
    if queue:
        lines.append("every execution goes to the queue (processengine worker runs them)")
    lines.append(f"metrics on {base}/metrics")
    return "\n".join(lines)


def cmd_serve_many(args: argparse.Namespace) -> int:
    """The `serve` command with --api, --queue or several files."""
    from engine.api.auth import AuthError, resolve_token
    from engine.cli import _load_versioned, _report_invalid, _service
    from engine.errors import WorkflowInvalid
    from engine.queue.jobs import QueueError

    workflows: list[Served] = []
    for path in args.file:
        try:
            loaded = _load_versioned(path)
        except WorkflowInvalid as exc:
            return _report_invalid(exc, False)
        wf = loaded.workflow
        workflows.append(Served(wf, path, (loaded.content_hash, loaded.document)))
        if not any(n.type in ("webhook_trigger", "schedule_trigger") for n in wf.nodes) and not args.api:
            sys.stderr.write(f"{path}: workflow {wf.name!r} has no webhook or schedule trigger: there is nothing to serve\n")
            return 2
    if not workflows and not args.api:
        sys.stderr.write("serve: give workflow files, or --api\n")
        return 64
    try:
        token = resolve_token(args.token, args.host) if args.api else None
    except AuthError as exc:
        sys.stderr.write(f"serve: {exc}\n")
        return 64
    service = _service(args)
    try:
        return asyncio.run(serve_many(service, workflows, host=args.host, port=args.port, api=args.api, queue=args.queue,
                                      token=token, variables=dict(args.var), max_body=args.max_body, max_concurrent=args.max_concurrent))
    except QueueError as exc:
        sys.stderr.write(f"serve: {exc}\n")
        return 2
    finally:
        service.close()
