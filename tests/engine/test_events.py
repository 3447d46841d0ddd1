"""Lifecycle events are keyword-only records: two numbers (duration, attempt) or two flags
(side effects, pure) cannot be swapped by position without a type error at the call."""

from __future__ import annotations

import dataclasses

import pytest

from engine import events as ev

EVENT_TYPES = [c for c in vars(ev).values() if isinstance(c, type) and issubclass(c, ev.Event)]


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda c: c.__name__)
def test_every_event_takes_keywords_only(event_type: type[ev.Event]) -> None:
    fields = dataclasses.fields(event_type)
    assert all(f.kw_only for f in fields), [f.name for f in fields if not f.kw_only]
    with pytest.raises(TypeError):
        event_type("exec-1")  # type: ignore[misc]


def test_a_finished_event_names_every_value() -> None:
    e = ev.NodeFinished(execution_id="e", thread_id="main", node_id="n", status="succeeded", duration_ms=2.5, attempt=3)
    assert (e.duration_ms, e.attempt, e.side_effects, e.pure) == (2.5, 3, False, False)


async def test_dispatch_runs_plain_handlers_at_once_and_awaits_when_one_is_async() -> None:
    """The run's hot path dispatches without a coroutine while every handler is plain; once
    an async handler is subscribed (directly, through `extend`, or until it is removed) it
    gets the awaitable of `emit`, and every handler runs in subscription order."""
    seen: list[str] = []
    hooks = ev.LifecycleHooks()
    hooks.on(ev.NodeStarted, lambda e, r: seen.append("typed " + e.node_id))
    hooks.on_any(lambda e, r: seen.append("any " + type(e).__name__))
    started = ev.NodeStarted(execution_id="e", thread_id="main", node_id="n", attempt=1, side_effects=False)
    assert hooks.dispatch(started, None) is None  # type: ignore[arg-type]
    assert seen == ["typed n", "any NodeStarted"]

    async def later(e: ev.Event, r: object) -> None:
        seen.append("async")

    other = ev.LifecycleHooks()
    other.on(ev.NodeStarted, later)
    hooks.extend(other)
    seen.clear()
    pending = hooks.dispatch(started, None)  # type: ignore[arg-type]
    assert pending is not None and seen == []
    await pending
    assert seen == ["typed n", "async", "any NodeStarted"]
    hooks.remove(later)
    seen.clear()
    assert hooks.dispatch(started, None) is None and seen == ["typed n", "any NodeStarted"]  # type: ignore[arg-type]
