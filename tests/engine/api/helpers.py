"""A real `processengine serve` subprocess for API tests, and workflow documents to send it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.demo import EXAMPLES  # noqa: F401 - the shipped examples, for the API tests

ROOT = Path(__file__).resolve().parents[3]


class ServeProcess:
    """`python -m engine.cli serve ...` with its stdout read line by line on a thread."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.out.append(line)
            self.lines.put(line)
        self.lines.put("")

    def wait_line(self, text: str, timeout: float = 60) -> str:
        """The first stdout line holding `text` (fails with stderr when the process ends first)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if text in line:
                return line
            if line == "":
                break
        self.stop()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        raise AssertionError(f"no line with {text!r}; stdout {''.join(self.out)!r} stderr {err[-3000:]!r}")

    def base_url(self) -> str:
        line = self.wait_line("metrics on ")
        return line.split("metrics on ", 1)[1].strip().removesuffix("/metrics")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


def doc(nodes: list[dict[str, Any]], connections: list[tuple[str, str]], *, wf_id: str = "wf-api", **extra: Any) -> dict[str, Any]:
    """A processengine/1 document: nodes get name = id; connections are (from, to) on out -> in."""
    return {
        "format": "processengine/1",
        "id": wf_id,
        "name": wf_id,
        "nodes": [{"name": n["id"], "config": {}, **n} for n in nodes],
        "connections": [{"from": a, "from_port": "out", "to": b, "to_port": "in"} for a, b in connections],
        **extra,
    }


def waiting_doc(seconds: float = 30.0) -> dict[str, Any]:
    """start -> wait(seconds) -> done: a run that stays running until paused or cancelled."""
    return doc(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "wait", "type": "wait", "config": {"seconds": seconds}},
            {"id": "done", "type": "set", "config": {"values": {"ok": True}}},
        ],
        [("start", "wait"), ("wait", "done")],
        wf_id="wf-wait",
    )


def quick_doc() -> dict[str, Any]:
    return doc(
        [{"id": "start", "type": "manual_trigger"}, {"id": "greet", "type": "set", "config": {"values": {"hi": "{{ vars.who }}"}}}],
        [("start", "greet")],
        wf_id="wf-quick",
        variables={"who": "world"},
    )
