"""Typed lifecycle hooks: the engine's only outward channel.

The runtime emits one event object per lifecycle step; persistence (the store),
the GUI bridge, the CLI and logging subscribe. A handler may be sync or async;
async handlers are awaited before the run moves on, which is how the store
makes a side-effect node durable before the next node starts. With no
subscribers an emit costs one dict lookup (the in-memory hot path).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from engine.runtime.record import RunRecord

__all__ = [
    "TERMINAL_EVENTS",
    "Event",
    "ExecutionCancelled",
    "ExecutionCompleted",
    "ExecutionFailed",
    "ExecutionPaused",
    "ExecutionResumed",
    "ExecutionStarted",
    "Handler",
    "LifecycleHooks",
    "NodeFinished",
    "NodeRetrying",
    "NodeStarted",
    "ThreadFinished",
    "ThreadStarted",
]


@dataclass(slots=True, kw_only=True)
class Event:
    execution_id: str


@dataclass(slots=True, kw_only=True)
class ExecutionStarted(Event):
    workflow_id: str
    total: int
    resumed: bool = False


@dataclass(slots=True, kw_only=True)
class NodeStarted(Event):
    thread_id: str
    node_id: str
    attempt: int
    side_effects: bool


@dataclass(slots=True, kw_only=True)
class NodeRetrying(Event):
    thread_id: str
    node_id: str
    attempt: int  # the attempt that just failed (1-based)
    max_attempts: int
    delay: float  # seconds until the next attempt
    error: str


@dataclass(slots=True, kw_only=True)
class NodeFinished(Event):
    thread_id: str
    node_id: str
    status: str  # succeeded | failed | skipped | cancelled | paused (interrupted mid-node)
    duration_ms: float
    attempt: int
    output_summary: str = ""
    ports: tuple[str, ...] = ()  # output ports a value left on
    error: dict[str, Any] | None = None
    side_effects: bool = False
    pure: bool = False


@dataclass(slots=True, kw_only=True)
class ThreadStarted(Event):
    thread_id: str
    parent_thread_id: str | None
    node_id: str | None
    workflow_id: str
    total: int


@dataclass(slots=True, kw_only=True)
class ThreadFinished(Event):
    thread_id: str
    status: str


@dataclass(slots=True, kw_only=True)
class ExecutionPaused(Event):
    pass


@dataclass(slots=True, kw_only=True)
class ExecutionResumed(Event):
    pass


@dataclass(slots=True, kw_only=True)
class ExecutionCancelled(Event):
    pass


@dataclass(slots=True, kw_only=True)
class ExecutionCompleted(Event):
    pass


@dataclass(slots=True, kw_only=True)
class ExecutionFailed(Event):
    error: dict[str, Any] = field(default_factory=dict)


E = TypeVar("E", bound=Event)
Handler = Callable[[Any, "RunRecord"], Awaitable[None] | None]

TERMINAL_EVENTS = (ExecutionCompleted, ExecutionFailed, ExecutionCancelled, ExecutionPaused)


class LifecycleHooks:
    """Registry of handlers per event type (subclasses match their own type exactly)."""

    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[tuple[Handler, bool]]] = {}
        self._any: list[tuple[Handler, bool]] = []
        self.async_handlers = 0  # async handlers subscribed (none: `dispatch` needs no coroutine, a sync node step none)

    def on(self, event_type: type[E], handler: Callable[[E, RunRecord], Any]) -> None:
        is_async = inspect.iscoroutinefunction(handler)
        self._handlers.setdefault(event_type, []).append((handler, is_async))
        self.async_handlers += is_async

    def on_any(self, handler: Handler) -> None:
        """Subscribe to every event (the GUI bridge and the JSON log use this)."""
        is_async = inspect.iscoroutinefunction(handler)
        self._any.append((handler, is_async))
        self.async_handlers += is_async

    def remove(self, handler: Handler) -> None:
        for lst in [*self._handlers.values(), self._any]:
            lst[:] = [(h, a) for h, a in lst if h is not handler]
        self._count_async()

    def extend(self, other: LifecycleHooks) -> None:
        for t, lst in other._handlers.items():
            self._handlers.setdefault(t, []).extend(lst)
        self._any.extend(other._any)
        self._count_async()

    def _count_async(self) -> None:
        self.async_handlers = sum(a for lst in [*self._handlers.values(), self._any] for _, a in lst)

    def dispatch(self, event: Event, run: RunRecord) -> Awaitable[None] | None:
        """`emit` for the hot path: with only plain handlers subscribed they run at once and
        None is returned (no coroutine per event); else the awaitable of `emit`."""
        if self.async_handlers:
            return self.emit(event, run)
        handlers = self._handlers.get(type(event))
        if handlers:
            for h, _ in handlers:
                h(event, run)
        for h, _ in self._any:
            h(event, run)
        return None

    def wants(self, event_type: type[Event]) -> bool:
        return bool(self._any) or event_type in self._handlers

    async def emit(self, event: Event, run: RunRecord) -> None:
        handlers = self._handlers.get(type(event))
        if handlers:
            for h, is_async in handlers:
                if is_async:
                    await cast(Awaitable[None], h(event, run))
                else:
                    h(event, run)
        for h, is_async in self._any:
            if is_async:
                await cast(Awaitable[None], h(event, run))
            else:
                h(event, run)
