"""The node-type registry: type name -> NodeSpec, plus config validation for the loader.

Built-in modules are imported on first use so `import engine` stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from typing import Any

from pydantic import ValidationError

from engine.errors import Problem
from engine.model import Node
from engine.nodes.base import NodeSpec

__all__ = [
    "BUILTIN_MODULES",
    "BUILTIN_TYPES",
    "all_specs",
    "find_spec",
    "fingerprint",
    "get_spec",
    "has_expression",
    "known_types",
    "register",
    "validate_node_config",
]

# node type -> the module that registers it; modules are imported on first use of
# their type, so a run imports only the node types its workflow uses (CLI start-up)
BUILTIN_TYPES: dict[str, str] = {
    "manual_trigger": "engine.nodes.manual_trigger",
    "webhook_trigger": "engine.nodes.webhook_trigger",
    "schedule_trigger": "engine.nodes.schedule_trigger",
    "respond_webhook": "engine.nodes.respond_webhook",
    "http_request": "engine.nodes.http_request",
    "send_email": "engine.nodes.send_email",
    "if": "engine.nodes.if_node",
    "switch": "engine.nodes.switch",
    "loop": "engine.nodes.loop",
    "set": "engine.nodes.set_node",
    "merge": "engine.nodes.merge",
    "wait": "engine.nodes.wait",
    "sub_workflow": "engine.nodes.sub_workflow",
    "code": "engine.nodes.code",
    "execute_command": "engine.nodes.execute_command",
    "filter": "engine.nodes.filter",
    "sort": "engine.nodes.sort",
    "limit": "engine.nodes.limit",
    "remove_duplicates": "engine.nodes.remove_duplicates",
    "aggregate": "engine.nodes.aggregate",
    "no_op": "engine.nodes.no_op",
    "read_file": "engine.nodes.read_file",
    "write_file": "engine.nodes.write_file",
    "sql_query": "engine.nodes.sql_query",
    "unsupported": "engine.nodes.unsupported",
}
BUILTIN_MODULES = tuple(dict.fromkeys(BUILTIN_TYPES.values()))

_REGISTRY: dict[str, NodeSpec] = {}
_loaded = False


def register(spec: NodeSpec) -> NodeSpec:
    _REGISTRY[spec.type] = spec
    return spec


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in BUILTIN_MODULES:
        importlib.import_module(mod)


def find_spec(node_type: str) -> NodeSpec | None:
    spec = _REGISTRY.get(node_type)
    if spec is None:
        module = BUILTIN_TYPES.get(node_type)
        if module is None:
            return None
        importlib.import_module(module)
        spec = _REGISTRY.get(node_type)
    return spec


def get_spec(node_type: str) -> NodeSpec:
    spec = find_spec(node_type)
    if spec is None:
        raise KeyError(f"unknown node type {node_type!r}")
    return spec


def fingerprint() -> str:
    """The node types registered from elsewhere than their built-in module (a plugin, or
    a built-in replaced), each with its spec's and schema's classes, their modules' files
    (size, times) and the spec's `version` if it has one: what decides configs' verdicts
    beyond the engine's own files (`engine.compiled` keys its verdicts with both). Empty
    when every type is a built-in, imported or not."""
    parts = []
    for node_type, spec in sorted(_REGISTRY.items()):
        cls, model = type(spec), spec.config_model
        if BUILTIN_TYPES.get(node_type) == cls.__module__:  # a built-in: its code is the engine's
            continue
        parts.append(
            f"{node_type}:{cls.__module__}.{cls.__qualname__}:{model.__module__}.{model.__qualname__}"
            f":{getattr(spec, 'version', '')}:{_module_stamp(cls.__module__)}:{_module_stamp(model.__module__)}"
        )
    return "\n".join(parts)


def _module_stamp(name: str) -> str:
    """Size and times of a module's file ('' when it has none)."""
    import os
    import sys

    path = getattr(sys.modules.get(name), "__file__", None)
    try:
        st = os.stat(path) if path else None
    except OSError:
        st = None
    return f"{st.st_size}/{st.st_mtime_ns}/{st.st_ctime_ns}" if st else ""


def known_types() -> list[str]:
    return sorted({*BUILTIN_TYPES, *_REGISTRY})


def all_specs() -> list[NodeSpec]:
    _ensure_loaded()
    return list(_REGISTRY.values())


def has_expression(value: Any) -> bool:
    """True if any string inside `value` holds `{{` (asked of every node's config before
    a run: a loop, not a generator per container)."""
    t = type(value)
    if t is dict:  # the plain types first: no isinstance call for a config's own dicts
        items: Any = value.values()
    elif t is list:
        items = value
    elif t is str or isinstance(value, str):
        return "{{" in value
    elif isinstance(value, dict):
        items = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return False
    for item in items:
        kind = type(item)
        if kind is str:
            if "{{" in item:
                return True
        elif kind not in _SCALARS and has_expression(item):
            return True
    return False


_SCALARS = frozenset({int, float, bool, type(None)})


def validate_node_config(
    node: Node, *, file: str | None = None, expression_keys: Collection[str] | None = None
) -> list[Problem]:
    """Check a node's config against its type's schema before anything runs.

    Keys whose value holds an expression are checked after rendering, at run
    time (their type is unknown until then), so they are left out here. A caller
    that has walked the config already passes those keys as `expression_keys`.
    """
    spec = find_spec(node.type)
    if spec is None:
        known = ", ".join(known_types())
        return [Problem(f"unknown node type {node.type!r} (known: {known})", node_id=node.id, field="type", file=file)]
    config = node.config
    if not isinstance(config, dict):
        return [Problem("config must be an object", node_id=node.id, field="config", file=file)]
    if expression_keys is None:
        expression_keys = [k for k, v in config.items() if has_expression(v)]
    not_rendered = spec.fields_not_rendered
    deferred = frozenset(k for k in expression_keys if k not in not_rendered) if not_rendered else frozenset(expression_keys)
    if len(deferred) == len(config):  # every key is an expression: the check depends on the keys alone
        found = _DEFERRED_ONLY.get((spec.config_model, deferred))
        if found is None:
            found = _all_deferred_problems(spec, deferred)
    else:
        found = _static_problems(spec, {k: v for k, v in config.items() if k not in deferred}, deferred)
    return [Problem(msg, node_id=node.id, field=field, file=file) for msg, field in found] if found else []


def _static_problems(spec: NodeSpec, data: dict[str, Any], deferred: frozenset[str]) -> list[tuple[str, str]]:
    """(message, field) of each problem of the keys known before the run."""
    try:
        spec.config_model.model_validate(data, context={"deferred": set(deferred)})
    except ValidationError as exc:
        problems = []
        for e in exc.errors(include_url=False):
            loc = [str(p) for p in e["loc"]]
            if loc and loc[0] in deferred:
                continue
            field = "config." + ".".join(loc) if loc else "config"
            problems.append((e["msg"], field))
        return problems
    return []


_DEFERRED_ONLY: dict[tuple[type[Any], frozenset[str]], list[tuple[str, str]]] = {}


def _all_deferred_problems(spec: NodeSpec, deferred: frozenset[str]) -> list[tuple[str, str]]:
    """`_static_problems` of a config whose every key holds an expression, once per node
    type and set of keys (a workflow of expression-only configs validated each alike)."""
    key = (spec.config_model, deferred)
    got = _DEFERRED_ONLY.get(key)
    if got is None:
        got = _DEFERRED_ONLY[key] = _static_problems(spec, {}, deferred)
    return got
