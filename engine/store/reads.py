"""The store's SQLAlchemy reads of a run record and of the history list, built once.

A SQLAlchemy statement is a tree of objects with reference cycles (a subquery and its
columns, labels, bound parameters): built at every call, `load_record` left about 74
objects for the garbage collector and `rows` about 10 (the studio's first collection
after three big runs found 1,299 of them), and SQLAlchemy computed each new statement's
cache key again. These statements take their values as bound parameters, so one object
serves every call, store and dialect: its cache key is computed once, and each dialect's
SQL is in its engine's compiled cache. Built on first use (a run on an up-to-date SQLite
file never imports SQLAlchemy).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa


@cache
def reads() -> Reads:
    """The statements (made by the first call in this process)."""
    return Reads()


class Reads:
    """Statements of the store's reads. Parameters: `eid` (an execution id), `ws` (a
    workspace id), `ids` and `nodes` (lists); `rows`' filters as `listing` names them."""

    __slots__ = ("_listings", "attempts", "execution", "journal", "outputs", "recorded_seqs", "recordings", "threads", "threads_of")

    def __init__(self) -> None:
        import sqlalchemy as sa

        from engine.store import schema as t

        e, te, nr, o, js, r = t.executions, t.thread_executions, t.node_runs, t.outputs, t.execution_state, t.recordings
        eid: sa.BindParameter[str] = sa.bindparam("eid")
        self.execution = sa.select(e).where(e.c.id == eid, e.c.workspace_id == sa.bindparam("ws"))
        self.threads = sa.select(te).where(te.c.execution_id == eid).order_by(te.c.ordinal)
        self.threads_of = (
            sa.select(te).where(te.c.execution_id.in_(sa.bindparam("ids", expanding=True))).order_by(te.c.execution_id, te.c.ordinal)
        )
        self.journal = sa.select(js.c.full, js.c.data).where(js.c.execution_id == eid).order_by(js.c.seq)
        self.attempts = (
            sa.select(nr.c.thread_id, nr.c.node_id, nr.c.attempt, nr.c.status, nr.c.started_at, nr.c.duration_ms, nr.c.error)
            .where(nr.c.execution_id == eid, nr.c.attempt > 0)
            .order_by(nr.c.seq)
        )
        latest = (
            sa.select(o.c.thread_id, o.c.node_id, sa.func.max(o.c.seq).label("last"), sa.func.min(o.c.seq).label("first"))
            .where(o.c.execution_id == eid)
            .group_by(o.c.thread_id, o.c.node_id)
            .subquery()
        )
        self.outputs = (  # the latest output of each node, in the order the nodes first gave one
            sa.select(o.c.thread_id, o.c.node_id, o.c.encoding, o.c.data)
            .join(latest, sa.and_(o.c.execution_id == eid, o.c.seq == latest.c.last))
            .order_by(latest.c.first)
        )
        self.recordings = sa.select(r).where(r.c.execution_id == eid)
        self.recorded_seqs = (
            sa.select(nr.c.seq, nr.c.thread_id, nr.c.node_id)
            .where(nr.c.execution_id == eid, nr.c.attempt > 0, nr.c.node_id.in_(sa.bindparam("nodes", expanding=True)))
            .order_by(nr.c.seq)
        )
        self._listings: dict[tuple[str, ...], sa.Select[Any]] = {}

    def listing(self, filters: tuple[str, ...]) -> sa.Select[Any]:
        """A workspace's execution rows (`ws`), newest first, with `filters` (named by
        their parameters, in `LISTING_FILTERS` order): `statuses` (a list), `workflow_id`,
        `since` (created at or after), `limit`. Made when first asked for."""
        stmt = self._listings.get(filters)
        if stmt is None:
            stmt = self._listings[filters] = _listing(filters)  # two threads at once: either is right
        return stmt


LISTING_FILTERS = ("statuses", "workflow_id", "since", "limit")


def _listing(filters: tuple[str, ...]) -> sa.Select[Any]:
    import sqlalchemy as sa

    from engine.store import schema as t

    e = t.executions
    q = sa.select(e).where(e.c.workspace_id == sa.bindparam("ws"))
    if "statuses" in filters:
        q = q.where(e.c.status.in_(sa.bindparam("statuses", expanding=True)))
    if "workflow_id" in filters:
        q = q.where(e.c.workflow_id == sa.bindparam("workflow_id"))
    if "since" in filters:
        q = q.where(e.c.created_at >= sa.bindparam("since"))
    q = q.order_by(e.c.created_at.desc(), e.c.id.desc())
    if "limit" in filters:
        q = q.limit(sa.bindparam("limit", type_=sa.Integer))
    return q
