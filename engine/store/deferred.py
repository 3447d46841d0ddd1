"""A module imported on its first use, for names a module needs only on some paths.

The store's SQLAlchemy queries serve listing, reading back and controlling runs; a
run on an up-to-date SQLite file needs none of them, and importing SQLAlchemy is about
a third of such a CLI run. `sa = Deferred("sqlalchemy")` reads like the module and
imports it when an attribute is first looked up.
"""

from __future__ import annotations

import importlib
from typing import Any


class Deferred:
    """Stands for the module `name` until an attribute is used, then forwards to it."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<deferred module {self._name!r}>"
