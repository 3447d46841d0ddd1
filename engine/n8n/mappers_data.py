"""Node mappers for HTTP, email, Set, Code and the data nodes (per type and typeVersion)."""

from __future__ import annotations

import json
from typing import Any

from engine.n8n.code_wrap import wrap_code
from engine.n8n.mappers import Mapped, Unmapped, _json_body, _params, credential_name
from engine.n8n.translate import MapContext

__all__ = ["code", "email_send", "http_request", "set_node", "split_out", "stop_and_error"]

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _pairs(ctx: MapContext, items: list[dict[str, Any]] | None, where: str) -> dict[str, Any]:
    return {str(i.get("name", "")): ctx.value(i.get("value", ""), f"{where}[{n}].value")
            for n, i in enumerate(items or []) if i.get("name")}  # fmt: skip


def _json_pairs(ctx: MapContext, raw: Any, where: str) -> dict[str, Any]:
    got = _json_body(ctx, raw, where)
    if isinstance(got, dict):
        return got
    raise Unmapped(f"{where}: not a JSON object")


# n8n's generic HTTP credential types -> the engine's credential kinds
_CREDENTIAL_KINDS = {"httpHeaderAuth": "header", "httpBasicAuth": "basic", "httpBearerAuth": "bearer", "httpQueryAuth": "query"}


# header names whose literal value is a secret: never copied into the workflow file
_SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "api-key", "apikey", "x-auth-token", "x-access-token", "cookie",
})  # fmt: skip


def _lift_literal_secrets(config: dict[str, Any], node_name: str, ctx: MapContext) -> None:
    """A literal secret in a header (an API key typed into the n8n node) is dropped and
    replaced by a credential reference of kind header, so no secret reaches the file."""
    headers = config.get("headers") or {}
    for name in [h for h in headers if h.lower() in _SECRET_HEADERS]:
        value = headers[name]
        if not isinstance(value, str) or not value or "{{" in value:
            continue
        del headers[name]
        if "credential" in config:
            ctx.notes.append(f"the {name} header held a literal secret: not copied")
            continue
        config["credential"] = f"{node_name} {name}"
        ctx.notes.append(f"the {name} header held a literal secret: not copied; create the credential "
                         f"{config['credential']!r} of kind header (name {name!r}) instead")  # fmt: skip
    if "headers" in config and not headers:
        del config["headers"]


def http_request(node: dict[str, Any], ctx: MapContext) -> Mapped:
    p = _params(node)
    version = node.get("typeVersion", 1)
    config = _http_v4(ctx, p) if version >= 3 else _http_v1(ctx, p)
    options = p.get("options") or {}
    if options.get("timeout"):
        config["timeout_s"] = float(options["timeout"]) / 1000
    method = config.get("method", "GET")
    if isinstance(method, str) and method.upper() not in _METHODS:
        raise Unmapped(f"method {method} has no counterpart")
    _lift_literal_secrets(config, str(node.get("name", "")), ctx)
    cred = credential_name(node) or config.pop("credential", None)
    if cred:
        config["credential"] = cred
        kind = _CREDENTIAL_KINDS.get(p.get("genericAuthType") or next(iter(node.get("credentials") or {}), ""))
        ctx.notes.append(f"create the credential {cred!r}" + (f" of kind {kind}" if kind else "") + " before running")
    elif p.get("authentication", "none") not in ("none", None):
        ctx.notes.append(f"authentication {p['authentication']} without a named credential")
    if (options.get("response") or {}).get("response", {}).get("fullResponse"):
        ctx.notes.append("n8n's full response is {statusCode, headers, body}; the engine's is {status, headers, body}")
    return Mapped(type="http_request", config=config)


def _http_v4(ctx: MapContext, p: dict[str, Any]) -> dict[str, Any]:
    """HTTP Request v3-v4.x: send* switches, parameter lists or JSON, body content types."""
    config: dict[str, Any] = {"method": p.get("method", "GET"), "url": ctx.value(p.get("url", ""), "parameters.url")}
    if p.get("sendQuery"):
        if p.get("specifyQuery") == "json":
            config["query"] = _json_pairs(ctx, p.get("jsonQuery", "{}"), "parameters.jsonQuery")
        else:
            config["query"] = _pairs(ctx, (p.get("queryParameters") or {}).get("parameters"), "parameters.queryParameters")
    if p.get("sendHeaders"):
        if p.get("specifyHeaders") == "json":
            config["headers"] = _json_pairs(ctx, p.get("jsonHeaders", "{}"), "parameters.jsonHeaders")
        else:
            config["headers"] = _pairs(ctx, (p.get("headerParameters") or {}).get("parameters"), "parameters.headerParameters")
    if p.get("sendBody"):
        kind = p.get("contentType", "json")
        if kind == "json" and p.get("specifyBody") == "json":
            config["json"] = _json_body(ctx, p.get("jsonBody", ""), "parameters.jsonBody")
        elif kind == "json":
            config["json"] = _pairs(ctx, (p.get("bodyParameters") or {}).get("parameters"), "parameters.bodyParameters")
        elif kind == "raw":
            config["body"] = ctx.value(p.get("body", ""), "parameters.body")
            config.setdefault("headers", {})["content-type"] = p.get("rawContentType", "text/plain")
        else:
            raise Unmapped(f"body content type {kind!r} has no counterpart")
    return config


def _http_v1(ctx: MapContext, p: dict[str, Any]) -> dict[str, Any]:
    """HTTP Request v1-v2: requestMethod, *Ui parameter lists or *Json texts."""
    config: dict[str, Any] = {"method": p.get("requestMethod", "GET"), "url": ctx.value(p.get("url", ""), "parameters.url")}
    as_json = p.get("jsonParameters", False)
    for key, ui, js in (("query", "queryParametersUi", "queryParametersJson"), ("headers", "headerParametersUi", "headerParametersJson")):
        if as_json and p.get(js):
            config[key] = _json_pairs(ctx, p[js], f"parameters.{js}")
        elif (p.get(ui) or {}).get("parameter"):
            config[key] = _pairs(ctx, p[ui]["parameter"], f"parameters.{ui}")
    if as_json and p.get("bodyParametersJson"):
        config["json"] = _json_body(ctx, p["bodyParametersJson"], "parameters.bodyParametersJson")
    elif (p.get("bodyParametersUi") or {}).get("parameter"):
        config["json"] = _pairs(ctx, p["bodyParametersUi"]["parameter"], "parameters.bodyParametersUi")
    if p.get("responseFormat", "json") not in ("json", "string"):
        ctx.notes.append(f"response format {p['responseFormat']} is read as text or JSON")
    return config


def email_send(node: dict[str, Any], ctx: MapContext) -> Mapped:
    p = _params(node)
    config: dict[str, Any] = {
        "smtp_host": "{{ vars.SMTP_HOST }}",
        "from": ctx.value(p.get("fromEmail", ""), "parameters.fromEmail"),
        "to": ctx.value(p.get("toEmail", ""), "parameters.toEmail"),
        "subject": ctx.value(p.get("subject", ""), "parameters.subject"),
        "text": ctx.value(p.get("text", p.get("html", "")), "parameters.text"),
    }
    ctx.notes.append("n8n keeps the SMTP host in its credential: set the variable SMTP_HOST")
    cred = credential_name(node)
    if cred:
        config["credential"] = cred
    if p.get("emailFormat") == "html" or (p.get("html") and not p.get("text")):
        ctx.notes.append("an HTML body is sent as plain text")
    return Mapped(type="send_email", config=config)


_SET_TYPES = {"stringValue": str, "numberValue": float, "booleanValue": bool}


def set_node(node: dict[str, Any], ctx: MapContext, http_nodes: frozenset[str] = frozenset()) -> Mapped:
    """Set v1-v2 (`values` by type, `keepOnlySet`), v3.0-3.2 (`fields.values`, `include`),
    v3.3+ (`assignments.assignments`, `includeOtherFields`), and raw JSON mode.

    When a value's expression cannot be translated, the node becomes a `code` node that
    evaluates the original JavaScript, which computes exactly what n8n computed."""
    p = _params(node)
    version = node.get("typeVersion", 1)
    before = len(ctx.summary.expressions)
    if p.get("mode") == "raw" and version >= 3:
        raw = _json_body(ctx, p.get("jsonOutput", "{}"), "parameters.jsonOutput")
        if not isinstance(raw, dict):
            raise Unmapped("raw JSON output that is not an object")
        return Mapped(type="set", config={"values": raw, "keep_input": _include_others(p, version)})
    keep, fields = _set_fields(p, version)
    values = {name: _typed(ctx, value, kind, where) for name, value, kind, where in fields}
    if any("." in k for k in values) and (p.get("options") or {}).get("dotNotation", True):
        ctx.notes.append("dotted names (a.b) are kept as flat keys")
    failed = [e for e in ctx.summary.expressions[before:] if e.translated is None]
    if failed:
        for e in failed:
            e.translated, e.reason = "(JavaScript, run by the code node)", f"{e.reason}: kept as JavaScript"
        ctx.notes.append("an expression had no counterpart: the values are computed by a code node in JavaScript")
        return _set_as_code(fields, keep, ctx, http_nodes)
    return Mapped(type="set", config={"values": values, "keep_input": keep})


def _set_fields(p: dict[str, Any], version: float) -> tuple[bool, list[tuple[str, Any, str, str]]]:
    """(keep the input?, [(name, raw value, type, field path)]) for every Set version."""
    if version < 3:
        fields = [(str(item.get("name", "")), item.get("value"), kind, f"parameters.values.{kind}[{i}].value")
                  for kind, items in (p.get("values") or {}).items() for i, item in enumerate(items or [])]  # fmt: skip
        return not p.get("keepOnlySet", False), fields
    if version < 3.3:
        fields = [(str(f.get("name", "")), f.get(f.get("type", "stringValue"), ""), f.get("type", "stringValue"),
                   f"parameters.fields.values[{i}].{f.get('type', 'stringValue')}")
                  for i, f in enumerate((p.get("fields") or {}).get("values") or [])]  # fmt: skip
        return _include_others(p, version), fields
    fields = [(str(a.get("name", "")), a.get("value"), a.get("type", "string"), f"parameters.assignments[{i}].value")
              for i, a in enumerate((p.get("assignments") or {}).get("assignments") or [])]  # fmt: skip
    return _include_others(p, version), fields


def _set_as_code(fields: list[tuple[str, Any, str, str]], keep: bool, ctx: MapContext, http_nodes: frozenset[str]) -> Mapped:
    lines = ["const out = " + ("(typeof $json === 'object' && $json !== null && !Array.isArray($json)) ? { ...$json } : {};" if keep else "{};")]
    for name, value, kind, _ in fields:
        if isinstance(value, str) and value.startswith("="):
            js = _js_template(value)
            if kind in ("number", "numberValue"):
                js = f"Number({js})"
        else:
            js = json.dumps(_typed(ctx, value, kind, ""))
        lines.append(f"out[{json.dumps(name)}] = {js};")
    lines.append("return { json: out };")
    text = wrap_code("\n".join(lines), per_item=False, input_base=ctx.js.input_base, http_nodes=http_nodes, merged=ctx.js.merged)
    return Mapped(type="code", config={"language": "javascript", "code": text, "timeout_s": 10})


def _include_others(p: dict[str, Any], version: float) -> bool:
    """Whether the input's other fields stay: v3.0-3.2 `include` (default all), v3.3+
    `includeOtherFields` (default false) with `include` (default all) when on."""
    if version >= 3.3 and not p.get("includeOtherFields", False):
        return False
    include = p.get("include", "all")
    if include in ("selected", "except"):
        raise Unmapped(f"include {include} input fields has no counterpart (all or none)")
    return bool(include == "all")


def _typed(ctx: MapContext, value: Any, kind: str, where: str) -> Any:
    """A Set value: expressions translated, literals converted to the declared type."""
    if isinstance(value, str) and value.startswith("="):
        return ctx.value(value, where)
    if kind in ("number", "numberValue") and isinstance(value, str):
        try:
            return int(value) if value.strip().lstrip("-").isdigit() else float(value)
        except ValueError:
            return value
    if kind in ("boolean", "booleanValue") and isinstance(value, str):
        return value.strip().lower() == "true"
    if kind in ("object", "array", "objectValue", "arrayValue") and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def code(node: dict[str, Any], ctx: MapContext, http_nodes: frozenset[str] = frozenset()) -> Mapped:
    """Code v1-v2 and the older Function / Function Item nodes -> `code` (JavaScript)."""
    p = _params(node)
    n8n_type = node.get("type", "")
    if p.get("language", "javaScript") != "javaScript":
        raise Unmapped(f"code in {p['language']} (n8n's Python names differ)")
    if n8n_type.endswith(".function"):
        source, per_item = p.get("functionCode", ""), False
    elif n8n_type.endswith(".functionItem"):
        source, per_item = p.get("functionCode", ""), True
    else:
        source = p.get("jsCode", "")
        per_item = p.get("mode", "runOnceForAllItems") == "runOnceForEachItem"
    ctx.notes.append("runs once for each item" if per_item else "runs once for all items")
    text = wrap_code(source, per_item=per_item, input_base=ctx.js.input_base, http_nodes=http_nodes, merged=ctx.js.merged)
    return Mapped(type="code", config={"language": "javascript", "code": text, "timeout_s": 10})


def stop_and_error(node: dict[str, Any], ctx: MapContext, http_nodes: frozenset[str] = frozenset()) -> Mapped:
    """Stop and Error -> a `code` node that throws the message (so the run fails there)."""
    p = _params(node)
    if p.get("errorType", "errorMessage") != "errorMessage":
        raise Unmapped("stop and error with an error object")
    message = p.get("errorMessage", "")
    expr = _js_template(message)
    source = f"throw new Error(String({expr}));"
    text = wrap_code(source, per_item=False, input_base=ctx.js.input_base, http_nodes=http_nodes, merged=ctx.js.merged)
    return Mapped(type="code", config={"language": "javascript", "code": text, "timeout_s": 10})


def _js_template(value: str) -> str:
    """An n8n parameter as a JavaScript expression (its `{{ }}` parts already are JavaScript)."""
    from engine.n8n.translate import split_template

    if not value.startswith("="):
        return json.dumps(value)
    parts = split_template(value[1:])
    return " + ".join(f"({piece})" if is_expr else json.dumps(piece) for is_expr, piece in parts) or '""'


def split_out(node: dict[str, Any], ctx: MapContext, http_nodes: frozenset[str] = frozenset()) -> Mapped:
    """Split Out -> a `code` node that makes one item per element of the field (an object
    element as it is, any other value as {field: value}), as n8n does; the list goes on."""
    p = _params(node)
    field = str(p.get("fieldToSplitOut", "")).strip()
    if not field or "," in field or p.get("include", "noOtherFields") != "noOtherFields":
        raise Unmapped("split out of several fields, or with other fields kept")
    path = "".join(f"[{json.dumps(part)}]" for part in field.split("."))
    source = (f"const list = $json{path};\n"
              "if (!Array.isArray(list)) throw new Error(" + json.dumps(f"the field {field} is not a list") + ");\n"
              f"return list.map((v) => ({{ json: (v !== null && typeof v === 'object' && !Array.isArray(v)) ? v : {{ {json.dumps(field.split('.')[-1])}: v }} }}));")  # fmt: skip
    text = wrap_code(source, per_item=False, input_base=ctx.js.input_base, http_nodes=http_nodes, merged=ctx.js.merged)
    return Mapped(type="code", config={"language": "javascript", "code": text, "timeout_s": 10})

