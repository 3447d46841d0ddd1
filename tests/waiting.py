"""Waiting for a condition, never for the clock.

When the state a test waits for lives where no signal reaches it (another process, a
database row, a file a child writes), the test polls the condition until it holds or a
deadline passes. The deadline only bounds a failure; a passing test waits exactly as
long as the condition takes. Inside a Qt test use `qtbot.waitUntil` / `waitSignal`
instead; inside one asyncio loop prefer an `asyncio.Event` set by a hook.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

POLL = 0.02  # seconds between checks: short enough not to slow a test, long enough not to spin


def wait_until(check: Callable[[], T], timeout: float = 20.0, what: str = "the condition", every: float = POLL) -> T:
    """Call `check` until it returns something truthy, and return that; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


async def until(
    check: Callable[[], T | Awaitable[T]], timeout: float = 20.0, what: str = "the condition", every: float = POLL
) -> T:
    """`wait_until` for coroutines: the loop keeps running (and the run under test with it)."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if isinstance(got, Awaitable):
            got = await got
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(every)
