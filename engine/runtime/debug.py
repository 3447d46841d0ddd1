"""The debugger's state and its gate before each node.

`DebugState` belongs to a run record and is stored with the execution, so a
debug session survives a resume in another process and a crash: breakpoints
(node id, optional condition over the node's input, enabled, hit count), pins
on or off, step mode, the run-to target, where the run paused, the edits made
while paused and the execution a re-run came from.

`Debugger.gate` runs before a node starts (after merge inputs are gathered).
It either lets the node run, rotates a frame the run-to target does not need
to the bottom of the stack, or pushes the frame back and raises `Interrupted`
("pause") with `paused_at` set: the node has not run, so a resume runs it.
With nothing to do (`active` false) the orchestrator never calls it.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.nodes.base import Interrupted

if TYPE_CHECKING:
    from engine.runtime.record import Frame, RunRecord, ThreadRecord

log = logging.getLogger("engine.runtime.debug")

REASONS = ("breakpoint", "step", "to", "request")


@dataclass(slots=True, kw_only=True)
class DebugState:
    """What the debugger keeps with an execution (JSON round trip with `to_json`/`from_json`)."""

    pins: bool = False  # pinned nodes use their pin instead of running
    breakpoints: list[dict[str, Any]] = field(default_factory=list)  # {node_id, condition, enabled, hits}
    step: bool = False  # pause before every node after the first one this resume runs
    to: str | None = None  # run-to target: only its ancestors and itself run, then pause
    paused_at: dict[str, Any] | None = None  # {node_id, reason, input, thread_id, stack}
    edits: list[dict[str, Any]] = field(default_factory=list)  # variables / inputs changed while paused
    rerun_of: str | None = None
    rerun_from: str | None = None
    version: int = 0  # bumped on every change (not stored): the checkpointer writes when it moved

    def changed(self) -> None:
        self.version += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "pins": self.pins,
            "breakpoints": self.breakpoints,
            "step": self.step,
            "to": self.to,
            "edits": self.edits,
            "rerun_of": self.rerun_of,
            "rerun_from": self.rerun_from,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any] | None, paused_at: dict[str, Any] | None = None) -> DebugState:
        d = d or {}
        return cls(
            pins=bool(d.get("pins", False)),
            breakpoints=[dict(b) for b in d.get("breakpoints", [])],
            step=bool(d.get("step", False)),
            to=d.get("to"),
            paused_at=paused_at if paused_at is not None else d.get("paused_at"),
            edits=list(d.get("edits", [])),
            rerun_of=d.get("rerun_of"),
            rerun_from=d.get("rerun_from"),
        )

    # -- breakpoints -------------------------------------------------------------
    def add_breakpoint(self, node_id: str, condition: str | None = None, *, enabled: bool = True) -> None:
        """Add (or replace the condition of) the breakpoint on a node; hit counts are kept."""
        for bp in self.breakpoints:
            if bp["node_id"] == node_id:
                bp["condition"] = condition or None
                bp["enabled"] = enabled
                self.changed()
                return
        self.breakpoints.append({"node_id": node_id, "condition": condition or None, "enabled": enabled, "hits": 0})
        self.changed()

    def set_breakpoints(self, breakpoints: list[dict[str, Any]]) -> None:
        """Replace every breakpoint (hit counts of nodes that keep one are kept)."""
        hits = {b["node_id"]: b.get("hits", 0) for b in self.breakpoints}
        self.breakpoints = [
            {
                "node_id": b["node_id"],
                "condition": b.get("condition") or None,
                "enabled": b.get("enabled", True),
                "hits": b.get("hits", hits.get(b["node_id"], 0)),
            }
            for b in breakpoints
        ]
        self.changed()

    def record_edit(self, kind: str, **what: Any) -> None:
        """Remember a change made while paused (`var` or `input`), with when it was made."""
        self.edits.append({"kind": kind, "at": time.time(), **what})
        self.changed()


def parse_breakpoint(text: str) -> tuple[str, str | None]:
    """`NODE_ID[:EXPR]` → (node id, condition or None); the id never holds a ':'."""
    node_id, sep, expr = text.partition(":")
    node_id = node_id.strip()
    if not node_id:
        raise ValueError(f"a breakpoint needs a node id, got {text!r}")
    return node_id, (expr.strip() or None) if sep else None


def call_stack(rec: RunRecord, innermost: ThreadRecord) -> list[dict[str, Any]]:
    """Threads from the innermost paused one out to main: thread, node, loop index."""
    out = []
    th: ThreadRecord | None = innermost
    node_id = _top_node(innermost)
    while th is not None:
        loop = None
        if th.loop_stack:
            lid = th.loop_stack[-1]
            st = th.loops.get(lid)
            if st is not None:
                loop = {"node_id": lid, "index": st.index, "count": len(st.items)}
        out.append({"thread_id": th.thread_id, "node_id": node_id, "loop": loop})
        node_id = th.parent_node_id
        th = rec.threads.get(th.parent_thread_id) if th.parent_thread_id else None
    return out


def _top_node(th: ThreadRecord) -> str | None:
    for frame in reversed(th.stack):
        if frame.kind != "loop_tick":
            return frame.node_id
    return th.stack[-1].node_id if th.stack else None


def request_paused_at(rec: RunRecord) -> dict[str, Any] | None:
    """Where a pause asked from outside left the run: the innermost paused thread's next node."""
    from engine.runtime.record import PAUSED

    threads = [t for t in rec.threads.values() if t.stack and (t.status == PAUSED or t.parent_thread_id is None)]
    if not threads:
        return None
    th = threads[-1]
    frame = next((f for f in reversed(th.stack) if f.kind != "loop_tick"), th.stack[-1])
    return {
        "node_id": frame.node_id,
        "reason": "request",
        "input": frame.value,
        "thread_id": th.thread_id,
        "stack": call_stack(rec, th),
    }


class Debugger:
    """Applies a run's DebugState before each node; owned by one Orchestrator run.

    `evaluate` is a method of that owner, kept as a weak reference: a strong one would be a
    reference cycle (owner -> debugger -> owner) that only the garbage collector frees."""

    def __init__(self, rec: RunRecord, evaluate: Callable[[ThreadRecord, str, Any, str], Any]) -> None:
        self.rec = rec
        self.state: DebugState = rec.debug
        self._evaluate = weakref.WeakMethod(evaluate)  # (thread, node id, input, expression) -> value
        self.ran = 0  # nodes started since this run (or resume) began
        self.allowed: set[str] | None = None  # run-to: the target's ancestors and itself (main thread)
        self._rotations = 0
        self._skip: tuple[str, str] | None = None  # (thread, node) the last debug pause stopped before
        paused = self.state.paused_at
        if paused and paused.get("reason") != "request":
            self._skip = (paused.get("thread_id") or "main", paused["node_id"])
        self.refresh()

    def refresh(self) -> None:
        """Recompute `active` after the state changed (breakpoints set while running)."""
        s = self.state
        self.active = bool(s.step or s.to or self._skip or any(b.get("enabled", True) for b in s.breakpoints))

    def set_to(self, ancestors: set[str] | None) -> None:
        self.allowed = ancestors
        self.refresh()

    def gate(self, th: ThreadRecord, frame: Frame, *, resuming_child: bool) -> bool:
        """Before a node: True when the frame went back on the stack (the loop pops again).

        Raises Interrupted("pause") after pushing the frame back when the run must stop here.
        """
        node_id = frame.node_id
        key = (th.thread_id, node_id)
        if resuming_child or frame.attempt > 0 or frame.state:
            return False  # the node had already started: re-entering it is not a new step
        if self._skip is not None and self._skip == key:
            self._skip = None
            self.refresh()
            self.ran += 1
            return False
        if self._outside_target(th, frame):
            return True
        if self.state.step and self.ran >= 1:
            self._pause(th, frame, "step")
        hit = self._breakpoint_hit(th, frame)
        if hit is not None:
            self._pause(th, frame, "breakpoint", **hit)
        self.ran += 1
        self._rotations = 0
        return False

    def after_node(self, th: ThreadRecord, node_id: str) -> None:
        """After a node finished: the run-to target pauses the run before whatever comes next."""
        s = self.state
        if s.to is not None and node_id == s.to and th.parent_thread_id is None:
            s.to = None
            self.allowed = None
            s.changed()
            self.refresh()
            if th.stack:
                self._pause(th, th.stack.pop(), "to", after=node_id)

    def _outside_target(self, th: ThreadRecord, frame: Frame) -> bool:
        """Run-to: a main-thread node the target does not need waits at the stack's bottom."""
        if self.allowed is None or th.parent_thread_id is not None or frame.node_id in self.allowed:
            return False
        self._rotations += 1
        if self._rotations > len(th.stack) + 1:  # nothing left that the target needs
            self._rotations = 0
            self.state.to = None
            self.allowed = None
            self.state.changed()
            self._pause(th, frame, "to")
        th.stack.insert(0, frame)
        return True

    def _condition(self, th: ThreadRecord, node_id: str, value: Any, expr: str) -> Any:
        evaluate = self._evaluate()
        if evaluate is None:
            raise RuntimeError("the run this debugger belonged to has ended")
        return evaluate(th, node_id, value, expr)

    def _breakpoint_hit(self, th: ThreadRecord, frame: Frame) -> dict[str, Any] | None:
        for bp in self.state.breakpoints:
            if bp["node_id"] != frame.node_id or not bp.get("enabled", True):
                continue
            extra: dict[str, Any] = {}
            cond = bp.get("condition")
            if cond:
                try:
                    if not self._condition(th, frame.node_id, frame.value, cond):
                        continue
                except Exception as exc:  # a broken condition stops the run and says why
                    extra["condition_error"] = str(exc)
            bp["hits"] = bp.get("hits", 0) + 1
            self.state.changed()
            return extra
        return None

    def _pause(self, th: ThreadRecord, frame: Frame, reason: str, **extra: Any) -> None:
        th.stack.append(frame)
        self.state.paused_at = {
            "node_id": frame.node_id,
            "reason": reason,
            "input": frame.value,
            "thread_id": th.thread_id,
            "stack": call_stack(self.rec, th),
            **extra,
        }
        self.state.changed()
        log.info(
            "execution=%s paused before node=%s (%s)", self.rec.execution_id, frame.node_id, reason,
            extra={"execution_id": self.rec.execution_id, "node_id": frame.node_id, "reason": reason},
        )
        raise Interrupted("pause")


def ancestors(wf: Any, node_id: str, back_edges: frozenset[int] = frozenset()) -> set[str]:
    """Every node upstream of `node_id` (not following loop back-edges)."""
    incoming: dict[str, list[str]] = {}
    for i, c in enumerate(wf.connections):
        if i not in back_edges:
            incoming.setdefault(c.to_node, []).append(c.from_node)
    seen: set[str] = set()
    todo = [node_id]
    while todo:
        for up in incoming.get(todo.pop(), []):
            if up not in seen:
                seen.add(up)
                todo.append(up)
    seen.discard(node_id)
    return seen


def descendants(wf: Any, node_id: str) -> set[str]:
    """Every node downstream of `node_id` on any port (loop back-edges included)."""
    out: dict[str, list[str]] = {}
    for c in wf.connections:
        out.setdefault(c.from_node, []).append(c.to_node)
    seen: set[str] = set()
    todo = [node_id]
    while todo:
        for down in out.get(todo.pop(), []):
            if down not in seen:
                seen.add(down)
                todo.append(down)
    seen.discard(node_id)
    return seen
