"""The tree stays clean under the project's ruff settings (pyproject.toml), whatever
git-ignored folders a build left behind."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ruff(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )


def test_ruff_check_passes() -> None:
    proc = _ruff(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _tracked_tree(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, files.split("\0")):
        src = ROOT / name
        if src.suffix in (".py", ".toml", ".spec") and src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest / name)


def test_import_order_does_not_depend_on_a_build_folder(tmp_path: Path) -> None:
    """packaging/build.py creates build/ and dist/; a fresh clone has neither. Ruff
    classifies `import build` by what folders exist unless pyproject says."""
    _tracked_tree(tmp_path)
    fresh = _ruff(tmp_path)
    assert fresh.returncode == 0, "fresh clone:\n" + fresh.stdout + fresh.stderr
    for folder in ("build", "dist", "build/lib/elf"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    built = _ruff(tmp_path)
    assert built.returncode == 0, "after a build:\n" + built.stdout + built.stderr


def test_lint_tools_are_pinned_and_ruff_is_the_pinned_one() -> None:
    """A new ruff release must not change the verdict on unchanged code."""
    import tomllib
    from importlib.metadata import version

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]["test"]
    pins = dict(req.split("==") for req in extra if "==" in req)
    assert {"ruff", "mypy"} <= set(pins), extra
    assert version("ruff") == pins["ruff"]
