"""Child processes of the code and execute_command nodes: environment, exit, killing.

asyncio's `Process.wait()` returns only once the process has exited AND its pipes
have closed, so a process the child left running (and that inherited its stdout or
stderr) would hold the node until its time limit. `exited()` waits for the exit
alone (a pidfd on Linux; elsewhere `returncode` is checked every 20 ms); the node
then kills what is left of the child's session, which closes the pipes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

POLL_S = 0.02
# the engine's own secrets (credentials, the API token) stay out of child processes;
# a workflow passes what a program needs through its `env`
SECRET_ENV_PREFIXES = ("PROCESSENGINE_CRED_", "PROCESSENGINE_API_TOKEN")


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child: ours without the engine's secrets, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SECRET_ENV_PREFIXES)}
    env.update(extra or {})
    return env


def kill_group(pgid: int) -> None:
    """SIGKILL a session started with `start_new_session=True` (its leader's pid is the group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def exited(proc: asyncio.subprocess.Process) -> None:
    """Return once the process has exited, whoever still holds its pipes."""
    if proc.returncode is not None:
        return
    pidfd_open = getattr(os, "pidfd_open", None)
    fd = None
    if pidfd_open is not None:
        with contextlib.suppress(OSError):
            fd = pidfd_open(proc.pid)
    if fd is None:
        while proc.returncode is None:
            await asyncio.sleep(POLL_S)
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)
