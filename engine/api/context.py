"""What the API's handlers act on: the service, the queue (when there is one), the runs it started.

The middleware here turns the engine's exceptions into statuses (404 unknown,
409 wrong state, 422 invalid workflow, 503 store unreachable) and checks the
bearer token on `/api/` paths (and on `/metrics` beyond loopback).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web
from aiohttp.typedefs import Handler

from engine.api.auth import ApiToken, is_loopback
from engine.api.models import ExecuteRequest, ExecutionRef
from engine.errors import EngineError, StoreError, WorkflowInvalid
from engine.model import Workflow
from engine.runtime.record import INTERRUPTED, PAUSED, QUEUED
from engine.store.store import ExecutionNotFound, InvalidExecutionState

if TYPE_CHECKING:
    from engine.queue.client import QueueClient
    from engine.service import ExecutionService

log = logging.getLogger("engine.api")


class BadRequest(EngineError):
    """A request the API understands but cannot serve here (400)."""


class ServerStopping(EngineError):
    """The server is shutting down: no new runs (503)."""


def api_error(status: int, message: str, problems: list[Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if problems is not None:
        body["problems"] = problems
    return web.json_response(body, status=status)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


@dataclass
class ApiContext:
    KEY: ClassVar[web.AppKey[ApiContext]] = web.AppKey("processengine_api", object)  # type: ignore[arg-type]

    service: ExecutionService
    queue: QueueClient | None = None  # when the store is PostgreSQL
    queue_all: bool = False  # serve --queue: every execution goes to the queue
    token: ApiToken | None = None
    host: str = "127.0.0.1"
    runs: Any = None  # the listener's RunLimiter (engine.webhook_server): shutdown pauses our runs

    # -- the verbs -------------------------------------------------------------
    async def execute(self, req: ExecuteRequest) -> ExecutionRef:
        if _has_nul(req.model_dump()):
            raise WorkflowInvalid([_problem("NUL characters are not allowed in the request")], "<request body>")
        wf = self._workflow(req.workflow)
        if req.trigger is not None and wf.get(req.trigger) is None:
            raise WorkflowInvalid([_problem(f"no node {req.trigger!r} to start from", field="trigger")], "<request body>")
        self._check_open()
        if req.queue or self.queue_all:
            if self.queue is None:
                raise BadRequest("queue mode needs a PostgreSQL store: this server has no queue")
            eid = await self.queue.enqueue(self.service, wf, req.input, variables=req.variables, trigger=req.trigger)
            return ExecutionRef(execution_id=eid, status=QUEUED)
        handle = await self.service.start(wf, req.input, variables=req.variables, trigger=req.trigger)
        self._keep(handle)
        return ExecutionRef(execution_id=handle.execution_id, status="running")

    def _workflow(self, ref: dict[str, Any] | str) -> Workflow:
        from engine import fileformat
        from engine.graph import ensure_valid

        if isinstance(ref, str):
            wf = self.service.store.latest_workflow(ref) if self.service.url else None
            if wf is None:
                raise ExecutionNotFound(f"no saved workflow {ref!r}")
            return wf
        wf = fileformat.parse(ref, file="<request body>", check_configs=False)
        ensure_valid(wf, file="<request body>")
        return wf

    async def pause(self, execution_id: str) -> ExecutionRef:
        self.service.pause(execution_id)
        return self._ref(execution_id)

    async def resume(self, execution_id: str) -> ExecutionRef:
        status = self.service.status(execution_id)
        if self.queue is not None and (self.queue_all or status.get("worker")):
            if status["status"] == PAUSED:
                await self.queue.resume(self.service, execution_id)
            elif status["status"] == INTERRUPTED:
                await self.queue.requeue_interrupted(self.service, execution_id)
            else:
                raise InvalidExecutionState(f"execution {execution_id} is {status['status']}; only paused or interrupted runs can be resumed")
            return self._ref(execution_id)
        self._check_open()
        handle = await self.service.resume(execution_id)
        self._keep(handle)
        return self._ref(execution_id)

    async def cancel(self, execution_id: str) -> ExecutionRef:
        if self.queue is not None:
            await self.queue.cancel(self.service, execution_id)
        else:
            self.service.cancel(execution_id)
        return self._ref(execution_id)

    def _ref(self, execution_id: str) -> ExecutionRef:
        return ExecutionRef(execution_id=execution_id, status=self.service.status(execution_id)["status"])

    def _keep(self, handle: Any) -> None:
        """Count a run started here with the server's runs: it is paused when the server stops."""
        running = self.runs.running if self.runs is not None else {}
        running[handle.execution_id] = handle
        handle.task.add_done_callback(lambda _t, eid=handle.execution_id: running.pop(eid, None))

    def _check_open(self) -> None:
        if self.runs is not None and self.runs.stopping:
            raise ServerStopping("the server is stopping")


def _problem(message: str, field: str | None = None) -> Any:
    from engine.errors import Problem

    return Problem(message, field=field)


def _http_message(exc: web.HTTPException) -> str:
    """aiohttp-pydantic's 400s carry JSON of their own: keep their message, in our shape."""
    import json

    try:
        data = json.loads(exc.text or "")
    except ValueError:
        return exc.text or exc.reason
    if isinstance(data, dict) and "error" in data:
        return f"malformed request body: {data['error']}"
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return f"malformed request body: {data[0].get('msg', 'not a JSON object')}"
    return exc.reason


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Token check and error mapping for the API's own paths; other paths pass through."""
    path = request.path
    if not (path.startswith("/api/") or path == "/metrics"):
        return await handler(request)
    ctx: ApiContext = request.app[ApiContext.KEY]
    needs_token = path.startswith("/api/") or not is_loopback(ctx.host)
    if needs_token and ctx.token is not None and not ctx.token.matches(request.headers.get("Authorization")):
        return web.json_response({"error": "missing or wrong bearer token"}, status=401, headers={"WWW-Authenticate": "Bearer"})
    try:
        return await handler(request)
    except ExecutionNotFound as exc:
        return api_error(404, str(exc))
    except InvalidExecutionState as exc:
        return api_error(409, str(exc))
    except WorkflowInvalid as exc:
        return api_error(422, "invalid workflow", [p.to_json() for p in exc.problems])
    except BadRequest as exc:
        return api_error(400, str(exc))
    except ServerStopping as exc:
        return web.json_response({"error": str(exc)}, status=503, headers={"Retry-After": "1"})
    except StoreError as exc:
        log.error("store error: %s", exc)
        return api_error(503, f"the store is not available: {exc}")
    except web.HTTPException as exc:
        if exc.status >= 500 or exc.status in (404, 405):
            raise
        return api_error(exc.status, _http_message(exc))
    except UnicodeDecodeError:
        return api_error(400, "request body is not valid UTF-8")
    except EngineError as exc:
        return api_error(422, str(exc))
