"""A front end for the commonest small expressions, in place of Python's parser.

Why: every distinct expression of a workflow is parsed once per process, and
`compile(..., PyCF_ONLY_AST)` costs about 3 µs even for `i + 1` (most of it setting
up the parser), plus the static check's walk of the tree: on a warm load of a file
with one distinct expression per node, that was the largest part of the load path.

`read` takes one line of plain ASCII text shaped as one of

    operand                      operand OP operand
    operand: a number (`7`, `-2`, `1.5`), a quoted text without escapes, `None`,
             `True`, `False`, a name with keys (`input`, `vars.k`, `a.b[0]["c"]`),
             or a listed function called on one of those (`len(input)`)
    OP:      + - * / // %  == != < <= > >=

with spaces (any number) around the operator and nowhere else, and gives what the
parser and the static check would: the exact syntax tree (node types,
fields, positions: an error message may quote them), the key path, and the size in
evaluator steps. Names the static check refuses (`__x`, `._x`, `foo(x)`), keywords used as names,
numbers with underscores, exponents or leading zeros, escapes, braces in a text, tabs,
anything else: `read` says None and the parser reads it as before (errors and warnings
included). `read_field` does the same for a whole field, `{{ text }}`, in one match
(`match_field`); `read_plain` gives of that match only a folded value or a key path,
without a tree, where that is all rendering needs.

An expression without names (`2 + 1`, `'a' + 'b'`, `-5`) is folded to its value
when the quick path (`engine.expression_quick`) would compute it without a word
(no error, nothing large): its tree is then a Constant of that value, spanning the
whole text - nothing about it can fail at run time, so no position of it is ever
reported. Anything that could fail keeps its exact tree for the evaluator to word.

A test compares `read` with the parser on generated and adversarial texts; at import
the front end checks itself against the parser on one text of each form and stands
aside for good on a Python whose trees differ.
"""

from __future__ import annotations

import ast
import keyword
import re
from typing import Any

from engine.expression_quick import BINARY as _BINARY
from engine.expression_quick import COMPARE as _COMPARE
from engine.expression_quick import MISSING, STEPS
from engine.expression_sandbox import FUNCTIONS

__all__ = ["MAX_LENGTH", "Field", "Read", "match_field", "read", "read_field", "read_plain"]

MAX_LENGTH = 200  # longer texts go to the parser (far under the default limit of 10,000)
_MAX_KEYS = 16  # keys after a name: the tree stays far under the default depth of 64

_NAME = "[A-Za-z_][A-Za-z0-9_]*"
_INT = "0|[1-9][0-9]{0,17}"  # under 2**62: the quick path computes with every such int
_TEXT = r"'[^'\\{}\x00-\x1f\x7f]*'|\"[^\"\\{}\x00-\x1f\x7f]*\""  # no escapes, braces or control characters
_NUMBER = rf"-?(?:[0-9]{{1,18}}\.[0-9]{{1,18}}|{_INT})"
_CHAIN = rf"{_NAME}(?:\.{_NAME}|\[-?(?:{_INT})\]|\[(?:{_TEXT})\])*"
_OPERAND = rf"{_NUMBER}|{_TEXT}|{_CHAIN}(?:\((?:{_NUMBER}|{_TEXT}|{_CHAIN})\))?"  # `len(input)`: a call of one argument
_BODY = rf"({_OPERAND})(?: *(//|[-+*/%]|[=!<>]=|<|>) *({_OPERAND}))?"
_FORM = re.compile(_BODY)  # groups: left, operator, right
_FIELD = re.compile(rf"\{{\{{ *({_BODY}) *\}}\}}")  # a whole field `{{ ... }}`: the text, then the same three
_KEY = re.compile(rf"\.({_NAME})|\[(-?)({_INT})\]|\[({_TEXT})\]")
_KEYWORDS = frozenset(keyword.kwlist)
_CONSTANTS = {"None": None, "True": True, "False": False}


# A read: (tree, key path, size). `tree`: the exact tree, or a Constant of the folded
# value; `path`: `engine.expressions._path_of(tree)`; `size`: `engine.expressions._scan`'s
# verdict on the exact tree (its evaluator steps, or -2 - steps when the quick path may
# not read it: a call, or over `STEPS` steps).
Read = tuple[ast.expr, "tuple[Any, ...] | None", int]
# One operand: (tree, key path, evaluator steps, whether the quick path may read it).
_Part = tuple[ast.expr, "tuple[Any, ...] | None", int, bool]


def _sample(text: str) -> ast.expr:
    return compile(text, "<unknown>", "eval", ast.PyCF_ONLY_AST, True).body  # type: ignore[attr-defined,no-any-return]


_LOAD = _sample("a").ctx  # type: ignore[attr-defined]  # the parser's shared context and operators
_USUB = _sample("-a").op  # type: ignore[attr-defined]
_OPERATORS: dict[str, ast.AST] = {
    text: (_sample(f"a {text} b").op if text in ("+", "-", "*", "/", "//", "%") else _sample(f"a {text} b").ops[0])  # type: ignore[attr-defined]
    for text in ("+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">=")
}
# what the quick path computes for each operator (`_BINARY`, `_COMPARE`): the fold
_FOLD = {text: _BINARY.get(type(op)) or _COMPARE[type(op)] for text, op in _OPERATORS.items()}
_Constant, _Name, _Attribute, _Subscript, _UnaryOp = ast.Constant, ast.Name, ast.Attribute, ast.Subscript, ast.UnaryOp
_new = ast.AST.__new__


def _constant(value: Any, start: int, end: int) -> ast.Constant:
    node = _new(_Constant)
    node.__dict__ = {"value": value, "kind": None, "lineno": 1, "col_offset": start, "end_lineno": 1, "end_col_offset": end}
    return node


def _value(text: str) -> Any:
    """The value of an operand without names (a number, a text, `None`, `True`, `False`),
    or MISSING (it reads a name)."""
    first = text[0]
    if first == "-" or "0" <= first <= "9":
        return float(text) if "." in text else int(text)  # `-5` is `-(5)`: the same number
    if first == "'" or first == '"':
        return text[1:-1]
    return _CONSTANTS.get(text, MISSING)


def read(source: str) -> Read | None:
    """What the parser and the static check would make of `source` (stripped, as every
    caller has it), or None when the parser must read it."""
    if len(source) > MAX_LENGTH or not source.isascii() or not _AGREES:
        return None
    m = _FORM.fullmatch(source)
    if m is None:
        return None
    left, op, right = m.groups()
    return _read(source, left, op, right, m.start(3))


# A whole field `{{ text }}` matched: (the text, where it starts in the field, the left
# operand, the operator or None, the right operand or None, where that starts in the text).
Field = tuple[str, int, str, "str | None", "str | None", int]


def match_field(text: str) -> Field | None:
    """The parts of a field that is one `{{ }}` around a text of the forms `read` takes
    with only spaces beside it, or None (one match, shared by `read_field` and `read_plain`)."""
    if len(text) > MAX_LENGTH or not text.isascii() or not _AGREES:
        return None
    m = _FIELD.fullmatch(text)
    if m is None:
        return None
    source, left, op, right = m.groups()
    base = m.start(1)
    return source, base, left, op, right, m.start(4) - base


def read_field(text: str, field: Field | None = None) -> tuple[str, int, Read] | None:
    """(the expression, where it starts, its read) of a field that is one `{{ }}` around
    a text `read` takes with only spaces beside it - what `find_expressions` and `read`
    would give - or None. `field`: its `match_field`, when already made."""
    if field is None and (field := match_field(text)) is None:
        return None
    source, base, left, op, right, right_at = field
    got = _read(source, left, op, right, right_at)
    return None if got is None else (source, base, got)


def read_plain(field: Field) -> tuple[bool, Any] | None:
    """What rendering needs of a matched field (`match_field`) when that is all it needs:
    (True, the value) of one folded to a constant, (False, the key path) of a name with
    keys; None for anything else. No syntax tree is built: a render plan keeps only this
    (the tree is built from the text again if ever wanted)."""
    _, _, left, op, right, _ = field
    lead = left[0]  # `_value`, numbers in line (as `_read` has them)
    a = (float(left) if "." in left else int(left)) if lead == "-" or "0" <= lead <= "9" else _value(left)
    if op is None:
        if a is not MISSING:
            return True, a
        chain = None if left[-1] == ")" else _chain(left, 0, trees=False)
        return None if chain is None else (False, chain[1])
    if a is MISSING:  # a name: the quick path or the evaluator reads it
        return None
    lead = right[0]  # type: ignore[index]
    b = (float(right) if "." in right else int(right)) if lead == "-" or "0" <= lead <= "9" else _value(right)  # type: ignore[arg-type,operator]
    if b is MISSING:
        return None
    value = _FOLD[op](a, b)
    return None if value is MISSING else (True, value)


def _read(source: str, left: str, op: str | None, right: str | None, right_at: int) -> Read | None:
    if op is None:
        value = _value(left)
        if value is MISSING:
            part = _operand(left, 0, value)
            return None if part is None else (part[0], part[1], _size(part[2], part[3]))
        return _constant(value, 0, len(source)), None, 2 if left[0] == "-" else 1  # `-5`: folded
    assert right is not None
    # `_value` of each, numbers in line (a call is most of reading `i + 1`)
    lead_a, lead_b = left[0], right[0]
    a = (float(left) if "." in left else int(left)) if lead_a == "-" or "0" <= lead_a <= "9" else _value(left)
    b = (float(right) if "." in right else int(right)) if lead_b == "-" or "0" <= lead_b <= "9" else _value(right)
    if a is not MISSING and b is not MISSING:  # no names: folded when nothing can go wrong
        value = _FOLD[op](a, b)
        if value is not MISSING:  # steps: the operator's, and 2 for each `-5` (UnaryOp, Constant)
            node = _new(_Constant)  # `_constant(value, 0, len(source))`
            node.__dict__ = {"value": value, "kind": None, "lineno": 1, "col_offset": 0, "end_lineno": 1, "end_col_offset": len(source)}
            return node, None, 3 + (lead_a == "-") + (lead_b == "-")
    first = _operand(left, 0, a)
    second = _operand(right, right_at, b)
    if first is None or second is None:
        return None
    operator = _OPERATORS[op]
    tree = _new(ast.BinOp if type(operator) in _BINARY else ast.Compare)
    if type(tree) is ast.BinOp:
        tree.__dict__ = {"left": first[0], "op": operator, "right": second[0], **_ends(0, len(source))}
    else:
        tree.__dict__ = {"left": first[0], "ops": [operator], "comparators": [second[0]], **_ends(0, len(source))}
    return tree, None, _size(1 + first[2] + second[2], first[3] and second[3])


def _size(steps: int, readable: bool) -> int:
    return steps if readable and steps <= STEPS else -2 - steps


def _ends(start: int, end: int) -> dict[str, int]:
    return {"lineno": 1, "col_offset": start, "end_lineno": 1, "end_col_offset": end}


def _operand(text: str, start: int, value: Any) -> _Part | None:
    """The exact tree of one operand (`value`: its value, MISSING when it reads a name)."""
    if value is MISSING:
        return _call(text, start) if text[-1] == ")" else _chain(text, start)
    end = start + len(text)
    if text[0] != "-":
        return _constant(value, start, end), None, 1, True
    node = _new(_UnaryOp)
    node.__dict__ = {"op": _USUB, "operand": _constant(-value, start + 1, end), **_ends(start, end)}
    return node, None, 2, True


def _call(text: str, start: int) -> _Part | None:
    """`len(input)`: one of the listed functions called with one operand (no keywords), or
    None (another name: the static check words the refusal)."""
    name = text[: text.index("(")]
    inner = text[len(name) + 1 : -1]
    if name not in FUNCTIONS:
        return None
    argument = _operand(inner, start + len(name) + 1, _value(inner))
    if argument is None:
        return None
    func = _new(_Name)
    func.__dict__ = {"id": name, "ctx": _LOAD, **_ends(start, start + len(name))}
    node = _new(ast.Call)
    node.__dict__ = {"func": func, "args": [argument[0]], "keywords": [], **_ends(start, start + len(text))}
    return node, None, 2 + argument[2], False  # the quick path reads no call


def _chain(text: str, start: int, trees: bool = True) -> _Part | None:
    """The tree and key path of a name with keys (`vars.k`, `a.b[0]["c"]`), or None
    when the parser must read it (a keyword, a name the static check refuses).
    `trees` False: the key path alone (no tree is made: None in its place)."""
    m = _KEY.search(text)
    name = text if m is None else text[: m.start()]
    if name in _KEYWORDS or name[:2] == "__":
        return None
    tree: Any = None
    if trees:
        tree = _new(_Name)
        tree.__dict__ = {"id": name, "ctx": _LOAD, "lineno": 1, "col_offset": start, "end_lineno": 1, "end_col_offset": start + len(name)}
    path: list[Any] = [name]
    steps = 1
    pos = len(name)
    while pos < len(text):
        m = _KEY.match(text, pos)
        if m is None or len(path) > _MAX_KEYS:
            return None
        attr, minus, index, quoted = m.groups()
        pos = m.end()
        if attr is not None:
            if attr in _KEYWORDS or attr[0] == "_":
                return None
            path.append(attr)
            if trees:
                node = _new(_Attribute)
                node.__dict__ = {"value": tree, "attr": attr, "ctx": _LOAD, "lineno": 1, "col_offset": start, "end_lineno": 1, "end_col_offset": start + pos}
                tree = node
                steps += 1
            continue
        key_text = minus + index if index is not None else quoted
        key = int(key_text) if index is not None else quoted[1:-1]
        path.append(key)
        if trees:
            end = start + pos
            key_tree, _, key_steps, _ = _operand(key_text, end - 1 - len(key_text), key)  # type: ignore[misc]
            subscript = _new(_Subscript)
            subscript.__dict__ = {"value": tree, "slice": key_tree, "ctx": _LOAD, "lineno": 1, "col_offset": start, "end_lineno": 1, "end_col_offset": end}
            tree = subscript
            steps += 1 + key_steps
    return tree, tuple(path), steps, True


def _same(a: Any, b: Any) -> bool:
    """Whether two syntax trees are equal, positions included."""
    if type(a) is not type(b):
        return False
    if isinstance(a, ast.AST):
        return a.__dict__.keys() == b.__dict__.keys() and all(_same(v, b.__dict__[k]) for k, v in a.__dict__.items())
    if type(a) is list:
        return len(a) == len(b) and all(map(_same, a, b))
    return bool(a == b)


_AGREES = True
_AGREES = all(  # one text of each form that is not folded
    (got := read(text)) is not None and _same(got[0], _sample(text))
    for text in ("a.b[0]['c'][-1] // -1.5", "x != None", 'True < "t"', "7", "len(a.b) > 2")
)
