"""Where the execution database lives, and how `--db` / `PROCESSENGINE_DB` are read.

A plain path means a SQLite file; anything with `://` is a SQLAlchemy URL
(`postgresql://` is read as `postgresql+psycopg://`, the driver we ship).
The default is `processengine.db` in the user's data directory (platformdirs),
so the CLI and the GUI of one user share their history.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "APP_NAME",
    "DB_ENV",
    "DB_FILE",
    "data_dir",
    "default_db_path",
    "resolve_db_url",
    "sqlite_path",
    "sqlite_url",
]

APP_NAME = "ProcessEngine"
DB_FILE = "processengine.db"
DB_ENV = "PROCESSENGINE_DB"


def data_dir() -> Path:
    """The per-user data directory (created on demand)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    return data_dir() / DB_FILE


def resolve_db_url(url: str | os.PathLike[str] | None = None) -> str:
    """A SQLAlchemy URL from an explicit URL/path, else `PROCESSENGINE_DB`, else the default file."""
    raw = os.fspath(url) if url is not None else None
    if not raw:
        raw = os.environ.get(DB_ENV) or None
    if not raw:
        path = default_db_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return sqlite_url(path)
    if "://" in raw:
        for plain in ("postgresql://", "postgres://"):
            if raw.startswith(plain):
                return "postgresql+psycopg://" + raw[len(plain) :]
        return raw
    return sqlite_url(Path(raw).expanduser())


def sqlite_url(path: str | os.PathLike[str]) -> str:
    return "sqlite:///" + str(Path(path).absolute())


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for in-memory databases and other backends)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    db = u.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)
