"""Node mappers for n8n's item nodes (filter, sort, limit, remove duplicates, aggregate,
split in batches) and the machine nodes (read/write file, execute command).

n8n runs these over the list of items a node received; the engine's counterparts
take n8n's items as their `items` (a list input as it is, any other value as a list
of that one item), and read one element as `item` in their expressions.
"""

from __future__ import annotations

from typing import Any

from engine.n8n.conditions import ConditionUnmapped, v2_condition
from engine.n8n.jsexpr import Context
from engine.n8n.mappers import Mapped, Unmapped, _params
from engine.n8n.translate import MapContext

__all__ = ["ITEMS", "ITEM_MAPPERS", "items_of"]

# n8n's items as a list: a list input is the items, any other value is one item (the
# comprehension equals the input only for a list, so no type test is needed)
def items_of(base: str) -> str:
    """The items expression over `base` (`input`, or `input.body` after an HTTP request)."""
    return f"{{{{ {base} if {base} == [x for x in {base}] else [{base}] }}}}"


ITEMS = items_of("input")


def _on_item(ctx: MapContext) -> MapContext:
    """The same context with `$json` reading the element (`item`) instead of the input."""
    return MapContext(ctx.node_id, ctx.summary, Context(input_base="item", node_base=ctx.js.node_base, notes=ctx.js.notes, variables=ctx.js.variables), ctx.notes)


def _field(name: str) -> str:
    parts = [p for p in str(name).split(".") if p]
    return "item" + "".join(f".{p}" if p.isidentifier() and not p.startswith("_") else f"[{p!r}]" for p in parts)


def filter_node(node: dict[str, Any], ctx: MapContext) -> Mapped:
    p = _params(node)
    try:
        cond = v2_condition(_on_item(ctx), p.get("conditions") or {})
    except ConditionUnmapped as exc:
        raise Unmapped(f"condition: {exc}") from None
    ports = ["out", "discarded"] if (p.get("options") or {}).get("allowDiscarded") else ["out"]
    return Mapped(type="filter", config={"items": items_of(ctx.js.input_base), "condition": "{{ " + cond + " }}"}, ports=ports)


def sort(node: dict[str, Any], ctx: MapContext) -> Mapped:
    p = _params(node)
    if p.get("type", "simple") != "simple":
        raise Unmapped(f"sort type {p['type']!r} has no counterpart")
    fields = (p.get("sortFieldsUi") or {}).get("sortField") or []
    if not fields:
        raise Unmapped("sort without a field")
    if len(fields) > 1:
        ctx.notes.append("sorted by the first field only")
    f = fields[0]
    return Mapped(type="sort", config={"items": items_of(ctx.js.input_base), "key": "{{ " + _field(f.get("fieldName", "")) + " }}",
                                       "reverse": f.get("order", "ascending") == "descending"})  # fmt: skip


def limit(node: dict[str, Any], ctx: MapContext) -> Mapped:
    p = _params(node)
    side = "end" if p.get("keep", "firstItems") == "lastItems" else "start"
    return Mapped(type="limit", config={"items": items_of(ctx.js.input_base), "count": int(p.get("maxItems", 1)), "from": side})


def remove_duplicates(node: dict[str, Any], ctx: MapContext) -> Mapped:
    p = _params(node)
    config: dict[str, Any] = {"items": items_of(ctx.js.input_base)}
    compare = p.get("compare", "allFields")
    if compare == "selectedFields":
        names = [n.strip() for n in str(p.get("fieldsToCompare", "")).split(",") if n.strip()]
        config["key"] = "{{ [" + ", ".join(_field(n) for n in names) + "] }}"
    elif compare != "allFields":
        raise Unmapped(f"compare {compare!r} has no counterpart")
    return Mapped(type="remove_duplicates", config=config)


def aggregate(node: dict[str, Any], ctx: MapContext) -> Mapped:
    p = _params(node)
    if p.get("aggregate", "aggregateIndividualFields") == "aggregateAllItemData":
        name = p.get("destinationFieldName", "data")
        return Mapped(type="aggregate", config={"items": items_of(ctx.js.input_base), "fields": {name: {"op": "list", "value": "{{ item }}"}}})
    fields = {}
    for f in (p.get("fieldsToAggregate") or {}).get("fieldToAggregate") or []:
        src = f.get("fieldToAggregate", "")
        name = f.get("outputFieldName") if f.get("renameField") else src
        fields[str(name)] = {"op": "list", "value": "{{ " + _field(src) + " }}"}
    return Mapped(type="aggregate", config={"items": items_of(ctx.js.input_base), "fields": fields})


def split_in_batches(node: dict[str, Any], ctx: MapContext) -> Mapped:
    p = _params(node)
    if int(p.get("batchSize", 1) or 1) != 1:
        ctx.notes.append(f"batches of {p.get('batchSize')} run one item at a time")
    ports = ["done", "loop"] if node.get("typeVersion", 1) >= 3 else ["loop"]
    return Mapped(type="loop", config={"items": items_of(ctx.js.input_base)}, ports=ports)


def read_write_file(node: dict[str, Any], ctx: MapContext) -> Mapped:
    p = _params(node)
    if p.get("operation", "read") == "read":
        return Mapped(type="read_file", config={"path": ctx.value(p.get("fileSelector", ""), "parameters.fileSelector"), "format": "text"})
    ctx.notes.append("writes the input value as JSON text (n8n writes a binary property)")
    return Mapped(type="write_file", config={"path": ctx.value(p.get("fileName", ""), "parameters.fileName"),
                                             "content": "{{ input }}", "format": "json", "mode": "overwrite"})  # fmt: skip


def execute_command(node: dict[str, Any], ctx: MapContext) -> Mapped:
    p = _params(node)
    command = ctx.value(p.get("command", ""), "parameters.command")
    return Mapped(type="execute_command", config={"command": ["sh", "-c", command]})


ITEM_MAPPERS = {
    "filter": filter_node, "sort": sort, "limit": limit, "removeDuplicates": remove_duplicates,
    "aggregate": aggregate, "splitInBatches": split_in_batches, "readWriteFile": read_write_file,
    "executeCommand": execute_command,
}  # fmt: skip
