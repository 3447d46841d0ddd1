"""The `{{ ... }}` expression language used in every string field of a node config.

Why this shape: configs are rendered on every node run, so templates and parsed
ASTs are cached per string and plain strings pass through after one substring
test. Evaluation is done by a locked-down `simpleeval` evaluator (never Python
`eval`/`exec`/`compile`): a static pass here refuses anything outside the language
before it is cached, and `engine.expression_sandbox` re-checks at run time (value
types, sizes, a CPU-time deadline) so no expression can escape, hang or exhaust
memory.

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
import gc
import math
import re
import warnings
from collections.abc import Callable, Container, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

from simpleeval import InvalidExpression

from engine.errors import ExpressionError
from engine.expression_front import Field as _Field
from engine.expression_front import match_field as _front_match
from engine.expression_front import read as _front
from engine.expression_front import read_field as _front_field
from engine.expression_front import read_plain as _front_plain
from engine.expression_quick import KINDS as QUICK_KINDS
from engine.expression_quick import MISSING, quick
from engine.expression_quick import STEPS as QUICK_STEPS
from engine.expression_sandbox import (
    DEFAULT_LIMITS,
    FUNCTIONS,
    KEYWORDS,
    NAMES,
    SCALARS,
    STRING_METHODS,
    ExpressionLimits,
    evaluator,
)
from engine.expression_spans import find_expressions

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
    "render_config",
]


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


class _Code(NamedTuple):  # a tuple: built for every distinct expression, cheaper than a dataclass
    """A vetted expression, with what lets the common ones run cheaply."""

    tree: ast.expr  # its syntax tree; a Constant of its value when `expression_front` folded it
    path: tuple[Any, ...] | None  # `vars.k`, `input.items[0]`: a name and keys to read
    timed: bool  # it calls or loops: the CPU clock runs from its first step
    quick: bool  # small and call-free: `expression_quick.quick` may read it


_T = TypeVar("_T")
_tuple_new = tuple.__new__  # a NamedTuple built without its Python `__new__` (one per distinct expression)


def _cached_per_limits(fn: Callable[[str, ExpressionLimits], _T]) -> Callable[[str, ExpressionLimits], _T]:
    """`fn` behind two caches (errors are not cached): under the default limits the key is
    the text alone (hashing the limits would cost about as much as the lookup itself), and
    `fn` is called with the text alone, taking the default limits as its default (through a
    `partial` with a keyword, a miss cost a fifth of parsing a small expression)."""
    default = lru_cache(maxsize=8192)(fn)  # called with one argument
    other = lru_cache(maxsize=1024)(fn)

    def cached(text: str, limits: ExpressionLimits) -> _T:
        return default(text) if limits is DEFAULT_LIMITS else other(text, limits)

    cached.default = default  # type: ignore[attr-defined]  # the hot callers skip the wrapper
    return cached


def _compile(source: str, limits: ExpressionLimits = DEFAULT_LIMITS) -> _Code:
    if limits is DEFAULT_LIMITS and (read := _front(source)) is not None:  # `i + 1`, `vars.k`: no parser
        tree, path, size = read
        return _code(source, tree, path, size)
    if not source:
        raise ExpressionError("empty expression")
    if len(source) > limits.max_length:
        raise ExpressionError(
            f"expression is too long ({len(source)} characters, the limit is {limits.max_length})",
            expression=source[:80] + "...",
        )
    try:
        tree = _syntax_tree_of(source)
    except SyntaxError as exc:
        at = (exc.offset - 1) if exc.offset and (exc.lineno or 1) == 1 else None
        raise ExpressionError(f"syntax error: {exc.msg}", expression=source, position=at) from None
    except (RecursionError, MemoryError):
        raise ExpressionError(
            f"expression nests too deeply (the limit is {limits.max_depth} levels)",
            expression=source[:80],
        ) from None
    except ValueError as exc:  # e.g. null bytes, int literal over the digit limit
        raise ExpressionError(f"invalid expression: {exc}", expression=source[:80]) from None
    size = _scan(tree, limits)
    if size == -1 and (problem := _vet(tree, limits)):  # `_vet` words what `_scan` found
        message, where = problem
        raise ExpressionError(message, expression=source, position=_column(where))
    return _code(source, tree, _path_of(tree), size)


def _code(source: str, tree: ast.expr, path: tuple[Any, ...] | None, size: int) -> _Code:
    """The vetted expression `source`; `size`: its evaluator steps, negative when the quick path may not read it."""
    return _tuple_new(_Code, (tree, path, "(" in source or "for" in source, size >= 0))


def _syntax_tree_of(source: str) -> ast.expr:
    try:
        if _WARNS.search(source):  # the parser warns only about escapes and numbers like `1if`
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return _syntax_tree(source)
        # `_syntax_tree`, written out: this is the hot path of validating a file
        return compile(source, "<unknown>", "eval", ast.PyCF_ONLY_AST, True).body  # type: ignore[attr-defined,no-any-return]
    except SystemError as exc:
        if "recursion depth mismatch" not in str(exc):
            raise
        return _parse_again(source)


def _parse_again(source: str) -> ast.expr:
    """Parse with the collector off. CPython 3.11 keeps one depth counter for building
    syntax trees: a collection during a parse may run a finalizer that parses too (a
    logged traceback does, to underline its line), and the outer parse then fails with
    "AST constructor recursion depth mismatch" (python/cpython#106905)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _syntax_tree(source)
    finally:
        if enabled:
            gc.enable()


def _syntax_tree(source: str) -> ast.expr:
    """`ast.parse(source, mode="eval").body`, calling the compiler as `ast.parse` does
    (no flags inherited), without its Python wrapper."""
    return compile(source, "<unknown>", "eval", ast.PyCF_ONLY_AST, True).body  # type: ignore[attr-defined,no-any-return]


# `timed`: only a call or a comprehension can hold the evaluator in one place for long (a
# priced C call, a loop); any other expression takes at most 31 steps, each bounded in
# size, before the step counter first looks at the clock, so its clock may start then.
# Both need a `(` or a `for` in the text (one inside a string or a name counts too).


_MISSING: Any = MISSING  # also the quick path's "ask the evaluator"


def _key_of(node: ast.expr) -> Any:
    """The key of a subscript that is a literal string or integer (`["a"]`, `[0]`, `[-1]`)."""
    if type(node) is ast.UnaryOp and type(node.op) is ast.USub:
        number = node.operand
        return -number.value if type(number) is ast.Constant and type(number.value) is int else _MISSING
    if type(node) is ast.Constant and type(node.value) in (str, int):
        return node.value
    return _MISSING


def _path_of(tree: ast.expr) -> tuple[Any, ...] | None:
    """(name, key, ...) when `tree` only reads keys (`vars.k`, `input["a"][0]`), else None."""
    keys: list[Any] = []
    node: ast.expr = tree
    while True:
        kind = type(node)
        if kind is ast.Name:
            keys.append(node.id)  # type: ignore[attr-defined]
            return tuple(reversed(keys))
        if kind is ast.Attribute:
            keys.append(node.attr)  # type: ignore[attr-defined]
        elif kind is ast.Subscript and (key := _key_of(node.slice)) is not _MISSING:  # type: ignore[attr-defined]
            keys.append(key)
        else:
            return None
        node = node.value  # type: ignore[attr-defined]


_WARNS = re.compile(r"\\|[0-9]\.?[A-Za-z_]")  # a backslash, or a number touching a letter (`1if`, `1.else`)


def _column(node: ast.AST | None) -> int | None:
    """Column of `node` within a one-line expression (None when unknown)."""
    if node is None or getattr(node, "lineno", 1) != 1:
        return None
    if isinstance(node, ast.Attribute) and getattr(node, "end_lineno", 1) == 1 and node.end_col_offset:
        return node.end_col_offset - len(node.attr)  # the key's name, not the start of `a.b.c`
    if isinstance(node, ast.Subscript):
        node = node.slice
    col = getattr(node, "col_offset", None)
    return col if isinstance(col, int) else None


def _vet(tree: ast.AST, limits: ExpressionLimits) -> tuple[str, ast.AST] | None:
    """The static half of the sandbox: (why `tree` is refused, where), or None.

    A depth-first walk in `ast.iter_child_nodes` order (operators and contexts count as
    a level, as they always have), reading each node type's child fields from a table:
    the first problem in that order is the one reported.
    """
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    max_depth = limits.max_depth
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        kind = type(node)
        if depth > max_depth:
            return f"expression nests too deeply (the limit is {max_depth} levels)", node
        info = _KINDS.get(kind)
        if info is None:
            name = kind.__name__
            return f"{_FRIENDLY.get(name, name)} is not allowed in expressions", node
        if info[1]:
            problem = _vet_one(node, kind)
            if problem:
                return problem, node
        depth += 1
        for name in info[0]:
            child = getattr(node, name)
            if type(child) is list:
                for item in child:
                    if item is not None:  # a dict's `**` entry has no key
                        push((item, depth))
            elif child is not None:
                push((child, depth))
    return None


def _scan(tree: ast.AST, limits: ExpressionLimits) -> int:
    """`_vet`'s verdict, cheaper: -1 when `tree` has a problem (`_vet` then says which),
    else its size in evaluator steps, negated less one (-2 - steps) when `quick` may not
    read it.

    Whether a tree has a problem does not depend on the order of the walk, so this one
    checks constants, names, operators and contexts where it meets them instead of
    visiting each as a node of its own (most nodes of a small tree are those).
    """
    stack = [tree]
    depths = [1]
    max_depth = limits.max_depth
    steps = 0
    readable = limits is DEFAULT_LIMITS  # by `quick`
    while stack:
        node = stack.pop()
        depth = depths.pop()
        kind = type(node)
        info = _KINDS.get(kind)
        if info is None or depth > max_depth or (info[1] and _vet_one(node, kind)):
            return -1
        fields, _, step, fast = info
        steps += step
        readable = readable and fast
        depth += 1
        for name in fields:
            child = getattr(node, name)
            kind = type(child)
            if kind is ast.Constant:
                value = child.value
                if depth > max_depth or type(value) not in SCALARS or (type(value) is float and not math.isfinite(value)):
                    return -1
                steps += 1
            elif kind in _LEAVES:  # an operator or a context, always a leaf
                if depth > max_depth:
                    return -1
                readable = readable and kind in QUICK_KINDS
            elif kind is list:
                for item in child:
                    if item is not None:  # a dict's `**` entry has no key
                        stack.append(item)
                        depths.append(depth)
            elif child is not None:
                stack.append(child)
                depths.append(depth)
    return steps if readable and steps <= QUICK_STEPS else -2 - steps


def _child_fields(kind: type[ast.AST]) -> tuple[str, ...]:
    """The fields of `kind` that can hold nodes (the ones `ast.iter_child_nodes` yields from)."""
    if kind is ast.Constant:  # its `value` is the literal itself
        return ()
    return tuple(f for f in kind._fields if f not in ("id", "attr", "arg", "is_async", "kind", "type_comment"))


_CHECKED = frozenset({ast.Constant, ast.Name, ast.Attribute, ast.comprehension, ast.Call})
# (child fields, checked by `_vet_one`, counts as an evaluator step, readable by `quick`)
_KINDS: dict[type, tuple[tuple[str, ...], bool, int, bool]] = {
    kind: (_child_fields(kind), kind in _CHECKED, int(issubclass(kind, ast.expr)), kind in QUICK_KINDS)
    for kind in _ALLOWED_NODES
}
_LEAVES = frozenset(k for k in _ALLOWED_NODES if not issubclass(k, ast.expr | ast.keyword | ast.comprehension))


def _vet_one(node: Any, kind: type) -> str | None:
    """The checks of one node beyond its type (constants, names, attributes, calls)."""
    if kind is ast.Constant:
        if type(node.value) not in SCALARS:
            return f"{type(node.value).__name__} literals are not allowed in expressions"
        if type(node.value) is float and not math.isfinite(node.value):
            return "this number is too large (JSON has no Infinity)"
    elif kind is ast.Name:
        if node.id.startswith("__"):
            return f"the name {node.id!r} is not allowed (names starting with '__' are refused)"
    elif kind is ast.Attribute:
        if node.attr.startswith("_"):
            return (
                f"reading .{node.attr} is not allowed (attributes starting with '_' are refused;"
                f" for a key use [{node.attr!r}])"
            )
    elif kind is ast.comprehension:
        if node.is_async:
            return "async comprehensions are not allowed in expressions"
    elif kind is ast.Call:
        return _vet_call(node)
    return None


def _vet_call(node: ast.Call) -> str | None:
    func = node.func
    if type(func) is ast.Name:
        if func.id not in FUNCTIONS:
            return f"unknown function {func.id!r}; the functions are: {', '.join(FUNCTIONS)}"
        allowed = KEYWORDS.get(func.id, set())
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


class _Expr(NamedTuple):
    position: int | None  # where its `{{` is in the field (None: a bare expression)
    source: str
    code: _Code
    base: int = 0  # where its text (after `{{` and spaces) starts in the field

    def at(self, column: int | None) -> int | None:
        """Field position of a column inside this expression (its `{{` when unknown)."""
        return self.position if column is None else self.base + column


_Template = tuple[_Expr | None, tuple[str | _Expr, ...]]


def _split(text: str, limits: ExpressionLimits = DEFAULT_LIMITS) -> _Template:
    """(the expression when it is the whole field, else None; literal and expression
    parts) of one string field."""
    if limits is DEFAULT_LIMITS and (field := _front_field(text)) is not None:  # `{{ i + 1 }}`: no parser
        source, base, (tree, path, size) = field
        expr = _tuple_new(_Expr, (0, source, _code(source, tree, path, size), base))
        return expr, (expr,)
    if text.startswith("{{") and text.endswith("}}") and len(text) >= 4:
        inner = text[2:-2]
        if not ("{" in inner or "}" in inner or "'" in inner or '"' in inner):  # `_TRICKY`, without a regex call
            expr = _part(text, 0, len(text), inner.strip(), limits)  # the one span find_expressions finds
            return expr, (expr,)
    parts: list[str | _Expr] = []
    last = 0
    for start, end, inner in find_expressions(text):
        if start > last:
            parts.append(text[last:start])
        parts.append(_part(text, start, end, inner, limits))
        last = end
    if last < len(text):
        parts.append(text[last:])
    if len(parts) == 1 and type(parts[0]) is _Expr:  # the common case: one whole-field expression
        return parts[0], (parts[0],)
    exprs = [p for p in parts if type(p) is _Expr]
    whole = len(exprs) == 1 and all(isinstance(p, _Expr) or not p.strip() for p in parts)
    return (exprs[0] if whole else None), tuple(parts)


def _part(text: str, start: int, end: int, inner: str, limits: ExpressionLimits) -> _Expr:
    """The expression `inner` found at text[start:end]; an error is placed in the field."""
    raw = text[start + 2 : end - 2]
    base = start + 2 + (len(raw) - len(raw.lstrip()))
    try:
        code = _compile(inner, limits)  # no cache of its own: the field's parts are cached
    except ExpressionError as exc:
        position = start if exc.position is None else base + exc.position
        raise ExpressionError(exc.message, expression=exc.expression, position=position) from None
    return _tuple_new(_Expr, (start, inner, code, base))


_READ_AS_IS = frozenset({str, int, bool, type(None), dict, list})

# How a field is rendered under the default limits, decided once per distinct text
# (`_plan`): its value (a whole-field constant, folded or literal), a key path to read,
# a tree `quick` reads, the evaluator, or text parts to join. Each but the first falls
# back to the evaluator wherever the direct read says MISSING, as `_run` does.
_VALUE, _PATH, _QUICK, _EVALUATE, _JOIN = range(5)
# (kind, what it needs: the value, path or tree; the whole-field expression; the parts).
# A plan made for rendering a value or a key path the front end reads (`read_plain`) keeps
# neither of the last two (None): no syntax tree or expression is built for it, and
# `_full` completes it where they are wanted (a check, a path read that falls back).
_Plan = tuple[int, Any, _Expr | None, tuple[str | _Expr, ...] | None]


_UNMATCHED: Any = object()


def _plan(text: str, matched: _Field | None = _UNMATCHED) -> _Plan:
    """The render plan of one string field under the default limits (`_split`'s parts
    with how to render them); a whole field the front end reads is split here in line
    (`matched`: its `match_field` when already made, None when it matched nothing)."""
    if matched is _UNMATCHED:
        matched = _front_match(text)
    field = None if matched is None else _front_field(text, matched)
    if field is not None:  # `{{ i + 1 }}`, `{{ vars.k }}`: the commonest fields of all
        source, base, (tree, path, size) = field
        expr = _tuple_new(_Expr, (0, source, _tuple_new(_Code, (tree, path, "(" in source or "for" in source, size >= 0)), base))
        parts: tuple[str | _Expr, ...] = (expr,)
        whole: _Expr | None = expr
    else:
        whole, parts = _split(text)
    if whole is None:
        return _JOIN, None, None, parts
    code = whole.code
    if code.path is not None:
        return _PATH, code.path, whole, parts
    if not code.quick:
        return _EVALUATE, None, whole, parts
    if type(code.tree) is ast.Constant:  # what `quick` gives of it, without the call
        return _VALUE, code.tree.value, whole, parts
    return _QUICK, code.tree, whole, parts


_parse = _cached_per_limits(_compile)  # parse and statically vet one expression
_other_templates = lru_cache(maxsize=1024)(_split)  # one string field's parts under other limits
# One string field's plan under the default limits, by its text: a plain map read with
# `.get` where a field is rendered (a hit of an `lru_cache` costs several times more:
# it moves the entry to the front), emptied when full.
_PLANS: dict[str, _Plan] = {}
_MAX_PLANS = 8192


def _keep(text: str, plan: _Plan) -> _Plan:
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[text] = plan
    return plan


def _planned(text: str) -> _Plan:
    """The plan of a field not in `_PLANS`, to render it, kept there (errors are not
    kept): a plain plan where the front end reads a value or a key path."""
    matched = _front_match(text)
    plain = None if matched is None else _front_plain(matched)
    if plain is None:
        return _keep(text, _plan(text, matched))
    if len(_PLANS) >= _MAX_PLANS:  # `_keep`, in line
        _PLANS.clear()
    plan = _PLANS[text] = (_VALUE if plain[0] else _PATH, plain[1], None, None)
    return plan


def _full(text: str) -> _Plan:
    """One string field's plan under the default limits with its expression and parts
    (a plain plan is made whole), kept in `_PLANS`."""
    plan = _PLANS.get(text)
    return plan if plan is not None and plan[3] is not None else _keep(text, _plan(text))


def _template(text: str, limits: ExpressionLimits) -> _Template:
    """(the whole-field expression or None, the parts) of one string field."""
    if limits is DEFAULT_LIMITS:
        _, _, whole, parts = _full(text)
        return whole, parts  # type: ignore[return-value]
    return _other_templates(text, limits)


def _follow(path: tuple[Any, ...], names: Mapping[str, Any]) -> Any:
    """The value a key-reading expression gives, or _MISSING wherever the evaluator has
    something else to say (a missing key, an index out of range, a value that is not
    JSON): it then runs the expression itself, for its checks and its message.

    The evaluator returns what it reads from the names as it is, so this is the same
    value, only without a walk over the tree."""
    try:
        value = names[path[0]]
    except KeyError:
        return _MISSING
    for key in path[1:]:
        kind = type(value)
        if kind is dict:
            value = value.get(key, _MISSING)
            if value is _MISSING:
                return _MISSING
        elif kind is list and type(key) is int and -len(value) <= key < len(value):
            value = value[key]
        else:
            return _MISSING
    kind = type(value)
    if kind in _READ_AS_IS or (kind is float and math.isfinite(value)):
        return value
    return _MISSING


def _as_text(value: Any) -> Any:
    """A scalar's interpolated text (the evaluator's `_text`), or _MISSING for a container."""
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is int and value.bit_length() > 10_000:  # str() may refuse it: the evaluator says why
        return _MISSING
    return str(value) if kind is int or kind is float else _MISSING


def _run(
    expr: _Expr, names: Mapping[str, Any], limits: ExpressionLimits, *, text: bool = False
) -> Any:
    """Evaluate a parsed expression (as text when `text`); every failure is an ExpressionError."""
    code = expr.code
    if code.path is not None:
        value = _follow(code.path, names)
        if value is not _MISSING:
            value = _as_text(value) if text else value
            if value is not _MISSING:
                return value
    elif code.quick:
        value = quick(code.tree, names)
        if value is not _MISSING:
            value = _as_text(value) if text else value
            if value is not _MISSING:
                return value
    ev = evaluator()
    ev.fault = None
    try:
        return ev.run(code.tree, expr.source, names, limits, text=text, timed=code.timed)
    except ExpressionError as exc:
        message = exc.message
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
    raise ExpressionError(message[:500], expression=expr.source, position=expr.at(_column(ev.fault)))


def _where(exc: ExpressionError, parent: str | None, node_id: str | None = None) -> ExpressionError:
    """The same error with `parent` put in front of its field path (`a` + `[0]`, `a` + `b`)."""
    path = exc.field
    if parent and path:
        path = parent + path if path.startswith("[") else f"{parent}.{path}"
    return ExpressionError(
        exc.message,
        expression=exc.expression,
        node_id=node_id or exc.node_id,
        field=path or parent,
        position=exc.position,
    )


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
    if type(expression) is not str:
        raise ExpressionError("an expression must be a string", node_id=node_id, field=field)
    try:
        source = expression.strip()
        return _run(_Expr(None, source, _parse(source, limits)), names, limits)
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
        raise _where(exc, field, node_id) from None


def render_config(config: Mapping[str, Any], kept: Container[str], names: Mapping[str, Any], *, node_id: str) -> dict[str, Any]:
    """A node's config with every field but `kept` rendered, as `render(value, field="config.<key>")`
    per field would (the field's name is made only for an error)."""
    out = {}
    for key, value in config.items():
        if key in kept:
            out[key] = value
            continue
        try:
            if type(value) is str:
                out[key] = value if "{{" not in value else _render_field(value, names)
            else:
                out[key] = _render(value, names, DEFAULT_LIMITS)
        except ExpressionError as exc:
            raise _where(exc, f"config.{key}", node_id) from None
    return out


def _render(value: Any, names: Mapping[str, Any], limits: ExpressionLimits) -> Any:
    t = type(value)
    field = _render_field if limits is DEFAULT_LIMITS else None
    if t is str:
        return value if "{{" not in value else field(value, names) if field else _render_text(value, names, limits)
    if t is dict:
        out = {}
        for key, item in value.items():
            try:
                if type(item) is not str:
                    out[key] = _render(item, names, limits)
                elif "{{" not in item:  # most values: no call for the plain ones
                    out[key] = item
                else:
                    out[key] = field(item, names) if field else _render_text(item, names, limits)
            except ExpressionError as exc:
                raise _where(exc, str(key)) from None
        return out
    if t is list:
        rendered = []
        for i, item in enumerate(value):
            try:
                rendered.append(_render(item, names, limits))
            except ExpressionError as exc:
                raise _where(exc, f"[{i}]") from None
        return rendered
    return value


def _render_field(text: str, names: Mapping[str, Any]) -> Any:
    """A string field holding `{{` rendered under the default limits, by its plan: the
    common fields without a call beyond this one (a key path of one or two keys is read
    here, as `_follow` reads it)."""
    kind, arg, whole, parts = _PLANS.get(text) or _planned(text)
    if kind == _VALUE:
        return arg
    if kind == _PATH:
        if len(arg) == 2:  # `vars.k`, `input.body`
            value = names.get(arg[0], _MISSING)
            value = value.get(arg[1], _MISSING) if type(value) is dict else _MISSING
            got = type(value)
            if got in _READ_AS_IS or (got is float and math.isfinite(value)):
                return value
        else:
            value = _follow(arg, names)
            if value is not _MISSING:
                return value
    elif kind == _QUICK:
        value = quick(arg, names)
        if value is not _MISSING:
            return value
    elif kind == _JOIN:
        return _joined(parts, names, DEFAULT_LIMITS)  # type: ignore[arg-type]
    return _run(whole or _full(text)[2], names, DEFAULT_LIMITS)  # type: ignore[arg-type]


def _render_text(text: str, names: Mapping[str, Any], limits: ExpressionLimits) -> Any:
    if limits is DEFAULT_LIMITS:
        return _render_field(text, names)
    whole, parts = _other_templates(text, limits)
    if whole is not None:
        code = whole.code
        value = _follow(code.path, names) if code.path is not None else quick(code.tree, names) if code.quick else _MISSING
        return value if value is not _MISSING else _run(whole, names, limits)
    return _joined(parts, names, limits)


def _joined(parts: tuple[str | _Expr, ...], names: Mapping[str, Any], limits: ExpressionLimits) -> str:
    """The text of a field's parts, each expression's value put in as text."""
    out: list[str] = []
    size = 0
    for part in parts:
        piece = part if isinstance(part, str) else _run(part, names, limits, text=True)
        size += len(piece)
        if size > limits.max_result_size and type(part) is _Expr:
            raise ExpressionError(
                f"the rendered text would be too large (over {limits.max_result_size} characters)",
                expression=part.source,
                position=part.position,
            )
        out.append(piece)
    return "".join(out)


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
