"""Debugger state kept with an execution (breakpoints, step mode, pending edits).

Revision ID: 0002_debugger
Revises: 0001_initial
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_debugger"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # debug: breakpoints, pins on/off, step, run-to target, edits (small JSON);
    # paused_at: where a paused run stopped, with the pending input (read by status/list);
    # rerun_of: the execution a re-run came from
    op.add_column("executions", sa.Column("debug", sa.Text()))
    op.add_column("executions", sa.Column("paused_at", sa.Text()))
    op.add_column("executions", sa.Column("rerun_of", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("rerun_of")
        batch.drop_column("paused_at")
        batch.drop_column("debug")
