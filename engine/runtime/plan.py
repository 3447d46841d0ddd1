"""The run plan: what the orchestrator computes once per workflow (specs, routing,
retry policies, per-node facts) and how it renders and validates a node's config."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError  # loaded with the node specs anyway

from engine import expressions
from engine.errors import NodeError
from engine.graph import Routing
from engine.model import Node, Workflow
from engine.nodes.base import NodeSpec
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
        self.static: frozenset[str] = frozenset()  # configs without an expression (usually the fewer)
        self.triggers: list[str] = []
        self._facts(wf)
        by_type = self.by_type
        self.specs = SpecsByNode(self.nodes, by_type)
        self.routing = Routing.build(wf)
        merges = {t for t, s in by_type.items() if s.kind == "merge"}
        self.routing.incoming = {k: v for k, v in self.routing.incoming.items() if self.nodes[k].type in merges} if merges else {}
        self.static_cfg: dict[str, Any] = {}

    def _facts(self, wf: Workflow) -> None:
        """Specs by type and the per-node facts, in one pass over the nodes. A type whose
        answers depend on its `on_error` only (it overrides neither `has_side_effects` nor
        the output ports) is asked once per `on_error`: a chain of 2,000 `set` nodes, once."""
        from engine.nodes.registry import get_spec
        from engine.nodes.registry import has_expression as has_expr

        by_type = self.by_type
        fixed: dict[str, bool] = {}
        known: dict[tuple[str, str], tuple[bool, bool]] = {}  # (type, on_error) -> (side effects, several ports)
        side, multi, static, triggers, policies = [], [], [], self.triggers, self.policies
        for n in wf.nodes:
            node_id, t = n.id, n.type
            spec = by_type.get(t)
            if spec is None:
                spec = by_type[t] = get_spec(t)
                fixed[t] = all(_per_type(spec, m) for m in ("has_side_effects", "output_ports", "base_output_ports"))
            key = (t, n.on_error)
            facts = known.get(key)
            if facts is None:
                facts = (spec.has_side_effects(n), spec.kind != "loop" and len(spec.output_ports(n)) > 1)
                if fixed[t]:
                    known[key] = facts
            if facts[0]:
                side.append(node_id)
            if facts[1]:
                multi.append(node_id)
            if spec.is_trigger:
                triggers.append(node_id)
            if n.retry is not None:
                policies[node_id] = policy_for(n.retry, spec.default_retry)
            if not has_expr(n.config):
                static.append(node_id)
        self.side_effects, self.multi_port, self.static = frozenset(side), frozenset(multi), frozenset(static)

    def policy(self, node: Node) -> RetryPolicy:
        """The node's retry policy: its own, else its type's default."""
        got = self.policies.get(node.id)
        return got if got is not None else policy_for(None, self.specs[node.id].default_retry)

    def config(self, node: Node, names_factory: Callable[[], dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
        """Render and validate a node's config (static configs are validated once)."""
        node_id = node.id
        spec = self.by_type[node.type]
        if node_id in self.static:
            got = self.static_cfg.get(node_id)
            if got is None:
                got = self.static_cfg[node_id] = (self._validate(node, spec, node.config), node.config)
            return got
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
