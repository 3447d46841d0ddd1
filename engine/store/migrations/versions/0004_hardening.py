"""Store hardening (owner liveness, atomic takeover).

Revision ID: 0004_hardening
Revises: 0003_queue
Create Date: 2026-12-06
"""

from __future__ import annotations

revision = "0004_hardening"
down_revision = "0003_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
