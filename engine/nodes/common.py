"""Small helpers shared by the built-in node schemas (registers no node type)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationInfo


def deferred_keys(info: ValidationInfo) -> set[str]:
    """Keys the load-time check left out because they hold expressions.

    `registry.validate_node_config` passes them as validation context; a
    cross-field check involving one of them waits for the rendered config.
    """
    ctx = info.context
    return set(ctx.get("deferred", ())) if isinstance(ctx, dict) else set()


def stringify_headers(v: Any) -> Any:
    """Header values rendered from expressions may be numbers or booleans; send them as text."""
    if isinstance(v, dict):
        return {
            k: ("true" if x is True else "false" if x is False else str(x))
            if isinstance(x, int | float)
            else x
            for k, x in v.items()
        }
    return v
