"""Alembic environment: run on a connection the store hands over (no alembic.ini needed).

`engine.store.database.migrate` puts the open connection into
`config.attributes["connection"]`; the version table has our own name so a
PostgreSQL database shared with other Alembic projects keeps both apart.
"""

from __future__ import annotations

from alembic import context

from engine.store.schema import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when someone runs `alembic` by hand
    raise RuntimeError("run migrations through engine.store.database.open_database()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
