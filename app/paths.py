"""Where the app finds its resources and keeps its per-user files.

Resources (icons, example workflows) are package data of `app` (`app/resources/`),
found with `importlib.resources`, so a source tree, a wheel (pip, pipx, a git URL) and
the frozen bundle (where PyInstaller's reader answers for `app`) all find them the same
way. Per-user data (recovery files) goes to the platformdirs data directory (the same
one as the engine's database) unless `PROCESSENGINE_DATA_DIR` points elsewhere (tests do).
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from engine.paths import data_dir as engine_data_dir


def _resources() -> Path:
    """The resources folder as a real directory: Qt opens icons by file name."""
    root = files("app") / "resources"
    if isinstance(root, os.PathLike):
        return Path(os.fspath(root))
    # a zip import: no files for Qt to open
    raise RuntimeError(f"app resources are not on the file system ({root}); install the package unzipped")


RESOURCES = _resources()
ICONS = RESOURCES / "icons"
UI_ICONS = ICONS / "ui"
APP_ICON = ICONS / "processengine.svg"
EXAMPLES = RESOURCES / "examples"

DATA_DIR_ENV = "PROCESSENGINE_DATA_DIR"


def data_dir() -> Path:
    """The per-user data directory (created on demand)."""
    override = os.environ.get(DATA_DIR_ENV)
    path = Path(override) if override else engine_data_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def recovery_dir() -> Path:
    path = data_dir() / "recovery"
    path.mkdir(parents=True, exist_ok=True)
    return path
