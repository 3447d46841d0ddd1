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
import threading
from collections.abc import Callable
from json import encoder as _json_encoder
from typing import Any

__all__ = ["JSONValueError", "MalformedJSON", "checked_text", "compact_encoder", "loads_strict", "unstorable"]


class JSONValueError(ValueError):
    """A JSON text or value the engine refuses; `str()` says why, for the user."""


class MalformedJSON(JSONValueError):
    """The text is not JSON at all (as opposed to JSON holding a value the engine refuses)."""


def compact_encoder(*, default: Callable[[Any], Any] | None, allow_nan: bool) -> Callable[[Any], str]:
    """`JSONEncoder(ensure_ascii=False, separators=(",", ":"), ...).encode` without its
    per-call set-up (a new C encoder, a closure and two isinstance checks: about a third
    of encoding a node's small output); the text is the same. Each thread keeps one C encoder
    with its circular-reference markers, used by one call at a time: a call made while one
    is under way (a `default` that encodes again) makes one of its own; an error mid-way
    clears the markers it leaves (those of the containers it was inside), so the next call
    starts clean."""
    slow = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=default, allow_nan=allow_nan)
    make = getattr(_json_encoder, "c_make_encoder", None)
    if make is None:  # a Python built without the C accelerator
        return slow.encode
    on_other = slow.default  # what the encoder does with a value JSON has no type for
    to_text = _json_encoder.encode_basestring
    kept = threading.local()  # per thread: its own C encoder and markers

    def encode(value: Any) -> str:
        try:
            own = kept.own
        except AttributeError:
            own = kept.own = _Kept(make({}, on_other, to_text, None, ":", ",", False, False, allow_nan))
        if own.busy:
            return "".join(make({}, on_other, to_text, None, ":", ",", False, False, allow_nan)(value, 0))
        own.busy = True
        try:
            return "".join(own.encoder(value, 0))
        except BaseException:
            own.encoder.markers.clear()
            raise
        finally:
            own.busy = False

    return encode


class _Kept:
    """A thread's kept C encoder, and whether a call of that thread is using it."""

    __slots__ = ("busy", "encoder")

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.busy = False


def _refuse_constant(name: str) -> Any:
    raise JSONValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise JSONValueError(f"the number {text[:40]} is too large for a JSON number")
    return value


_decode = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float).decode
_strict = compact_encoder(default=None, allow_nan=False)
# `_strict`'s C encoder without circular-reference markers: it holds no state, so no call
# keeps it busy (a third of checking a small output went to that). A value it refuses,
# a cycle among them (a RecursionError here), is encoded again by `_strict` for the words.
_make = getattr(_json_encoder, "c_make_encoder", None)
_unmarked = (
    _make(None, None, _json_encoder.encode_basestring, None, ":", ",", False, False, False)
    if _make is not None
    else lambda value, _: (_strict(value),)
)


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
    return checked_text(value)[0]


def checked_text(value: Any) -> tuple[str | None, bytes | None]:
    """(why `value` cannot be written as strict JSON text or None, and when it can and is a
    one-port output `{port: v}`: the UTF-8 JSON text of v, else None).

    A node's outputs are checked here before the run goes on; the orchestrator hands the
    text to the store with the output it stores, so the value is encoded once, not twice.
    A one-port output whose port is an ASCII name is checked by encoding v alone (the
    name's own text cannot fail): one dict and one slice less per node."""
    if type(value) is dict and len(value) == 1:
        port = next(iter(value))
        if type(port) is str and port.isascii():
            one = value[port]
            try:
                return None, "".join(_unmarked(one, 0)).encode()
            except (ValueError, TypeError, RecursionError):  # refused: encoded again for the words
                return _checked(one)
    problem, raw = _checked(value)
    return problem, None if raw is None else _port_text(value, raw)


def _checked(value: Any) -> tuple[str | None, bytes | None]:
    """(why `value` cannot be written as strict JSON text, or None; its UTF-8 text when it can)."""
    try:
        raw = _strict(value).encode()
    except UnicodeEncodeError:
        return "it holds text that is not valid Unicode (a lone surrogate such as \\ud800)", None
    except ValueError as exc:
        text = str(exc)
        if "Out of range float" in text:
            return "it holds NaN or Infinity, which JSON does not have", None
        if "4300" in text or "digits" in text:
            return "it holds an integer over 4,300 digits", None
        return text, None
    except RecursionError:
        return "it is nested too deeply", None
    except TypeError as exc:
        return str(exc), None
    return None, raw


_port_heads: dict[str, int] = {}  # port name -> bytes of `{"name":`


def _port_text(value: Any, raw: bytes) -> bytes | None:
    """v's text in the text of `{port: v}` (that is `{"port":` + v's text + `}`), else None."""
    if type(value) is dict and len(value) == 1:
        port = next(iter(value))
        if type(port) is str:
            head = _port_heads.get(port)
            if head is None:
                if len(_port_heads) >= 256:
                    _port_heads.clear()
                head = _port_heads[port] = len(_json_encoder.encode_basestring(port).encode("utf-8")) + 2
            return raw[head:-1]
    return None
