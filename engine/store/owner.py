"""Who owns a running execution, and whether that owner is still alive.

A run records host, pid, an owner token and a heartbeat. The token is
`<process>/<instance>`: the start time of the pid on Linux (so a recycled pid is not
mistaken for the owner) and the id of the service's `LiveRuns`, the registry of the
runs that one service drives. A `running` row is interrupted when its owner is gone.
On the owner's own host the process itself is asked first - the pid is dead, a zombie
or a different process - and the heartbeat is not consulted: a live owner whose event
loop stalled for minutes (a long C call, a debugger, SIGSTOP) still owns its run, and
taking it over would run nodes twice. In the owner's own process its `LiveRuns` knows;
another service of the same process cannot see that registry (no state is shared
between services), so for it, as for another host, a heartbeat older than
`STALE_AFTER` is the test. A takeover that does happen is fenced: the old owner's next
checkpoint finds the row no longer its own and stops (engine.errors.RunTakenOver).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

STALE_AFTER = 30.0  # seconds without a heartbeat after which any owner counts as gone
HEARTBEAT_EVERY = 5.0

HOST = socket.gethostname()

__all__ = ["HEARTBEAT_EVERY", "HOST", "STALE_AFTER", "LiveRuns", "owner_alive", "pid_alive", "process_part", "process_token"]


class LiveRuns:
    """The executions one service drives in this process, and the token its rows carry.

    Our own pid is always alive, so for the rows this service owns only this registry
    tells a live run from a dead one. Each service has its own: two services in one
    process (or one test after another) share nothing.
    """

    def __init__(self) -> None:
        self.instance = uuid.uuid4().hex
        # id -> the marker of the run holding it, so a finishing run never unregisters
        # its resumed successor
        self._runs: dict[str, object] = {}

    @property
    def token(self) -> str:
        """The owner token of this service's rows (computed per call: fork-safe)."""
        return f"{process_token() or ''}/{self.instance}"

    def add(self, execution_id: str, marker: object) -> None:
        self._runs[execution_id] = marker

    def discard(self, execution_id: str, marker: object) -> None:
        """Forget the run, unless a newer holder (a resume) took the id over."""
        if self._runs.get(execution_id) is marker:
            del self._runs[execution_id]

    def __contains__(self, execution_id: object) -> bool:
        return execution_id in self._runs

    def __len__(self) -> int:
        return len(self._runs)


def process_part(token: str | None) -> str | None:
    """The process start time in an owner token (tokens of older versions are only that)."""
    if not token:
        return None
    return token.split("/", 1)[0] or None


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
    """Whether `pid` runs, and is the process that started at `token` (when given)."""
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
    *,
    live: LiveRuns | None = None,
) -> bool:
    """Whether the owner recorded in a `running` row still drives the run.

    `live`: the registry of the service asking; it decides for the rows it owns.
    """
    if host == HOST and pid is not None:  # the process itself decides, not its heartbeat
        if pid != os.getpid():
            return pid_alive(pid, process_part(token))
        if process_part(token) != process_token():
            return False  # an earlier process that had our pid
        if live is not None and token == live.token:
            return execution_id in live
    now = time.time() if now is None else now
    return heartbeat_at is not None and now - heartbeat_at <= STALE_AFTER
