"""Wrap an n8n Code node's JavaScript so it computes what it computed in n8n.

n8n hands a Code node a list of items (`{json: ...}`) and expects items back; the
engine hands a node one value and takes one value back. The wrapper binds n8n's
names over the engine's value (`$json`, `$input.item/all/first/last`,
`$('Name')`, `$node["Name"]`, reading the body of an HTTP request node's output
as n8n does: parsed JSON, or `{data: text}`), runs the original code unchanged in a function of its own (nested, so
the code may declare `items` or `item` itself, and may `await`), and turns
the returned items back into a value: one item -> its `json`, several -> the list,
through JSON as n8n stores items (undefined fields vanish, NaN becomes null).
In "run once for each item" mode, a list input runs the code once per element.
"""

from __future__ import annotations

import json

__all__ = ["wrap_code"]

_PRELUDE = """\
// Imported from n8n: the original code is in __n8nCode below, unchanged.
const __httpNodes = new Set(%(http)s);
// n8n's item of an HTTP response: the parsed JSON body, or {data: text} for any other body
const __bodyItem = (b) => (typeof b === "string" ? { data: b } : b);
const __json = (name) => { const v = nodes[name]; return __httpNodes.has(name) && v ? __bodyItem(v.body) : v; };
const __items = (v) => (Array.isArray(v) ? v : [v]).map((j) => ({ json: j }));
const __ref = (name) => { const its = __items(__json(name));
  return { json: its[0].json, item: its[0], first: () => its[0], last: () => its[its.length - 1], all: () => its }; };
const __unwrap = (it) => (it !== null && typeof it === "object" && !Array.isArray(it) && "json" in it ? it.json : it);
// as n8n stores items: through JSON, so undefined fields vanish and NaN becomes null
const __plain = (v) => (v === undefined ? null : JSON.parse(JSON.stringify(v)));
const __result = (out) => __plain(Array.isArray(out) ? (out.length === 1 ? __unwrap(out[0]) : out.map(__unwrap)) : __unwrap(out));
const __n8nCode = async ($json, $input, $, $node, item, items) => (async () => {
%(code)s
})();
const __value = %(base)s;
"""

_ALL = """\
const __all = __items(__value);
const __input = { item: __all[0], all: () => __all, first: () => __all[0], last: () => __all[__all.length - 1] };
return __result(await __n8nCode(__all[0].json, __input, __ref, new Proxy({}, { get: (_, k) => __ref(k) }), __all[0], __all));
"""

_EACH = """\
const __one = async (j) => { const it = { json: j };
  const __input = { item: it, all: () => [it], first: () => it, last: () => it };
  return __result(await __n8nCode(j, __input, __ref, new Proxy({}, { get: (_, k) => __ref(k) }), it, [it])); };
if (!Array.isArray(__value)) return await __one(__value);
const __outs = [];
for (const v of __value) __outs.push(await __one(v));  // one item after the other, as n8n does
return __outs;
"""


def wrap_code(
    code: str, *, per_item: bool, input_base: str = "input", http_nodes: frozenset[str] = frozenset(),
    merged: list[bool] | None = None,
) -> str:
    """The `code` node body for an n8n Code / Function node's JavaScript.

    `merged`: after a Merge, which elements of the merged list are HTTP responses (n8n's
    items there are their bodies)."""
    base = "__bodyItem(input.body)" if input_base == "input.body" else "input"
    if merged and any(merged):
        flags = json.dumps(merged)
        base = f"(Array.isArray(input) ? input.map((v, i) => ({flags}[i] && v ? __bodyItem(v.body) : v)) : input)"
    prelude = _PRELUDE % {"http": json.dumps(sorted(http_nodes)), "code": code, "base": base}
    return prelude + (_EACH if per_item else _ALL)
