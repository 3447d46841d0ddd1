"""Node mappers for n8n's core flow and network nodes, per type and typeVersion.

Each mapper takes the n8n node (dict) and a `MapContext` and returns a `Mapped`:
the ProcessEngine type, its config, and the port name of each n8n output index
(n8n connects by output index; the engine by port name). A mapper raises
`Unmapped` with the reason when a mode has no counterpart; the node then becomes
an `unsupported` placeholder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from engine.n8n.conditions import ConditionUnmapped, v1_condition, v2_condition
from engine.n8n.translate import MapContext

__all__ = ["Mapped", "Unmapped", "credential_name"]


class Unmapped(Exception):
    """This node (or this mode of it) has no counterpart; the message says why."""


@dataclass(slots=True, kw_only=True)
class Mapped:
    type: str
    config: dict[str, Any]
    ports: list[str] = field(default_factory=lambda: ["out"])


def credential_name(node: dict[str, Any]) -> str | None:
    """The name of the node's first credential (n8n keeps only {id, name} in exports: no secret)."""
    creds = node.get("credentials") or {}
    for ref in creds.values():
        if isinstance(ref, dict) and ref.get("name"):
            return str(ref["name"])
    return None


def _params(node: dict[str, Any]) -> dict[str, Any]:
    return node.get("parameters") or {}


def manual_trigger(node: dict[str, Any], ctx: MapContext) -> Mapped:
    return Mapped(type="manual_trigger", config={})


def webhook(node: dict[str, Any], ctx: MapContext) -> Mapped:
    p = _params(node)
    method = str(p.get("httpMethod", "GET")).upper()
    if method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        raise Unmapped(f"webhook method {method} has no counterpart")
    if p.get("authentication", "none") != "none":
        ctx.notes.append(f"n8n checked {p['authentication']} on the webhook; the engine does not")
    path = str(p.get("path") or node.get("webhookId") or node.get("name", "hook"))
    return Mapped(type="webhook_trigger", config={"path": path.strip("/"), "method": method})


_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def schedule_trigger(node: dict[str, Any], ctx: MapContext) -> Mapped:
    rules = (_params(node).get("rule") or {}).get("interval") or [{}]
    if len(rules) > 1:
        ctx.notes.append(f"{len(rules)} schedule rules: only the first is kept")
    r = rules[0]
    kind = r.get("field", "days")
    if kind == "cronExpression":
        return Mapped(type="schedule_trigger", config={"cron": str(r.get("expression", "")).strip()})
    if kind in ("seconds", "minutes", "hours"):
        every = r.get(f"{kind}Interval", 1)
        return Mapped(type="schedule_trigger", config={"every_s": float(every) * _SECONDS[kind]})
    hour, minute = r.get("triggerAtHour", 0), r.get("triggerAtMinute", 0)
    if kind == "days":
        return Mapped(type="schedule_trigger", config={"cron": f"{minute} {hour} */{r.get('daysInterval', 1)} * *"})
    if kind == "weeks":
        days = ",".join(str(d) for d in r.get("triggerAtDay", [0])) or "0"
        return Mapped(type="schedule_trigger", config={"cron": f"{minute} {hour} * * {days}"})
    raise Unmapped(f"schedule rule {kind!r} has no counterpart")


def cron(node: dict[str, Any], ctx: MapContext) -> Mapped:
    items = ((_params(node).get("triggerTimes") or {}).get("item")) or [{"mode": "everyDay"}]
    t = items[0]
    mode, hour, minute = t.get("mode", "everyDay"), t.get("hour", 14), t.get("minute", 0)
    table = {
        "everyMinute": "* * * * *", "everyHour": f"{minute} * * * *", "everyDay": f"{minute} {hour} * * *",
        "everyWeek": f"{minute} {hour} * * {t.get('weekday', 1)}",
        "everyMonth": f"{minute} {hour} {t.get('dayOfMonth', 1)} * *", "custom": t.get("cronExpression", ""),
    }  # fmt: skip
    if mode == "everyX":
        unit = 60 if t.get("unit", "hours") == "minutes" else 3600
        return Mapped(type="schedule_trigger", config={"every_s": float(t.get("value", 2)) * unit})
    if mode not in table:
        raise Unmapped(f"cron mode {mode!r} has no counterpart")
    return Mapped(type="schedule_trigger", config={"cron": table[mode]})


def wait(node: dict[str, Any], ctx: MapContext) -> Mapped:
    p = _params(node)
    resume = p.get("resume", "timeInterval")
    if resume != "timeInterval":
        raise Unmapped(f"wait until {resume!r} has no counterpart (only a time interval)")
    amount = p.get("amount", 1)
    unit = p.get("unit", "hours")
    if isinstance(amount, str) and amount.startswith("="):
        inner = ctx.inline(amount, "parameters.amount")
        seconds: Any = f"{{{{ ({inner}) * {_SECONDS.get(unit, 1)} }}}}" if inner else amount
    else:
        seconds = float(amount) * _SECONDS.get(unit, 1)
    return Mapped(type="wait", config={"seconds": seconds})


def if_node(node: dict[str, Any], ctx: MapContext) -> Mapped:
    p = _params(node)
    try:
        if node.get("typeVersion", 1) < 2:
            cond = v1_condition(ctx, p)
        else:
            loose = bool(p.get("looseTypeValidation") or (p.get("options") or {}).get("looseTypeValidation"))
            cond = v2_condition(ctx, p.get("conditions") or {}, loose=loose)
    except ConditionUnmapped as exc:
        raise Unmapped(f"condition: {exc}") from None
    return Mapped(type="if", config={"condition": "{{ " + cond + " }}"}, ports=["true", "false"])


def switch(node: dict[str, Any], ctx: MapContext) -> Mapped:
    """Every version becomes `value` = the name of the first rule that holds (an expression),
    `cases` = {name: name}: exact for equality rules and for v3's full conditions alike.
    v1-v2 have four fixed outputs (0-3) that rules point at; v3 one output per rule."""
    p = _params(node)
    if p.get("mode", "rules") != "rules":
        raise Unmapped("switch in expression mode has no counterpart")
    try:
        if node.get("typeVersion", 1) >= 3:
            rules, fallback = _switch_v3(ctx, p)
            names = _unique([name for name, _ in rules])
        else:
            rules, fallback = _switch_v1(ctx, p)
            names = [name for name, _ in rules]
    except ConditionUnmapped as exc:
        raise Unmapped(f"rule: {exc}") from None
    ports = list(dict.fromkeys(["0", "1", "2", "3"] if node.get("typeVersion", 1) < 3 else names))
    chain = "None"
    if isinstance(fallback, int) and 0 <= fallback < len(ports):
        chain = repr(ports[fallback])
    for name, (_, test) in reversed(list(zip(names, rules, strict=True))):
        chain = f"{name!r} if {test} else {chain}"
    if fallback == "extra":
        ports.append("default")
    cases = {n: n for n in ports if n != "default"}
    return Mapped(type="switch", config={"value": "{{ " + chain + " }}", "cases": cases}, ports=ports)


def _unique(names: list[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        base = n if n not in ("default", "error", "") else f"{n or 'output'} case"
        name, i = base, 2
        while name in out:
            name, i = f"{base} {i}", i + 1
        out.append(name)
    return out


def _switch_v3(ctx: MapContext, p: dict[str, Any]) -> tuple[list[tuple[str, str]], Any]:
    rules = []
    for i, rule in enumerate((p.get("rules") or {}).get("values") or []):
        name = str(rule.get("outputKey")) if rule.get("renameOutput") and rule.get("outputKey") else str(i)
        rules.append((name, v2_condition(ctx, rule.get("conditions") or {}, f"parameters.rules.values[{i}].conditions")))
    fallback = p.get("fallbackOutput", (p.get("options") or {}).get("fallbackOutput", "none"))
    return rules, fallback


def _switch_v1(ctx: MapContext, p: dict[str, Any]) -> tuple[list[tuple[str, str]], Any]:
    kind = p.get("dataType", "number")
    a = ctx.inline(p.get("value1", ""), "parameters.value1")
    if a is None:
        raise ConditionUnmapped("parameters.value1: expression not translated")
    rules = []
    for i, rule in enumerate((p.get("rules") or {}).get("rules") or []):
        b = ctx.inline(rule.get("value2", ""), f"parameters.rules.rules[{i}].value2")
        if b is None:
            raise ConditionUnmapped(f"parameters.rules.rules[{i}].value2: expression not translated")
        from engine.n8n.conditions import _one

        rules.append((str(rule.get("output", i)), _one(ctx, a, rule.get("operation", "equal"), b, True, kind)))
    return rules, int(p.get("fallbackOutput", -1))


def merge(node: dict[str, Any], ctx: MapContext) -> Mapped:
    mode = _params(node).get("mode", "append")
    if mode not in ("append", "wait"):
        raise Unmapped(f"merge mode {mode!r} has no counterpart (only append: the list of arrived values)")
    return Mapped(type="merge", config={"mode": "wait_all"})


def no_op(node: dict[str, Any], ctx: MapContext) -> Mapped:
    return Mapped(type="no_op", config={})


def respond_to_webhook(node: dict[str, Any], ctx: MapContext) -> Mapped:
    p = _params(node)
    options = p.get("options") or {}
    how = p.get("respondWith", "firstIncomingItem")
    base = "{{ " + ctx.js.input_base + " }}"
    if how in ("firstIncomingItem", "allIncomingItems"):
        body: Any = base
    elif how == "json":
        body = _json_body(ctx, p.get("responseBody", ""), "parameters.responseBody")
    elif how == "text":
        body = ctx.value(p.get("responseBody", ""), "parameters.responseBody")
    elif how == "noData":
        body = None
    else:
        raise Unmapped(f"respond with {how!r} has no counterpart")
    config: dict[str, Any] = {"status": int(options.get("responseCode", 200)), "body": body}
    headers = {h.get("name", ""): ctx.value(h.get("value", ""), "parameters.options.responseHeaders")
               for h in (options.get("responseHeaders") or {}).get("entries") or [] if h.get("name")}  # fmt: skip
    if headers:
        config["headers"] = headers
    return Mapped(type="respond_webhook", config=config)


def _json_body(ctx: MapContext, raw: Any, where: str) -> Any:
    """A JSON body: `={{ JSON.stringify(x) }}` -> x; a JSON text with `{{ }}` inside -> the
    parsed object with each string translated; plain JSON text -> the parsed value."""
    if isinstance(raw, str):
        text = raw[1:] if raw.startswith("=") else raw
        stripped = text.strip()
        if stripped.startswith("{{") and stripped.endswith("}}") and "JSON.stringify(" in stripped[:20]:
            inner = stripped[2:-2].strip()
            if inner.startswith("JSON.stringify(") and inner.endswith(")"):
                py = ctx.expr(inner[len("JSON.stringify("):-1], where, original=raw)
                return "{{ " + py + " }}" if py else raw
        try:
            return _translate_json(ctx, json.loads(text), where)
        except ValueError:
            got = _json_template(ctx, text, where, raw)
            return ctx.value(raw, where) if got is _FAILED else got
    return _translate_json(ctx, raw, where)


_FAILED = object()


def _json_template(ctx: MapContext, text: str, where: str, raw: str) -> Any:
    """JSON text with `{{ }}` holes (`"model": {{ JSON.stringify($json.m) }}`): each hole
    becomes a placeholder, the JSON is parsed, then each placeholder its expression (a
    hole outside quotes keeps its value's type; `JSON.stringify(x)` there is just x)."""
    from engine.n8n.translate import split_template

    holes: dict[str, str] = {}
    pieces = []
    in_string = False
    for is_expr, piece in split_template(text):
        if not is_expr:
            in_string = _quote_state(piece, in_string)
            pieces.append(piece)
            continue
        js = piece.strip()
        if not in_string and js.startswith("JSON.stringify(") and js.endswith(")"):
            js = js[len("JSON.stringify("):-1]
        py = ctx.expr(js, where, original=raw)
        if py is None:
            return _FAILED
        key = f"__pe_hole_{len(holes)}__"
        holes[key] = py
        pieces.append(key if in_string else json.dumps(key))
    try:
        doc = json.loads("".join(pieces))
    except ValueError:
        return _FAILED
    return _fill(doc, holes)


def _quote_state(text: str, in_string: bool) -> bool:
    escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            in_string = not in_string
    return in_string


def _fill(value: Any, holes: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, holes) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, holes) for v in value]
    if isinstance(value, str) and "__pe_hole_" in value:
        if value in holes:
            return "{{ " + holes[value] + " }}"
        for key, py in holes.items():
            value = value.replace(key, "{{ " + py + " }}")
    return value


def _translate_json(ctx: MapContext, value: Any, where: str) -> Any:
    if isinstance(value, dict):
        return {k: _translate_json(ctx, v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_translate_json(ctx, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str) and "{{" in value:
        return ctx.value("=" + value, where)
    return value


def execute_workflow(node: dict[str, Any], ctx: MapContext) -> Mapped:
    p = _params(node)
    source = p.get("source", "database")
    if source == "localFile" and p.get("workflowPath"):
        return Mapped(type="sub_workflow", config={"file": ctx.value(p["workflowPath"], "parameters.workflowPath")})
    wid = p.get("workflowId")
    if isinstance(wid, dict):  # v1.1+: a resource locator {__rl, value, mode}
        wid = wid.get("value")
    if source == "database" and wid:
        ctx.notes.append("runs the saved workflow with the n8n id; import that workflow too")
        return Mapped(type="sub_workflow", config={"workflow_id": str(wid)})
    raise Unmapped(f"execute workflow from {source!r} has no counterpart")
