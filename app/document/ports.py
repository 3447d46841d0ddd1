"""Port names of a node, from its type's spec (the one place the app asks for them)."""

from __future__ import annotations

from engine.model import Node
from engine.nodes.base import NodeSpec
from engine.nodes.registry import find_spec


def spec_of(node: Node) -> NodeSpec | None:
    return find_spec(node.type)


def input_ports(node: Node, spec: NodeSpec | None = None) -> list[str]:
    spec = spec or spec_of(node)
    return ["in"] if spec is None else list(spec.input_ports(node))


def output_ports(node: Node, spec: NodeSpec | None = None) -> list[str]:
    """Outputs; a node of an unknown type still shows `out` (and `error` when routed)."""
    spec = spec or spec_of(node)
    if spec is None:
        return ["out", "error"] if node.on_error == "route" else ["out"]
    return list(spec.output_ports(node))
