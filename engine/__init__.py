"""ProcessEngine: the Qt-free workflow engine behind ProcessEngine Studio.

Importing this package must stay cheap (the CLI starts in well under half a
second), so it imports nothing heavy; submodules are imported where used.
"""

from __future__ import annotations

__all__ = ["__version__"]

try:  # the installed distribution knows its own version (pyproject.toml)
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("processengine-studio")
except PackageNotFoundError:  # running from a source tree / frozen bundle
    __version__ = "0.1.0"
