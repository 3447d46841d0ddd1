"""The initial store: workspaces, workflows, executions, threads, node runs, outputs, state.

Revision ID: 0001_initial
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Ts: sa.Double[float] = sa.Double()


def _workspaces() -> None:
    """A named scope for workflows and executions."""
    op.create_table(
        "workspaces",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", Ts, nullable=False),
    )


def _workflows() -> None:
    """Saved workflow versions, one row per distinct document."""
    op.create_table(
        "workflows",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", Id, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.UniqueConstraint("workspace_id", "content_hash", name="uq_workflows_hash"),
    )
    op.create_index("ix_workflows_workflow", "workflows", ["workspace_id", "workflow_id"])


def _executions() -> None:
    """One row per run: its status, owner, heartbeat and progress counts."""
    op.create_table(
        "executions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("workspace_id", Id, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("workflow_version", Id, sa.ForeignKey("workflows.id"), nullable=False),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trigger_node", sa.String(200)),
        sa.Column("trigger_payload", sa.Text()),
        sa.Column("workflow_file", sa.Text()),
        sa.Column("owner_host", sa.String(255)),
        sa.Column("owner_pid", sa.Integer()),
        sa.Column("owner_token", sa.String(64)),
        sa.Column("heartbeat_at", Ts),
        sa.Column("control_request", sa.String(16)),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("started_at", Ts),
        sa.Column("stopped_at", Ts),
        sa.Column("error", sa.Text()),
        sa.Column("response", sa.Text()),
        sa.Column("in_flight", sa.Text()),
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("completed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_executions_ws_created", "executions", ["workspace_id", "created_at"])
    op.create_index("ix_executions_ws_status", "executions", ["workspace_id", "status"])
    op.create_index("ix_executions_ws_workflow", "executions", ["workspace_id", "workflow_id"])


def _thread_executions() -> None:
    """The threads of a run (main and sub-workflow calls)."""
    op.create_table(
        "thread_executions",
        sa.Column("execution_id", sa.String(64), sa.ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("thread_id", sa.String(500), primary_key=True),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("parent_thread_id", sa.String(500)),
        sa.Column("parent_node_id", sa.String(200)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("completed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("in_flight", sa.String(200)),
        sa.Column("started_at", Ts),
        sa.Column("stopped_at", Ts),
        sa.Column("error", sa.Text()),
        sqlite_with_rowid=False,
    )


def _node_runs() -> None:
    """Every attempt of every node."""
    op.create_table(
        "node_runs",
        sa.Column("execution_id", sa.String(64), sa.ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("thread_id", sa.String(500), nullable=False),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", Ts),
        sa.Column("duration_ms", Ts),
        sa.Column("error", sa.Text()),
        sa.Column("output_seq", sa.Integer()),
        sqlite_with_rowid=False,
    )


def _outputs() -> None:
    """The output data of node attempts (JSON, zlib-compressed when large)."""
    op.create_table(
        "outputs",
        sa.Column("execution_id", sa.String(64), sa.ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("thread_id", sa.String(500), nullable=False),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("encoding", sa.String(8), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def _execution_state() -> None:
    """The journal of a run's small state (stacks, variables, loops)."""
    op.create_table(
        "execution_state",
        sa.Column("execution_id", sa.String(64), sa.ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
    )


def upgrade() -> None:
    """One helper per table, in foreign-key order."""
    _workspaces()
    _workflows()
    _executions()
    _thread_executions()
    _node_runs()
    _outputs()
    _execution_state()


def downgrade() -> None:
    for table in ("execution_state", "outputs", "node_runs", "thread_executions", "executions", "workflows", "workspaces"):
        op.drop_table(table)
