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
