"""Argument types of the `processengine` command line, all in one place.

Every value the user types is checked while the command line is parsed, so a bad
value is one line naming the option and exit 64 (usage), never a traceback from deep
inside a command. JSON values are strict: NaN and Infinity are not JSON, and a value
that cannot be printed back as JSON has no place in a run.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any


class UsageError(Exception):
    """A command line that parses but makes no sense for the workflow (exit 64)."""


MAX_COUNT = 1_000_000_000  # counts and sizes beyond this are typos (and overflow SQLite's integers)
_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_AGO_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (JSON has no NaN or Infinity)")


def strict_json(text: str, what: str) -> Any:
    """Parse JSON, refusing NaN/Infinity; errors name `what` (an option or a file)."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{what}: {exc}" if what != "the value" else str(exc)) from None
    except RecursionError:
        raise argparse.ArgumentTypeError(f"{what} is nested too deeply") from None


def var(text: str) -> tuple[str, Any]:
    """`--var KEY=VALUE`: the value is JSON where it parses, else the text itself."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(raw, parse_constant=_refuse_constant)
    except json.JSONDecodeError:
        return key, raw
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{key}: {exc}; for text, quote it as JSON: {key}='\"{raw}\"'") from None
    except RecursionError:
        raise argparse.ArgumentTypeError(f"{key}: the value is nested too deeply") from None


def json_input(text: str) -> Any:
    """`--input JSON` or `--input @FILE` (the file's text is the JSON)."""
    if not text.startswith("@"):
        return strict_json(text, "the value")
    path = text[1:]
    try:
        with open(path, encoding="utf-8") as fh:
            content = fh.read()
    except FileNotFoundError:
        raise argparse.ArgumentTypeError(f"no such file: {path!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read {path!r}: {getattr(exc, 'strerror', None) or exc}") from None
    return strict_json(content, f"file {path!r}")


def since(text: str) -> datetime:
    """`--since`: an ISO 8601 date or time (local time unless it has an offset), or an age
    such as 30m, 12h, 7d, 2w."""
    m = _AGO.match(text.strip().lower())
    if m:
        return datetime.now(UTC) - timedelta(**{_AGO_UNITS[m.group(2)]: float(m.group(1))})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 date or time (2026-05-01, 2026-05-01T09:30) or an age (30m, 12h, 7d), got {text!r}"
        ) from None
    return when if when.tzinfo is not None else when.astimezone()


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"expected a number from 1 to {MAX_COUNT}, got {value}")
    return value


def days(text: str) -> float:
    """A finite, non-negative number of days (`float()` alone accepts 'nan' and '-inf')."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of days of 0 or more, got {text!r}")
    return value


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a TCP port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is 0-65535 (0: any free port), got {value}")
    return value
