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

    @property
    def wake(self) -> asyncio.Event:
        if self._wake is None:
            self._wake = asyncio.Event()
        return self._wake

    @property
    def interrupted(self) -> bool:
        return self.pause_requested or self.cancel_requested

    def pause(self) -> None:
        self.pause_requested = True
        self.wake.set()
        task = self.current_task
        if task is not None and not task.done() and not self._sleeping:
            task.cancel()  # in-flight I/O (a request that may never answer) ends now

    def cancel(self) -> None:
        self.cancel_requested = True
        self.wake.set()
        task = self.current_task
        if task is not None and not task.done():
            task.cancel()

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
