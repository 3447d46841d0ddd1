"""The node types offered to the user, grouped by category in a fixed order."""

from __future__ import annotations

from engine.nodes.base import NodeSpec
from engine.nodes.registry import all_specs

# Files, Database and Code hold the nodes that touch this machine: kept apart so a
# reader of the palette sees at once which nodes reach outside the workflow
CATEGORY_ORDER = ("Triggers", "Flow", "Data", "Files", "Database", "Code", "Network", "Actions")
NOT_OFFERED = frozenset({"unsupported"})  # placeholders come only from an import


def grouped_specs() -> list[tuple[str, list[NodeSpec]]]:
    """(category, specs sorted by title) in CATEGORY_ORDER, then any other category."""
    by_cat: dict[str, list[NodeSpec]] = {}
    for spec in all_specs():
        if spec.type in NOT_OFFERED:
            continue
        by_cat.setdefault(spec.category, []).append(spec)
    order = [c for c in CATEGORY_ORDER if c in by_cat] + sorted(c for c in by_cat if c not in CATEGORY_ORDER)
    return [(c, sorted(by_cat[c], key=lambda s: s.title.lower())) for c in order]


def matches(spec: NodeSpec, query: str) -> bool:
    """Every word of the query appears in the title, type, category or description."""
    hay = f"{spec.title} {spec.type} {spec.category} {spec.description}".lower()
    return all(word in hay for word in query.lower().split())


def score(spec: NodeSpec, query: str) -> int | None:
    """How well the query fits (lower is better), None when it does not match at all."""
    if not matches(spec, query):
        return None
    q = query.strip().lower()
    title = spec.title.lower()
    if not q:
        return 3
    if title.startswith(q):
        return 0
    if q in title or q in spec.type.lower():
        return 1
    return 2
