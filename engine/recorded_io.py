"""Recorded I/O: what HTTP and email nodes sent and got, per attempt.

A node calls `ctx.record_io(kind, request, response)`; the recording waits in the
run's `RunIO.pending` (keyed by thread, node and attempt) until the checkpointer
writes the attempt's `node_runs` row, puts it on the attempt (`attempt["io"]`) and
stores it in the `recordings` table. Nothing secret is kept: credential headers,
cookies and credential query parameters are replaced by `[redacted]`, and every
secret value the node names is scrubbed from the whole recording (a server that
echoes the request must not smuggle a token into the store). Bodies are capped
(`BODY_CAP` characters, then a marker); a stored recording over `COMPRESS_OVER`
bytes is zlib-compressed.

`RunIO` also carries the run's I/O modes: `capture_email` (send_email stores the
message instead of sending it; the flag belongs to the execution and survives a
resume) and `replay` (re-runs answer nodes from an earlier run's recordings).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

REDACTED = "[redacted]"
BODY_CAP = 64 * 1024  # characters of a body kept in a recording
COMPRESS_OVER = 2048  # recordings larger than this (JSON bytes) are stored compressed
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)


@dataclass
class RunIO:
    """A run's I/O modes and the recordings not yet written."""

    capture_email: bool = False
    pending: dict[tuple[str, str, int], dict[str, Any]] = field(default_factory=dict)
    # re-run with replay: node id -> the source run's recordings that answer its runs, in
    # order (engine.replay); `replay_spec` ({source, nodes, strict}) is stored with the run
    replay: dict[str, list[dict[str, Any]]] | None = None
    replay_spec: dict[str, Any] | None = None
    strict_replay: bool = False
    warnings: list[str] = field(default_factory=list)
    _answering: dict[str, dict[str, Any]] = field(default_factory=dict)

    def replay_answer(self, node_id: str, attempt: int) -> dict[str, Any] | None:
        """The recording that answers this attempt: each new run of the node takes the
        next one (the last repeats); a retry gets the same answer again."""
        queue = None if self.replay is None else self.replay.get(node_id)
        if not queue:
            return None
        if attempt == 1 or node_id not in self._answering:
            self._answering[node_id] = queue.pop(0) if len(queue) > 1 else queue[0]
        return self._answering[node_id]


PENDING_CAP = 256  # recordings kept for a run nothing stores (an in-memory run without hooks)


def keep_pending(io: RunIO, key: tuple[str, str, int], rec: dict[str, Any]) -> None:
    """Hold a recording until its attempt row is made; a run whose recordings nobody
    collects keeps only the latest `PENDING_CAP` (memory stays bounded)."""
    pending = io.pending
    pending[key] = rec
    if len(pending) > PENDING_CAP:
        pending.pop(next(iter(pending)))


def attach_pending(record: Any, thread_id: str, node_id: str) -> None:
    """Put a node's waiting recordings on its attempts (runs kept in memory, no checkpointer)."""
    pending = record.io.pending
    keys = [k for k in pending if k[0] == thread_id and k[1] == node_id]
    th = record.threads.get(thread_id)
    for key in keys:
        io = pending.pop(key)
        attempts = [] if th is None else th.attempts.get(node_id, [])
        a = next((a for a in reversed(attempts) if a["attempt"] == key[2] and "io" not in a), None)
        if a is None:
            continue
        a["io"] = io
        if io.get("replayed") and a["status"] == "succeeded":
            a["status"] = "replayed"


def redact_headers(headers: dict[str, str], names: Iterable[str] = ()) -> dict[str, str]:
    """Headers with credential-bearing values replaced (names compared case-insensitively)."""
    secret = SECRET_HEADERS | {n.lower() for n in names}
    return {k: (REDACTED if k.lower() in secret else v) for k, v in headers.items()}


def cap_body(body: Any) -> Any:
    """A body small enough to keep: long text is cut with a marker saying how much was left out."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        if len(body) <= BODY_CAP:
            return body
        return body[:BODY_CAP] + f"…[truncated: {len(body) - BODY_CAP} more characters]"
    text = _dumps(body)
    if len(text) <= BODY_CAP:
        return body
    return text[:BODY_CAP] + f"…[truncated: JSON body of {len(text)} characters]"


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """`value` with every occurrence of a secret (in any string, key or value) replaced."""
    words = sorted({s for s in secrets if isinstance(s, str) and len(s) >= 4}, key=len, reverse=True)
    if not words:
        return value

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            for w in words:
                if w in v:
                    v = v.replace(w, REDACTED)
            return v
        if isinstance(v, dict):
            return {walk(k): walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(value)


def recording(
    kind: str,
    request: dict[str, Any],
    response: dict[str, Any] | None,
    *,
    captured: bool = False,
    replayed: bool = False,
    mismatch: list[str] | None = None,
    secrets: Iterable[str] = (),
) -> dict[str, Any]:
    """One attempt's recording, secrets scrubbed (`mismatch`: fields a replayed request changed)."""
    rec: dict[str, Any] = {"kind": kind, "captured": captured, "request": request, "response": response}
    if replayed:
        rec["replayed"] = True
    if mismatch:
        rec["mismatch"] = mismatch
    return cast(dict[str, Any], scrub(rec, secrets))  # scrub keeps the shape


def encode(rec: dict[str, Any]) -> tuple[str, int, bytes]:
    """(encoding, JSON size, stored bytes) of one recording."""
    raw = _dumps(rec).encode("utf-8")
    if len(raw) > COMPRESS_OVER:
        return "zjson", len(raw), zlib.compress(raw, 6)
    return "json", len(raw), raw


def comparable(kind: str, request: dict[str, Any]) -> dict[str, Any]:
    """The parts of a request that say whether a replay answers the same question
    (an email's Message-ID and Date are made fresh for every message)."""
    if kind == "email":
        return {k: v for k, v in request.items() if k not in ("message_id", "date")}
    return request


def request_differences(kind: str, recorded: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Field names whose rendered value differs from the recording (sorted)."""
    a, b = comparable(kind, recorded), comparable(kind, now)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def mismatch_warning(node_id: str, fields: list[str]) -> str:
    return f"node {node_id!r}: the rendered request differs from the recording in {', '.join(fields)}"


def check_replay(
    ctx: Any, kind: str, sent: dict[str, Any], recorded: dict[str, Any], secrets: Iterable[str]
) -> list[str]:
    """Compare the request a replayed node rendered now with the recorded one.

    A difference is a warning on the run (status object and log); with strict
    replay it fails the node, since the recorded answer may not fit the question.
    """
    from engine.errors import NodeError

    diff = request_differences(kind, recorded.get("request") or {}, scrub(sent, secrets))
    if not diff:
        return diff
    message = mismatch_warning(ctx.node.id, diff)
    if ctx.services.io.strict_replay:
        raise NodeError(f"{message} (strict replay)", error_type="replay_mismatch")
    ctx.services.io.warnings.append(message)
    ctx.log.warning("%s; answered from the recording anyway", message, extra={"fields": diff})
    return diff
