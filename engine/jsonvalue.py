"""Strict JSON at the engine's edges: what comes in over HTTP and what a node may output.

Why: Python's `json` accepts `NaN`/`Infinity` and writes them back out, although they
are not JSON, and a JSON text may hold an integer over Python's 4,300-digit limit for
int/str conversion, or nest deeper than the C parser's recursion limit. Each of those
would get into a run and then fail far away (a checkpoint that cannot be written, a
`--json` line that does not parse). Here they are refused where they arrive, with a
message that says what was wrong.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["JSONValueError", "MalformedJSON", "loads_strict", "unstorable"]


class JSONValueError(ValueError):
    """A JSON text or value the engine refuses; `str()` says why, for the user."""


class MalformedJSON(JSONValueError):
    """The text is not JSON at all (as opposed to JSON holding a value the engine refuses)."""


def _refuse_constant(name: str) -> Any:
    raise JSONValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise JSONValueError(f"the number {text[:40]} is too large for a JSON number")
    return value


_decode = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float).decode
_strict = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def loads_strict(text: str) -> Any:
    """Parse strict JSON: no NaN/Infinity, integers under 4,300 digits, no lone surrogate,
    not nested past the parser's recursion limit (about 1,000 levels)."""
    try:
        value = _decode(text)
    except JSONValueError:
        raise
    except json.JSONDecodeError as exc:
        raise MalformedJSON(f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:  # the int digit limit
        raise JSONValueError(f"a number in the JSON is too large ({str(exc).split(';')[0]})") from None
    except RecursionError:
        raise JSONValueError("JSON nested too deeply") from None
    if ("\\ud" in text or "\\uD" in text) and unstorable(value):  # an escaped lone surrogate
        raise JSONValueError("the JSON holds text that is not valid Unicode (a lone surrogate such as \\ud800)")
    return value


def unstorable(value: Any) -> str | None:
    """Why `value` cannot be written as strict JSON text, or None when it can."""
    try:
        _strict.encode(value).encode("utf-8")
    except UnicodeEncodeError:
        return "it holds text that is not valid Unicode (a lone surrogate such as \\ud800)"
    except ValueError as exc:
        text = str(exc)
        if "Out of range float" in text:
            return "it holds NaN or Infinity, which JSON does not have"
        if "4300" in text or "digits" in text:
            return "it holds an integer over 4,300 digits"
        return text
    except RecursionError:
        return "it is nested too deeply"
    except TypeError as exc:
        return str(exc)
    return None
