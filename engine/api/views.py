"""The API's handlers: the five verbs plus list (aiohttp-pydantic views, so OpenAPI is generated).

Errors map to statuses by kind, never to a 500 for bad input: an unknown id is
404, a verb that does not apply to the execution's state 409, a malformed body
400, a body or workflow that does not validate 422 (with every problem listed).
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Union

from aiohttp import web
from aiohttp_pydantic import PydanticView
from aiohttp_pydantic.oas.typing import r200, r202, r400, r401, r404, r409, r422
from pydantic import Field, ValidationError

from engine.api.context import ApiContext, api_error
from engine.api.models import ApiError, ExecuteRequest, ExecutionRef, Health, StatusObject
from engine.store.store import ExecutionNotFound, InvalidExecutionState

log = logging.getLogger("engine.api")

PREFIX = "/api/v1/process-engine/executions"
_ID = re.compile(r"^[A-Za-z0-9._:@/+-]{1,200}$")


class _View(PydanticView):  # type: ignore[misc]  # aiohttp-pydantic ships no types: its base is Any
    @property
    def ctx(self) -> ApiContext:
        request: web.Request = self.request
        return request.app[ApiContext.KEY]

    async def on_validation_error(self, exception: ValidationError, context: str) -> web.StreamResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"]}
            for e in exception.errors(include_url=False, include_context=False, include_input=False)
        ]
        where = {"body": "request body", "query string": "query string", "path": "path", "headers": "headers"}.get(context, context)
        return api_error(422, f"invalid {where}", problems)


def _known_id(execution_id: str) -> str:
    if not _ID.match(execution_id):
        raise ExecutionNotFound(f"no execution {execution_id!r}")
    return execution_id


class ExecutionsView(_View):
    async def post(self, body: ExecuteRequest) -> Union[r202[ExecutionRef], r400[ApiError], r401[ApiError], r404[ApiError], r422[ApiError]]:  # noqa: UP007
        """Start an execution (in this process, or on the queue for a worker)

        Tags: executions
        Security: bearer
        Status Codes:
            202: started (status running) or queued
            400: queue requested but this server has no queue
            401: missing or wrong bearer token
            404: no saved workflow with that id
            422: the body or the workflow is invalid (problems listed)
        """
        ref = await self.ctx.execute(body)
        return web.json_response(ref.model_dump(), status=202)

    async def get(
        self,
        status: Annotated[str | None, Field(pattern="^(queued|running|paused|completed|failed|cancelled|interrupted)$")] = None,
        workflow_id: Annotated[str | None, Field(max_length=200)] = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 100,
    ) -> Union[r200[list[StatusObject]], r401[ApiError], r422[ApiError]]:  # noqa: UP007
        """List executions, newest first

        Tags: executions
        Security: bearer
        Status Codes:
            200: status objects
            401: missing or wrong bearer token
            422: a bad filter
        """
        rows = self.ctx.service.list_runs(status=status, workflow_id=_clean(workflow_id), limit=limit)
        return web.json_response(rows)


def _clean(value: str | None) -> str | None:
    return None if value is None else value.replace("\x00", "")


class StatusView(_View):
    async def get(self, execution_id: str, /) -> Union[r200[StatusObject], r401[ApiError], r404[ApiError]]:  # noqa: UP007
        """The status object of one execution

        Tags: executions
        Security: bearer
        Status Codes:
            200: the status object
            401: missing or wrong bearer token
            404: no such execution
        """
        return web.json_response(self.ctx.service.status(_known_id(execution_id)))


def _verb_view(verb: str, summary: str) -> type[_View]:
    async def post(self: _View, execution_id: str, /) -> Union[r200[ExecutionRef], r401[ApiError], r404[ApiError], r409[ApiError]]:  # noqa: UP007
        ref = await getattr(self.ctx, verb)(_known_id(execution_id))
        return web.json_response(ref.model_dump())

    post.__doc__ = f"""{summary}

        Tags: control
        Security: bearer
        Status Codes:
            200: requested; the execution's status now
            401: missing or wrong bearer token
            404: no such execution
            409: the execution's state does not allow it
        """
    return type(f"{verb.title()}View", (_View,), {"post": post})


PauseView = _verb_view("pause", "Ask a running execution to pause (state saved)")
ResumeView = _verb_view("resume", "Resume a paused or interrupted execution")
CancelView = _verb_view("cancel", "Cancel a queued, running, paused or interrupted execution")


class HealthView(_View):
    async def get(self) -> r200[Health]:
        """Liveness of the server

        Tags: server
        """
        return web.json_response({"status": "ok", "queue": self.ctx.queue is not None})


def add_routes(app: web.Application) -> None:
    app.router.add_view(PREFIX, ExecutionsView)
    app.router.add_view(PREFIX + "/processes/{execution_id}/status", StatusView)
    app.router.add_view(PREFIX + "/processes/{execution_id}/pause", PauseView)
    app.router.add_view(PREFIX + "/processes/{execution_id}/resume", ResumeView)
    app.router.add_view(PREFIX + "/processes/{execution_id}/cancel", CancelView)
    app.router.add_view("/healthz", HealthView)


__all__ = ["ApiError", "InvalidExecutionState", "add_routes"]
