"""The time a run spent paused (`executions.paused_ms`): durations leave it out.

Revision ID: 0004_hardening
Revises: 0003_queue
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_hardening"
down_revision = "0003_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("executions", sa.Column("paused_ms", sa.Double(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("paused_ms")
