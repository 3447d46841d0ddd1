"""Translate one n8n (JavaScript) expression into a ProcessEngine (Python subset) expression.

n8n writes `={{ $json.total > 10 && $('Order').item.json.ok }}`; the engine reads
`{{ input.total > 10 and nodes["Order"].ok }}`. A small Pratt parser reads the
JavaScript that n8n expressions use in practice (member access, calls of a known
set of helpers and string methods, operators, ternaries, object and array
literals, template strings) and builds a Python AST, so the output is always
well-formed. Anything outside that set raises `Untranslatable` with the reason;
the importer then keeps the original text and flags the node.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

__all__ = ["Context", "Untranslatable", "translate_expression"]


class Untranslatable(Exception):
    """The expression uses JavaScript this translator does not map (the message says what)."""


@dataclass(slots=True)
class Context:
    """How `$json` and a node reference read where the expression lives.

    `input_base` is the Python expression for the node's own input item (`input`, or
    `input.body` after an HTTP request, whose n8n item is the response body);
    `node_base(name)` the same for another node's output. `notes` collects what a
    reader should know (approximations, variables to set).
    """

    input_base: str = "input"
    node_base: Callable[[str], str] = lambda name: f"nodes[{name!r}]"
    notes: list[str] = field(default_factory=list)
    variables: set[str] = field(default_factory=set)  # `$vars.x` names read (declared in the file)
    # after a Merge: for each element of the merged list, whether it is an HTTP response
    merged: list[bool] | None = None


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>\d+\.\d*|\.\d+|\d+)
  | (?P<str>'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")
  | (?P<tpl>`(?:\\.|[^`\\])*`)
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>===|!==|\?\?|\?\.|=>|==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]{}])
    """,
    re.VERBOSE,
)

_BINARY = {  # JS operator -> (binding power, builder)
    "??": (1, "nullish"), "||": (2, "or"), "&&": (3, "and"),
    "===": (6, ast.Eq), "!==": (6, ast.NotEq), "==": (6, ast.Eq), "!=": (6, ast.NotEq),
    "<": (7, ast.Lt), ">": (7, ast.Gt), "<=": (7, ast.LtE), ">=": (7, ast.GtE),
    "+": (9, ast.Add), "-": (9, ast.Sub), "*": (10, ast.Mult), "/": (10, ast.Div), "%": (10, ast.Mod),
}  # fmt: skip

_FUNCTIONS = {  # global JS function -> Python function of the sandbox
    "String": "str", "Number": "float", "parseFloat": "float", "parseInt": "int", "Boolean": "bool",
    "Math.round": "round", "Math.min": "min", "Math.max": "max", "Math.abs": "abs",
}  # fmt: skip

_METHODS = {  # JS string/array method -> Python method of the sandbox's whitelist
    "toUpperCase": "upper", "toLowerCase": "lower", "trim": "strip", "trimStart": "lstrip",
    "trimEnd": "rstrip", "startsWith": "startswith", "endsWith": "endswith", "split": "split",
}  # fmt: skip


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise Untranslatable(f"cannot read {text[pos:pos + 12]!r}")
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup or "", m.group()))
    out.append(("end", ""))
    return out


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[])


def _key(obj: ast.expr, key: str | ast.expr) -> ast.expr:
    """`obj.key` for identifier-like keys (reads as the dict key in the sandbox), else `obj["key"]`."""
    if isinstance(key, str) and key.isidentifier() and not key.startswith("_"):
        return ast.Attribute(obj, key, ast.Load())
    return ast.Subscript(obj, key if isinstance(key, ast.expr) else ast.Constant(key), ast.Load())


def _base(source: str) -> ast.expr:
    return ast.parse(source, mode="eval").body


class _Parser:
    def __init__(self, text: str, ctx: Context) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.ctx = ctx

    # -- token helpers -------------------------------------------------------------
    def peek(self, ahead: int = 0) -> tuple[str, str]:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.toks[self.i]
        if value is not None and tok[1] != value:
            raise Untranslatable(f"expected {value!r}, found {tok[1] or 'the end'!r}")
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        return self.peek()[1] == value and self.peek()[0] == "op"

    # -- grammar -------------------------------------------------------------------
    def expression(self, rbp: int = 0) -> ast.expr:
        left = self.prefix()
        while True:
            kind, op = self.peek()
            if kind == "op" and op == "?" and rbp < 1:
                self.take()
                then = self.expression()
                self.take(":")
                other = self.expression()
                left = ast.IfExp(test=_tolerant(left), body=then, orelse=other)
                continue
            if kind != "op" or op not in _BINARY or _BINARY[op][0] <= rbp:
                return left
            power, how = _BINARY[op]
            self.take()
            right = self.expression(power)
            left = self.binary(how, left, right)

    @staticmethod
    def binary(how: object, left: ast.expr, right: ast.expr) -> ast.expr:
        if how == "and":
            return ast.BoolOp(ast.And(), [_tolerant(left), _tolerant(right)])
        if how == "or":
            return ast.BoolOp(ast.Or(), [_tolerant(left), _tolerant(right)])
        if how == "nullish":  # a ?? b: b only when a is null
            left = _tolerant(left)
            test = ast.Compare(left, [ast.IsNot()], [ast.Constant(None)])
            return ast.IfExp(test=test, body=left, orelse=right)
        if isinstance(how, type) and issubclass(how, ast.cmpop):
            return ast.Compare(left, [how()], [right])
        return ast.BinOp(left, how(), right)  # type: ignore[operator]

    def prefix(self) -> ast.expr:
        kind, tok = self.take()
        if kind == "op" and tok in ("!", "-", "+"):
            operand = self.expression(11)
            op = {"!": ast.Not, "-": ast.USub, "+": ast.UAdd}[tok]()
            return self.postfix(ast.UnaryOp(op, _tolerant(operand) if tok == "!" else operand))
        if kind == "op" and tok == "(":
            inner = self.expression()
            self.take(")")
            return self.postfix(inner)
        if kind == "op" and tok == "[":
            return self.postfix(ast.List(self.items("]"), ast.Load()))
        if kind == "op" and tok == "{":
            return self.postfix(self.object())
        if kind == "num":
            return self.postfix(ast.Constant(float(tok) if "." in tok else int(tok)))
        if kind == "str":
            return self.postfix(ast.Constant(_js_string(tok[1:-1])))
        if kind == "tpl":
            return self.postfix(self.template(tok[1:-1]))
        if kind == "name":
            return self.postfix(self.name(tok))
        raise Untranslatable(f"unexpected {tok or 'end of expression'!r}")

    def items(self, close: str) -> list[ast.expr]:
        out: list[ast.expr] = []
        while not self.at(close):
            out.append(self.expression())
            if not self.at(close):
                self.take(",")
        self.take(close)
        return out

    def object(self) -> ast.Dict:
        keys: list[ast.expr | None] = []
        values: list[ast.expr] = []
        while not self.at("}"):
            kind, tok = self.take()
            if kind not in ("name", "str", "num"):
                raise Untranslatable(f"object key {tok!r} is not supported")
            key = _js_string(tok[1:-1]) if kind == "str" else tok
            keys.append(ast.Constant(key))
            if self.at(":"):
                self.take()
                values.append(self.expression())
            else:  # shorthand {a} is {a: a}: only names we can read
                values.append(self.name(tok))
            if not self.at("}"):
                self.take(",")
        self.take("}")
        return ast.Dict(keys, values)

    def template(self, body: str) -> ast.expr:
        parts: list[ast.expr] = []
        for i, piece in enumerate(re.split(r"\$\{([^{}]*)\}", body)):
            if i % 2:
                parts.append(_call("str", _Parser(piece, self.ctx).whole()))
            elif piece:
                parts.append(ast.Constant(_js_string(piece)))
        if not parts:
            return ast.Constant("")
        out = parts[0]
        for p in parts[1:]:
            out = ast.BinOp(out, ast.Add(), p)
        return out

    def whole(self) -> ast.expr:
        expr = self.expression()
        if self.peek()[0] != "end":
            raise Untranslatable(f"unexpected {self.peek()[1]!r}")
        return expr

    # -- names ---------------------------------------------------------------------
    def name(self, tok: str) -> ast.expr:
        if tok in ("true", "false"):
            return ast.Constant(tok == "true")
        if tok in ("null", "undefined"):
            return ast.Constant(None)
        if tok == "$json":
            return _base(self.ctx.input_base)
        if tok == "$input":
            return self.item_of(_base(self.ctx.input_base), "$input")
        if tok == "$":
            self.take("(")
            kind, ref = self.take()
            if kind != "str":
                raise Untranslatable("$(...) with a computed node name")
            self.take(")")
            return self.item_of(_base(self.ctx.node_base(_js_string(ref[1:-1]))), f"$({ref})")
        if tok == "$node":
            self.take("[")
            kind, ref = self.take()
            if kind != "str":
                raise Untranslatable("$node[...] with a computed node name")
            self.take("]")
            return self.item_of(_base(self.ctx.node_base(_js_string(ref[1:-1]))), f"$node[{ref}]")
        return self.special_name(tok)

    def special_name(self, tok: str) -> ast.expr:
        if tok in ("$vars", "$env"):
            self.take(".")
            var = self.take()[1]
            if tok == "$vars":
                self.ctx.variables.add(var)
            if tok == "$env":
                self.ctx.notes.append(f"$env.{var} reads the workflow variable {var} (set it with --var; never saved)")
            return _key(ast.Name("vars", ast.Load()), var)
        if tok in ("$now", "$today"):
            self.ctx.notes.append(f"{tok} reads the execution's start time (ISO text)")
            return _key(ast.Name("execution", ast.Load()), "started_at")
        if tok == "$execution":
            self.take(".")
            if self.take()[1] != "id":
                raise Untranslatable("$execution other than $execution.id")
            return _key(ast.Name("execution", ast.Load()), "id")
        if tok in ("$itemIndex", "$runIndex"):
            self.ctx.notes.append(f"{tok} reads the loop index (0 outside a loop)")
            return ast.Constant(0)
        if tok in ("Math", "JSON", "Object", "Array", "Date", "DateTime") and self.at("."):
            self.take(".")
            full = f"{tok}.{self.take()[1]}"
            if full == "JSON.stringify" and self.at("("):
                return self.stringify()
            if full in ("Math.floor", "Math.ceil") and self.at("("):
                return self.floor_ceil(full == "Math.ceil")
            if full in _FUNCTIONS:
                return ast.Name(_FUNCTIONS[full], ast.Load())
            raise Untranslatable(f"{full} has no counterpart")
        if tok in _FUNCTIONS:
            return ast.Name(_FUNCTIONS[tok], ast.Load())
        raise Untranslatable(f"the name {tok!r} has no counterpart")

    def stringify(self) -> ast.expr:
        """`JSON.stringify(x)` -> `str([x])[1:-1]`: the sandbox writes a list as compact JSON,
        so this is x's JSON text for every type (a text value quoted and escaped, too)."""
        self.take("(")
        args = self.items(")")
        if len(args) != 1:
            raise Untranslatable("JSON.stringify with a replacer or indentation")
        text = _call("str", ast.List([args[0]], ast.Load()))
        return ast.Subscript(text, ast.Slice(ast.Constant(1), ast.UnaryOp(ast.USub(), ast.Constant(1))), ast.Load())

    def floor_ceil(self, ceil: bool) -> ast.expr:
        """`Math.floor(x)` -> `int(x // 1)`, `Math.ceil(x)` -> `-int(-x // 1)` (floor division rounds down)."""
        self.take("(")
        args = self.items(")")
        if len(args) != 1:
            raise Untranslatable("Math.floor / Math.ceil take one number")
        x = ast.UnaryOp(ast.USub(), args[0]) if ceil else args[0]
        down = _call("int", ast.BinOp(x, ast.FloorDiv(), ast.Constant(1)))
        return ast.UnaryOp(ast.USub(), down) if ceil else down

    def item_of(self, base: ast.expr, label: str) -> ast.expr:
        """`.item.json`, `.first().json`, `.last().json`, `.json` after a node reference -> base."""
        if self.at(".") and self.peek(1)[1] in ("item", "first", "last", "json"):
            self.take(".")
            what = self.take()[1]
            if what in ("first", "last"):
                self.take("(")
                self.take(")")
            if what != "json":
                self.take(".")
                if self.take()[1] != "json":
                    raise Untranslatable(f"{label}.{what} other than .json")
            return base
        if self.at(".") and self.peek(1)[1] in ("all", "params", "context"):
            raise Untranslatable(f"{label}.{self.peek(1)[1]} (several items) has no counterpart")
        return base

    # -- postfix: members, calls ---------------------------------------------------
    def postfix(self, obj: ast.expr) -> ast.expr:
        while True:
            if self.at(".") or self.at("?."):
                optional = self.take()[1] == "?."
                if optional and self.at("["):
                    continue
                kind, member = self.take()
                if kind != "name":
                    raise Untranslatable(f"unexpected {member!r} after '.'")
                obj = self.member(obj, member)
            elif self.at("["):
                self.take()
                index = self.expression()
                self.take("]")
                obj = ast.Subscript(obj, index, ast.Load())
            elif self.at("("):
                if not isinstance(obj, ast.Name):
                    raise Untranslatable("calling a value that is not a known function")
                self.take()
                obj = ast.Call(obj, self.items(")"), [])
            else:
                return obj

    def member(self, obj: ast.expr, member: str) -> ast.expr:
        if member == "length":
            return _call("len", obj)
        if not self.at("("):
            return _key(obj, member)
        self.take("(")
        args = self.items(")")
        if member in _METHODS:
            return ast.Call(ast.Attribute(obj, _METHODS[member], ast.Load()), args, [])
        if member == "includes" and len(args) == 1:
            return ast.Compare(args[0], [ast.In()], [obj])
        if member == "join":
            sep = args[0] if args else ast.Constant(",")
            return ast.Call(ast.Attribute(sep, "join", ast.Load()), [obj], [])
        if member == "slice" and 1 <= len(args) <= 2:  # the same negative-index rules as Python
            return ast.Subscript(obj, ast.Slice(args[0], args[1] if len(args) == 2 else None), ast.Load())
        if member == "substring" and (sub := _substring(obj, args)) is not None:
            return sub
        if member == "toString" and not args:
            return _call("str", obj)
        if member == "replace" and len(args) == 2 and isinstance(args[0], ast.Constant):
            args.append(ast.Constant(1))  # JavaScript replaces the first match only
            return ast.Call(ast.Attribute(obj, "replace", ast.Load()), args, [])
        raise Untranslatable(f".{member}() has no counterpart")


def _tolerant(node: ast.expr) -> ast.expr:
    """In a test or a fallback (`a.x || b`, `a.x ? …`, `!a.x`), a missing key reads as
    JavaScript's undefined would: `(a.x if 'x' in a else None)`, instead of an error."""
    if isinstance(node, ast.Attribute):
        key: ast.expr = ast.Constant(node.attr)
    elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        key = node.slice
    else:
        return node
    return ast.IfExp(test=ast.Compare(key, [ast.In()], [node.value]), body=node, orelse=ast.Constant(None))


def _substring(obj: ast.expr, args: list[ast.expr]) -> ast.expr | None:
    """`s.substring(a, b)` as a slice, for literal non-negative bounds (where the two agree;
    substring swaps reversed bounds)."""
    if not 1 <= len(args) <= 2 or not all(
        isinstance(a, ast.Constant) and type(a.value) is int and a.value >= 0 for a in args
    ):
        return None
    bounds = sorted(a.value for a in args)  # type: ignore[attr-defined]
    hi = ast.Constant(bounds[1]) if len(bounds) == 2 else None
    return ast.Subscript(obj, ast.Slice(ast.Constant(bounds[0]), hi), ast.Load())


def _js_string(body: str) -> str:
    try:
        return cast(str, ast.literal_eval('"' + body.replace('"', '\\"').replace("\\'", "'").replace('\\\\"', '\\"') + '"'))
    except (SyntaxError, ValueError):
        raise Untranslatable("a string with escapes that cannot be read") from None


def translate_expression(js: str, ctx: Context | None = None) -> str:
    """One JavaScript expression (the text between n8n's `{{ }}`) -> Python source."""
    ctx = ctx or Context()
    if "=>" in js or "function" in js.split():
        raise Untranslatable("functions (=> or function) have no counterpart")
    tree = _Parser(js.strip(), ctx).whole()
    return ast.unparse(ast.fix_missing_locations(tree))
