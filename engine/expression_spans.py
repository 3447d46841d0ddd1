"""Where the `{{ ... }}` expressions of a string field are: the careful scan that
tracks braces and quotes inside an expression (`{{ {"a": {"b": 1}} }}` is one span).

Kept apart from `engine.expressions` (which re-exports `find_expressions`) so that
module stays a readable size; the scan itself has no other user.
"""

from __future__ import annotations

import re

from engine.errors import ExpressionError

__all__ = ["find_expressions"]


def find_expressions(text: str) -> list[tuple[int, int, str]]:
    """Spans `(start, end, inner)` of every `{{ }}` in `text` (`end` is past the `}}`).

    Braces and quotes inside an expression are tracked, so `{{ {"a": {"b": 1}} }}`
    is one span. An opening `{{` without a closing `}}` raises ExpressionError.
    """
    spans: list[tuple[int, int, str]] = []
    budget = 2 * len(text) + _SCAN_WINDOW  # keeps the careful scan linear on any text
    pos = text.find("{{")
    while pos != -1:
        stop = min(len(text), pos + 2 + min(budget, _SCAN_WINDOW))
        close = text.find("}}", pos + 2, stop)
        if close != -1 and not _TRICKY.search(text, pos + 2, close):
            end = close + 2  # nothing to track before the first `}}`: the careful scan ends there too
        else:
            end = _scan_end(text, pos + 2, stop) if budget > 0 else -1
        budget -= (stop if end == -1 else end) - pos
        if end == -1:  # unbalanced quotes/braces inside: fall back to the first `}}`
            close = text.find("}}", pos + 2)
            if close == -1:
                raise ExpressionError(
                    "unterminated '{{' (no matching '}}')",
                    expression=text[pos + 2 : pos + 82].strip() or None,
                    position=pos,
                )
            end = close + 2
        spans.append((pos, end, text[pos + 2 : end - 2].strip()))
        pos = text.find("{{", end)
    return spans


_SCAN_WINDOW = 10_010  # a longer expression is refused anyway (ExpressionLimits.max_length)
_TRICKY = re.compile(r"[{}'\"]")  # what makes the careful scan differ from finding `}}`


def _scan_end(text: str, i: int, stop: int) -> int:
    """Index just past the `}}` closing an expression starting at `i`, or -1 (by `stop`)."""
    depth = 0
    while i < stop:
        c = text[i]
        if c in "'\"":
            quote = text[i : i + 3] if text[i : i + 3] in ("'''", '"""') else c
            i += len(quote)
            while i < stop and not text.startswith(quote, i):
                i += 2 if text[i] == "\\" else 1
            if i >= stop:
                return -1
            i += len(quote)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            if depth == 0:
                return i + 2 if text.startswith("}}", i) else -1
            depth -= 1
        i += 1
    return -1
