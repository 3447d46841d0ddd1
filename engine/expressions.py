"""The `{{ ... }}` expression language used in every string field of a node config.

Why this shape: configs are rendered on every node run, so templates and parsed
ASTs are cached per string and plain strings pass through after one substring
test. Evaluation is done by a locked-down `simpleeval` evaluator (never Python
`eval`/`exec`/`compile`): a static pass refuses anything outside the language
before it is cached, and the evaluator re-checks at run time (value types, sizes,
a wall-clock deadline) so no expression can escape, hang or exhaust memory.

Language summary (DESIGN.md "Expressions"):

- names `input`, `nodes`, `vars`, `loop` (inside a loop body), `execution`;
- dict keys read as attributes (`input.body.items` is the key "items" - there are
  no dict methods) or by subscript (`input["body"]`); list indexing and slicing;
- functions `len str int float bool round min max sum abs sorted any all`;
- string methods `upper lower strip lstrip rstrip split startswith endswith
  replace title capitalize join`;
- literals, arithmetic, comparisons, `and/or/not`, `x if c else y`, `in`,
  list/dict literals (a tuple literal is a list) and list/dict comprehensions.

A field that is exactly one `{{ }}` keeps the value's type. Otherwise each result
is put into the string as text: strings as they are, numbers with `str()`,
`None`/`True`/`False` as `null`/`true`/`false`, dicts and lists as compact JSON.
`str(x)` gives the same text. Dict keys in a config are never rendered.

Results are plain JSON values; values read from the names are returned as they
are (not copied), so callers must treat them as read-only.
"""

from __future__ import annotations

import ast
import json
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from simpleeval import InvalidExpression, SimpleEval

from engine.errors import ExpressionError

__all__ = [
    "DEFAULT_LIMITS",
    "FUNCTIONS",
    "NAMES",
    "STRING_METHODS",
    "ExpressionLimits",
    "check",
    "evaluate",
    "find_expressions",
    "make_names",
    "render",
]


@dataclass(frozen=True, slots=True)
class ExpressionLimits:
    """Bounds on one evaluation; every one of them is a refusal, never a truncation.

    max_length: characters in one expression; max_depth: AST nesting;
    max_power: largest exponent of `**`; max_int_bits: size of an int an operator
    may build; max_result_size: characters (or JSON-ish units for lists/dicts) of
    one value built by an expression, and the work budget of one deep comparison;
    max_total_size: everything built by one evaluation together;
    max_iterations: comprehension steps; timeout_s: wall-clock time.
    """

    max_length: int = 10_000
    max_depth: int = 64
    max_power: int = 1_000
    max_int_bits: int = 10_000
    max_result_size: int = 1_000_000
    max_total_size: int = 10_000_000
    max_iterations: int = 100_000
    timeout_s: float = 0.1


DEFAULT_LIMITS = ExpressionLimits()

NAMES = ("input", "nodes", "vars", "loop", "execution")
FUNCTIONS = (
    "len", "str", "int", "float", "bool", "round", "min", "max", "sum", "abs", "sorted", "any", "all",
)  # fmt: skip
STRING_METHODS = (
    "upper", "lower", "strip", "lstrip", "rstrip", "split", "startswith", "endswith",
    "replace", "title", "capitalize", "join",
)  # fmt: skip
_KEYWORDS = {"sorted": {"reverse"}, "min": {"default"}, "max": {"default"}}

_SCALARS = frozenset({str, int, float, bool, type(None)})
_VALUES = _SCALARS | {list, dict, tuple}
_NUMBERS = frozenset({int, float, bool})

_OPERATORS: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.USub: "-", ast.UAdd: "+", ast.Not: "not", ast.And: "and", ast.Or: "or",
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
}  # fmt: skip
_ALLOWED_NODES = frozenset(
    {
        ast.Constant, ast.Name, ast.Load, ast.Store, ast.Attribute, ast.Subscript, ast.Slice,
        ast.List, ast.Tuple, ast.Dict, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare,
        ast.IfExp, ast.Call, ast.keyword, ast.ListComp, ast.GeneratorExp, ast.DictComp,
        ast.comprehension, *_OPERATORS,
    }
)  # fmt: skip
_FRIENDLY = {
    "Lambda": "lambda", "NamedExpr": "assignment (:=)", "JoinedStr": "f-strings",
    "FormattedValue": "f-strings", "Starred": "* unpacking", "Set": "set literals",
    "SetComp": "set comprehensions", "Await": "await", "Yield": "yield",
    "YieldFrom": "yield", "BitAnd": "operator &", "BitOr": "operator |", "BitXor": "operator ^",
    "LShift": "operator <<", "RShift": "operator >>", "Invert": "operator ~",
    "MatMult": "operator @",
}  # fmt: skip


# --------------------------------------------------------------------------- parsing


def find_expressions(text: str) -> list[tuple[int, int, str]]:
    """Spans `(start, end, inner)` of every `{{ }}` in `text` (`end` is past the `}}`).

    Braces and quotes inside an expression are tracked, so `{{ {"a": {"b": 1}} }}`
    is one span. An opening `{{` without a closing `}}` raises ExpressionError.
    """
    spans: list[tuple[int, int, str]] = []
    pos = text.find("{{")
    while pos != -1:
        end = _scan_end(text, pos + 2)
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


def _scan_end(text: str, i: int) -> int:
    """Index just past the `}}` closing an expression starting at `i`, or -1."""
    depth = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            quote = text[i : i + 3] if text[i : i + 3] in ("'''", '"""') else c
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                i += 2 if text[i] == "\\" else 1
            if i >= n:
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


@lru_cache(maxsize=8192)
def _parse(source: str, limits: ExpressionLimits) -> ast.expr:
    """Parse and statically vet one expression (cached; errors are not cached)."""
    if not source:
        raise ExpressionError("empty expression")
    if len(source) > limits.max_length:
        raise ExpressionError(
            f"expression is too long ({len(source)} characters, the limit is {limits.max_length})",
            expression=source[:80] + "...",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        col = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"syntax error: {exc.msg}{col}", expression=source) from None
    except (RecursionError, MemoryError):
        raise ExpressionError(
            f"expression nests too deeply (the limit is {limits.max_depth} levels)",
            expression=source[:80],
        ) from None
    except ValueError as exc:  # e.g. null bytes, int literal over the digit limit
        raise ExpressionError(f"invalid expression: {exc}", expression=source[:80]) from None
    problem = _vet(tree, limits)
    if problem:
        raise ExpressionError(problem, expression=source)
    return tree


def _vet(tree: ast.AST, limits: ExpressionLimits) -> str | None:
    """The static half of the sandbox: return why `tree` is refused, or None."""
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        kind = type(node)
        if depth > limits.max_depth:
            return f"expression nests too deeply (the limit is {limits.max_depth} levels)"
        if kind not in _ALLOWED_NODES:
            name = kind.__name__
            return f"{_FRIENDLY.get(name, name)} is not allowed in expressions"
        if kind is ast.Constant and type(node.value) not in _SCALARS:
            return f"{type(node.value).__name__} literals are not allowed in expressions"
        if kind is ast.Name and node.id.startswith("__"):
            return f"the name {node.id!r} is not allowed (names starting with '__' are refused)"
        if kind is ast.Attribute and node.attr.startswith("_"):
            return (
                f"reading .{node.attr} is not allowed (attributes starting with '_' are refused;"
                f" for a key use [{node.attr!r}])"
            )
        if kind is ast.comprehension and node.is_async:
            return "async comprehensions are not allowed in expressions"
        if kind is ast.Call:
            problem = _vet_call(node)
            if problem:
                return problem
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return None


def _vet_call(node: ast.Call) -> str | None:
    func = node.func
    if type(func) is ast.Name:
        if func.id not in FUNCTIONS:
            return f"unknown function {func.id!r}; the functions are: {', '.join(FUNCTIONS)}"
        allowed = _KEYWORDS.get(func.id, set())
        for kw in node.keywords:
            if kw.arg is None or kw.arg not in allowed:
                what = "**" if kw.arg is None else f"{kw.arg}="
                return f"{func.id}() does not take {what}" + (
                    f" (it takes {', '.join(sorted(allowed))}=)" if allowed else ""
                )
        return None
    if type(func) is ast.Attribute:
        if func.attr not in STRING_METHODS:
            return (
                f"calling .{func.attr}() is not allowed; methods exist only on strings:"
                f" {', '.join(STRING_METHODS)}"
            )
        if node.keywords:
            return f".{func.attr}() takes positional arguments only"
        return None
    return "only the listed functions and string methods can be called"


@dataclass(frozen=True, slots=True)
class _Expr:
    position: int
    source: str
    tree: ast.expr


@lru_cache(maxsize=8192)
def _template(text: str, limits: ExpressionLimits) -> tuple[bool, tuple[str | _Expr, ...]]:
    """(whole-field flag, literal and expression parts) of one string field (cached)."""
    parts: list[str | _Expr] = []
    last = 0
    for start, end, inner in find_expressions(text):
        try:
            tree = _parse(inner, limits)
        except ExpressionError as exc:
            raise _at(exc, start) from None
        if start > last:
            parts.append(text[last:start])
        parts.append(_Expr(start, inner, tree))
        last = end
    if last < len(text):
        parts.append(text[last:])
    exprs = [p for p in parts if type(p) is _Expr]
    whole = len(exprs) == 1 and all(type(p) is _Expr or not p.strip() for p in parts)
    return whole, tuple(parts)


def _at(exc: ExpressionError, position: int) -> ExpressionError:
    return ExpressionError(
        exc.message,
        expression=exc.expression,
        node_id=exc.node_id,
        field=exc.field,
        position=position if exc.position is None else exc.position,
    )


# --------------------------------------------------------------------------- evaluator


class _Evaluator(SimpleEval):
    """simpleeval with its AST handler table cut down and every risky step re-bound.

    One instance per thread (simpleeval keeps per-call state on the instance).
    """

    def __init__(self) -> None:
        super().__init__(operators={}, functions={}, names={})
        self.operators = {
            ast.Add: self._add, ast.Sub: _arith("-", lambda a, b: a - b), ast.Mult: self._mul,
            ast.Div: _arith("/", lambda a, b: a / b), ast.FloorDiv: _arith("//", lambda a, b: a // b),
            ast.Mod: self._mod, ast.Pow: self._pow, ast.USub: _unary("-", lambda a: -a),
            ast.UAdd: _unary("+", lambda a: +a), ast.Not: lambda a: not a,
            ast.Eq: self._compare(lambda a, b: a == b), ast.NotEq: self._compare(lambda a, b: a != b),
            ast.Lt: self._compare(lambda a, b: a < b), ast.LtE: self._compare(lambda a, b: a <= b),
            ast.Gt: self._compare(lambda a, b: a > b), ast.GtE: self._compare(lambda a, b: a >= b),
            ast.In: self._in, ast.NotIn: lambda a, b: not self._in(a, b),
            ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b,
        }  # fmt: skip
        self.functions = {
            "len": len, "str": self._fn_str, "int": int, "float": float, "bool": bool,
            "round": _fn_round, "min": self._fn_minmax(min), "max": self._fn_minmax(max),
            "sum": _fn_sum, "abs": _fn_abs, "sorted": self._fn_sorted, "any": any, "all": all,
        }  # fmt: skip
        # Only these handlers exist: anything else (f-strings, lambda, sets...) is refused.
        self.nodes = {
            ast.Constant: self._eval_constant, ast.Name: self._eval_name,
            ast.Attribute: self._eval_attribute, ast.Subscript: self._eval_subscript,
            ast.BinOp: self._eval_binop, ast.UnaryOp: self._eval_unaryop,
            ast.BoolOp: self._eval_boolop, ast.Compare: self._eval_compare,
            ast.IfExp: self._eval_ifexp, ast.Call: self._eval_call, ast.List: self._eval_list,
            ast.Tuple: self._eval_list, ast.Dict: self._eval_dict,
            ast.ListComp: self._eval_comprehension, ast.GeneratorExp: self._eval_comprehension,
            ast.DictComp: self._eval_comprehension,
        }  # fmt: skip
        self.limits = DEFAULT_LIMITS
        self.busy = False
        self._scopes: list[dict[str, Any]] = []
        self._steps = 0
        self._iterations = 0
        self._built = 0
        self._deadline = 0.0

    def run(
        self, tree: ast.expr, source: str, names: Mapping[str, Any], limits: ExpressionLimits
    ) -> Any:
        self.names = names
        self.limits = limits
        self._scopes.clear()
        self._steps = self._iterations = self._built = 0
        self._deadline = time.perf_counter() + limits.timeout_s
        self.busy = True
        try:
            return self.eval(source, previously_parsed=tree)
        finally:
            self.busy = False
            self.names = {}
            self._scopes.clear()

    # -- budget ---------------------------------------------------------------

    def _eval(self, node: ast.AST) -> Any:
        self._steps += 1
        if not self._steps & 31:
            self._check_time()
        try:
            handler = self.nodes[type(node)]
        except KeyError:
            raise ExpressionError(f"{type(node).__name__} is not allowed in expressions") from None
        result = handler(node)
        if type(result) not in _VALUES:
            raise ExpressionError(f"a value of type {type(result).__name__} is not allowed")
        return result

    def _check_time(self) -> None:
        if time.perf_counter() > self._deadline:
            raise ExpressionError(f"expression took longer than {self.limits.timeout_s:g} s")

    def _build(self, size: int, what: str) -> None:
        """Account for a value about to be built (refused before the memory is spent)."""
        limits = self.limits
        if size > limits.max_result_size:
            raise ExpressionError(f"{what} would be too large ({size} > {limits.max_result_size})")
        self._built += size
        if self._built > limits.max_total_size:
            raise ExpressionError(
                f"expression builds too much data (over {limits.max_total_size} in total)"
            )

    def _weight(self, value: Any, *, chars: bool) -> int:
        """Approximate size of a value (items, plus characters when `chars`), stopping
        once it passes max_result_size; shared sub-lists count every time they appear."""
        budget = self.limits.max_result_size
        total = 0
        stack = [value]
        while stack:
            v = stack.pop()
            total += 1
            t = type(v)
            if t is str:
                if chars:
                    total += len(v)
            elif t is dict:
                if chars:
                    total += sum(len(k) + 3 for k in v if type(k) is str)
                stack.extend(v.values())
            elif t is list or t is tuple:
                stack.extend(v)
            if total > budget:
                return total
            if not total & 0x3FFF:
                self._check_time()
        return total

    # -- names, keys, indexes --------------------------------------------------

    def _eval_name(self, node: ast.Name) -> Any:
        name = node.id
        for scope in reversed(self._scopes):
            if name in scope:
                return scope[name]
        try:
            return self.names[name]
        except KeyError:
            pass
        if name in FUNCTIONS:
            raise ExpressionError(f"{name} is a function; call it like {name}(...)")
        if name == "loop":
            raise ExpressionError("'loop' is only defined inside a loop body")
        raise ExpressionError(
            f"unknown name {name!r}; the names are: {', '.join(n for n in self.names)}"
        )

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        obj = self._eval(node.value)
        if type(obj) is dict:
            return self._key(obj, node.attr, node.value)
        what = _describe(node.value)
        if type(obj) is str and node.attr in STRING_METHODS:
            raise ExpressionError(f"string method .{node.attr} must be called: .{node.attr}()")
        if obj is None:
            raise ExpressionError(f"cannot read .{node.attr}: {what} is null")
        raise ExpressionError(f"cannot read .{node.attr} of {what} (a {_kind(obj)}, not a dict)")

    def _key(self, obj: dict, key: Any, node: ast.AST) -> Any:
        try:
            return obj[key]
        except KeyError:
            keys = list(obj)
            shown = ", ".join(repr(k) for k in keys[:20]) + (", ..." if len(keys) > 20 else "")
            raise ExpressionError(
                f"{_describe(node)} has no key {key!r}; available keys: {shown or '(none)'}"
            ) from None
        except TypeError:
            raise ExpressionError(f"{_kind(key)} cannot be a dict key") from None

    def _eval_subscript(self, node: ast.Subscript) -> Any:
        obj = self._eval(node.value)
        if type(node.slice) is ast.Slice:
            s = node.slice
            bounds = [None if b is None else self._eval(b) for b in (s.lower, s.upper, s.step)]
            if type(obj) not in (list, tuple, str):
                raise ExpressionError(f"cannot slice {_describe(node.value)} (a {_kind(obj)})")
            for b in bounds:
                if b is not None and type(b) not in (int, bool):
                    raise ExpressionError(f"slice bounds must be integers, not {_kind(b)}")
            if bounds[2] == 0:
                raise ExpressionError("slice step cannot be zero")
            return obj[slice(*bounds)]
        key = self._eval(node.slice)
        if type(obj) is dict:
            return self._key(obj, key, node.value)
        if type(obj) in (list, tuple, str):
            if type(key) not in (int, bool):
                raise ExpressionError(
                    f"{_describe(node.value)} is a {_kind(obj)}; index it with an integer,"
                    f" not {_kind(key)} {key!r}"[:300]
                )
            try:
                return obj[key]
            except IndexError:
                raise ExpressionError(
                    f"index {key} is out of range for {_describe(node.value)} (length {len(obj)})"
                ) from None
        raise ExpressionError(f"cannot index {_describe(node.value)} (it is {_kind(obj)})")

    # -- calls ---------------------------------------------------------------

    def _eval_call(self, node: ast.Call) -> Any:
        func = node.func
        if type(func) is ast.Name and func.id in self.functions:
            args = [self._eval(a) for a in node.args]
            kwargs = {k.arg: self._eval(k.value) for k in node.keywords if k.arg}
            try:
                return self.functions[func.id](*args, **kwargs)
            except ExpressionError:
                raise
            except (TypeError, ValueError, OverflowError) as exc:
                raise ExpressionError(f"{func.id}(): {exc}") from None
        if type(func) is ast.Attribute and func.attr in STRING_METHODS:
            obj = self._eval(func.value)
            if type(obj) is not str:
                raise ExpressionError(
                    f"cannot call .{func.attr}() on {_describe(func.value)} (a {_kind(obj)});"
                    " methods exist only on strings"
                )
            args = [self._eval(a) for a in node.args]
            return self._str_method(obj, func.attr, args)
        raise ExpressionError("only the listed functions and string methods can be called")

    def _str_method(self, s: str, name: str, args: list[Any]) -> Any:
        if any(type(a) not in _SCALARS and name != "join" for a in args):
            raise ExpressionError(f".{name}() takes strings or numbers")
        if name == "replace" and len(args) >= 2 and type(args[0]) is str and type(args[1]) is str:
            count = s.count(args[0]) if args[0] else len(s) + 1
            self._build(len(s) + count * max(0, len(args[1]) - len(args[0])), "replace() result")
        elif name == "join" and len(args) == 1 and type(args[0]) in (list, tuple):
            parts = args[0]
            if not all(type(p) is str for p in parts):
                raise ExpressionError(".join() needs a list of strings")
            self._build(sum(map(len, parts)) + len(s) * max(0, len(parts) - 1), "join() result")
        elif name not in ("join", "replace"):
            self._build(
                len(s) * (3 if name in ("upper", "lower", "title", "capitalize") else 1),
                f"{name}() result",
            )
        try:
            return getattr(str, name)(s, *args)
        except (TypeError, ValueError) as exc:
            raise ExpressionError(f".{name}(): {exc}") from None

    def _fn_str(self, value: Any = "") -> str:
        return self._text(value)

    def _text(self, value: Any) -> str:
        """The text form used by str() and by interpolation."""
        t = type(value)
        if t is str:
            return value
        if t is bool:
            return "true" if value else "false"
        if value is None:
            return "null"
        if t is int or t is float:
            return str(value)
        size = self._weight(value, chars=True)
        self._build(size, "text")
        try:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise ExpressionError(f"cannot turn {_kind(value)} into text: {exc}") from None
        self._build(len(text), "text")
        return text

    def _fn_minmax(self, fn: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            items = args[0] if len(args) == 1 else args
            self._guard_items(items, fn.__name__)
            return fn(*args, **kwargs)

        return call

    def _fn_sorted(self, items: Any, *, reverse: Any = False) -> list[Any]:
        self._guard_items(items, "sorted")
        return sorted(items, reverse=bool(reverse))

    def _guard_items(self, items: Any, what: str) -> None:
        """Comparing containers inside a list costs work in C that the deadline can't stop."""
        if (
            type(items) in (list, tuple)
            and not all(type(i) in _SCALARS for i in items)
            and self._weight(items, chars=False) > self.limits.max_result_size
        ):
            raise ExpressionError(f"{what}(): the values are too large to compare")

    # -- operators -------------------------------------------------------------

    def _add(self, a: Any, b: Any) -> Any:
        ta, tb = type(a), type(b)
        if ta in (str, list, tuple) and tb is ta:
            self._build(len(a) + len(b), "the result of +")
        return a + b

    def _mul(self, a: Any, b: Any) -> Any:
        ta, tb = type(a), type(b)
        if ta in (str, list, tuple) and tb in (int, bool):
            a, b, ta, tb = b, a, tb, ta
        if tb in (str, list, tuple) and ta in (int, bool):
            unit = len(b) if tb is str else self._weight(b, chars=True)
            self._build(max(a, 0) * unit, "the result of *")
        elif ta in (int, bool) and tb in (int, bool):
            self._int_bits(abs(a).bit_length() + abs(b).bit_length(), "*")
        return a * b

    def _pow(self, a: Any, b: Any) -> Any:
        if type(a) not in _NUMBERS or type(b) not in _NUMBERS:
            raise ExpressionError(f"** needs numbers, not {_kind(a)} and {_kind(b)}")
        if abs(b) > self.limits.max_power:
            raise ExpressionError(
                f"exponent {b} is too large (the limit is {self.limits.max_power})"
            )
        if type(a) is not float and type(b) is not float and b > 0:
            self._int_bits(max(abs(a).bit_length() - 1, 0) * b, "**")
        result = a**b
        if type(result) is complex:
            raise ExpressionError("** gave a complex number")
        return result

    def _mod(self, a: Any, b: Any) -> Any:
        if type(a) not in _NUMBERS or type(b) not in _NUMBERS:
            raise ExpressionError(
                f"% needs numbers (string formatting with % is not supported), not {_kind(a)}"
            )
        return a % b

    def _int_bits(self, bits: int, op: str) -> None:
        if bits > self.limits.max_int_bits:
            raise ExpressionError(f"the result of {op} would be too large (about {bits} bits)")

    def _compare(self, fn: Any) -> Any:
        def compare(a: Any, b: Any) -> Any:
            if type(a) not in _SCALARS and type(b) not in _SCALARS and a is not b:
                limit = self.limits.max_result_size
                if self._weight(a, chars=False) > limit and self._weight(b, chars=False) > limit:
                    raise ExpressionError("the values are too large to compare")
            return fn(a, b)

        return compare

    def _in(self, a: Any, b: Any) -> bool:
        if (
            type(b) in (list, tuple)
            and type(a) not in _SCALARS
            and self._weight(a, chars=False) * max(len(b), 1) > self.limits.max_result_size
        ):
            raise ExpressionError("the values are too large to compare")
        if type(b) not in (str, list, tuple, dict):
            raise ExpressionError(f"'in' needs a string, list or dict on the right, not {_kind(b)}")
        return a in b

    # -- compound values -------------------------------------------------------

    def _eval_comprehension(self, node: ast.ListComp | ast.GeneratorExp | ast.DictComp) -> Any:
        out: Any = {} if type(node) is ast.DictComp else []
        scope: dict[str, Any] = {}
        self._scopes.append(scope)
        try:
            self._generate(node, 0, scope, out)
        finally:
            self._scopes.pop()
        return out

    def _generate(self, node: Any, index: int, scope: dict[str, Any], out: Any) -> None:
        gen = node.generators[index]
        iterable = self._eval(gen.iter)
        if type(iterable) not in (list, tuple, str, dict):
            raise ExpressionError(f"cannot loop over {_kind(iterable)}")
        last = index + 1 == len(node.generators)
        for item in iterable:
            self._iterations += 1
            if self._iterations > self.limits.max_iterations:
                raise ExpressionError(
                    f"comprehension runs too many steps (the limit is {self.limits.max_iterations})"
                )
            _bind(gen.target, item, scope)
            if all(self._eval(cond) for cond in gen.ifs):
                if not last:
                    self._generate(node, index + 1, scope, out)
                elif type(out) is dict:
                    key = self._eval(node.key)
                    try:
                        out[key] = self._eval(node.value)
                    except TypeError:
                        raise ExpressionError(f"{_kind(key)} cannot be a dict key") from None
                else:
                    out.append(self._eval(node.elt))

    def _eval_dict(self, node: ast.Dict) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                merged = self._eval(value)
                if type(merged) is not dict:
                    raise ExpressionError(f"** needs a dict, not {_kind(merged)}")
                out.update(merged)
                continue
            k = self._eval(key)
            try:
                out[k] = self._eval(value)
            except TypeError:
                raise ExpressionError(f"{_kind(k)} cannot be a dict key") from None
        return out

    def _eval_list(self, node: ast.List | ast.Tuple) -> list[Any]:
        return [self._eval(item) for item in node.elts]


def _bind(target: ast.AST, value: Any, scope: dict[str, Any]) -> None:
    if type(target) is ast.Name:
        scope[target.id] = value
        return
    if type(target) not in (ast.Tuple, ast.List):
        raise ExpressionError("a comprehension can only bind names")
    if type(value) not in (list, tuple, str) or len(value) != len(target.elts):
        raise ExpressionError(f"cannot unpack {_kind(value)} into {len(target.elts)} names")
    for t, v in zip(target.elts, value, strict=True):
        _bind(t, v, scope)


def _arith(symbol: str, fn: Any) -> Any:
    def op(a: Any, b: Any) -> Any:
        if type(a) not in _NUMBERS or type(b) not in _NUMBERS:
            raise ExpressionError(f"{symbol} needs numbers, not {_kind(a)} and {_kind(b)}")
        return fn(a, b)

    return op


def _unary(symbol: str, fn: Any) -> Any:
    def op(a: Any) -> Any:
        if type(a) not in _NUMBERS:
            raise ExpressionError(f"unary {symbol} needs a number, not {_kind(a)}")
        return fn(a)

    return op


def _fn_round(x: Any, ndigits: Any = None) -> Any:
    if type(x) not in _NUMBERS:
        raise ExpressionError(f"round() needs a number, not {_kind(x)}")
    if ndigits is None:
        return round(x)
    if type(ndigits) not in (int, bool) or abs(ndigits) > 100:
        raise ExpressionError("round(): ndigits must be an integer between -100 and 100")
    return round(x, ndigits)


def _fn_sum(items: Any, start: Any = 0) -> Any:
    if type(start) not in _NUMBERS:
        raise ExpressionError("sum() adds numbers only")
    if type(items) not in (list, tuple):
        raise ExpressionError(f"sum() needs a list, not {_kind(items)}")
    return sum(items, start)


def _fn_abs(x: Any) -> Any:
    if type(x) not in _NUMBERS:
        raise ExpressionError(f"abs() needs a number, not {_kind(x)}")
    return abs(x)


def _kind(value: Any) -> str:
    t = type(value)
    if value is None:
        return "null"
    return {dict: "dict", list: "list", tuple: "list", str: "string", bool: "bool"}.get(
        t, "number" if t in (int, float) else t.__name__
    )


def _describe(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # pragma: no cover - unparse of a vetted tree does not fail
        return "the value"
    return text if len(text) <= 60 else text[:57] + "..."


_local = threading.local()


def _evaluator() -> _Evaluator:
    ev = getattr(_local, "ev", None)
    if ev is None:
        ev = _local.ev = _Evaluator()
    return ev if not ev.busy else _Evaluator()


def _run(expr: _Expr, names: Mapping[str, Any], limits: ExpressionLimits) -> Any:
    """Evaluate a parsed expression; every failure comes out as ExpressionError."""
    ev = _evaluator()
    try:
        return ev.run(expr.tree, expr.source, names, limits)
    except ExpressionError as exc:
        raise ExpressionError(exc.message, expression=expr.source, position=expr.position) from None
    except InvalidExpression as exc:
        message = str(exc)
    except ZeroDivisionError:
        message = "division by zero"
    except RecursionError:
        message = "expression nests too deeply"
    except MemoryError:
        message = "expression ran out of memory"
    except Exception as exc:  # the sandbox's promise: nothing but ExpressionError leaves
        message = f"{type(exc).__name__}: {exc}"
    raise ExpressionError(message[:500], expression=expr.source, position=expr.position)


# --------------------------------------------------------------------------- public API


def check(text: str, *, node_id: str | None = None, field: str | None = None,
          limits: ExpressionLimits = DEFAULT_LIMITS) -> None:  # fmt: skip
    """Syntax- and sandbox-check every `{{ }}` in `text` without evaluating anything."""
    if "{{" not in text:
        return
    try:
        _template(text, limits)
    except ExpressionError as exc:
        raise exc.located(node_id, field) from None


def evaluate(expression: str, names: Mapping[str, Any], *, node_id: str | None = None,
             field: str | None = None, limits: ExpressionLimits = DEFAULT_LIMITS) -> Any:  # fmt: skip
    """Evaluate one bare expression (no braces) and return its typed value."""
    source = expression.strip() if type(expression) is str else expression
    if type(source) is not str:
        raise ExpressionError("an expression must be a string", node_id=node_id, field=field)
    try:
        tree = _parse(source, limits)
        return _run(_Expr(None, source, tree), names, limits)  # type: ignore[arg-type]
    except ExpressionError as exc:
        raise exc.located(node_id, field) from None


def render(value: Any, names: Mapping[str, Any], *, node_id: str | None = None,
           field: str | None = None, limits: ExpressionLimits = DEFAULT_LIMITS) -> Any:  # fmt: skip
    """Render every `{{ }}` in a str, or recursively in list items and dict values.

    Nested errors name the field path, e.g. `headers.Authorization` or `to[1]`.
    """
    try:
        return _render(value, names, limits)
    except ExpressionError as exc:
        path = exc.field
        if field and path:
            path = field + path if path.startswith("[") else f"{field}.{path}"
        return_error = ExpressionError(
            exc.message,
            expression=exc.expression,
            node_id=node_id,
            field=path or field,
            position=exc.position,
        )
        raise return_error from None


def _render(value: Any, names: Mapping[str, Any], limits: ExpressionLimits) -> Any:
    t = type(value)
    if t is str:
        return value if "{{" not in value else _render_text(value, names, limits)
    if t is dict:
        out = {}
        for key, item in value.items():
            if type(item) is str and "{{" not in item:
                out[key] = item
                continue
            try:
                out[key] = _render(item, names, limits)
            except ExpressionError as exc:
                raise _nested(exc, str(key)) from None
        return out
    if t is list:
        rendered = []
        for i, item in enumerate(value):
            try:
                rendered.append(_render(item, names, limits))
            except ExpressionError as exc:
                raise _nested(exc, f"[{i}]") from None
        return rendered
    return value


def _nested(exc: ExpressionError, key: str) -> ExpressionError:
    path = exc.field
    if path:
        path = key + path if path.startswith("[") else f"{key}.{path}"
    return ExpressionError(
        exc.message, expression=exc.expression, field=path or key, position=exc.position
    )


def _render_text(text: str, names: Mapping[str, Any], limits: ExpressionLimits) -> Any:
    whole, parts = _template(text, limits)
    if whole:
        for part in parts:
            if type(part) is _Expr:
                return _run(part, names, limits)
    out: list[str] = []
    size = 0
    for part in parts:
        if type(part) is str:
            out.append(part)
            continue
        value = _run(part, names, limits)
        if type(value) is not str:
            value = _as_text(value, part, names, limits)
        size += len(value)
        if size > limits.max_result_size:
            raise ExpressionError(
                f"the rendered text would be too large (over {limits.max_result_size} characters)",
                expression=part.source,
                position=part.position,
            )
        out.append(value)
    return "".join(out)


def _as_text(value: Any, part: _Expr, names: Mapping[str, Any], limits: ExpressionLimits) -> str:
    ev = _evaluator()
    ev.limits = limits
    ev._built = 0
    ev._deadline = time.perf_counter() + limits.timeout_s
    try:
        return ev._text(value)
    except ExpressionError as exc:
        raise ExpressionError(exc.message, expression=part.source, position=part.position) from None
    except Exception as exc:  # e.g. an int over Python's digit limit
        raise ExpressionError(
            f"cannot turn the value into text: {exc}"[:500],
            expression=part.source,
            position=part.position,
        ) from None


def make_names(*, input: Any, nodes: Mapping[str, Any], vars: Mapping[str, Any],
               loop: Mapping[str, Any] | None, execution: Mapping[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The names an expression sees. Values are shared, not copied (cheap per node run);
    `loop` is left out outside a loop body, and datetimes become ISO text."""
    names = {
        "input": input,
        "nodes": nodes if type(nodes) is dict else dict(nodes),
        "vars": vars if type(vars) is dict else dict(vars),
        "execution": {
            k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in execution.items()
        },
    }
    if loop is not None:
        names["loop"] = loop if type(loop) is dict else dict(loop)
    return names
