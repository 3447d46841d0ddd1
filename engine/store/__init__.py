"""The durable execution store (SQLAlchemy 2 on SQLite WAL or PostgreSQL, Alembic migrations;
a run on an up-to-date SQLite file goes through `sqlite3` alone, see `database.open_store`).

`ExecutionStore` holds the queries, `Checkpointer` makes a running execution
durable through its lifecycle hooks; `engine.service.ExecutionService` is the
public face. See docs/durability.md for the guarantees.
"""

from __future__ import annotations

from engine.store.store import ExecutionNotFound, ExecutionStore, InvalidExecutionState

__all__ = ["ExecutionNotFound", "ExecutionStore", "InvalidExecutionState"]
