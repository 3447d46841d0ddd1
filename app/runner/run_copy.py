"""The copy of the workflow a run starts from, made across event-loop turns.

A run must never see later edits, so it starts from a deep copy of the document's
workflow. `Workflow.clone` of 5,000 nodes holds the GUI thread for 20-40 ms (twice that
while the engine thread wants the interpreter lock too): the longest single wait a click
met during a big run, right at its start. `clone_in_slices` copies the nodes a few
milliseconds at a time and lets the event loop run in between. Any edit meanwhile (every
edit emits one of the workflow's events) starts the copy over, so the result is always the
workflow as it was at one moment, as `Workflow.clone` gives it.
"""

from __future__ import annotations

import asyncio
import time

from engine.model import Node, Workflow

SLICE_S = 0.003  # node copies per event-loop turn: this long at most
SMALL = 500  # workflows up to this many nodes are copied at once (a few milliseconds)


class _EditWatch:
    """Whether `workflow` emitted any of its change events since this was made."""

    def __init__(self, workflow: Workflow) -> None:
        self.edited = False
        self._signals = [getattr(workflow.events, name) for name in type(workflow.events).__slots__]
        for signal in self._signals:
            signal.connect(self._edit)

    def _edit(self, *_args: object) -> None:
        self.edited = True

    def close(self) -> None:
        for signal in self._signals:
            signal.disconnect(self._edit)


async def clone_in_slices(workflow: Workflow, slice_s: float = SLICE_S, small: int = SMALL) -> Workflow:
    """`workflow.clone()`, the nodes copied `slice_s` at a time with the event loop's turns between."""
    if len(workflow.nodes) <= small:
        return workflow.clone()
    while True:
        watch = _EditWatch(workflow)
        try:
            nodes = await _clone_nodes(workflow, watch, slice_s)
            if nodes is not None and not watch.edited:
                return workflow.clone(nodes=nodes)  # no await since the check: no edit can come between
        finally:
            watch.close()


async def _clone_nodes(workflow: Workflow, watch: _EditWatch, slice_s: float) -> list[Node] | None:
    """Every node's copy, or None when the workflow was edited meanwhile."""
    source = list(workflow.nodes)
    out: list[Node] = []
    deadline = time.perf_counter() + slice_s
    for i, node in enumerate(source):
        out.append(node.clone())
        if i % 32 == 31 and time.perf_counter() > deadline:
            await asyncio.sleep(0)
            if watch.edited:
                return None
            deadline = time.perf_counter() + slice_s
    return out
