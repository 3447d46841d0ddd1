"""app/ uses the engine only through its declared surface: the `__all__` of each engine module.

Every module under app/ is read with `ast` (so imports inside functions count too).
`from engine.x import name` needs `name` in `engine.x.__all__`; a module bound by
`from engine import x` or `import engine.x` may only be used for names in its
`__all__` (`x.name`). A name outside the surface is reported with file, line and name,
so a change to an engine internal cannot silently break the GUI.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from functools import cache
from pathlib import Path

import pytest

import engine

ROOT = Path(__file__).resolve().parents[2]


@cache
def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, AttributeError, ValueError):  # the parent is a module, not a package
        return False


@cache
def surface(module: str) -> frozenset[str] | None:
    """The names `module` declares in `__all__` (None: it declares none)."""
    declared = getattr(importlib.import_module(module), "__all__", None)
    return None if declared is None else frozenset(declared)


def _engine(module: str | None) -> bool:
    return module is not None and (module == "engine" or module.startswith("engine."))


class _Reader:
    """Collects the engine names one source file uses that are outside the surface."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.modules: dict[str, str] = {}  # local name -> the engine module it stands for
        self.problems: list[str] = []

    def check(self, module: str, name: str, line: int) -> None:
        declared = surface(module)
        if declared is None:
            self.problems.append(f"{self.where}:{line} {module}.{name}: {module} declares no __all__")
        elif name not in declared:
            self.problems.append(f"{self.where}:{line} {module}.{name} is not in {module}.__all__")

    def bind(self, local: str, module: str, line: int) -> None:
        self.modules[local] = module
        if surface(module) is None:
            self.problems.append(f"{self.where}:{line} {module} declares no __all__")

    def imports(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and _engine(node.module):
                assert node.module is not None
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if alias.name != "*" and _is_module(full):
                        self.bind(alias.asname or alias.name, full, node.lineno)
                    else:
                        self.check(node.module, alias.name, node.lineno)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if _engine(alias.name):
                        local = alias.asname or "engine"
                        self.bind(local, alias.name if alias.asname else "engine", node.lineno)

    def _module_of(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return self.modules.get(node.id)
        if isinstance(node, ast.Attribute):
            parent = self._module_of(node.value)
            if parent is not None and _is_module(f"{parent}.{node.attr}"):
                return f"{parent}.{node.attr}"
        return None

    def attributes(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                module = self._module_of(node.value)
                if module is not None and not _is_module(f"{module}.{node.attr}"):
                    self.check(module, node.attr, node.lineno)


def outside_surface(source: str, where: str) -> list[str]:
    """`file:line module.name ...` for each engine name `source` uses outside the declared surface."""
    tree = ast.parse(source, filename=where)
    reader = _Reader(where)
    reader.imports(tree)
    reader.attributes(tree)
    return reader.problems


def test_app_imports_the_engine_only_through_its_declared_surface() -> None:
    problems = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        problems += outside_surface(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not problems, "app/ uses engine names outside __all__ (export them or use a public one):\n" + "\n".join(problems)


def test_the_check_names_file_line_and_name() -> None:
    source = (
        "from engine.service import ExecutionService, POLL_EVERY\n"
        "from engine import fileformat\n"
        "import engine.runtime.record as rr\n"
        "def f():\n"
        "    from engine.cli import _service\n"
        "    return fileformat.load, fileformat._check, rr.RunRecord, rr.Frame.x, rr._private, engine.__version__\n"
    )
    assert outside_surface(source, "app/x.py") == [
        "app/x.py:1 engine.service.POLL_EVERY is not in engine.service.__all__",
        "app/x.py:5 engine.cli._service is not in engine.cli.__all__",
        "app/x.py:6 engine.fileformat._check is not in engine.fileformat.__all__",
        "app/x.py:6 engine.runtime.record._private is not in engine.runtime.record.__all__",
    ]


def _engine_modules() -> list[str]:
    return ["engine", *(m.name for m in pkgutil.walk_packages(engine.__path__, "engine."))]


@pytest.mark.parametrize("module", _engine_modules())
def test_every_declared_name_exists(module: str) -> None:
    """A stale `__all__` entry would pass the surface check and fail at import time."""
    declared = surface(module) or frozenset()
    mod = importlib.import_module(module)
    missing = sorted(name for name in declared if not hasattr(mod, name) and not _is_module(f"{module}.{name}"))
    assert not missing, f"{module}.__all__ names what it does not define: {missing}"
