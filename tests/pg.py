"""A throw-away PostgreSQL database: created on a server, dropped afterwards (its connections too).

Shared by the tests that need an empty database of their own (migrations, the job queue)
and by the queue benchmark. `server_url` names any database on the server; the new one
gets a unique name starting with `prefix`, so a leftover is easy to recognise.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import make_url


@contextmanager
def fresh_database(server_url: str, prefix: str = "pe_test") -> Iterator[str]:
    """Yield the URL of a brand-new empty database on `server_url`'s server; drop it on exit."""
    base = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:  # FORCE: a child still connected must not keep it alive
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
