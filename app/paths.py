"""Where the app finds its resources and keeps its per-user files.

Resources live next to the packages in a source tree and under `sys._MEIPASS`
in a frozen bundle; per-user data (recovery files) goes to the platformdirs
data directory (the same one as the engine's database) unless
`PROCESSENGINE_DATA_DIR` points elsewhere (tests do).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from engine.paths import data_dir as engine_data_dir

_ROOT = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[1]))
RESOURCES = _ROOT / "resources"
ICONS = RESOURCES / "icons"
UI_ICONS = ICONS / "ui"
APP_ICON = ICONS / "processengine.svg"

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
