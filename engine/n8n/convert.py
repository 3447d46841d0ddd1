"""An n8n workflow export -> a `processengine/1` Workflow plus an ImportSummary.

Two passes: first every node's ProcessEngine type is decided (so a mapper knows
which upstream nodes are HTTP requests, whose n8n item is the response body),
then parameters are mapped. Connections are keyed by node name and output index
in n8n; each index becomes the port the mapper named. Sticky notes become notes.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from engine.errors import Problem, WorkflowInvalid
from engine.model import Connection, Node, Note, Workflow
from engine.n8n import mappers as core
from engine.n8n import mappers_data as data
from engine.n8n.jsexpr import Context
from engine.n8n.mappers import Mapped, Unmapped
from engine.n8n.mappers_items import ITEM_MAPPERS
from engine.n8n.summary import ImportSummary, NodeEntry
from engine.n8n.translate import MapContext

__all__ = ["convert", "is_n8n_workflow"]

log = logging.getLogger(__name__)

MAPPERS: dict[str, Any] = {
    "manualTrigger": core.manual_trigger, "webhook": core.webhook, "scheduleTrigger": core.schedule_trigger,
    "cron": core.cron, "wait": core.wait, "if": core.if_node, "switch": core.switch, "merge": core.merge,
    "noOp": core.no_op, "respondToWebhook": core.respond_to_webhook, "executeWorkflow": core.execute_workflow,
    "httpRequest": data.http_request, "emailSend": data.email_send, "set": data.set_node,
    "code": data.code, "function": data.code, "functionItem": data.code, "stopAndError": data.stop_and_error,
    "splitOut": data.split_out,
    **ITEM_MAPPERS,
}  # fmt: skip
NEEDS_HTTP_NAMES = frozenset({"code", "function", "functionItem", "stopAndError", "set", "splitOut"})
STICKY = "stickyNote"


def short_type(n8n_type: str) -> str:
    """`n8n-nodes-base.httpRequest` -> `httpRequest`; other packages keep their full name."""
    prefix, _, name = n8n_type.rpartition(".")
    return name if prefix == "n8n-nodes-base" else n8n_type


def is_n8n_workflow(doc: Any) -> bool:
    """An n8n export: `nodes` whose entries have a `type` like `n8n-nodes-base.x`, and `connections` by name."""
    if not isinstance(doc, dict) or "format" in doc:
        return False
    nodes, conns = doc.get("nodes"), doc.get("connections")
    return isinstance(nodes, list) and isinstance(conns, dict) and all(
        isinstance(n, dict) and isinstance(n.get("type"), str) and "." in n["type"] for n in nodes
    )


def convert(doc: Any, *, file: str | None = None) -> tuple[Workflow, ImportSummary]:
    """Map an n8n export; raise WorkflowInvalid (naming the file) if it is not one."""
    if not is_n8n_workflow(doc):
        raise WorkflowInvalid([Problem("not an n8n workflow export (expected 'nodes' with n8n types and 'connections' by node name)", file=file)], file)
    summary = ImportSummary(source=file)
    raw_nodes = [n for n in doc["nodes"] if short_type(n["type"]) != STICKY]
    names = _unique_names(raw_nodes)
    ids = _unique_ids(raw_nodes)
    links = _links(doc["connections"], summary)
    sources = _main_sources(links)
    kinds = {str(n.get("name")): short_type(n["type"]) for n in raw_nodes}
    http = _response_shaped(raw_nodes, sources)
    merged = {name: [u in http for u in _merge_inputs(links, name)] for name, kind in kinds.items() if kind == "merge"}
    wf = Workflow(id=str(uuid.uuid4()), name=str(doc.get("name") or "Imported from n8n"))
    ports: dict[str, list[str]] = {}
    variables: set[str] = set()
    for i, raw in enumerate(raw_nodes):
        ups = sources.get(str(raw.get("name")), [])
        after_merge = merged.get(ups[0]) if len(set(ups)) == 1 else None
        node, entry, out_ports = _map_node(raw, ids[i], names[i], http, ups, summary, variables, after_merge)
        wf._nodes.append(node)
        wf._by_id[node.id] = node
        summary.nodes.append(entry)
        ports[str(raw.get("name"))] = out_ports
    # n8n's $vars live on the server: declare each one read, empty, for the user to fill in
    # (the variables table, or --var); $env values are left out on purpose (often secrets)
    wf.variables = dict.fromkeys(sorted(variables), "")
    by_name = {str(raw.get("name")): ids[i] for i, raw in enumerate(raw_nodes)}
    wf.connections = _connections(links, by_name, ports, summary)
    summary.connections = len(wf.connections)
    wf.notes = [_note(n) for n in doc["nodes"] if short_type(n["type"]) == STICKY]
    summary.notes = len(wf.notes)
    return wf, summary


def _unique_names(raw_nodes: list[dict[str, Any]]) -> list[str]:
    seen: set[str] = set()
    out = []
    for n in raw_nodes:
        name, i = str(n.get("name") or short_type(n["type"])), 2
        base = name
        while name in seen:
            name, i = f"{base} {i}", i + 1
        seen.add(name)
        out.append(name)
    return out


def _unique_ids(raw_nodes: list[dict[str, Any]]) -> list[str]:
    seen: set[str] = set()
    out = []
    for n in raw_nodes:
        nid = str(n.get("id") or "")
        if not nid or nid in seen:
            nid = str(uuid.uuid4())
        seen.add(nid)
        out.append(nid)
    return out


PASS_THROUGH = frozenset({"if", "switch", "wait", "noOp"})


def _response_shaped(raw_nodes: list[dict[str, Any]], sources: dict[str, list[str]]) -> frozenset[str]:
    """Names of the nodes whose output is an HTTP response ({status, headers, body}): HTTP
    requests, and nodes that pass such a value on unchanged (if, switch, wait, no-op). n8n's
    item there is the body, so `$json` / `$('Name').item.json` read `.body`."""
    kinds = {str(n.get("name")): short_type(n["type"]) for n in raw_nodes}
    shaped = {name for name, kind in kinds.items() if kind == "httpRequest"}
    changed = True
    while changed:  # a fixed point: cycles (polling loops) pass the shape around too
        changed = False
        for name, kind in kinds.items():
            ups = sources.get(name, [])
            if kind in PASS_THROUGH and name not in shaped and ups and all(u in shaped for u in ups):
                shaped.add(name)
                changed = True
    return frozenset(shaped)


def _links(conns: Any, summary: ImportSummary) -> list[tuple[str, str, int, str, int]]:
    """n8n's `{source: {kind: [[{node, index}], ...]}}` as (source, kind, output index, target,
    input index); entries of the wrong shape are listed as connections not kept."""
    links: list[tuple[str, str, int, str, int]] = []
    if not isinstance(conns, dict):
        return links
    for src, kinds in conns.items():
        for kind, outputs in (kinds.items() if isinstance(kinds, dict) else ()):
            for index, targets in enumerate(outputs if isinstance(outputs, list) else ()):
                for t in targets if isinstance(targets, list) else ():
                    if isinstance(t, dict) and isinstance(t.get("node"), str):
                        to_index = t.get("index", 0)
                        links.append((str(src), str(kind), index, t["node"], to_index if isinstance(to_index, int) else 0))
                    else:
                        summary.dropped_connections.append(f"{src} output {index}: an entry of the wrong shape ({t!r:.40})")
    return links


def _merge_inputs(links: list[tuple[str, str, int, str, int]], merge: str) -> list[str]:
    """The nodes feeding a Merge, in the order its output lists them (input index, then file order)."""
    feeding = [(to_index, src) for src, kind, _, target, to_index in links if kind == "main" and target == merge]
    return [src for _, src in sorted(feeding, key=lambda pair: pair[0])]


def _main_sources(links: list[tuple[str, str, int, str, int]]) -> dict[str, list[str]]:
    """Target node name -> names of the nodes feeding its main input."""
    out: dict[str, list[str]] = {}
    for src, kind, _, target, _ in links:
        if kind == "main":
            out.setdefault(target, []).append(src)
    return out


def _map_node(
    raw: dict[str, Any], node_id: str, name: str, http: frozenset[str], upstream: list[str], summary: ImportSummary,
    variables: set[str], merged: list[bool] | None = None,
) -> tuple[Node, NodeEntry, list[str]]:
    n8n_type = str(raw["type"])
    short = short_type(n8n_type)
    js = Context(
        input_base="input.body" if upstream and all(u in http for u in upstream) else "input",
        node_base=lambda ref: f"nodes[{ref!r}].body" if ref in http else f"nodes[{ref!r}]",
        variables=variables,
        merged=merged,
    )
    ctx = MapContext(node_id, summary, js)
    mapper = MAPPERS.get(short)
    mapped: Mapped | None = None
    reason = None
    if mapper is not None:
        before = len(summary.expressions)
        try:
            mapped = mapper(raw, ctx, http) if short in NEEDS_HTTP_NAMES else mapper(raw, ctx)
        except (Unmapped, LookupError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            # a parameter of a shape this mapper did not expect: a placeholder, never a traceback
            reason = str(exc) if isinstance(exc, Unmapped) else f"unexpected parameters ({type(exc).__name__}: {exc})"
            del summary.expressions[before:]
    else:
        reason = "no counterpart for this node type"
    if mapped is None:
        mapped = _unsupported(raw, reason or "")
    ctx.notes.extend(dict.fromkeys(js.notes))
    node = Node(
        id=node_id, type=mapped.type, name=name, position=_position(raw), config=mapped.config,
        disabled=raw.get("disabled") is True,
    )  # fmt: skip
    out_ports = list(mapped.ports)
    _apply_settings(raw, node, out_ports, ctx)
    entry = NodeEntry(node_id=node_id, name=name, n8n_type=n8n_type, type_version=_version(raw), type=node.type, notes=ctx.notes)
    if mapped.type == "unsupported" and reason:
        entry.notes.insert(0, reason)
    return node, entry, out_ports


def _unsupported(raw: dict[str, Any], reason: str) -> Mapped:
    creds = {k: v.get("name") for k, v in _dict(raw.get("credentials")).items() if isinstance(v, dict)}
    outputs = ["out"]
    if short_type(str(raw["type"])) in ("if", "filter"):
        outputs = ["out", "out 2"]
    config = {
        "original_type": raw["type"], "type_version": _version(raw), "reason": reason,
        "parameters": _dict(raw.get("parameters")), "credentials": creds, "outputs": outputs,
    }  # fmt: skip
    return Mapped(type="unsupported", config=config, ports=outputs)


def _position(raw: dict[str, Any]) -> tuple[float, float]:
    pos = raw.get("position")
    if not isinstance(pos, list | tuple) or len(pos) < 2:
        return 0.0, 0.0
    x, y = pos[0], pos[1]
    ok = all(isinstance(v, int | float) and not isinstance(v, bool) and abs(v) < 1e9 for v in (x, y))
    return (float(x), float(y)) if ok else (0.0, 0.0)


def _apply_settings(raw: dict[str, Any], node: Node, ports: list[str], ctx: MapContext) -> None:
    """Node settings: on error, retry on fail, and the ones with no counterpart (noted)."""
    on_error = raw.get("onError")
    if on_error == "continueErrorOutput":
        node.on_error = "route"
        ports.append("error")
    elif on_error == "continueRegularOutput" or raw.get("continueOnFail"):
        node.on_error = "continue"
    if node.type == "unsupported" and node.on_error == "route":
        node.config["outputs"] = [*node.config["outputs"], "error"]
        ports.pop()
        ports.append("error")
    if raw.get("retryOnFail") is True:
        wait_s = min(_number(raw.get("waitBetweenTries"), 1000.0) / 1000, 3600.0)
        tries = min(int(_number(raw.get("maxTries"), 3.0)), 100)
        node.retry = {"max_attempts": max(tries, 1), "initial_delay_s": wait_s, "multiplier": 1.0, "max_delay_s": wait_s, "jitter": False}
    for key, text in (("alwaysOutputData", "always output data"), ("executeOnce", "execute once")):
        if raw.get(key):
            ctx.notes.append(f"'{text}' has no counterpart (one value flows anyway)")


def _connections(links: list[tuple[str, str, int, str, int]], by_name: dict[str, str], ports: dict[str, list[str]],
                 summary: ImportSummary) -> list[Connection]:  # fmt: skip
    """Each link -> a connection from the port the mapper named; merge inputs in index order."""
    found: list[tuple[int, Connection]] = []
    for src, kind, index, target, to_index in links:
        label = f"{src} output {index} -> {target}"
        if kind != "main":
            summary.dropped_connections.append(f"{label}: {kind} connections have no counterpart")
        elif src not in by_name or target not in by_name:
            summary.dropped_connections.append(f"{label}: unknown node")
        elif index >= len(ports[src]):
            summary.dropped_connections.append(f"{label}: the node has no output {index}")
        else:
            found.append((to_index, Connection(by_name[src], ports[src][index], by_name[target], "in")))
    found.sort(key=lambda pair: pair[0])  # stable: a merge's input 0 before input 1
    out: list[Connection] = []
    for _, c in found:
        if c not in out:
            out.append(c)
    return out


def _note(raw: dict[str, Any]) -> Note:
    p = _dict(raw.get("parameters"))
    return Note(
        id=str(raw.get("id") or uuid.uuid4()), text=str(p.get("content", "")), position=_position(raw),
        size=(_number(p.get("width"), 240.0), _number(p.get("height"), 160.0)),
    )  # fmt: skip


def _version(raw: dict[str, Any]) -> float | int | None:
    v = raw.get("typeVersion")
    return v if isinstance(v, int | float) and not isinstance(v, bool) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any, default: float) -> float:
    """A finite positive number from the file, else the default."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e9:
        return default
    return float(value)
