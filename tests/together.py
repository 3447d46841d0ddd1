"""Start several processes and let them go at the same moment (tests of races between processes).

Each child runs `code`, which prints "ready" once set up and then waits for a line on
stdin: the start of an interpreter takes far longer than the race it is there for, so the
children are all ready before any of them goes."""

from __future__ import annotations

import subprocess
import sys


def run_together(code: str, args: list[str], count: int, *, env: dict[str, str] | None = None) -> list[tuple[int, str, str]]:
    """(return code, stdout after "ready", stderr) of `count` children told to go together."""
    procs = [
        subprocess.Popen([sys.executable, "-c", code, *args], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(count)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdin is not None
        assert p.stdout.readline() == "ready\n", p.communicate()[1]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [p.communicate(timeout=60) for p in procs]
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, results, strict=True)]
