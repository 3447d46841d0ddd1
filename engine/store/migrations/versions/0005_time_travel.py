"""Recorded I/O per attempt and the capture inbox.

Revision ID: 0005_time_travel
Revises: 0004_hardening
Create Date: 2026-12-06
"""

from __future__ import annotations

revision = "0005_time_travel"
down_revision = "0004_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
