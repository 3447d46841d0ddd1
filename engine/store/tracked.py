"""The run record's growing maps, swapped for dicts that remember which keys changed:
what lets the checkpointer write only what moved at each node (`engine.store.checkpoint`)."""

from __future__ import annotations

import collections
from typing import Any

from engine.runtime.record import ThreadRecord

__all__ = ["StatusDict", "TrackedDict", "clear_changes", "progress_counts", "track"]


class TrackedDict(dict):  # type: ignore[type-arg]
    """A dict that remembers which keys were set since the last `take()` (in order)."""

    __slots__ = ("dirty",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.dirty: dict[Any, None] = {}

    def __setitem__(self, key: Any, value: Any) -> None:
        dict.__setitem__(self, key, value)
        self.dirty[key] = None

    def take(self) -> dict[Any, None]:
        d, self.dirty = self.dirty, {}
        return d


class StatusDict(TrackedDict):
    """`node_status` with running counts of its statuses (progress in O(1)). `counts`
    counts every value set (None: a node that had none), so a change is counted without
    asking which statuses are counted."""

    __slots__ = ("counts",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.counts: collections.defaultdict[Any, int] = collections.defaultdict(int)
        for v in self.values():
            self.counts[v] += 1

    def __setitem__(self, key: Any, value: Any) -> None:
        counts = self.counts
        counts[self.get(key)] -= 1
        counts[value] += 1
        dict.__setitem__(self, key, value)
        self.dirty[key] = None


def track(th: ThreadRecord) -> None:
    """Swap the thread's growing maps for change-tracking ones; maps already tracking
    (a run resumed in the same process) start with nothing marked changed."""
    if not isinstance(th.node_status, StatusDict):
        th.node_status = StatusDict(th.node_status)
    if not isinstance(th.edge_counts, TrackedDict):
        th.edge_counts = TrackedDict(th.edge_counts)
    clear_changes(th)


def clear_changes(th: ThreadRecord) -> None:
    """Forget the changes marked so far. The maps stay as they are: copying them back to
    plain dicts at the end of a run doubled them at the peak of a 100,000-node run."""
    for tracked in (th.node_status, th.edge_counts):
        if isinstance(tracked, TrackedDict):
            tracked.take()


def progress_counts(th: ThreadRecord) -> dict[str, int]:
    """{completed, failed, skipped} node counts (the store's progress columns)."""
    ns = th.node_status
    if isinstance(ns, StatusDict):
        c = ns.counts
        return {"completed": c["succeeded"], "failed": c["failed"], "skipped": c["skipped"]}
    vals = list(ns.values())
    return {"completed": vals.count("succeeded"), "failed": vals.count("failed"), "skipped": vals.count("skipped")}
