"""Recorded I/O per attempt and the capture inbox.

Revision ID: 0005_time_travel
Revises: 0004_hardening
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_time_travel"
down_revision = "0004_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # capture_email: send_email stores messages instead of sending them (kept across a resume)
    op.add_column("executions", sa.Column("capture_email", sa.Boolean(), nullable=False, server_default=sa.false()))
    # replay: {source, nodes, strict} of a re-run answered from recordings (kept across a resume)
    op.add_column("executions", sa.Column("replay", sa.Text()))
    # one row per recorded attempt, keyed by the attempt's node_runs seq
    op.create_table(
        "recordings",
        sa.Column("execution_id", sa.String(64), sa.ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("thread_id", sa.String(500), nullable=False),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("captured", sa.Boolean(), nullable=False),
        sa.Column("encoding", sa.String(8), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("recordings")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("replay")
        batch.drop_column("capture_email")
