"""The store's tables (SQLAlchemy Core; the Alembic migrations create the same shape).

Every row hangs off a workspace. Per-node rows are append-only and keyed by
`(execution_id, seq)`, a counter the checkpointer hands out, so one finished
node costs a couple of small inserts no matter how long the run is:

- `node_runs`: one row per attempt (status, start, duration, error, output ref).
- `outputs`: one row per output a node produced (JSON, zlib-compressed over 64 KB).
- `execution_state`: the checkpoint as a short journal; each commit appends the
  small resumable state of the threads that moved (stacks, waiting map, loops,
  variables; each only from where the thread's previous row left off) plus the
  node-status and edge-count changes. A finished or paused run's journal is
  compacted into one row.
- `recordings`: what an HTTP or email attempt sent and got (redacted; keyed by the
  attempt's `node_runs` seq; zlib-compressed over 2 KB); captured email lives here too.
"""

from __future__ import annotations

import sqlalchemy as sa

from engine.store.database import TABLES as TABLES  # defined where no SQLAlchemy is needed
from engine.store.database import VERSION_TABLE as VERSION_TABLE

metadata = sa.MetaData()

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Ts: sa.Double[float] = sa.Double()

workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("created_at", Ts, nullable=False),
)

workflows = sa.Table(
    "workflows",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("workspace_id", Id, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    sa.Column("workflow_id", sa.String(200), nullable=False),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("document", sa.Text(), nullable=False),
    sa.Column("created_at", Ts, nullable=False),
    sa.UniqueConstraint("workspace_id", "content_hash", name="uq_workflows_hash"),
    sa.Index("ix_workflows_workflow", "workspace_id", "workflow_id"),
)

executions = sa.Table(
    "executions",
    metadata,
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
    sa.Column("debug", sa.Text()),  # 0002_debugger: breakpoints, pins, step, run-to, edits
    sa.Column("paused_at", sa.Text()),  # 0002_debugger: {node_id, reason, input, ...} while paused
    sa.Column("rerun_of", sa.String(64)),  # 0002_debugger: the execution a re-run came from
    sa.Column("paused_ms", sa.Double(), nullable=False, server_default="0"),  # 0004: time spent paused
    sa.Column("worker", sa.String(255)),  # 0003_queue: the worker running a queued execution
    sa.Column("queue_job", sa.BigInteger()),  # 0003_queue: its job id in the job queue
    sa.Column("capture_email", sa.Boolean(), nullable=False, server_default=sa.false()),  # 0005_time_travel
    sa.Column("replay", sa.Text()),  # 0005_time_travel: {source, nodes, strict} of a replaying re-run
    sa.Index("ix_executions_ws_created", "workspace_id", "created_at"),
    sa.Index("ix_executions_ws_status", "workspace_id", "status"),
    sa.Index("ix_executions_ws_workflow", "workspace_id", "workflow_id"),
)

thread_executions = sa.Table(
    "thread_executions",
    metadata,
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

node_runs = sa.Table(
    "node_runs",
    metadata,
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

outputs = sa.Table(
    "outputs",
    metadata,
    sa.Column("execution_id", sa.String(64), sa.ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("thread_id", sa.String(500), nullable=False),
    sa.Column("node_id", sa.String(200), nullable=False),
    sa.Column("encoding", sa.String(8), nullable=False),  # json | zjson
    sa.Column("size", sa.Integer(), nullable=False),  # bytes of the JSON text
    sa.Column("data", sa.LargeBinary(), nullable=False),
)

execution_state = sa.Table(
    "execution_state",
    metadata,
    sa.Column("execution_id", sa.String(64), sa.ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("full", sa.Boolean(), nullable=False),
    sa.Column("data", sa.Text(), nullable=False),
)

# 0003_queue: one row per fired schedule due time (the first process to insert it runs it)
schedule_fires = sa.Table(
    "schedule_fires",
    metadata,
    sa.Column("workspace_id", Id, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("workflow_id", sa.String(200), primary_key=True),
    sa.Column("node_id", sa.String(200), primary_key=True),
    sa.Column("due_at", Ts, primary_key=True),
    sa.Column("execution_id", sa.String(64)),
    sa.Column("fired_at", Ts, nullable=False),
)

recordings = sa.Table(
    "recordings",
    metadata,
    sa.Column("execution_id", sa.String(64), sa.ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),  # the attempt's node_runs seq
    sa.Column("thread_id", sa.String(500), nullable=False),
    sa.Column("node_id", sa.String(200), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # http | email
    sa.Column("captured", sa.Boolean(), nullable=False),
    sa.Column("encoding", sa.String(8), nullable=False),  # json | zjson
    sa.Column("size", sa.Integer(), nullable=False),  # bytes of the JSON text
    sa.Column("data", sa.LargeBinary(), nullable=False),
)
