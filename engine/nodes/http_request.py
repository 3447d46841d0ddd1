"""HTTP request: one call through the run's shared httpx client.

Errors are classified for the retry policy: connect errors, timeouts and 5xx
answers are retryable, 4xx answers are not (a workflow may still list a 4xx in
`retry.on_status`, which is why the status always rides on the NodeError).
Header values and URL user-info are never logged or put in error messages,
because that is where credentials travel.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any, Literal

import httpx
from pydantic import Field, ValidationInfo, field_validator

from engine.errors import NodeError
from engine.jsonvalue import JSONValueError, MalformedJSON, loads_strict
from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, NodeSpec
from engine.nodes.common import stringify_headers

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Scalar = str | int | float | bool
ERROR_BODY_CHARS = 300


class HttpRequestConfig(NodeConfig):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = Field(
        "GET", description="HTTP method."
    )
    url: str = Field(description="Absolute http:// or https:// URL.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Request headers (values are never logged)."
    )
    query: dict[str, Scalar | list[Scalar] | None] = Field(
        default_factory=dict,
        description="Query parameters added to the URL; a list repeats the parameter.",
    )
    json_body: Any = Field(
        None,
        alias="json",
        description="Request body sent as JSON (any JSON value); excludes `body`.",
    )
    body: str | None = Field(
        None, description="Raw request body text (set a content-type header); excludes `json`."
    )
    timeout_s: float = Field(
        30.0, gt=0, description="Total time limit for the request, in seconds."
    )
    credential: str | None = Field(
        None,
        description="Name of a stored credential of kind basic, bearer, header or query; its "
        "secret is added to the request and never logged or recorded.",
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.strip().upper() if isinstance(v, str) else v

    @field_validator("headers", mode="before")
    @classmethod
    def _stringify(cls, v: Any) -> Any:
        return stringify_headers(v)

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        v = v.strip()
        try:
            url = httpx.URL(v)
        except httpx.InvalidURL as exc:
            raise ValueError(f"invalid URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(
                f"url must be an absolute http:// or https:// URL, got {redact_url(v)!r}"
            )
        return v

    @field_validator("body")
    @classmethod
    def _one_body(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and info.data.get("json_body") is not None:
            raise ValueError("set either `json` or `body`, not both")
        return v


def redact_url(url: str) -> str:
    """The URL without user-info and query string (both may carry secrets), for messages."""
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid url>"
    if not u.scheme or not u.host:
        return url.split("?", 1)[0].rsplit("@", 1)[-1]
    port = f":{u.port}" if u.port is not None else ""
    host = f"[{u.host}]" if ":" in u.host else u.host
    return f"{u.scheme}://{host}{port}{u.path}"


def parse_body(response: httpx.Response) -> Any:
    """Parsed JSON when the response says it is JSON, else the text (None for an empty JSON body)."""
    mime = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    is_json = mime == "application/json" or mime.endswith("+json")
    if not is_json:
        return response.text
    if not response.content.strip():
        return None
    try:
        return loads_strict(response.text)
    except MalformedJSON:  # says JSON but is not: keep the text rather than fail the node
        return response.text
    except JSONValueError as exc:  # JSON to a lenient parser, but NaN, a 5,000-digit int...
        raise NodeError(f"the response body cannot be used: {exc}", error_type="bad_response") from None


def _transport_error(method: str, safe_url: str, exc: Exception, timeout_s: float) -> NodeError:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return NodeError(
            f"{method} {safe_url} timed out after {timeout_s:g} s",
            retryable=True,
            error_type="timeout",
        )
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in text:
        return NodeError(
            f"{method} {safe_url}: TLS certificate not trusted: {text}", error_type="tls"
        )
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError | httpx.ProxyError):
        return NodeError(f"{method} {safe_url}: {text}", retryable=True, error_type="connection")
    return NodeError(f"{method} {safe_url}: {text}", error_type=type(exc).__name__)


HTTP_KINDS = ("basic", "bearer", "header", "query")


def apply_credential(
    cred: dict[str, str], headers: dict[str, str], query: dict[str, Any]
) -> tuple[dict[str, str], dict[str, Any]]:
    """New (headers, query) with the credential's auth added; the inputs are not changed.

    Kept apart from the config so what the workflow asked for (and what may be
    shown or recorded) never holds the secret.
    """
    kind = cred["kind"]
    headers, query = dict(headers), dict(query)
    if kind in ("basic", "smtp"):
        token = base64.b64encode(f"{cred['username']}:{cred['password']}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    elif kind == "bearer":
        headers["Authorization"] = f"Bearer {cred['token']}"
    elif kind == "header":
        headers[cred["name"]] = cred["value"]
    elif kind == "query":
        query[cred["name"]] = cred["value"]
    return headers, query


def _credential(ctx: NodeContext, name: str) -> dict[str, str]:
    cred = ctx.services.credential(name)
    if cred.get("kind", "basic") not in (*HTTP_KINDS, "smtp"):
        raise NodeError(
            f"node {ctx.node.id!r}, config.credential: credential {name!r} is of kind "
            f"{cred.get('kind')!r}; http_request takes {', '.join(HTTP_KINDS)}",
            error_type="CredentialInvalid",
        )
    return {"kind": "basic", **cred}


class HttpRequestSpec(NodeSpec):
    type = "http_request"
    title = "HTTP request"
    category = "Network"
    description = (
        "Calls a URL and outputs {status, headers, body}; a JSON response body is parsed. "
        "5xx, connection errors and timeouts are retryable; 4xx are not."
    )
    icon = "globe"
    config_model = HttpRequestConfig
    side_effects = True
    default_retry = "default"

    def has_side_effects(self, node: Any) -> bool:
        method = node.config.get("method", "GET") if isinstance(node.config, dict) else None
        if isinstance(method, str) and "{{" not in method:
            return method.strip().upper() not in SAFE_METHODS
        return True  # unknown until rendered: assume the worst

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: HttpRequestConfig = ctx.config
        safe_url = redact_url(cfg.url)
        kwargs: dict[str, Any] = {}
        if cfg.json_body is not None:
            kwargs["json"] = cfg.json_body
        elif cfg.body is not None:
            kwargs["content"] = cfg.body.encode()
        headers, query = cfg.headers, cfg.query
        if cfg.credential:
            headers, query = apply_credential(_credential(ctx, cfg.credential), headers, query)
        url: httpx.URL | str = cfg.url
        if query:  # merged by hand: httpx's `params=` replaces a query already in the URL
            url = httpx.URL(cfg.url).copy_merge_params(
                {k: v for k, v in query.items() if v is not None}
            )
        client: httpx.AsyncClient = ctx.services.http_client()
        started = time.perf_counter()
        try:
            # httpx timeouts are per read/connect; asyncio.timeout makes timeout_s a total limit.
            async with asyncio.timeout(cfg.timeout_s):
                response = await client.request(
                    cfg.method, url, headers=headers, timeout=cfg.timeout_s, **kwargs
                )
        except (TimeoutError, httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _transport_error(cfg.method, safe_url, exc, cfg.timeout_s) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        status = response.status_code
        ctx.log.info(
            "%s %s -> %d (%d bytes, %.0f ms)",
            cfg.method,
            safe_url,
            status,
            len(response.content),
            elapsed_ms,
        )
        if status >= 400:
            snippet = response.text[:ERROR_BODY_CHARS].strip()
            raise NodeError(
                f"{cfg.method} {safe_url} returned HTTP {status} {response.reason_phrase}"
                + (f": {snippet}" if snippet else ""),
                retryable=status >= 500,
                status=status,
                error_type="http_status",
            )
        return NodeResult.out(
            {
                "status": status,
                "headers": dict(response.headers.items()),
                "body": parse_body(response),
            }
        )


SPEC = registry.register(HttpRequestSpec())
