"""ProcessEngine: the Qt-free workflow engine behind ProcessEngine Studio.

Importing this package must stay cheap (the CLI starts in well under half a
second), so it imports nothing; `__version__` is looked up on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["__version__"]

_FALLBACK_VERSION = "0.1.0"  # a source tree without an installed distribution


def __getattr__(name: str) -> Any:
    if name == "__version__":
        try:  # the installed distribution knows its version (from pyproject.toml)
            from importlib.metadata import PackageNotFoundError, version

            try:
                return version("processengine-studio")
            except PackageNotFoundError:
                pass
        except ImportError:  # pragma: no cover
            pass
        return _read_pyproject_version() or _FALLBACK_VERSION
    raise AttributeError(name)


def _read_pyproject_version() -> str | None:
    """Frozen bundles and plain checkouts: read pyproject.toml next to the package."""
    import sys
    from pathlib import Path

    roots = [Path(__file__).resolve().parent.parent]
    bundle = getattr(sys, "_MEIPASS", None)  # set by PyInstaller in a frozen bundle
    if bundle:
        roots.insert(0, Path(bundle))
    for root in roots:
        p = root / "pyproject.toml"
        if p.is_file():
            import tomllib

            try:
                return str(tomllib.loads(p.read_text(encoding="utf-8"))["project"]["version"])
            except (KeyError, ValueError, OSError):
                return None
    return None
