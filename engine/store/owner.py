"""Who owns a running execution, and whether that owner is still alive.

A run records host, pid, a process token (the start time of the pid on Linux,
so a recycled pid is not mistaken for the owner) and a heartbeat. A `running`
row is interrupted when its owner is gone. On the owner's own host the process
itself is asked first - the pid is dead, a zombie or a different process - and the
heartbeat is not consulted: a live owner whose event loop stalled for minutes (a
long C call, a debugger, SIGSTOP) still owns its run, and taking it over would run
nodes twice. Only for another host is a heartbeat older than `STALE_AFTER` the test.
A takeover that does happen is fenced: the old owner's next checkpoint finds the row
no longer its own and stops (engine.errors.RunTakenOver).
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

STALE_AFTER = 30.0  # seconds without a heartbeat after which any owner counts as gone
HEARTBEAT_EVERY = 5.0

HOST = socket.gethostname()

# execution ids running in this process (across service instances): our own pid is
# always alive, so for our rows only this set tells a live run from a dead one
# (id -> the run's control object, so a finishing run never unregisters its resumed successor)
LIVE: dict[str, object] = {}


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name may hold spaces and parentheses: split after the last ')'
    return text[text.rfind(")") + 2 :].split()


_own_token: tuple[int, str | None] | None = None


def process_token(pid: int | None = None) -> str | None:
    """The start time of `pid` (Linux), telling a live owner from a recycled pid."""
    global _own_token
    if pid is None:
        me = os.getpid()
        if _own_token is None or _own_token[0] != me:  # computed once per process (fork-safe)
            _own_token = (me, process_token(me))
        return _own_token[1]
    fields = _proc_stat(pid)
    return fields[19] if fields and len(fields) > 19 else None


def pid_alive(pid: int, token: str | None = None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return False
    fields = _proc_stat(pid)
    if fields is not None:
        if fields[0] in ("Z", "X"):  # zombie or dead: killed, not yet reaped
            return False
        if token is not None and len(fields) > 19 and fields[19] != token:
            return False  # the pid was recycled by another process
    return True


def owner_alive(
    execution_id: str,
    host: str | None,
    pid: int | None,
    token: str | None,
    heartbeat_at: float | None,
    now: float | None = None,
) -> bool:
    if host == HOST and pid is not None:  # the process itself decides, not its heartbeat
        if pid == os.getpid():
            return execution_id in LIVE
        return pid_alive(pid, token)
    now = time.time() if now is None else now
    return heartbeat_at is not None and now - heartbeat_at <= STALE_AFTER
