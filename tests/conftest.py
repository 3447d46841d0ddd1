"""Shared pytest configuration: the real local servers every test tier may use, and a
compiled-workflow cache of the test session's own (never the developer's; CLI
subprocesses inherit it through the environment)."""

from __future__ import annotations

import os
import shutil
import tempfile

pytest_plugins = ["tests.servers"]

_CACHE = tempfile.mkdtemp(prefix="pe-test-cache-")
os.environ["PROCESSENGINE_CACHE_DIR"] = _CACHE


def pytest_unconfigure(config: object) -> None:
    shutil.rmtree(_CACHE, ignore_errors=True)
