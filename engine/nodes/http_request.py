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
from engine.recorded_io import REDACTED, cap_body, check_replay, redact_headers, scrub

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
        cred: dict[str, str] = {}
        if cfg.credential:
            cred = _credential(ctx, cfg.credential)
            headers, query = apply_credential(cred, headers, query)
        url: httpx.URL | str = cfg.url
        if query:  # merged by hand: httpx's `params=` replaces a query already in the URL
            url = httpx.URL(cfg.url).copy_merge_params(
                {k: v for k, v in query.items() if v is not None}
            )
        sent = _recorded_request(cfg, url, headers, cred)
        secrets = _secrets(cred, headers)
        replay = ctx.replayed_io()
        if replay is not None:
            return _replay(ctx, cfg, safe_url, sent, replay, secrets)
        response = await _send(ctx, cfg, url, headers, kwargs, sent, secrets)
        # a server that echoes the request must not carry the secret into the output (and the store)
        return _result(cfg, safe_url, response.status_code, response.reason_phrase,
                       dict(response.headers.items()), scrub(parse_body(response), secrets),
                       scrub(response.text, secrets))


async def _send(
    ctx: NodeContext, cfg: HttpRequestConfig, url: httpx.URL | str, headers: dict[str, str],
    kwargs: dict[str, Any], sent: dict[str, Any], secrets: tuple[str, ...],
) -> httpx.Response:
    """One request through the run's client; the attempt records what went and came back."""
    safe_url = redact_url(cfg.url)
    client: httpx.AsyncClient = ctx.services.http_client()
    started = time.perf_counter()
    try:
        # httpx timeouts are per read/connect; asyncio.timeout makes timeout_s a total limit.
        async with asyncio.timeout(cfg.timeout_s):
            response = await client.request(
                cfg.method, url, headers=headers, timeout=cfg.timeout_s, **kwargs
            )
    except (TimeoutError, httpx.HTTPError, httpx.InvalidURL) as exc:
        err = _transport_error(cfg.method, safe_url, exc, cfg.timeout_s)
        ctx.record_io("http", sent, {"error": str(err)}, secrets=secrets)
        raise err from None
    elapsed_ms = (time.perf_counter() - started) * 1000
    ctx.record_io("http", sent, _recorded_response(response), secrets=secrets)
    ctx.log.info(
        "%s %s -> %d (%d bytes, %.0f ms)",
        cfg.method,
        safe_url,
        response.status_code,
        len(response.content),
        elapsed_ms,
    )
    return response


def _result(
    cfg: HttpRequestConfig, safe_url: str, status: int, reason: str, headers: dict[str, str],
    body: Any, text: str,
) -> NodeResult:
    if status >= 400:
        snippet = text[:ERROR_BODY_CHARS].strip()
        raise NodeError(
            f"{cfg.method} {safe_url} returned HTTP {status} {reason}"
            + (f": {snippet}" if snippet else ""),
            retryable=status >= 500,
            status=status,
            error_type="http_status",
        )
    return NodeResult.out({"status": status, "headers": headers, "body": body})


def _recorded_request(
    cfg: HttpRequestConfig, url: httpx.URL | str, headers: dict[str, str], cred: dict[str, str]
) -> dict[str, Any]:
    """The request as sent, without user-info and with credential headers/parameters redacted."""
    u = httpx.URL(url)
    secret_query = {cred["name"]} if cred.get("kind") == "query" else set()
    params = [(k, REDACTED if k in secret_query else v) for k, v in u.params.multi_items()]
    clean = u.copy_with(username=None, password=None, query=None)
    if params:
        clean = clean.copy_merge_params(params)  # type: ignore[arg-type]
    secret_headers = {cred["name"]} if cred.get("kind") == "header" else set()
    body = cfg.json_body if cfg.json_body is not None else cfg.body
    return {
        "method": cfg.method,
        "url": str(clean),
        "headers": redact_headers(headers, secret_headers),
        "body": cap_body(body),
    }


def _recorded_response(response: httpx.Response) -> dict[str, Any]:
    mime = response.headers.get("content-type", "")
    textual = response.content == b"" or "json" in mime or mime.startswith("text/") or "xml" in mime
    body = response.text if textual else f"[{len(response.content)} bytes of {mime or 'binary data'}]"
    return {
        "status": response.status_code,
        "reason": response.reason_phrase,
        "headers": redact_headers(dict(response.headers.items())),
        "body": cap_body(body),
    }


def _secrets(cred: dict[str, str], headers: dict[str, str]) -> tuple[str, ...]:
    """Every secret value of the credential, and the encoded forms it travels in."""
    values = [v for k, v in cred.items() if k not in ("kind", "name", "username")]
    auth = headers.get("Authorization", "")
    if cred and auth:
        values += [auth, auth.split(" ", 1)[-1]]
    return tuple(v for v in values if v)


def _replay(
    ctx: NodeContext, cfg: HttpRequestConfig, safe_url: str, sent: dict[str, Any],
    recorded: dict[str, Any], secrets: tuple[str, ...],
) -> NodeResult:
    """Answer from the source run's recording: nothing goes over the network."""
    diff = check_replay(ctx, "http", sent, recorded, secrets)
    ctx.record_io("http", sent, recorded.get("response"), secrets=secrets, replayed=True, mismatch=diff)
    resp = recorded.get("response") or {}
    if "status" not in resp:
        raise NodeError(
            f"{cfg.method} {safe_url} (replayed): {resp.get('error') or 'no response was recorded'}",
            error_type="replay",
        )
    headers = resp.get("headers") or {}
    mime = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    text = resp.get("body") if isinstance(resp.get("body"), str) else ""
    answer = httpx.Response(resp["status"], headers={"content-type": mime}, content=(text or "").encode())
    body = parse_body(answer)
    ctx.log.info("%s %s -> %d (replayed from the recording)", cfg.method, safe_url, resp["status"])
    return _result(cfg, safe_url, resp["status"], resp.get("reason") or "", headers, body, text or "")


SPEC = registry.register(HttpRequestSpec())
