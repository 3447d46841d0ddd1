"""What `processengine` prints: strict JSON, a run's readable result, live progress.

stdout carries the result (JSON with `--json`, else a short summary); stderr carries
diagnostics and, only when it is a terminal, a live progress line drawn with rich.
Nothing is drawn when stderr is not a terminal, so logs and pipes stay clean.
"""

from __future__ import annotations

import json
import logging
import math
import operator
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine import events as ev

SUMMARY_WIDTH = 100  # characters of one output value in the plain result


def _finite(obj: Any, path: str, bad: list[str]) -> Any:
    """`obj` with every NaN/Infinity replaced by None (their paths collected in `bad`)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        bad.append(path or "(top level)")
        return None
    if isinstance(obj, dict):
        return {k: _finite(v, f"{path}.{k}" if path else str(k), bad) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v, f"{path}[{i}]", bad) for i, v in enumerate(obj)]
    return obj


def dumps_strict(obj: Any, **kw: Any) -> tuple[str, list[str]]:
    """Strict JSON text (never NaN/Infinity) and the paths of values printed as null."""
    bad: list[str] = []
    try:
        return json.dumps(obj, allow_nan=False, default=str, **kw), bad
    except ValueError:
        clean = _finite(obj, "", bad)
        return json.dumps(clean, allow_nan=False, default=str, **kw), bad


INDENT_UP_TO = 64 * 1024  # characters of compact JSON that are still printed indented


def json_text(obj: Any) -> tuple[str, list[str]]:
    """`obj` as strict JSON: indented for reading when small, compact when large.

    Indenting makes Python's json fall back to its pure-Python encoder (about ten
    times slower than the C one), which was a sixth of a 2,000-node `run --json`; a
    document that big is read by programs, not people.
    """
    text, bad = dumps_strict(obj)
    if len(text) <= INDENT_UP_TO:
        text, bad = dumps_strict(obj, indent=2)
    return text, bad


_report_encode = json.JSONEncoder(allow_nan=False, default=str).encode  # `dumps_strict`'s text
_float_text = float.__repr__  # how json writes a finite float
_attempt_fields = operator.itemgetter("attempt", "status", "duration_ms", "error", "started_at")


def _attempts_parts(attempts: dict[str, list[dict[str, Any]]]) -> list[str]:
    """`outputs_and_attempts`' attempts as `dumps_strict` writes them, one text per node
    (`"node": [...]`), to be joined with ", ". A node's only attempt whose fields have
    their usual types (the common case) is formatted here in line (no dict per attempt,
    no key encoded again, no call but the time's); anything else goes through the
    encoder (a NaN raises ValueError)."""
    from engine.runtime.record import iso
    from engine.runtime.status import attempt_view

    ascii_text = json.encoder.encode_basestring_ascii
    fields = _attempt_fields
    statuses: dict[str, str] = {}  # a status word's JSON text: a handful per run

    def one(a: dict[str, Any]) -> str:
        try:
            n, status, took, error, started = fields(a)
        except KeyError:
            return _report_encode(attempt_view(a))
        if type(n) is int and type(status) is str and type(took) is float and took - took == 0.0 and type(started) is float:
            err = "null" if error is None else _report_encode(error)
            return f'{{"attempt": {n}, "status": {ascii_text(status)}, "duration_ms": {_float_text(took)}, "error": {err}, "started_at": "{iso(started)}"}}'
        return _report_encode(attempt_view(a))

    out: list[str] = []
    append = out.append
    for node, lst in attempts.items():
        if len(lst) == 1:
            try:
                n, status, took, error, started = fields(lst[0])
            except (KeyError, TypeError):
                pass
            else:
                if (
                    type(n) is int and type(status) is str and type(took) is float and took - took == 0.0
                    and error is None and type(started) is float
                ):  # fmt: skip
                    quoted = statuses.get(status) or statuses.setdefault(status, ascii_text(status))
                    append(f'{ascii_text(node)}: [{{"attempt": {n}, "status": {quoted}, "duration_ms": {_float_text(took)}, "error": null, "started_at": "{iso(started)}"}}]')
                    continue
        append(f"{ascii_text(node)}: [{', '.join(map(one, lst))}]")
    return out


def _attempts_text(attempts: dict[str, list[dict[str, Any]]]) -> str:
    """`outputs_and_attempts`' attempts as `dumps_strict` writes them (`_attempts_parts`)."""
    return "{" + ", ".join(_attempts_parts(attempts)) + "}"


REPORT_PIECE = 256  # nodes' attempts texts per piece of a large report


def run_json_pieces(status: dict[str, Any], rec: Any) -> tuple[list[str], list[str]]:
    """`run --json`'s document, `{**status, "outputs": ..., "attempts": ...}`, as `json_text`
    writes it, in pieces to be written one after the other. A large one is put together
    from the status-and-outputs text and each node's attempts text (`_attempts_parts`):
    building a dict per attempt and encoding its keys again was over half of a 2,000-node
    report. Its pieces hold REPORT_PIECE nodes' attempts each, so no text of the whole
    report is made, copied with its newline or encoded at once (three copies of 5 MB for
    20,000 nodes). Anything unusual (a non-finite number, a small report that is
    indented) takes the general path: one piece."""
    from engine.runtime.record import MAIN_THREAD
    from engine.runtime.status import outputs_and_attempts

    main = rec.threads.get(MAIN_THREAD)
    if main is not None and "attempts" not in status and "outputs" not in status:
        try:
            head = _report_encode({**status, "outputs": dict(main.outputs)})
            parts = _attempts_parts(main.attempts)
        except ValueError:  # NaN or Infinity: printed as null, and said so, by the general path
            pass
        else:
            pieces = [head[:-1], ', "attempts": {']
            for at in range(0, len(parts), REPORT_PIECE):
                pieces.append((", " if at else "") + ", ".join(parts[at : at + REPORT_PIECE]))
            pieces.append("}}")
            if sum(map(len, pieces)) > INDENT_UP_TO:
                return pieces, []
    outputs, attempts = outputs_and_attempts(rec)
    text, bad = json_text({**status, "outputs": outputs, "attempts": attempts})
    return [text], bad


def run_json_text(status: dict[str, Any], rec: Any) -> tuple[str, list[str]]:
    """`run_json_pieces` as one text."""
    pieces, bad = run_json_pieces(status, rec)
    return "".join(pieces), bad


def print_json(obj: Any) -> None:
    """stdout is always strict JSON: a non-finite number (not JSON) prints as null, said on stderr."""
    text, bad = json_text(obj)
    _print_pieces([text], bad)


def print_run_json(status: dict[str, Any], rec: Any) -> None:
    """`print_json` of `run --json`'s document, written piece by piece (`run_json_pieces`)."""
    _print_pieces(*run_json_pieces(status, rec))


def _print_pieces(pieces: list[str], bad: list[str]) -> None:
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        sys.stderr.write(f"processengine: NaN/Infinity is not JSON; printed as null at {shown}\n")
    write = sys.stdout.write
    for piece in pieces:
        write(piece)
    write("\n")
    sys.stdout.flush()


def _short(value: Any) -> str:
    text, _ = dumps_strict(value, ensure_ascii=False)
    return text if len(text) <= SUMMARY_WIDTH else text[: SUMMARY_WIDTH - 1] + "…"


def _label(wf: Any, node_id: str) -> str:
    node = wf.get(node_id) if wf is not None else None
    return f"{node_id!r} ({node.name})" if node is not None and node.name and node.name != node_id else repr(node_id)


def _final_nodes(wf: Any, outputs: dict[str, Any]) -> list[str]:
    """Nodes that produced an output and feed no other node: the run's results."""
    if wf is None:
        return list(outputs)[-1:]
    feeding = {c.from_node for c in wf.connections}
    return [n.id for n in wf.nodes if n.id in outputs and n.id not in feeding]


def _duration(ms: float | None) -> str:
    if ms is None:
        return ""
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def run_summary(status: dict[str, Any], outputs: dict[str, Any], attempts: dict[str, list[dict[str, Any]]], wf: Any) -> list[str]:
    """The plain-text result of a run: status, counts, final outputs or the failure."""
    from engine.runtime.status import progress_text

    p = status["progress"]
    title = f" {wf.name}" if wf is not None and getattr(wf, "name", None) else ""
    lines = [
        f"{status['status']}{title}" + (f" in {took}" if (took := _duration(status["timing"]["duration_ms"])) else ""),
        f"  {progress_text(p)}",  # the same words as `status`, `list` and the app
    ]
    err = status.get("error")
    if err:
        node = err.get("node_id") or ""
        tries = len(attempts.get(node, []))
        after = f" (after {tries} attempts)" if tries > 1 else ""
        lines.append(f"  failed at node {_label(wf, node)}{after}: {err.get('message')}")
    elif status["status"] == "completed":
        for node in _final_nodes(wf, outputs):
            lines.append(f"  output of {_label(wf, node)}: {_short(outputs[node])}")
    for node, node_attempts in attempts.items():
        last = node_attempts[-1] if node_attempts else {}
        if last.get("status") == "interrupted" and status["status"] == "paused":
            lines.append(f"  node {_label(wf, node)} was interrupted mid-request by the pause: resume runs it again")
    lines.append(f"  execution {status['execution_id']}")
    return lines


class LiveProgress:
    """A transient progress line on a terminal's stderr: done/total and the running node."""

    def __init__(self, wf: Any, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._wf = wf
        self._progress = Progress(
            TextColumn("[bold]{task.fields[state]:<8}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self._task = self._progress.add_task("starting", total=max(total, 1), state="running")
        self._rerouted: list[logging.StreamHandler] = []  # type: ignore[type-arg]

    @staticmethod
    def wanted() -> bool:
        return sys.stderr.isatty()

    def hooks(self) -> ev.LifecycleHooks:
        from engine import events as ev  # only when progress is drawn: `run` starts fast

        hooks = ev.LifecycleHooks()
        hooks.on(ev.NodeStarted, self._started)
        hooks.on(ev.NodeRetrying, self._retrying)
        hooks.on(ev.NodeFinished, self._finished)
        return hooks

    def __enter__(self) -> LiveProgress:
        self._progress.start()
        # log lines (a retry's warning) go through rich's stderr proxy, above the progress
        # line, instead of writing over it
        self._rerouted = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler and h.stream is sys.__stderr__]
        for handler in self._rerouted:
            handler.setStream(sys.stderr)
        return self

    def __exit__(self, *exc: object) -> None:
        for handler in self._rerouted:
            handler.setStream(sys.__stderr__)
        self._progress.stop()

    def _name(self, node_id: str) -> str:
        node = self._wf.get(node_id) if self._wf is not None else None
        return node.name if node is not None and node.name else node_id

    def _started(self, e: ev.NodeStarted, rec: Any) -> None:
        again = f" (attempt {e.attempt})" if e.attempt > 1 else ""
        self._progress.update(self._task, description=f"{self._name(e.node_id)}{again}", state="running")

    def _retrying(self, e: ev.NodeRetrying, rec: Any) -> None:
        text = f"{self._name(e.node_id)}: retry {e.attempt + 1}/{e.max_attempts} in {e.delay:.1f} s"  # the error is logged
        self._progress.update(self._task, description=text, state="retrying")

    def _finished(self, e: ev.NodeFinished, rec: Any) -> None:
        main = rec.main
        p = main.progress()
        done = p["completed"] + p["failed"] + p["skipped"]
        self._progress.update(self._task, completed=done, description=f"{self._name(e.node_id)} {e.status}")
