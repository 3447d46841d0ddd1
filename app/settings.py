"""Persistent preferences (QSettings, organisation "ProcessEngine", application "Studio").

Settings are always INI files in the user scope, so a test can redirect them
with `QSettings.setPath(IniFormat, UserScope, tmpdir)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "ProcessEngine"
APPLICATION = "Studio"
RECENT_KEY = "files/recent"
MAX_RECENT = 10


def settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def string_list(value: object) -> list[str]:
    """A list setting as read back: INI files give a one-element list as a bare string."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    return [str(value)]


def recent_files() -> list[str]:
    return string_list(settings().value(RECENT_KEY, []))


def add_recent(path: str | Path) -> list[str]:
    path = str(Path(path).resolve())
    files = [path, *[f for f in recent_files() if f != path]][:MAX_RECENT]
    settings().setValue(RECENT_KEY, files)
    return files


def remove_recent(path: str | Path) -> list[str]:
    path = str(Path(path).resolve())
    files = [f for f in recent_files() if f != path]
    settings().setValue(RECENT_KEY, files)
    return files


def get_bool(key: str, default: bool) -> bool:
    value = settings().value(key, default)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def get_str(key: str, default: str) -> str:
    value = settings().value(key, default)
    return str(value) if value is not None else default


def set_value(key: str, value: object) -> None:
    settings().setValue(key, value)
