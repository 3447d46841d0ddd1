"""The tree type-checks under the project's mypy settings (pyproject.toml [tool.mypy]:
strict over engine/, app/ and packaging/), with the pinned mypy.

mypy keeps its cache in the git-ignored .mypy_cache/: a cold run takes seconds, a run
after a small change well under one. It reads installed packages only (no network).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _test_pins() -> dict[str, str]:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]["test"]
    return dict(req.split("==") for req in extra if "==" in req)


def test_mypy_passes() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(ROOT / ".mypy_cache")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_the_pinned_one() -> None:
    """A new mypy release must not change the verdict on unchanged code."""
    assert version("mypy") == _test_pins()["mypy"]


def test_stub_packages_are_pinned() -> None:
    """Stubs change what mypy knows as much as mypy itself does."""
    stubs = {name: pin for name, pin in _test_pins().items() if name.startswith("types-")}
    assert stubs, "the stub packages mypy needs are missing from the test extra"
    assert {name: version(name) for name in stubs} == stubs
