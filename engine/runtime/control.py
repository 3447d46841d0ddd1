"""Pause and cancel signals of one run.

Checked by the orchestrator before each frame (a plain attribute read, so
the hot path stays cheap); waits (back-off, `wait` nodes) sleep on `wake`
so they end at once on pause or cancel. Cancel cancels the in-flight node
task, which aborts an HTTP request; so does pause, unless the node is sleeping
on `wake` (a wait keeps its deadline and resumes with the time left): an
interrupted request runs again on resume, as after a crash. Methods must be
called on the run's event loop: other threads use `loop.call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib

from engine.nodes.base import Interrupted


class RunControl:
    def __init__(self) -> None:
        self.pause_requested = False
        self.cancel_requested = False
        self._wake: asyncio.Event | None = None
        self.current_task: asyncio.Task[object] | None = None
        self._sleeping = 0  # nodes in `sleep`: they stop by themselves on pause
        self.in_backoff = False  # a node waits between two attempts
        self._retry_action: str | None = None  # "retry_now" | "give_up" asked during that wait

    @property
    def wake(self) -> asyncio.Event:
        if self._wake is None:
            self._wake = asyncio.Event()
        return self._wake

    @property
    def interrupted(self) -> bool:
        return self.pause_requested or self.cancel_requested

    def pause(self, *, cut_short: bool = True) -> None:
        """Pause before the next node. `cut_short`: also end in-flight I/O now (the node runs
        again on resume); False lets the node in flight finish first (a worker handing its
        runs to another worker: nothing is done twice)."""
        self.pause_requested = True
        self.wake.set()
        task = self.current_task
        if cut_short and task is not None and not task.done() and not self._sleeping:
            task.cancel()  # in-flight I/O (a request that may never answer) ends now

    def cancel(self) -> None:
        self.cancel_requested = True
        self.wake.set()
        task = self.current_task
        if task is not None and not task.done():
            task.cancel()

    def retry_now(self) -> bool:
        """End a retry back-off at once (False: no node is waiting to retry)."""
        return self._end_backoff("retry_now")

    def give_up(self) -> bool:
        """End the retrying: the node's on_error applies to its last error (False: none waits)."""
        return self._end_backoff("give_up")

    def _end_backoff(self, action: str) -> bool:
        if not self.in_backoff:
            return False
        self._retry_action = action
        self.wake.set()
        return True

    def reset_pause(self) -> None:
        self.pause_requested = False
        if not self.cancel_requested and self._wake is not None:
            self._wake.clear()

    def reason(self) -> str:
        return "cancel" if self.cancel_requested else "pause"

    async def sleep(self, seconds: float) -> None:
        """Sleep, but raise Interrupted at once on pause or cancel."""
        if self.interrupted:
            raise Interrupted(self.reason())
        if seconds <= 0:
            return
        self._sleeping += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=seconds)
        finally:
            self._sleeping -= 1
        if self.interrupted:
            raise Interrupted(self.reason())

    async def backoff(self, seconds: float) -> str:
        """A retry back-off: "elapsed", or "retry_now" / "give_up" when asked; Interrupted on pause/cancel."""
        self._retry_action = None
        self.in_backoff = True
        try:
            await self.sleep(seconds)
            return self._retry_action or "elapsed"
        finally:
            self.in_backoff = False
            self._retry_action = None
            if not self.interrupted and self._wake is not None:
                self._wake.clear()
