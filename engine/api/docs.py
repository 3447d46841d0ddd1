"""`/openapi.json` (generated from the views' pydantic models) and `/docs` (Swagger UI, offline).

The document comes from aiohttp-pydantic's generator; Swagger UI's files come
from the `swagger-ui-bundle` package (installed with the engine), served from
this process, so the page works with no network.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine import __version__

TITLE = "ProcessEngine control API"

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"}});
</script></body></html>
"""


def openapi_document(app: web.Application) -> dict[str, Any]:
    """OpenAPI 3.1: pydantic's JSON Schema as it is (3.1 is JSON Schema 2020-12), so nullable
    references survive; aiohttp-pydantic's 3.0 rewrite of `anyOf` would drop them."""
    from aiohttp_pydantic.oas import pydantic_schema_to_oas as to_oas
    from aiohttp_pydantic.oas.view import generate_oas

    to_oas.add_or_replace_translater("3.0.0", to_oas.pydantic_schema_to_oas_3_1)
    spec = dict(
        generate_oas(
            [app],
            version_spec=__version__,
            title_spec=TITLE,
            security={"bearer": {"type": "http", "scheme": "bearer"}},
        )
    )
    spec["openapi"] = "3.1.0"
    _add_links(spec)
    return spec


def _pointer(path: str, method: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def _add_links(spec: dict[str, Any]) -> None:
    """Bodies are required; the id a POST returns links to the status and control operations."""
    from engine.api.views import PREFIX

    for ops in spec.get("paths", {}).values():
        for op in ops.values():
            if isinstance(op, dict) and "requestBody" in op:
                op["requestBody"]["required"] = True
    created = spec["paths"].get(PREFIX, {}).get("post", {}).get("responses", {}).get("202")
    if created is None:
        return
    links = {}
    for verb, method in (("status", "get"), ("pause", "post"), ("resume", "post"), ("cancel", "post")):
        target = f"{PREFIX}/processes/{{execution_id}}/{verb}"
        if target in spec["paths"]:
            links[verb.title()] = {
                "operationRef": _pointer(target, method),
                "parameters": {"execution_id": "$response.body#/execution_id"},
            }
    created["links"] = links


def add_routes(app: web.Application) -> None:
    from swagger_ui_bundle import swagger_ui_path

    cache: dict[str, Any] = {}

    async def openapi(request: web.Request) -> web.Response:
        if "doc" not in cache:
            cache["doc"] = openapi_document(request.app)
        return web.json_response(cache["doc"])

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=_PAGE.format(title=TITLE), content_type="text/html")

    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/docs", page)
    app.router.add_static("/docs/static", str(swagger_ui_path))
