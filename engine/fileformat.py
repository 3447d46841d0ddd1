"""The `processengine/1` workflow file: parse, validate, save.

Parsing is two steps: pydantic checks the document's shape (unknown fields are
errors, the format version is checked first), then every node's `config` is
checked against its node type's schema. All problems are collected and raised
together as `WorkflowInvalid`, each naming file, node id and field. Saving
writes keys in a fixed order with a trailing newline so files diff cleanly.

Before any of that, values the rest of the engine could not handle are listed as
problems where they are: an integer over Python's 4,300-digit limit (it could never be
written back out) and nesting deeper than MAX_NESTING (every recursive walker - config
validation, expressions, the JSON encoder - would hit Python's recursion limit). Text
nested too deep for the JSON parser itself is cut out before parsing, so even a
5,000-level config is reported against its node and field.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from engine.errors import Problem, WorkflowInvalid
from engine.heap import collections_paused
from engine.model import DEFAULT_MAX_NODE_VISITS, FORMAT, Connection, Node, Note, Workflow

__all__ = [
    "MAX_INT_DIGITS",
    "MAX_NESTING",
    "SUPPORTED_MAJOR",
    "ConnectionFile",
    "NodeFile",
    "NoteFile",
    "RetryFile",
    "WorkflowFile",
    "canonical",
    "canonical_json",
    "check_format",
    "content_hash",
    "dumps",
    "load",
    "loads",
    "parse",
    "save",
    "to_dict",
]

SUPPORTED_MAJOR = 1
MAX_NESTING = 100  # levels of lists/objects in a file; real workflows use a handful
MAX_INT_DIGITS = 4_300  # Python's limit for int <-> text: a longer int can never be saved
_INT_LIMIT = 10**MAX_INT_DIGITS


class ConfigValidator(Protocol):
    """Checks one node's config (the node registry's `validate_node_config` by default;
    the loader itself knows no node types)."""

    def __call__(self, node: Node, *, file: str | None = None) -> list[Problem]: ...


def _registry_validator() -> ConfigValidator:
    from engine.nodes.registry import validate_node_config

    return validate_node_config


class _Strict(BaseModel):
    # NaN / Infinity (which Python's json accepts) are never meaningful in a workflow file
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")


class RetryFile(_Strict):
    preset: Literal["default", "strict", "none"] | None = None
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    initial_delay_s: float | None = Field(default=None, ge=0, le=3600)
    multiplier: float | None = Field(default=None, ge=1, le=100)
    max_delay_s: float | None = Field(default=None, ge=0, le=86400)
    jitter: bool | None = None
    on_status: list[int] | None = None


class NodeFile(_Strict):
    id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    name: str = Field(min_length=1)
    position: tuple[float, float] = (0.0, 0.0)
    config: dict[str, Any] = Field(default_factory=dict)
    retry: RetryFile | Literal["default", "strict", "none"] | None = None
    on_error: Literal["fail", "route", "continue"] = "fail"
    disabled: bool = False
    pin: Any = None
    replay: bool = False


class ConnectionFile(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", min_length=1)
    from_port: str = "out"
    to: str = Field(min_length=1)
    to_port: str = "in"


class NoteFile(_Strict):
    id: str
    text: str = ""
    position: tuple[float, float] = (0.0, 0.0)
    size: tuple[float, float] = (200.0, 120.0)


class WorkflowFile(_Strict):
    format: str
    id: str = Field(min_length=1)
    name: str = ""
    variables: dict[str, Any] = Field(default_factory=dict)
    nodes: list[Any] = Field(default_factory=list)  # each item checked as a NodeFile by `parse`
    connections: list[Any] = Field(default_factory=list)  # each item checked as a ConnectionFile
    notes: list[NoteFile] = Field(default_factory=list)
    max_node_visits: int = Field(DEFAULT_MAX_NODE_VISITS, ge=1, le=10_000_000)
    concurrency: int | None = Field(None, ge=1, description="at most this many runs at once across queue workers")

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        check_format(v)
        return v


def check_format(value: Any) -> None:
    """Raise ValueError with a clear message for a missing, foreign or newer format."""
    if not isinstance(value, str) or "/" not in value:
        raise ValueError(f"not a ProcessEngine workflow (format is {value!r}, expected {FORMAT!r})")
    name, _, ver = value.partition("/")
    if name != "processengine":
        raise ValueError(f"not a ProcessEngine workflow (format {value!r})")
    try:
        major = int(ver)
    except ValueError:
        raise ValueError(f"unknown format version {value!r}") from None
    if major > SUPPORTED_MAJOR:
        raise ValueError(
            f"format {value!r} is newer than this version of ProcessEngine understands "
            f"({FORMAT}); please upgrade"
        )
    if major < 1:
        raise ValueError(f"unknown format version {value!r}")


_MODEL_NAMES = frozenset({"RetryFile", "NodeFile", "ConnectionFile", "NoteFile", "WorkflowFile"})


def _shape_problems(data: dict[str, Any], errors: list[Any], file: str | None) -> list[Problem]:
    """One problem per real mistake (`errors`: pydantic's error dicts): a union's other
    branch ("should be 'default', …") is dropped when the value was clearly meant for
    the object branch."""
    problems = [_loc_to_problem(data, tuple(e["loc"]), e["msg"], file) for e in errors]
    keep = []
    for e, p in zip(errors, problems, strict=True):
        from_literal_branch = any(str(x).startswith("literal[") for x in e["loc"])
        if from_literal_branch and isinstance(e.get("input"), dict) and any(
            q is not p and q.node_id == p.node_id and (q.field or "").startswith(f"{p.field}.") for q in problems
        ):
            continue
        keep.append(p)
    return keep


def _loc_to_problem(doc: dict[str, Any], loc: tuple[Any, ...], msg: str, file: str | None) -> Problem:
    """Turn a pydantic error location into node id + field."""
    node_id = None
    field_path: list[str] = []
    parts = list(loc)
    if len(parts) >= 2 and parts[0] == "nodes" and isinstance(parts[1], int):
        try:
            node_id = str(doc["nodes"][parts[1]].get("id") or f"#{parts[1]}")
        except (KeyError, IndexError, AttributeError, TypeError):
            node_id = f"#{parts[1]}"
        parts = parts[2:]
    elif len(parts) >= 2 and parts[0] in ("connections", "notes") and isinstance(parts[1], int):
        field_path.append(f"{parts[0]}[{parts[1]}]")
        parts = parts[2:]
    # drop pydantic's names for union branches (`RetryFile`, `literal[...]`, validator tags)
    field_path.extend(
        str(p) for p in parts if not (str(p).startswith(("function-", "literal[")) or str(p) in _MODEL_NAMES)
    )
    field = ".".join(field_path) or None
    return Problem(message=msg, node_id=node_id, field=field, file=file)


def parse(
    data: Any, *, file: str | None = None, check_configs: bool = True, config_validator: ConfigValidator | None = None
) -> Workflow:
    """Validate a decoded JSON document and build the model; raise WorkflowInvalid listing every problem.

    Configs are checked with `config_validator` (the node registry's when None) unless
    `check_configs` is off: a caller that validates the whole graph next (`graph.validate`
    checks every config too) loads without, so each config is validated once.
    """
    return _parse(data, file, (config_validator or _registry_validator()) if check_configs else None, odd_scalars=True)


def _parse(
    data: Any, file: str | None, validator: ConfigValidator | None, *, odd_scalars: bool, decoded: bool = False,
    known_valid: bool = False,
) -> Workflow:  # fmt: skip
    """`parse`; `odd_scalars` False: the decoder saw no integer too long, no NaN or
    Infinity and cut nothing out, so only the nesting is left to look at. `decoded`:
    `data` was just decoded from JSON text here and is held by nothing else (its keys
    are text; its dicts may become the nodes' own). `known_valid`: see `loads`."""
    if not isinstance(data, dict):
        raise WorkflowInvalid([Problem("the file must hold a JSON object", file=file)], file)
    if odd_scalars or (not known_valid and _deeper_than(data, MAX_NESTING)):
        _refuse_unholdable(data, file)
    if "format" not in data:
        raise WorkflowInvalid([Problem("missing 'format' (expected 'processengine/1')", field="format", file=file)], file)
    try:
        check_format(data["format"])
    except ValueError as exc:  # the version decides how to read the rest: stop here
        raise WorkflowInvalid([Problem(str(exc), field="format", file=file)], file) from None
    errors: list[Any] = []
    doc = _validated(WorkflowFile, data, (), errors)
    nodes = _known_nodes(data.get("nodes", [])) if known_valid else None
    if nodes is None:
        plain_node = _plain_decoded_node if decoded else _plain_node
        nodes = _items(data.get("nodes"), "nodes", NodeFile, _node_of, errors, plain_node)
    connections = _known_connections(data.get("connections", [])) if known_valid else None
    if connections is None:
        connections = _items(data.get("connections"), "connections", ConnectionFile, _connection_of, errors, _plain_connection)
    problems = _shape_problems(data, errors, file) if errors else []
    if validator is not None:  # the configs of the well-formed nodes, also when others are not
        for node in nodes:
            problems.extend(validator(node, file=file))
    if doc is None or errors:
        raise WorkflowInvalid(problems, file)
    by_id = {node.id: node for node in nodes}
    if len(by_id) != len(nodes):  # duplicate ids would make the model ambiguous: report them here too
        seen: set[str] = set()
        for node in nodes:
            if node.id in seen:
                problems.append(Problem("duplicate node id", node_id=node.id, field="id", file=file))
            seen.add(node.id)
    if problems:
        raise WorkflowInvalid(problems, file)
    wf = Workflow(
        id=doc.id,
        name=doc.name,
        variables=doc.variables,
        nodes=[],
        connections=connections,
        notes=[Note(n.id, n.text, tuple(n.position), tuple(n.size)) for n in doc.notes],  # type: ignore[arg-type]
        max_node_visits=doc.max_node_visits,
    )
    wf.concurrency = doc.concurrency
    wf._nodes, wf._by_id = nodes, by_id  # the lists and the index built here, not copied again
    return wf


def _validated(model: type[_M], raw: Any, loc: tuple[Any, ...], errors: list[Any]) -> _M | None:
    """`raw` as `model`, or None with its errors (located under `loc`) added to `errors`."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors.extend({**e, "loc": (*loc, *e["loc"])} for e in exc.errors(include_url=False))
        return None


CHUNK = 512  # list items validated per pydantic call: few calls, a bounded validated copy


@cache
def _list_of(model: type[_M]) -> TypeAdapter[list[_M]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def _items(
    raw: Any, key: str, model: type[_M], build: Callable[[_M], _T], errors: list[Any], plain: Callable[[Any], _T | None]
) -> list[_T]:
    """The list `raw` checked as `model` items, CHUNK at a time, each turned into the
    engine's object at once, so a 100,000-node file never holds a validated copy of
    every node (the document's own check reports a `raw` that is not a list).

    A chunk whose every item is plain (`plain` builds the object straight from the
    JSON, as the model would, or says None) skips the model."""
    if not isinstance(raw, list):
        return []
    out: list[_T] = []
    adapter = _list_of(model)
    for first in range(0, len(raw), CHUNK):
        direct = []
        for item in raw[first : first + CHUNK]:
            got = plain(item)
            if got is None:
                break
            direct.append(got)
        else:
            out.extend(direct)
            continue
        try:
            checked = adapter.validate_python(raw[first : first + CHUNK])
        except ValidationError as exc:
            found = exc.errors(include_url=False)
            bad = {int(e["loc"][0]) for e in found}  # a list item's errors start at its index
            errors.extend({**e, "loc": (key, first + int(e["loc"][0]), *e["loc"][1:])} for e in found)
            checked = [
                model.model_validate(item)
                for i, item in enumerate(raw[first : first + CHUNK])
                if i not in bad
            ]
        out.extend(build(c) for c in checked)
    return out


def _node_of(nf: NodeFile) -> Node:
    retry = nf.retry.model_dump(exclude_none=True) if isinstance(nf.retry, RetryFile) else nf.retry
    return Node(
        id=nf.id,
        type=nf.type,
        name=nf.name,
        position=(float(nf.position[0]), float(nf.position[1])),
        config=nf.config,
        retry=retry,
        on_error=nf.on_error,
        disabled=nf.disabled,
        pin=nf.pin,
        replay=nf.replay,
    )


def _connection_of(c: ConnectionFile) -> Connection:
    return _connection(c.from_, c.from_port, c.to, c.to_port)


_new_tuple = tuple.__new__


def _connection(from_node: str, from_port: str, to_node: str, to_port: str) -> Connection:
    """`Connection(from_node, from_port, to_node, to_port)` without the named tuple's
    Python `__new__`: the same object."""
    return _new_tuple(Connection, (from_node, from_port, to_node, to_port))


# The plain shapes of a node and a connection, built without pydantic (a third of the
# load's time went to model instances thrown away at once). Each accepts only what its
# model takes unchanged - known keys, exact JSON types, nothing to coerce - and says
# None for anything else, which the model then checks and words. A test holds the key
# sets to the models' fields.
_NODE_KEYS = frozenset({"id", "type", "name", "position", "config", "retry", "on_error", "disabled", "pin", "replay"})
_CONNECTION_KEYS = frozenset({"from", "from_port", "to", "to_port"})
_RETRY_WORDS = frozenset({"default", "strict", "none"})
_ON_ERROR = frozenset({"fail", "route", "continue"})
_ABSENT: Any = object()


def _plain_node(raw: Any, *, decoded: bool = False) -> Node | None:
    """The Node that NodeFile and `_node_of` would make of `raw`, or None.

    `decoded`: `raw` comes from JSON text decoded for this load, so its config's keys
    are text and the dict can be the node's own (the model would copy it)."""
    if type(raw) is not dict or not raw.keys() <= _NODE_KEYS:
        return None
    get = raw.get
    node_id, node_type, name = get("id"), get("type"), get("name")
    if type(node_id) is not str or type(node_type) is not str or type(name) is not str:
        return None
    position = _plain_position(get("position", _ABSENT))
    config = get("config", _ABSENT)
    if config is _ABSENT:
        config = {}
    elif type(config) is not dict:
        return None
    elif not decoded:
        if not all(type(k) is str for k in config):
            return None
        config = dict(config)
    retry = get("retry")
    on_error, disabled, replay = get("on_error", "fail"), get("disabled", False), get("replay", False)
    if (
        not (node_id and node_type and name) or position is None
        or not (retry is None or (type(retry) is str and retry in _RETRY_WORDS))
        or type(on_error) is not str or on_error not in _ON_ERROR
        or type(disabled) is not bool or type(replay) is not bool
    ):  # fmt: skip
        return None
    return Node(node_id, node_type, name, position, config, retry, on_error, disabled, get("pin"), replay)


def _plain_decoded_node(raw: Any) -> Node | None:
    """`_plain_node` of a node in text this load decoded."""
    return _plain_node(raw, decoded=True)


def _plain_position(value: Any) -> tuple[float, float] | None:
    if value is _ABSENT:
        return _ORIGIN
    if type(value) is not list or len(value) != 2:
        return None
    x, y = value
    if type(x) not in _XY or type(y) not in _XY or not (-1e15 < x < 1e15 and -1e15 < y < 1e15):
        return None  # bools, text, huge or non-finite numbers: the model decides
    if x == 0 and y == 0 and type(x) is int and type(y) is int:
        return _ORIGIN
    return (float(x), float(y))


_ORIGIN = (0.0, 0.0)  # one tuple for every node placed at `[0, 0]`
_XY = frozenset({int, float})


def _plain_connection(raw: Any) -> Connection | None:
    """The Connection that ConnectionFile and `_connection_of` would make of `raw`, or None."""
    if type(raw) is not dict or not raw.keys() <= _CONNECTION_KEYS:
        return None
    src, from_port, dst, to_port = raw.get("from"), raw.get("from_port", "out"), raw.get("to"), raw.get("to_port", "in")
    if type(src) is not str or type(dst) is not str or type(from_port) is not str or type(to_port) is not str:
        return None
    return _new_tuple(Connection, (src, from_port, dst, to_port)) if src and dst else None  # `_connection`, in line


# A file known valid (`loads(known_valid=True)`): its shape passed the checks, so its
# entries hold only known keys, and text where the models take text (JSON gives no
# bytes to convert). What is left to look at is what a model would convert (positions,
# flags, a retry object): a list with such an entry goes through `_items` as before.


def _known_nodes(raw: list[Any]) -> list[Node] | None:
    """The nodes `_items` would build of a file known valid, or None (one loop, no call
    per node but the Node's own)."""
    out: list[Node] = []
    append = out.append
    for item in raw:
        get = item.get
        pos = get("position", _ABSENT)
        if pos is _ABSENT:
            position = _ORIGIN
        elif type(pos) is list and len(pos) == 2 and type(x := pos[0]) in _XY and type(y := pos[1]) in _XY and -1e15 < x < 1e15 and -1e15 < y < 1e15:
            position = _ORIGIN if x == 0 and y == 0 and type(x) is int and type(y) is int else (float(x), float(y))
        else:
            return None
        if len(item) == 5 and pos is not _ABSENT and "config" in item:  # id, type, name, position, config: nothing else set
            append(Node(item["id"], item["type"], item["name"], position, item["config"], None, "fail", False, None, False))
            continue
        retry, disabled, replay = get("retry"), get("disabled", False), get("replay", False)
        if type(retry) is dict or type(disabled) is not bool or type(replay) is not bool:
            return None
        config = get("config", _ABSENT)
        append(Node(
            item["id"], item["type"], item["name"], position, {} if config is _ABSENT else config,
            retry, get("on_error", "fail"), disabled, get("pin"), replay,
        ))  # fmt: skip
    return out


def _known_connections(raw: list[Any]) -> list[Connection] | None:
    """The connections `_items` would build of a file known valid, or None (one written
    with the field's own name, `from_`, goes through the model)."""
    new = _new_tuple
    try:
        return [new(Connection, (c["from"], c.get("from_port", "out"), c["to"], c.get("to_port", "in"))) for c in raw]
    except KeyError:
        return None


class _LongInt:
    """Stands in for an integer literal too long to convert, so it is reported where it is."""

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _parse_int(text: str) -> int | _LongInt:
    digits = len(text.lstrip("-"))
    return _LongInt(digits) if digits > MAX_INT_DIGITS else int(text)


_TOO_DEEP = "\x00processengine: nested too deeply\x00"  # cannot come from a real file: NUL
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def _cut_deep(text: str) -> str:
    """Replace every list/object nested deeper than MAX_NESTING by the _TOO_DEEP marker
    (a linear scan over the brackets outside strings), so the JSON parser never recurses
    further than that and the problem can be reported at its node and field."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return text
    blank = _STRING.sub(lambda m: '"' + " " * (len(m.group()) - 2) + '"', text)  # same offsets
    cuts: list[tuple[int, int]] = []
    depth, start = 0, -1
    for m in _BRACKET.finditer(blank):
        if m.group() in "[{":
            depth += 1
            if depth == MAX_NESTING + 1:
                start = m.start()
        else:
            if depth == MAX_NESTING + 1 and start >= 0:
                cuts.append((start, m.end()))
                start = -1
            depth -= 1
    if start >= 0:  # never closed: cut to the end (the parser reports what is missing)
        cuts.append((start, len(text)))
    if not cuts:
        return text
    marker = json.dumps(_TOO_DEEP)
    out, last = [], 0
    for a, b in cuts:
        out += [text[last:a], marker]
        last = b
    out.append(text[last:])
    return "".join(out)


def _scalar_problem(value: Any) -> str | None:
    """Why a scalar cannot be held (an integer too long to save, NaN/Infinity), or None."""
    t = type(value)
    digits = value.digits if t is _LongInt else 0
    if t is int and (value >= _INT_LIMIT or value <= -_INT_LIMIT):  # from Python data, not text
        digits = int(value.bit_length() * 0.30103) + 1
    if digits > MAX_INT_DIGITS:
        return f"this integer has about {digits:,} digits; the limit is {MAX_INT_DIGITS:,}"
    if t is float and not math.isfinite(value):  # `NaN`, `Infinity`, `1e400` in the text
        return f"{value} is not a JSON number (NaN and Infinity are refused)"
    if t is str and value == _TOO_DEEP:
        return f"nested more than {MAX_NESTING} levels deep (from here down)"
    return None


_PLAIN = frozenset({bool, type(None)})  # scalars that are always fine


def _value_problems(data: Any, file: str | None) -> list[Problem]:
    """Integers too long to save, NaN/Infinity and nesting too deep, each at its node and field.

    Only containers are pushed on the walk's stack; each scalar is looked at where it
    sits (the walk is over every value of the file, so this is the loader's hot loop).
    """
    found: list[tuple[tuple[Any, ...], str]] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    deep = f"nested more than {MAX_NESTING} levels deep (from here down)"
    while stack:
        value, loc = stack.pop()
        t = type(value)
        if t is not dict and t is not list:
            message = _scalar_problem(value)
            if message:
                found.append((loc, message))
            continue
        if len(loc) >= MAX_NESTING:
            found.append((loc, deep))
            continue
        for key, item in value.items() if t is dict else enumerate(value):
            it = type(item)
            if it is str:
                if item == _TOO_DEEP:
                    stack.append((item, (*loc, key)))
            elif it is int:
                if item >= _INT_LIMIT or item <= -_INT_LIMIT:
                    stack.append((item, (*loc, key)))
            elif it not in _PLAIN:  # containers, floats, _LongInt
                stack.append((item, (*loc, key)))
    problems = []
    for loc, message in found:
        if message.startswith("nested more than"):
            loc = loc[: 2 + 4 if loc[:1] == ("nodes",) else 4]  # where it starts, not every level
        problems.append(_loc_to_problem(data, loc, message, file) if type(data) is dict else Problem(message, file=file))
    return problems


def _deeper_than(data: Any, levels: int) -> bool:
    """Whether a list or object sits `levels` or more keys below `data` (what
    `_value_problems` reports as nested too deep), one level at a time: a pass over
    the containers only, the cheap half of that walk."""
    level = [data]
    for _ in range(levels):
        level = [v for c in level for v in (c.values() if type(c) is dict else c) if type(v) in _CONTAINERS]
        if not level:
            return False
    return True


_CONTAINERS = frozenset({dict, list})


def _refuse_unholdable(data: dict[str, Any], file: str | None) -> None:
    odd = _value_problems(data, file)
    if odd:
        raise WorkflowInvalid(sorted(odd, key=lambda p: (p.node_id or "", p.field or "")), file)


def _decode(text: str) -> tuple[Any, bool]:
    """(the parsed JSON text, whether it may hold a value `_value_problems` reports:
    an integer too long, NaN or Infinity, or a cut). Only text nested too deep for the
    parser is cut first (the cut is a scan of the whole text, and nesting below the
    parser's limit is reported by `_value_problems` on the parsed data just the same)."""
    odd: list[str] = []

    def parse_int(text: str) -> int | _LongInt:
        if len(text) <= MAX_INT_DIGITS:
            return int(text)
        value = _parse_int(text)
        if type(value) is _LongInt:
            odd.append(text)
        return value

    def parse_float(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):  # 1e400
            odd.append(text)
        return value

    def parse_constant(text: str) -> float:  # NaN, Infinity, -Infinity
        odd.append(text)
        return float(text)

    hooks = {"parse_int": parse_int, "parse_float": parse_float, "parse_constant": parse_constant}
    try:
        if 0 < sys.get_int_max_str_digits() <= MAX_INT_DIGITS:
            # integers read by the decoder itself (no call per integer): Python refuses one
            # too long to read with a ValueError, and the text is read again with the hook
            try:
                return json.loads(text, parse_float=parse_float, parse_constant=parse_constant), bool(odd)
            except json.JSONDecodeError:
                raise
            except ValueError:
                odd.clear()
        return json.loads(text, **hooks), bool(odd)  # type: ignore[arg-type]
    except RecursionError:
        return json.loads(_cut_deep(text), **hooks), True  # type: ignore[arg-type]


def loads(
    text: str | bytes, *, file: str | None = None, check_configs: bool = True, config_validator: ConfigValidator | None = None,
    known_valid: bool = False,
) -> Workflow:  # fmt: skip
    """Parse and check a document's text; every problem is listed in one WorkflowInvalid.

    `known_valid`: this engine has loaded these exact bytes before without finding a
    problem (`engine.compiled` keeps that verdict), so the checks that cannot change it
    are skipped - the decoder's hooks, the nesting walk, the shape checks of plain nodes
    and connections - and the same objects are built (tests compare both paths).
    """
    with collections_paused():  # everything built here lives on (engine.heap says why)
        return _loads(text, file=file, check_configs=check_configs, config_validator=config_validator, known_valid=known_valid)


def _loads(
    text: str | bytes, *, file: str | None, check_configs: bool, config_validator: ConfigValidator | None,
    known_valid: bool = False,
) -> Workflow:  # fmt: skip
    try:
        if known_valid:
            data, odd = _decode_known(text)
        else:
            if isinstance(text, bytes | bytearray):
                text = bytes(text).decode(json.detect_encoding(text))
            data, odd = _decode(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"line {exc.lineno} column {exc.colno}: " if isinstance(exc, json.JSONDecodeError) else ""
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise WorkflowInvalid([Problem(f"not valid JSON ({where}{msg})", file=file)], file) from None
    except RecursionError:
        raise WorkflowInvalid([Problem("not valid JSON (nested too deeply)", file=file)], file) from None
    validator = (config_validator or _registry_validator()) if check_configs else None
    return _parse(data, file, validator, odd_scalars=odd, decoded=True, known_valid=known_valid)


# digits to "9", everything else to " ": an integer past 64 bits (orjson reads one as a
# float) needs a run of 19 digits, found in C (a regex search of the text was 4x the decode)
_DIGIT_RUNS = bytes.maketrans(bytes(range(256)), b" " * 48 + b"9" * 10 + b" " * 198)
_LONG_RUN = b"9" * 19


def _decode_known(text: str | bytes | bytearray) -> tuple[Any, bool]:
    """`_decode` of a document known valid: it holds no NaN, Infinity or integer too long
    (those are problems). Its UTF-8 bytes are read by orjson (half the instructions of
    `json`, and no text made first) unless a digit run could be an integer orjson would
    turn into a float; anything orjson refuses, and every other text, by `json`, which
    reads every number itself - unless Python's own digit limit is lower than the file's
    (then `_decode` reads it as before)."""
    if type(text) is bytes and _LONG_RUN not in text.translate(_DIGIT_RUNS):
        try:
            return orjson.loads(text), False
        except orjson.JSONDecodeError:  # a BOM, another encoding, deeper than orjson reads, ...
            pass
    if not isinstance(text, str):
        text = bytes(text).decode(json.detect_encoding(text))
    try:
        return json.loads(text), False
    except json.JSONDecodeError:
        raise
    except ValueError:
        return _decode(text)


def load(
    path: str | os.PathLike[str], *, check_configs: bool = True, config_validator: ConfigValidator | None = None
) -> Workflow:
    """Read a `.pe.json` file; every failure is a WorkflowInvalid naming the file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise WorkflowInvalid([Problem(f"cannot read file: {exc.strerror or exc}", file=str(p))], str(p)) from None
    return loads(raw, file=str(p), check_configs=check_configs, config_validator=config_validator)


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v


def to_dict(wf: Workflow) -> dict[str, Any]:
    """The document as plain JSON data in the canonical key order."""
    nodes = []
    for n in wf.nodes:
        d: dict[str, Any] = {
            "id": n.id,
            "type": n.type,
            "name": n.name,
            "position": [_num(n.position[0]), _num(n.position[1])],
            "config": n.config,
        }
        if n.retry is not None:
            d["retry"] = n.retry
        if n.on_error != "fail":
            d["on_error"] = n.on_error
        if n.disabled:
            d["disabled"] = True
        if n.pin is not None:
            d["pin"] = n.pin
        if n.replay:
            d["replay"] = True
        nodes.append(d)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "id": wf.id,
        "name": wf.name,
        "variables": wf.variables,
        "nodes": nodes,
        "connections": [
            {"from": c.from_node, "from_port": c.from_port, "to": c.to_node, "to_port": c.to_port}
            for c in wf.connections
        ],
    }
    if wf.max_node_visits != DEFAULT_MAX_NODE_VISITS:
        doc["max_node_visits"] = wf.max_node_visits
    if wf.concurrency is not None:
        doc["concurrency"] = wf.concurrency
    if wf.notes:
        doc["notes"] = [
            {
                "id": n.id,
                "text": n.text,
                "position": [_num(n.position[0]), _num(n.position[1])],
                "size": [_num(n.size[0]), _num(n.size[1])],
            }
            for n in wf.notes
        ]
    return doc


def canonical(wf: Workflow) -> tuple[str, str]:
    """(the canonical document - compact, keys sorted - and its sha256): how a workflow
    version is saved with a run and known by its content hash."""
    text = canonical_json(to_dict(wf))
    return text, content_hash(text)


def canonical_json(value: Any) -> str:
    """A value as the canonical document writes it: compact, keys sorted, not escaped."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(text: str) -> str:
    """The content hash of a canonical document's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dumps(wf: Workflow) -> str:
    return json.dumps(to_dict(wf), indent=2, ensure_ascii=False) + "\n"


def save(wf: Workflow, path: str | os.PathLike[str]) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(dumps(wf), encoding="utf-8")
    os.replace(tmp, p)
