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
        from engine.nodes.registry import get_spec
        from engine.nodes.registry import has_expression as has_expr

        self.wf = wf
        # no per-node maps of its own where the model has one: the nodes are the model's
        # index, a spec is found through the node's type, and of the routing only the
        # merges' inputs are kept (the orchestrator reads no other node's)
        self.nodes: Mapping[str, Node] = wf.by_id
        self.by_type: dict[str, NodeSpec] = {t: get_spec(t) for t in dict.fromkeys(n.type for n in wf.nodes)}
        by_type = self.by_type
        self.specs = SpecsByNode(self.nodes, by_type)
        self.routing = Routing.build(wf)
        merges = {t for t, s in by_type.items() if s.kind == "merge"}
        self.routing.incoming = {k: v for k, v in self.routing.incoming.items() if self.nodes[k].type in merges} if merges else {}
        # per-node facts as sets of the nodes they hold for (and retry policies only where
        # a node sets its own): a dict entry per node and fact was ~300 bytes a node
        self.policies: dict[str, RetryPolicy] = {
            n.id: policy_for(n.retry, by_type[n.type].default_retry) for n in wf.nodes if n.retry is not None
        }
        self.side_effects = self._nodes_where(wf, "has_side_effects", lambda spec, n: spec.has_side_effects(n))
        self.multi_port = self._nodes_where(
            wf, "output_ports", lambda spec, n: spec.kind != "loop" and len(spec.output_ports(n)) > 1
        )
        self.static = frozenset(n.id for n in wf.nodes if not has_expr(n.config))  # usually the fewer
        self.static_cfg: dict[str, Any] = {}
        self.triggers = [n.id for n in wf.nodes if by_type[n.type].is_trigger]

    def _nodes_where(self, wf: Workflow, method: str, test: Callable[[NodeSpec, Node], bool]) -> frozenset[str]:
        """The nodes `test` holds for, asked once per type and `on_error` where the type's
        answer does not depend on the node (most types: a chain of 2,000 `set` nodes asks once)."""
        methods = (method, "base_output_ports") if method == "output_ports" else (method,)
        fixed = {t: all(_per_type(spec, m) for m in methods) for t, spec in self.by_type.items()}
        known: dict[tuple[str, str], bool] = {}
        found = []
        by_type = self.by_type
        for n in wf.nodes:
            if fixed[n.type]:
                key = (n.type, n.on_error)
                hit = known.get(key)
                if hit is None:
                    hit = known[key] = test(by_type[n.type], n)
            else:
                hit = test(by_type[n.type], n)
            if hit:
                found.append(n.id)
        return frozenset(found)

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
            return validator(spec.config_model)(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = "config." + ".".join(str(p) for p in first["loc"])
            raise NodeError(f"node {node.id!r}, field {field!r}: {first['msg']}", error_type="ConfigError") from None
