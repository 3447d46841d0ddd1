"""What an import did, node by node: mapped, translated expressions, unsupported.

The CLI prints it (`to_text`, `to_json`) and the app's import dialog lists it with
links to the nodes (each entry carries the imported node's id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ExpressionEntry", "ImportSummary", "NodeEntry"]


@dataclass(slots=True, kw_only=True)
class ExpressionEntry:
    """One n8n expression: translated (with its new text) or left as it was (with why)."""

    node_id: str
    field: str
    original: str
    translated: str | None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "field": self.field, "original": self.original,
            "translated": self.translated, "reason": self.reason,
        }  # fmt: skip


@dataclass(slots=True, kw_only=True)
class NodeEntry:
    """One n8n node and what it became."""

    node_id: str
    name: str
    n8n_type: str
    type_version: float | int | None
    type: str  # the ProcessEngine type ("unsupported" when nothing maps)
    notes: list[str] = field(default_factory=list)

    @property
    def supported(self) -> bool:
        return self.type != "unsupported"

    def to_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "name": self.name, "n8n_type": self.n8n_type,
            "type_version": self.type_version, "type": self.type, "notes": list(self.notes),
        }  # fmt: skip


@dataclass(slots=True, kw_only=True)
class ImportSummary:
    source: str | None = None
    nodes: list[NodeEntry] = field(default_factory=list)
    expressions: list[ExpressionEntry] = field(default_factory=list)
    notes: int = 0  # sticky notes kept
    connections: int = 0  # connections kept
    dropped_connections: list[str] = field(default_factory=list)  # why each was not kept

    @property
    def mapped(self) -> list[NodeEntry]:
        return [n for n in self.nodes if n.supported]

    @property
    def unsupported(self) -> list[NodeEntry]:
        return [n for n in self.nodes if not n.supported]

    @property
    def translated(self) -> list[ExpressionEntry]:
        return [e for e in self.expressions if e.translated is not None]

    @property
    def untranslated(self) -> list[ExpressionEntry]:
        return [e for e in self.expressions if e.translated is None]

    def node_name(self, node_id: str) -> str:
        return next((n.name for n in self.nodes if n.node_id == node_id), node_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "counts": {
                "nodes": len(self.nodes), "mapped": len(self.mapped), "unsupported": len(self.unsupported),
                "expressions": len(self.expressions), "translated": len(self.translated),
                "untranslated": len(self.untranslated), "notes": self.notes,
                "connections": self.connections, "dropped_connections": len(self.dropped_connections),
            },
            "mapped": [n.to_json() for n in self.mapped],
            "unsupported": [n.to_json() for n in self.unsupported],
            "expressions": [e.to_json() for e in self.expressions],
            "dropped_connections": list(self.dropped_connections),
        }  # fmt: skip

    def to_text(self) -> str:
        lines = [
            f"{len(self.nodes)} nodes: {len(self.mapped)} mapped, {len(self.unsupported)} unsupported; "
            f"{len(self.translated)}/{len(self.expressions)} expressions translated; "
            f"{self.connections} connections, {self.notes} sticky notes"
        ]
        if self.mapped:
            lines.append("mapped:")
            for n in self.mapped:
                extra = f"  ({'; '.join(n.notes)})" if n.notes else ""
                lines.append(f"  {n.name} [{n.n8n_type} v{n.type_version}] -> {n.type}{extra}")
        if self.unsupported:
            lines.append("unsupported (kept as placeholders; validate fails until replaced):")
            lines.extend(f"  {n.name} [{n.n8n_type} v{n.type_version}]" for n in self.unsupported)
        if self.untranslated:
            lines.append("expressions left untranslated:")
            for e in self.untranslated:
                lines.append(f"  {self.node_name(e.node_id)} {e.field}: {e.reason}")
        if self.dropped_connections:
            lines.append("connections not kept:")
            lines.extend(f"  {d}" for d in self.dropped_connections)
        return "\n".join(lines) + "\n"
