"""The run-time half of the expression sandbox: a locked-down simpleeval evaluator.

Why: `engine.expressions` parses and statically vets every expression once; this
module evaluates the vetted AST and re-checks everything that depends on values -
only JSON value types ever exist, dicts are read by key only, strings have a small
method whitelist, and each operator and function refuses to build anything larger
than the limits *before* the memory is spent. A step counter checks a deadline in
the thread's CPU time (so load or GIL contention never fails a correct expression),
so no expression can hang; it starts with the first step. A single C call cannot be
interrupted, so each one is priced before it is made (argument sizes times its known
cost: stripping, splitting, replacing, joining, sorting, comparing, integer division,
sums, slices) and refused over `max_call_cost`. Integers stay under `max_int_bits` on
every path (parsing, arithmetic, sum/min/max), so every result can be written as JSON
text (Python refuses ints over 4,300 digits); NaN and Infinity are refused, since strict
JSON has neither. A built result is weighed as a whole before it leaves - a list of a
thousand references to one long string weighs a thousand strings, as it does once
written out - so nothing larger than `max_total_size` can reach the store.
"""

from __future__ import annotations

import ast
import json
import math
import reprlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simpleeval import MAX_STRING_LENGTH, SimpleEval

from engine.errors import ExpressionError

_REPR = reprlib.Repr()  # keyword arguments only from Python 3.12 on
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple = 3, 6, 6, 6
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 60


def short_repr(value: Any) -> str:
    """A value for an error message: bounded work and length whatever its size (a full
    repr of a list of a million 1 MB strings would take gigabytes)."""
    return _REPR.repr(value)


__all__ = [
    "DEFAULT_LIMITS",
    "FUNCTIONS",
    "KEYWORDS",
    "NAMES",
    "SCALARS",
    "STRING_METHODS",
    "Evaluator",
    "ExpressionLimits",
    "evaluator",
]


@dataclass(frozen=True, slots=True)
class ExpressionLimits:
    """Bounds on one evaluation; every one of them is a refusal, never a truncation.

    max_length: characters in one expression; max_depth: AST nesting;
    max_power: largest exponent of `**`; max_int_bits: size of an int an operator
    may build; max_result_size: characters (or JSON-ish units for lists/dicts) of
    one value built by an expression, and the work budget of one deep comparison;
    max_total_size: everything built by one evaluation together;
    max_iterations: comprehension steps; timeout_s: CPU time of the evaluating thread;
    max_call_cost: elementary steps (character or digit comparisons) one C call may take,
    priced from its arguments before it is made. 10,000 bits keeps every int under
    Python's 4,300-digit limit for int/str conversion (about 3,010 digits).
    """

    max_length: int = 10_000
    max_depth: int = 64
    max_power: int = 1_000
    max_int_bits: int = 10_000
    max_result_size: int = 1_000_000
    max_total_size: int = 10_000_000
    max_iterations: int = 100_000
    timeout_s: float = 0.1
    max_call_cost: int = 50_000_000


DEFAULT_LIMITS = ExpressionLimits()

NAMES = ("input", "nodes", "vars", "loop", "execution")
FUNCTIONS = (
    "len", "str", "int", "float", "bool", "round", "min", "max", "sum", "abs", "sorted", "any", "all",
)  # fmt: skip
STRING_METHODS = (
    "upper", "lower", "strip", "lstrip", "rstrip", "split", "startswith", "endswith",
    "replace", "title", "capitalize", "join",
)  # fmt: skip
KEYWORDS = {"sorted": {"reverse"}, "min": {"default"}, "max": {"default"}}

SCALARS = frozenset({str, int, float, bool, type(None)})
_VALUES = SCALARS | {list, dict, tuple}
_NUMBERS = frozenset({int, float, bool})
_COMPUTES = frozenset({ast.BinOp, ast.UnaryOp, ast.Call})
_STRIPS = frozenset({"strip", "lstrip", "rstrip"})
_NO_NAMES: Mapping[str, Any] = {}  # an idle evaluator's names (never written to)


class Evaluator(SimpleEval):  # type: ignore[misc]  # simpleeval ships no types: its base is Any
    """simpleeval with its AST handler table cut down and every risky step re-bound.

    One instance per thread (simpleeval keeps per-call state on the instance).
    """

    def __init__(self) -> None:
        super().__init__(operators={}, functions={}, names={})
        self.operators = {
            ast.Add: self._add, ast.Sub: _arith("-", lambda a, b: a - b), ast.Mult: self._mul,
            ast.Div: _arith("/", lambda a, b: a / b), ast.FloorDiv: self._divmod("//", lambda a, b: a // b),
            ast.Mod: self._mod, ast.Pow: self._pow, ast.USub: _unary("-", lambda a: -a),
            ast.UAdd: _unary("+", lambda a: +a), ast.Not: lambda a: not a,
            ast.Eq: self._compare(lambda a, b: a == b), ast.NotEq: self._compare(lambda a, b: a != b),
            ast.Lt: self._compare(lambda a, b: a < b), ast.LtE: self._compare(lambda a, b: a <= b),
            ast.Gt: self._compare(lambda a, b: a > b), ast.GtE: self._compare(lambda a, b: a >= b),
            ast.In: self._in, ast.NotIn: lambda a, b: not self._in(a, b),
            ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b,
        }  # fmt: skip
        self.functions = {
            "len": len, "str": self._fn_str, "int": self._fn_int, "float": _fn_float, "bool": bool,
            "round": _fn_round, "min": self._fn_minmax(min), "max": self._fn_minmax(max),
            "sum": self._fn_sum, "abs": _fn_abs, "sorted": self._fn_sorted, "any": any, "all": all,
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
        self._deadline: float | None = None
        self._given: set[int] = set()  # ids of containers read from the names (already stored data)

    def run(self, tree: ast.expr, source: str, names: Mapping[str, Any], limits: ExpressionLimits,
            *, text: bool = False, timed: bool = True) -> Any:  # fmt: skip
        """Evaluate a vetted tree. Untimed (no calls, no comprehensions: at most 31 steps,
        each bounded in size, before the step counter looks at the clock) starts the clock
        at its first check instead of its first step - reading the thread's CPU time is a
        system call, as dear as evaluating a short expression."""
        self.names = names
        self.limits = limits
        self._steps = self._iterations = self._built = 0  # scopes and `_given`: emptied after each run
        self._deadline = time.thread_time() + limits.timeout_s if timed else None
        self.busy = True
        self.expr = source  # for simpleeval's own messages
        try:
            result = self._eval(tree)
            if text:
                return self._text(result)
            if type(result) in (list, tuple, dict) and id(result) not in self._given:
                self._weigh_result(result)  # data passed through as it is was stored before
            return result
        finally:
            self.busy = False
            self.names = _NO_NAMES
            self._scopes.clear()
            self._given.clear()

    def _eval_constant(self, node: ast.Constant) -> Any:
        """A vetted literal (a JSON scalar); simpleeval's own length check only for long text."""
        value = node.value
        if type(value) is str and len(value) > MAX_STRING_LENGTH:
            return SimpleEval._eval_constant(node)
        return value

    # -- budget ---------------------------------------------------------------

    fault: ast.AST | None = None  # the innermost node whose evaluation failed (error positions)

    def _eval(self, node: ast.AST) -> Any:
        self._steps += 1
        if not self._steps & 31:
            self._check_time()
        try:
            handler = self.nodes[type(node)]
        except KeyError:
            raise ExpressionError(f"{type(node).__name__} is not allowed in expressions") from None
        try:
            result = handler(node)
            t = type(result)
            if t not in _VALUES:
                raise ExpressionError(f"a value of type {t.__name__} is not allowed")
            if t is float and not math.isfinite(result):
                raise ExpressionError(
                    f"the result is {result}, which is not a JSON number (NaN and Infinity are refused)"
                )
            if t is int and type(node) in _COMPUTES and result.bit_length() > self.limits.max_int_bits:
                raise ExpressionError(
                    f"the integer would be too large ({result.bit_length():,} bits; the limit is"
                    f" {self.limits.max_int_bits:,}, under JSON's 4,300 digits)"
                )
        except Exception:
            if self.fault is None:
                self.fault = node
            raise
        return result

    def _check_time(self) -> None:
        # CPU time of this thread: a busy machine or GIL contention never fails an expression.
        if self._deadline is None:  # an untimed expression: its clock starts here
            self._deadline = time.thread_time() + self.limits.timeout_s
        elif time.thread_time() > self._deadline:
            raise ExpressionError(f"expression took longer than {self.limits.timeout_s:g} s")

    def _cost(self, steps: int, what: str) -> None:
        """Refuse one C call whose price (from its arguments' sizes) is over the limit.

        Why: the deadline is checked between steps, and a single call into C (a strip
        with a long character set, a sort of long strings) cannot be interrupted.
        """
        self._check_time()
        if steps > self.limits.max_call_cost:
            raise ExpressionError(
                f"{what} would take too long (about {steps:,} steps;"
                f" the limit is {self.limits.max_call_cost:,})"
            )

    def _weigh_result(self, value: Any) -> None:
        """Weigh a built list or dict as a whole, shared references counted each time."""
        size = self._weight(value, chars=True, budget=self.limits.max_total_size)
        if size > self.limits.max_total_size:
            raise ExpressionError(
                f"the result would be too large (over {self.limits.max_total_size:,} characters"
                " once written out)"
            )

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

    def _weight(self, value: Any, *, chars: bool, budget: int | None = None) -> int:
        """Approximate size of a value (items, plus characters when `chars`), stopping
        once it passes `budget` (max_result_size); shared references count every time
        they appear."""
        budget = budget or self.limits.max_result_size
        total = steps = 0
        stack = [value]
        while stack:
            v = stack.pop()
            total += 1
            steps += 1
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
            if not steps & 0x3FFF:
                self._check_time()
        return total

    # -- names, keys, indexes --------------------------------------------------

    def _eval_name(self, node: ast.Name) -> Any:
        name = node.id
        for scope in reversed(self._scopes):
            if name in scope:
                return scope[name]
        try:
            return self._read(self.names[name])
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
            if node.attr in obj:
                return self._read(obj[node.attr], obj)
            return self._read(self._key(obj, node.attr, node.value), obj)
        what = _describe(node.value)
        if type(obj) is str and node.attr in STRING_METHODS:
            raise ExpressionError(f"string method .{node.attr} must be called: .{node.attr}()")
        if obj is None:
            raise ExpressionError(f"cannot read .{node.attr}: {what} is null")
        raise ExpressionError(f"cannot read .{node.attr} of {what} (a {_kind(obj)}, not a dict)")

    def _read(self, value: Any, parent: Any = None) -> Any:
        """Note a container read out of the names, so it can pass through unweighed."""
        if type(value) in (list, dict) and (parent is None or id(parent) in self._given):
            self._given.add(id(value))
        return value

    def _key(self, obj: dict[Any, Any], key: Any, node: ast.AST) -> Any:
        try:
            return obj[key]
        except KeyError:
            keys = list(obj)
            shown = ", ".join(short_repr(k) for k in keys[:20]) + (", ..." if len(keys) > 20 else "")
            raise ExpressionError(
                f"{_describe(node)} has no key {short_repr(key)}; available keys: {shown or '(none)'}"
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
            part = slice(*bounds)
            self._build(len(range(*part.indices(len(obj)))), "the slice")
            return obj[part]
        key = self._eval(node.slice)
        if type(obj) is dict:
            return self._read(self._key(obj, key, node.value), obj)
        if type(obj) in (list, tuple, str):
            if type(key) not in (int, bool):
                raise ExpressionError(
                    f"{_describe(node.value)} is a {_kind(obj)}; index it with an integer,"
                    f" not {_kind(key)} {short_repr(key)}"
                )
            try:
                return self._read(obj[key], obj)
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
            kwargs = {k.arg: self._eval(k.value) for k in node.keywords if k.arg} or None
            try:
                fn = self.functions[func.id]
                return fn(*args, **kwargs) if kwargs else fn(*args)
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
        if any(type(a) not in SCALARS and name != "join" for a in args):
            raise ExpressionError(f".{name}() takes strings or numbers")
        first = args[0] if args and type(args[0]) is str else ""
        n, m = len(s), len(first)
        # C's substring search is about n * min(m, 100) in the worst case; strip with a
        # character set tests each character against the whole set.
        self._cost(n * (m + 1) if name in _STRIPS else n * min(m + 1, 100) + m, f".{name}()")
        if name == "replace" and len(args) >= 2 and type(args[0]) is str and type(args[1]) is str:
            count = s.count(args[0]) if args[0] else len(s) + 1
            self._build(len(s) + count * max(0, len(args[1]) - len(args[0])), "replace() result")
        elif name == "join":
            parts: Any = args[0] if len(args) == 1 else None
            if type(parts) not in (list, tuple) or not all(type(p) is str for p in parts):
                raise ExpressionError(".join() needs one list of strings")
            self._build(sum(map(len, parts)) + len(s) * max(0, len(parts) - 1), "join() result")
        elif name == "split":
            pieces = n // max(m, 1) + 1 if m else n // 2 + 1  # each piece is an object: 4 units
            self._build(n + 4 * pieces, "split() result")
        else:
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
        if type(value) is str:
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
            self._guard_items(items, fn.__name__, sorting=False)
            return fn(*args, **kwargs)

        return call

    def _fn_sorted(self, items: Any, *, reverse: Any = False) -> list[Any]:
        self._guard_items(items, "sorted", sorting=True)
        if type(items) in (str, dict):
            self._build(len(items) * (4 if type(items) is str else 1), "sorted() result")
        return sorted(items, reverse=bool(reverse))

    def _guard_items(self, items: Any, what: str, *, sorting: bool) -> None:
        """Comparing values inside a list costs work in C that the deadline can't stop:
        about the total size compared, times log2(n) comparisons per item for a sort."""
        if type(items) not in (list, tuple):
            return
        budget = self.limits.max_call_cost
        if all(type(i) in _NUMBERS for i in items):  # the common cases, without a walk
            size = len(items)
        elif all(type(i) is str for i in items):
            size = len(items) + sum(map(len, items))
        else:
            size = self._weight(items, chars=True, budget=budget)
        rounds = max(len(items), 2).bit_length() if sorting else 1
        self._cost(size * rounds, f"{what}() of these values")

    def _fn_int(self, value: Any = 0, *base: Any) -> int:
        """int(), refusing digit strings whose value could pass max_int_bits before parsing."""
        if type(value) is str and len(value) > self.limits.max_int_bits + 100:
            raise ExpressionError(
                f"the text is too long to be an integer ({len(value):,} characters)"
            )
        return int(value, *base)

    def _fn_sum(self, items: Any, start: Any = 0) -> Any:
        if type(start) not in _NUMBERS:
            raise ExpressionError("sum() adds numbers only")
        if type(items) not in (list, tuple):
            raise ExpressionError(f"sum() needs a list, not {_kind(items)}")
        widest = max((i.bit_length() for i in items if type(i) is int), default=0)
        self._cost(len(items) * (widest // 30 + 1), "sum()")
        return sum(items, start)

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

    def _divmod(self, symbol: str, fn: Any) -> Any:
        def op(a: Any, b: Any) -> Any:
            if type(a) not in _NUMBERS or type(b) not in _NUMBERS:
                raise ExpressionError(f"{symbol} needs numbers, not {_kind(a)} and {_kind(b)}")
            if type(a) is int and type(b) is int:  # long division: digits(a) x digits(b)
                self._cost((a.bit_length() // 30 + 1) * (b.bit_length() // 30 + 1), symbol)
            return fn(a, b)

        return op

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
        if type(a) is int and type(b) is int:
            self._cost((a.bit_length() // 30 + 1) * (b.bit_length() // 30 + 1), "%")
        return a % b

    def _int_bits(self, bits: int, op: str) -> None:
        if bits > self.limits.max_int_bits:
            raise ExpressionError(f"the result of {op} would be too large (about {bits} bits)")

    def _compare(self, fn: Any) -> Any:
        def compare(a: Any, b: Any) -> Any:
            if type(a) not in SCALARS and type(b) not in SCALARS and a is not b:
                budget = self.limits.max_call_cost
                size = min(self._weight(a, chars=True, budget=budget), self._weight(b, chars=True, budget=budget))
                self._cost(size, "comparing these values")
            return fn(a, b)

        return compare

    def _in(self, a: Any, b: Any) -> bool:
        tb = type(b)
        if tb in (list, tuple):  # every item may be compared with `a`
            unit = len(a) if type(a) is str else 1 if type(a) in SCALARS else (
                self._weight(a, chars=True, budget=self.limits.max_call_cost)
            )
            self._cost(unit * max(len(b), 1), "'in'")
        elif tb is str and type(a) is str:
            self._cost(len(b) * min(len(a) + 1, 100) + len(a), "'in'")
        if tb not in (str, list, tuple, dict):
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
    if not isinstance(target, (ast.Tuple, ast.List)):
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


def _fn_float(value: Any = 0.0) -> float:
    if type(value) is str and len(value) > 1_000:
        raise ExpressionError(f"the text is too long to be a number ({len(value):,} characters)")
    return float(value)


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


def evaluator() -> Evaluator:
    """This thread's evaluator (a fresh one if it is already busy)."""
    ev = getattr(_local, "ev", None)
    if ev is None:
        ev = _local.ev = Evaluator()
    return ev if not ev.busy else Evaluator()
