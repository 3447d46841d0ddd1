"""Debugger state kept with an execution (breakpoints, step mode, pending edits).

Revision ID: 0002_debugger
Revises: 0001_initial
Create Date: 2026-12-06
"""

from __future__ import annotations

revision = "0002_debugger"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
