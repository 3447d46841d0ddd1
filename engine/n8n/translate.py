"""n8n parameter values -> ProcessEngine config values, recording every expression.

In n8n a parameter is an expression when its text starts with `=`; the `{{ }}`
parts inside are JavaScript. Each one goes through `jsexpr.translate_expression`;
the result (or the reason it could not be translated) is recorded in the import
summary with the node and field. An untranslated expression keeps its original
text, so `validate` points at that very field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.n8n.jsexpr import Context, Untranslatable, translate_expression
from engine.n8n.summary import ExpressionEntry, ImportSummary

__all__ = ["MapContext", "split_template"]


def split_template(text: str) -> list[tuple[bool, str]]:
    """`a {{ x }} b` -> [(False, 'a '), (True, ' x '), (False, ' b')]; braces inside the
    JavaScript (object literals, strings) do not end the expression."""
    parts: list[tuple[bool, str]] = []
    i = 0
    while True:
        start = text.find("{{", i)
        if start < 0:
            if i < len(text):
                parts.append((False, text[i:]))
            return parts
        if start > i:
            parts.append((False, text[i:start]))
        end = _closing(text, start + 2)
        if end < 0:
            parts.append((False, text[start:]))
            return parts
        parts.append((True, text[start + 2:end]))
        i = end + 2


def _closing(text: str, pos: int) -> int:
    depth = 0
    quote = ""
    while pos < len(text):
        ch = text[pos]
        if quote:
            if ch == "\\":
                pos += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0 and text.startswith("}}", pos):
                return pos
            depth -= 1
        pos += 1
    return -1


@dataclass(slots=True)
class MapContext:
    """What a node mapper needs: the node's id, how `$json` reads, the summary to record in."""

    node_id: str
    summary: ImportSummary
    js: Context
    notes: list[str] = field(default_factory=list)

    def expr(self, js: str, field_path: str, original: str | None = None) -> str | None:
        """Python source for one JavaScript expression, or None (recorded as untranslated)."""
        before = len(self.js.notes)
        try:
            py = translate_expression(js, self.js)
        except Untranslatable as exc:
            self.summary.expressions.append(ExpressionEntry(
                node_id=self.node_id, field=field_path, original=original or js, translated=None, reason=str(exc),
            ))  # fmt: skip
            return None
        self.summary.expressions.append(ExpressionEntry(
            node_id=self.node_id, field=field_path, original=original or js, translated=py,
            reason="; ".join(self.js.notes[before:]) or None,
        ))  # fmt: skip
        return py

    def value(self, v: Any, field_path: str) -> Any:
        """A parameter value with every expression inside translated (dicts and lists too)."""
        if isinstance(v, dict):
            return {k: self.value(x, f"{field_path}.{k}") for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x, f"{field_path}[{i}]") for i, x in enumerate(v)]
        if not isinstance(v, str) or not v.startswith("="):
            return v
        return self.template(v[1:], field_path)

    def template(self, text: str, field_path: str) -> Any:
        """`a {{ js }} b` -> `a {{ py }} b`; the whole text if any part cannot be translated."""
        parts = split_template(text)
        if not any(is_expr for is_expr, _ in parts):
            return text
        out = []
        ok = True
        for is_expr, piece in parts:
            if not is_expr:
                out.append(piece)
                continue
            py = self.expr(piece, field_path, original="=" + text)
            if py is None:
                ok = False
                break
            out.append("{{ " + py + " }}")
        return "".join(out).strip() if ok and len(parts) == 1 else ("".join(out) if ok else "=" + text)

    def is_expression(self, v: Any) -> bool:
        return isinstance(v, str) and v.startswith("=") and "{{" in v

    def inline(self, v: Any, field_path: str) -> str | None:
        """A value as Python source to embed in a larger expression (conditions): a literal as
        its repr, a single `={{ js }}` as the translated expression; None if untranslatable."""
        if isinstance(v, str) and v.startswith("="):
            parts = split_template(v[1:])
            if len(parts) == 1 and parts[0][0]:
                return self.expr(parts[0][1], field_path, original=v)
            if not any(is_expr for is_expr, _ in parts):
                return repr(v[1:])
            pieces = []
            for is_expr, piece in parts:
                if is_expr:
                    py = self.expr(piece, field_path, original=v)
                    if py is None:
                        return None
                    pieces.append(f"str({py})")
                else:
                    pieces.append(repr(piece))
            return " + ".join(pieces)
        return repr(v)
