"""Python for the code node: each call runs in a child process (not a sandbox).

The child (`py_child.py`, run with `python -I`) limits its own address space
(`memory_mb`) and CPU time with `resource.setrlimit`; the parent enforces the wall
time (`timeout_s`). The child runs in a session of its own, so stopping it stops
anything it started. Pause and cancel reach the node through the runtime's
interruptible sleep: the child is killed at once, and a paused node runs again from
the start on resume. Values cross as JSON over pipes; what the code prints becomes
the node's log lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from engine.errors import NodeError
from engine.nodes import processes

CHILD = str(Path(__file__).with_name("py_child.py"))
MAX_LOG_LINES = 1000
MAX_LOG_CHARS = 10000


class PyCodeError(NodeError):
    """The code raised, did not compile or returned something that is not JSON."""

    def __init__(self, message: str, *, line: int | None, error_type: str) -> None:
        super().__init__(message, error_type=error_type)
        self.line = line


def child_command() -> list[str]:
    """`python -I py_child.py`; in the frozen bundle its executable runs the child itself."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--code-node-child"]
    return [sys.executable, "-I", CHILD]


def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        processes.kill_group(proc.pid)


async def _pump_log(stream: asyncio.StreamReader, log: Callable[[str], None]) -> None:
    count = 0
    while line := await stream.readline():
        count += 1
        if count <= MAX_LOG_LINES:
            text = line.decode("utf-8", "replace").rstrip("\n")
            log(text[:MAX_LOG_CHARS])
    if count > MAX_LOG_LINES:
        log(f"... {count - MAX_LOG_LINES} more printed lines not logged")


async def run_python(
    code: str,
    names: dict[str, Any],
    *,
    timeout_s: float,
    memory_mb: int,
    sleep: Callable[[float], Awaitable[None]],
    log: Callable[[str], None],
) -> Any:
    """Run `code` in a child; `sleep` is the runtime's (raises Interrupted on pause/cancel)."""
    request = json.dumps({"code": code, "names": names, "timeout_s": timeout_s, "memory_mb": memory_mb},
                         allow_nan=False).encode()
    proc = await asyncio.create_subprocess_exec(
        *child_command(),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True, env=processes.child_env(),
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    work = asyncio.ensure_future(_exchange(proc, request, log))
    watch = asyncio.ensure_future(sleep(timeout_s))
    try:
        done, _ = await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
        if work not in done:
            _kill(proc)
            watch.result()  # raises Interrupted on pause or cancel
            raise NodeError(f"the code ran longer than its time limit of {timeout_s:g} s and was stopped",
                            error_type="timeout")
        return _result(*work.result(), memory_mb=memory_mb)
    finally:
        _kill(proc)
        for task in (work, watch):
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(work, watch, return_exceptions=True)
        with contextlib.suppress(ProcessLookupError):
            await proc.wait()


async def _exchange(proc: asyncio.subprocess.Process, request: bytes,
                    log: Callable[[str], None]) -> tuple[bytes, int]:
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    pump = asyncio.ensure_future(_pump_log(proc.stderr, log))
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.write(request)
        await proc.stdin.drain()
        proc.stdin.close()
    out = await proc.stdout.read()
    await processes.exited(proc)
    processes.kill_group(proc.pid)  # what the code left running would keep the log pipe open
    await pump
    return out, await proc.wait()


def _result(out: bytes, returncode: int, *, memory_mb: int) -> Any:
    if not out:
        if returncode in (-signal.SIGKILL, -signal.SIGXCPU, -signal.SIGSEGV) or returncode == 1:
            raise NodeError(f"the Python process stopped (exit {returncode}) before giving a result; "
                            f"it may have gone over its limits ({memory_mb} MB)", error_type="process_died")
        raise NodeError(f"the Python process ended (exit {returncode}) without a result", error_type="process_died")
    try:
        reply = json.loads(out)
    except ValueError:
        raise NodeError("the Python process gave an unreadable result", error_type="process_died") from None
    if reply.get("ok"):
        return reply.get("value")
    err = reply.get("error") or {}
    line = err.get("line")
    where = f"line {line}: " if line else ""
    raise PyCodeError(f"{where}{err.get('type', 'Error')}: {err.get('message', '')}", line=line,
                      error_type=str(err.get("type") or "Error"))
