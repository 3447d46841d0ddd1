"""Size limits that keep the code readable: no function over 80 lines, no module over 800.

A function's length counts from its `def` (decorators excluded) to its last line, as
`ast` reports them; a module's is its line count. Every offender is named with its
file and line, so the failure says where to cut.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "app", "tests", "packaging")
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 800


def _modules() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def long_functions(source: str, path: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """`path:line name (n lines)` for each function or method of `source` longer than `limit`."""
    found = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit:
                found.append(f"{path}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_the_scan_finds_a_long_function() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(81))
    assert long_functions(f"def short():\n    pass\n\n\ndef long():\n{body}\n", "m.py") == ["m.py:5 long (82 lines)"]
    assert long_functions(f"class C:\n    async def m(self):\n    {body.replace(chr(10), chr(10) + '    ')}\n", "c.py") == [
        "c.py:2 m (82 lines)"
    ]


def test_no_function_is_over_80_lines() -> None:
    offenders = []
    for path in _modules():
        offenders += long_functions(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not offenders, f"functions over {MAX_FUNCTION_LINES} lines (split them into named steps):\n" + "\n".join(offenders)


def test_no_module_is_over_800_lines() -> None:
    offenders = []
    for path in _modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            offenders.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert not offenders, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(offenders)
