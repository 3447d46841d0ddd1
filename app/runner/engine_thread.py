"""The engine's own thread and asyncio loop.

The GUI thread runs the Qt event loop (with qasync on top); everything that
can block — SQLite, HTTP, the orchestrator itself — runs on this loop so the
window never freezes. The GUI awaits engine work with `await engine.call(...)`,
which is `asyncio.wrap_future(asyncio.run_coroutine_threadsafe(...))`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class EngineThread:
    """A daemon thread running one asyncio loop until `stop()`."""

    def __init__(self, name: str = "processengine-engine") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            try:
                pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                self.loop.close()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def in_engine_thread(self) -> bool:
        return threading.current_thread() is self._thread

    # -- submitting work -----------------------------------------------------------
    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the engine loop from any thread."""
        if self.loop.is_closed() or not self._thread.is_alive():
            coro.close()  # never leave an un-awaited coroutine to the garbage collector
            raise RuntimeError("the engine thread has stopped")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def submit_call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Run a plain (possibly blocking, e.g. SQLite) function on the engine thread."""

        async def run() -> T:
            return fn(*args, **kwargs)

        return self.submit(run())

    def call(self, coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Awaitable on the caller's (qasync) loop for a coroutine run on the engine loop."""
        return asyncio.wrap_future(self.submit(coro))

    def call_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Awaitable on the caller's loop for a plain function run on the engine thread."""
        return asyncio.wrap_future(self.submit_call(fn, *args, **kwargs))

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Fire and forget on the engine loop (thread-safe); dropped once the thread stopped."""
        if not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(functools.partial(fn, *args))
            except RuntimeError:  # closed between the check and the call
                log.debug("engine loop closed; dropped %r", fn)

    def run_blocking(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Wait for engine work from a non-loop context (start-up, shutdown, tests)."""
        if self.in_engine_thread():
            raise RuntimeError("run_blocking() called on the engine thread would deadlock")
        return self.submit(coro).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop (cancelling what still runs) and join the thread."""
        if self.loop.is_closed() or not self._thread.is_alive():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("engine thread did not stop within %.1f s", timeout)
