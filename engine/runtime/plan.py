"""The run plan: what the orchestrator computes once per workflow (specs, routing,
retry policies, per-node facts) and how it renders and validates a node's config."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError  # loaded with the node specs anyway

from engine import expressions
from engine.errors import NodeError
from engine.graph import Routing
from engine.model import Node, Workflow
from engine.nodes.base import NodeSpec
from engine.nodes.registry import has_expression
from engine.runtime.retry import RetryPolicy, policy_for

__all__ = ["Plan"]


class SpecsByNode:
    """Node id -> the spec of its type (a dict entry per node cost ~40 bytes a node)."""

    __slots__ = ("_by_type", "_nodes")

    def __init__(self, nodes: Mapping[str, Node], by_type: dict[str, NodeSpec]) -> None:
        self._nodes = nodes
        self._by_type = by_type

    def __getitem__(self, node_id: str) -> NodeSpec:
        return self._by_type[self._nodes[node_id].type]


def _per_type(spec: NodeSpec, method: str) -> bool:
    """True when the spec's answer to `method(node)` depends on the node's type (and
    `on_error`) only: the type does not override the base class's method."""
    return getattr(type(spec), method) is getattr(NodeSpec, method)


_TYPE_AND_ON_ERROR = operator.attrgetter("type", "on_error")
_ONCE, _DYNAMIC = object(), object()  # `Plan.static_cfg`'s marks: rendered once; holds an expression


@cache
def _example(node_type: str, on_error: str) -> Node:
    """A node standing for every node of its (type, on_error), asked what the type answers
    for all of them (`_per_type`)."""
    return Node(id="", type=node_type, name="", on_error=on_error)


_MODEL_VALIDATE = BaseModel.model_validate.__func__  # type: ignore[attr-defined]
_validators: dict[type[BaseModel], Callable[[Any], Any]] = {}


def validator(model: type[BaseModel]) -> Callable[[Any], Any]:
    """`model.model_validate`, as its schema validator's own `validate_python` when the model
    does not override it: what `model_validate` calls with every option left unset, without
    passing six keyword arguments through two calls (about a third of validating a small config)."""
    got = _validators.get(model)
    if got is None:
        if getattr(model.model_validate, "__func__", None) is _MODEL_VALIDATE:
            got = model.__pydantic_validator__.validate_python
        else:
            got = model.model_validate
        _validators[model] = got
    return got


class Plan:
    """Per-workflow facts computed once: specs, routing, policies, names."""

    def __init__(self, wf: Workflow) -> None:
        self.wf = wf
        # no per-node maps of its own where the model has one: the nodes are the model's
        # index, a spec is found through the node's type, and of the routing only the
        # merges' inputs are kept (the orchestrator reads no other node's)
        self.nodes: Mapping[str, Node] = wf.by_id
        self.by_type: dict[str, NodeSpec] = {}
        # per-node facts as sets of the nodes they hold for (and retry policies only where
        # a node sets its own): a dict entry per node and fact was ~300 bytes a node
        self.policies: dict[str, RetryPolicy] = {}
        self.side_effects: frozenset[str] = frozenset()
        self.multi_port: frozenset[str] = frozenset()
        self.triggers: list[str] = []
        self._facts(wf)
        self.specs = SpecsByNode(self.nodes, self.by_type)
        self.routing = Routing.build(wf, incoming_kinds=frozenset({"merge"}))
        # a node's config, once it is known: (validated, raw) of a config without an expression
        # (validated once), _DYNAMIC of one with; _ONCE after its first render
        self.static_cfg: dict[str, Any] = {}

    def _facts(self, wf: Workflow) -> None:
        """Specs by type and the per-node facts. The nodes are looked at by their distinct
        (type, `on_error`) pairs, found in C: a type whose answers depend on its `on_error`
        only (it overrides neither `has_side_effects` nor the output ports) is asked once
        per pair, and only the nodes of a pair that holds a fact are visited - a chain of
        2,000 `set` nodes costs no Python line per node here."""
        from engine.nodes.registry import get_spec

        by_type = self.by_type
        nodes = wf.nodes
        side: list[str] = []
        multi: list[str] = []
        per_node: set[tuple[str, str]] = set()  # pairs whose nodes are asked one by one
        for key in dict.fromkeys(map(_TYPE_AND_ON_ERROR, nodes)):
            t = key[0]
            spec = by_type.get(t)
            if spec is None:
                spec = by_type[t] = get_spec(t)
            if not all(_per_type(spec, m) for m in ("has_side_effects", "output_ports", "base_output_ports")):
                per_node.add(key)
            elif spec.has_side_effects(_example(t, key[1])) or (spec.kind != "loop" and len(spec.output_ports(_example(t, key[1]))) > 1):
                per_node.add(key)  # every node of the pair holds a fact: listed below
        if per_node:
            for n in nodes:
                if (n.type, n.on_error) in per_node:
                    spec = by_type[n.type]
                    if spec.has_side_effects(n):
                        side.append(n.id)
                    if spec.kind != "loop" and len(spec.output_ports(n)) > 1:
                        multi.append(n.id)
        triggers = {t for t, spec in by_type.items() if spec.is_trigger}
        if triggers:
            self.triggers[:] = [n.id for n in nodes if n.type in triggers]
        for n in [n for n in nodes if n.retry is not None]:
            self.policies[n.id] = policy_for(n.retry, by_type[n.type].default_retry)
        self.side_effects, self.multi_port = frozenset(side), frozenset(multi)

    def policy(self, node: Node) -> RetryPolicy:
        """The node's retry policy: its own, else its type's default."""
        got = self.policies.get(node.id)
        return got if got is not None else policy_for(None, self.specs[node.id].default_retry)

    def config(self, node: Node, names_factory: Callable[[], dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
        """Render and validate a node's config. Whether it holds an expression is asked at
        its second run, not of every node before the run (most nodes run once): a config
        without one is validated once from then on."""
        node_id = node.id
        spec = self.by_type[node.type]
        known = self.static_cfg.get(node_id)
        if known is None:
            self.static_cfg[node_id] = _ONCE
        elif known is _ONCE:
            if not has_expression(node.config):
                got = self.static_cfg[node_id] = (self._validate(node, spec, node.config), node.config)
                return got
            self.static_cfg[node_id] = _DYNAMIC
        elif known is not _DYNAMIC:
            return known  # type: ignore[no-any-return]
        raw = expressions.render_config(node.config, spec.fields_not_rendered, names_factory(), node_id=node_id)
        return self._validate(node, spec, raw), raw

    @staticmethod
    def _validate(node: Node, spec: NodeSpec, raw: dict[str, Any]) -> Any:
        try:
            model = spec.config_model
            return (_validators.get(model) or validator(model))(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = "config." + ".".join(str(p) for p in first["loc"])
            raise NodeError(f"node {node.id!r}, field {field!r}: {first['msg']}", error_type="ConfigError") from None
