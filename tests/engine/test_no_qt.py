"""engine/ must run headless: importing every engine module with PySide6 (and app/) blocked works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import importlib, importlib.abc, pkgutil, sys

class BlockQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "shiboken6", "PyQt5", "PyQt6", "qasync", "pyqtgraph", "app"):
            raise ImportError(f"engine imported Qt or the app: {name}")
        return None

sys.meta_path.insert(0, BlockQt())
import engine
names = ["engine"]
for mod in pkgutil.walk_packages(engine.__path__, "engine."):
    names.append(mod.name)
for name in names:
    importlib.import_module(name)
from engine.nodes.registry import all_specs
print(len(names), len(all_specs()))
"""


def test_every_engine_module_imports_with_qt_blocked() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    modules, specs = map(int, proc.stdout.split())
    assert modules > 20  # the walk really found the package tree
    assert specs >= 13


def test_no_engine_source_imports_qt_or_the_app_even_lazily() -> None:
    """Imports inside functions escape the import test above; read every source instead."""
    import ast

    banned = {"PySide6", "shiboken6", "PyQt5", "PyQt6", "qasync", "pyqtgraph", "app"}
    offenders = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if n.split(".")[0] in banned]
    assert offenders == []
