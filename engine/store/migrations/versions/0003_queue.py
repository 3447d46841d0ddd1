"""Queue mode (queued executions, worker names, per-workflow concurrency).

`executions.worker` names the worker process that runs (or last ran) a queued
execution and `executions.queue_job` is its job id in the PostgreSQL job queue
(Procrastinate keeps its own tables, created by its own schema on first use).
`schedule_fires` holds one row per (workflow, schedule node, due time): the
first process to insert it starts the run, so a schedule fires once per due time
however many processes serve it.

Revision ID: 0003_queue
Revises: 0002_debugger
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_queue"
down_revision = "0002_debugger"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Ts: sa.Double[float] = sa.Double()


def upgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("worker", sa.String(255)))
        batch.add_column(sa.Column("queue_job", sa.BigInteger()))
    op.create_table(
        "schedule_fires",
        sa.Column("workspace_id", Id, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("workflow_id", sa.String(200), primary_key=True),
        sa.Column("node_id", sa.String(200), primary_key=True),
        sa.Column("due_at", Ts, primary_key=True),
        sa.Column("execution_id", sa.String(64)),
        sa.Column("fired_at", Ts, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("schedule_fires")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("queue_job")
        batch.drop_column("worker")
