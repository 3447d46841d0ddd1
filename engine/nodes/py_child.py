"""Runs one Python code node in a child process (started by engine/nodes/py_runner.py).

Reads {code, names, timeout_s, memory_mb} as JSON on stdin, limits its own address
space and CPU time, runs the code as the body of a function of the names, and
writes {ok, value} or {ok: false, error} as JSON on the stdout it was given.
What the code prints goes to stderr, which the parent turns into log lines.
Only the standard library is used: this file runs with `python -I`.
"""

from __future__ import annotations

import ast
import json
import math
import os
import resource
import sys
import traceback
from typing import Any

FILENAME = "<code>"
NAMES = ("input", "vars", "nodes", "execution", "loop")


def _limit(timeout_s: float, memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cpu = math.ceil(timeout_s) + 1  # a backstop: the parent kills the child on wall time
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _compile(code: str) -> Any:
    """The code as the body of `__pe_code(input, vars, ...)`, keeping its own line numbers."""
    module = ast.parse(code, FILENAME)
    args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=n) for n in NAMES], kwonlyargs=[],
                         kw_defaults=[], defaults=[])
    func = ast.FunctionDef(name="__pe_code", args=args, body=module.body or [ast.Pass()],
                           decorator_list=[], returns=None)
    if sys.version_info >= (3, 12):
        func.type_params = []
    tree = ast.Module(body=[func], type_ignores=[])
    ast.fix_missing_locations(tree)
    namespace: dict[str, Any] = {"__name__": "__pe_code__"}
    exec(compile(tree, FILENAME, "exec"), namespace)
    return namespace["__pe_code"]


def _code_line(tb: Any) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == FILENAME:
            line = lineno
    return line


def _error(exc: BaseException, line: int | None) -> dict[str, Any]:
    if isinstance(exc, MemoryError):
        message = "out of memory (the node's memory_mb limit)"
    else:
        message = str(exc) or type(exc).__name__
    return {"ok": False, "error": {"type": type(exc).__name__, "message": message, "line": line}}


def _run(request: dict[str, Any]) -> dict[str, Any]:
    try:
        func = _compile(request["code"])
    except SyntaxError as exc:
        return _error(exc.__class__(exc.msg), exc.lineno)
    names = request["names"]
    try:
        value = func(*(names.get(n) for n in NAMES))
    except BaseException as exc:  # the code's own failure, reported with its line
        return _error(exc, _code_line(exc.__traceback__))
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return _error(TypeError(f"the result is not JSON: {exc}"), None)
    return {"ok": True, "value": value}


def main() -> None:
    result_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr  # print() -> the node's log lines
    request = json.loads(sys.stdin.buffer.read())
    _limit(float(request["timeout_s"]), int(request["memory_mb"]))
    try:
        result = _run(request)
        text = json.dumps(result, allow_nan=False)
    except MemoryError:
        text = json.dumps(_error(MemoryError(), None))
    result_out.write(text)
    result_out.flush()


if __name__ == "__main__":
    main()
