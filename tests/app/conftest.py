"""Qt tests run offscreen with their own settings and data directories."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any Qt import

import pytest
from PySide6.QtCore import QSettings


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """Each test gets empty QSettings and an empty per-user data directory."""
    settings_dir = tmp_path / "settings"
    settings_dir.mkdir()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    monkeypatch.setenv("PROCESSENGINE_DATA_DIR", str(tmp_path / "data"))
    yield settings_dir
