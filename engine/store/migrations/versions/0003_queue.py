"""Queue mode (queued executions, worker names, per-workflow concurrency).

Revision ID: 0003_queue
Revises: 0002_debugger
Create Date: 2026-12-06
"""

from __future__ import annotations

revision = "0003_queue"
down_revision = "0002_debugger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
