"""The status object of DESIGN.md, built from a run record.

Shared by the CLI (`--json`), the service and the GUI so every surface shows
the same numbers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

from engine.runtime.record import MAIN_THREAD, RESUMABLE, RunRecord, iso

__all__ = [
    "END_STATES",
    "attempt_view",
    "duration_ms",
    "outputs_and_attempts",
    "progress",
    "progress_of",
    "progress_text",
    "status_object",
]


def _iso_any(value: Any) -> Any:
    """Attempt times are epoch seconds in the record; ISO 8601 on every surface."""
    return iso(value) if isinstance(value, (int, float)) else value


# A node is finished when it reached one of these; `percent` is the share of the run's
# nodes that are finished (how far the run got, not how much of it succeeded: a failed
# node is finished too, which is why every surface shows completed, failed and skipped apart).
END_STATES = ("succeeded", "failed", "skipped")


def progress(total: int, completed: int, failed: int, skipped: int) -> dict[str, Any]:
    """The progress object of every surface (CLI, service, app): counts and percent."""
    done = completed + failed + skipped
    percent = round(100.0 * done / total, 1) if total else 100.0
    return {"total": total, "completed": completed, "failed": failed, "skipped": skipped, "percent": min(percent, 100.0)}


def progress_of(statuses: Iterable[str], total: int | None) -> dict[str, Any]:
    """Progress from node statuses (node id -> status) of one thread."""
    counts = Counter(statuses)
    completed, failed, skipped = (counts[state] for state in END_STATES)
    return progress(total or 0, completed, failed, skipped)


def progress_text(p: dict[str, Any]) -> str:
    """E.g. '4 completed, 1 failed, 1 skipped of 6 (100%)'. The percent is rounded down,
    so 100% means every node finished."""
    return (
        f"{p.get('completed') or 0} completed, {p.get('failed') or 0} failed, {p.get('skipped') or 0} skipped "
        f"of {p.get('total') or 0} ({math.floor(p.get('percent') or 0):.0f}%)"
    )


def duration_ms(
    started: float | None, stopped: float | None, now: float | None = None, *, paused_ms: float = 0.0
) -> float | None:
    """Run time: from start to stop (or now), less the time it spent paused."""
    if started is None:
        return None
    end = stopped if stopped is not None else now
    if end is None:
        return None
    return round(max(0.0, (end - started) * 1000 - paused_ms), 3)


def status_object(rec: RunRecord, *, status: str | None = None, now: float | None = None) -> dict[str, Any]:
    """Status object: ids, status, resumable, progress, timing, threads, error."""
    st = status or rec.status
    main = rec.threads.get(MAIN_THREAD)
    threads = []
    for t in rec.threads.values():
        threads.append(
            {
                "thread_id": t.thread_id,
                "workflow_id": t.workflow_id,
                "parent_thread_id": t.parent_thread_id,
                "node_id": t.parent_node_id,
                "status": st if t.thread_id == MAIN_THREAD else t.status,
                "progress": progress_of(t.node_status.values(), t.total),
                "in_flight": t.in_flight,
            }
        )
    main_progress = progress_of(main.node_status.values(), main.total) if main else progress(0, 0, 0, 0)
    error = None
    if rec.error:
        error = {
            "message": rec.error.get("message"),
            "traceback": rec.error.get("traceback"),
            "node_id": rec.error.get("node_id"),
        }
    extra = {"warnings": list(rec.io.warnings)} if rec.io.warnings else {}  # e.g. a replayed request that changed
    return {
        "execution_id": rec.execution_id,
        "workflow_id": rec.workflow_id,
        "status": st,
        "resumable": st in RESUMABLE,
        "progress": main_progress,
        "timing": {
            "started_at": iso(rec.started_at),
            "stopped_at": iso(rec.stopped_at),
            "duration_ms": duration_ms(rec.started_at, rec.stopped_at, now, paused_ms=rec.paused_ms),
        },
        "threads": threads,
        "error": error,
        "paused_at": rec.debug.paused_at if st == "paused" else None,
        "rerun_of": rec.debug.rerun_of,
        **extra,
    }


def attempt_view(a: dict[str, Any]) -> dict[str, Any]:
    """One attempt as every surface shows it (times in ISO 8601)."""
    return {
        "attempt": a.get("attempt"),
        "status": a.get("status"),
        "duration_ms": a.get("duration_ms"),
        "error": a.get("error"),
        "started_at": _iso_any(a.get("started_at")),
    }


def outputs_and_attempts(rec: RunRecord) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The main thread's node outputs and attempt records, as the CLI prints them."""
    main = rec.threads.get(MAIN_THREAD)
    if main is None:
        return {}, {}
    attempts = {node: list(map(attempt_view, lst)) for node, lst in main.attempts.items()}
    return dict(main.outputs), attempts
