"""Switch: sends its input to the first case whose match equals a value.

Ports come from the case names (in the order written) plus `default`, so the
case names must be literal keys in the file; match values may be expressions.
Equality is JSON equality: `true` does not match `1`, `1` matches `1.0`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, SyncNodeSpec

RESERVED_PORTS = ("default", "error")


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: booleans are not numbers, containers compare element-wise."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


class SwitchConfig(NodeConfig):
    value: Any = Field(
        description="The value to compare, usually an expression like '{{ input.kind }}'."
    )
    cases: dict[str, Any] = Field(
        default_factory=dict,
        description="Case name -> the value it matches. Each name becomes an output port; the "
        "first matching case wins, no match goes to `default`.",
    )

    @field_validator("cases")
    @classmethod
    def _port_names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in v:
            if not name.strip():
                raise ValueError("case names must not be empty")
            if name in RESERVED_PORTS:
                raise ValueError(f"case name {name!r} is reserved (a port of its own)")
        return v


class SwitchSpec(SyncNodeSpec):
    type = "switch"
    title = "Switch"
    category = "Flow"
    description = (
        "Routes its input to the first case whose match equals the value, else to `default`."
    )
    icon = "switch"
    config_model = SwitchConfig
    pure = True

    def base_output_ports(self, node: Any) -> list[str]:
        cases = node.config.get("cases") if isinstance(node.config, dict) else None
        names = (
            [str(k) for k in cases if k not in RESERVED_PORTS] if isinstance(cases, dict) else []
        )
        return [*names, "default"]

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: SwitchConfig = ctx.config
        for name, match in cfg.cases.items():
            if json_equal(cfg.value, match):
                return NodeResult.out(value, name)
        return NodeResult.out(value, "default")


SPEC = registry.register(SwitchSpec())
