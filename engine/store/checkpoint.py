"""The checkpointer: what makes a run durable.

The orchestrator calls it directly for each node (`node_started`, `node_finished`: the
node's output and the JSON text already checked for it come with the call); the rarer
steps (retries, sub-workflow threads, the run's end) reach it as lifecycle hooks. Cost
per node is O(1): the run record's `node_status` and `edge_counts` are swapped for dicts
that remember which keys changed, so each node writes only what moved (attempt rows,
its output row, status/edge changes), never the whole record.

Rules (DESIGN "store"):
- a finished node: its attempt rows, output row and status/edge changes; the thread's
  small resumable state (stack, waiting map, loops, variables) is due in the next journal
  row. A node that is not pure is committed at once; pure nodes (and skip bookkeeping)
  are group-committed within `GROUP_WINDOW` seconds or `GROUP_ROWS` rows.
- a side-effect node starting: commit everything pending plus the in-flight marker
  before the node runs.
- the state a journal row holds is the thread's as it is when the row is written, with
  the frame of the node in flight put back on top of its stack (the orchestrator pops a
  frame when its node starts and changes nothing else of the thread until it ends; what
  it does between two nodes, a merge arrival, a loop tick, is consistent on its own). So
  nothing is copied per node, and a crash re-runs exactly the node in flight.
- Terminal events (paused, completed, failed, cancelled): commit everything
  and compact the state journal into one full row.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import operator
import os
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast

from engine import events as ev
from engine import recorded_io
from engine.errors import RunTakenOver, StoreError
from engine.runtime.record import MAIN_THREAD, NO_OUTPUT, Frame, RunRecord, ThreadRecord
from engine.store import codec, owner
from engine.store.sql import RUN_ROW, RawTransaction, row_inserts, statements
from engine.store.tracked import TrackedDict, clear_changes, progress_counts, track

if TYPE_CHECKING:
    import sqlalchemy as sa

log = logging.getLogger("engine.store")

GROUP_WINDOW = 0.005
GROUP_ROWS = 2000
PRODUCERS = frozenset({"succeeded", "failed", "pinned", "reused", "replayed"})  # attempts whose output is stored
RUN_NODE = RUN_ROW.index("node_id")  # where a node_runs row (RUN_ROW order) holds what it is read or changed by
RUN_STATUS = RUN_ROW.index("status")
RUN_OUTPUT_SEQ = RUN_ROW.index("output_seq")


def small_state(th: ThreadRecord) -> dict[str, Any]:
    """The thread's resumable state without the per-node maps (those live in rows)."""
    return {
        "thread_id": th.thread_id,
        "workflow_id": th.workflow_id,
        "parent_thread_id": th.parent_thread_id,
        "parent_node_id": th.parent_node_id,
        "status": th.status,
        "total": th.total,
        "stack": [f.to_json() for f in th.stack],
        "waiting": {k: [[i, v] for i, v in w.items()] for k, w in th.waiting.items()},
        "loops": {k: s.to_json() for k, s in th.loops.items()},
        "loop_stack": list(th.loop_stack),
        "variables": th.variables,
        "in_flight": th.in_flight,
        "last_output": th.last_output,
        "started_at": th.started_at,
        "stopped_at": th.stopped_at,
        "error": th.error,
    }


PAIRS_CHUNK = 4096


def _chunks(items: Iterable[Any]) -> Iterator[list[Any]]:
    """`items` PAIRS_CHUNK at a time: a map's JSON made chunk by chunk never holds every
    entry's small texts at once (about 5 MB of fresh pages for 20,000 entries)."""
    it = iter(items)
    while chunk := list(itertools.islice(it, PAIRS_CHUNK)):
        yield chunk


def _pairs_json(counts: dict[int, int]) -> str:
    """`[[key, value], ...]` as JSON, encoded a chunk at a time (no list per entry for all at once)."""
    return "[" + ",".join(codec.dumps(list(map(list, chunk)))[1:-1] for chunk in _chunks(counts.items())) + "]"


def _map_json(values: dict[str, Any]) -> str:
    """`codec.dumps(values)`, encoded a chunk at a time."""
    return "{" + ",".join(codec.dumps(dict(chunk))[1:-1] for chunk in _chunks(values.items())) + "}"


def _common_prefix(a: list[Any], b: list[Any]) -> int:
    """How many leading items two lists share by identity. A stack changes at its top, so
    the guess is the highest index where both hold the same frame, checked in one pass
    in C; a binary search (each probe in C) answers when the guess is wrong."""
    lo, hi = 0, min(len(a), len(b))
    top = hi
    while top and a[top - 1] is not b[top - 1]:
        top -= 1
    if all(map(operator.is_, a[:top], b[:top])):
        return top
    hi = top - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if all(map(operator.is_, a[:mid], b[:mid])):
            lo = mid
        else:
            hi = mid - 1
    return lo


class _Thread:
    """What the checkpointer keeps per thread: rows already written, rows and changes not
    yet written, and whether its state is due in the next journal row (`due`)."""

    __slots__ = ("att", "due", "edge_delta", "inserted", "meta_dirty", "ordinal", "outs", "runs", "status_delta", "th")

    def __init__(self, th: ThreadRecord, ordinal: int, inserted: bool) -> None:
        track(th)
        self.th = th
        self.ordinal = ordinal
        self.att = {k: len(v) for k, v in th.attempts.items()}  # attempts already stored, per node
        self.due = False
        self.status_delta: dict[str, str] = {}
        self.edge_delta: dict[int, int] = {}
        # rows waiting for the next commit, without the run's and the thread's ids (RUN_ROW, OUT_ROW order)
        self.runs: list[list[Any]] = []
        self.outs: list[tuple[Any, ...]] = []
        self.inserted = inserted
        self.meta_dirty = not inserted


class Checkpointer:
    """Writes one run's checkpoints, one pooled connection per transaction: the orchestrator's
    recorder (`node_started`, `node_finished`), subscribed to its hooks for the rest."""

    def __init__(
        self,
        engine: sa.Engine,
        record: RunRecord,
        *,
        seq: int = 0,
        existing_threads: set[str] | None = None,
        owner_token: str | None,
    ) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.sql = statements(engine.dialect)
        self.rec = record
        self.eid = record.execution_id
        self.seq = seq
        self._conn: Any = None
        # who may write this run: the owner recorded by create/claim (this process, and
        # the token of the service that drives it)
        self._fence = {"w_eid": self.eid, "w_host": owner.HOST, "w_pid": os.getpid(), "w_token": owner_token}
        existing = existing_threads or set()
        self.threads: dict[str, _Thread] = {}
        for tid, th in record.threads.items():
            self.threads[tid] = _Thread(th, len(self.threads), tid in existing)
        self.rows = 0  # node_runs and outputs rows waiting for the next commit (each thread holds its own)
        self.recordings: list[tuple[Any, ...]] = []  # in RECORDING_ROW order
        self._insert_runs, self._insert_outputs, self._insert_recordings = row_inserts(self.sql, self.sqlite)
        self._none = self._insert_runs.none  # what a row holds for NULL (0 on SQLite: see RowInsert)
        self._flight: dict[str, Frame] = {}  # thread -> the frame of its node in flight
        self._sides: set[str] = set()  # the threads whose node in flight has side effects
        self.pending_since: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._items_json: dict[int, tuple[list[Any], str]] = {}
        self._results_json: dict[int, tuple[list[Any], list[str]]] = {}
        self._journaled_vars: dict[str, dict[str, Any]] = {}  # thread -> the variables its journal holds
        self._stack_cache: dict[str, list[Frame]] = {}  # thread -> the stack its last journal row holds
        # (thread, merge) -> (its waiting map, how many entries the journal holds)
        self._waiting_cache: dict[tuple[str, str], tuple[dict[int, Any], int]] = {}
        # (thread, loop) -> (results, how many written, items) as of the last journal row
        self._journaled_loops: dict[tuple[str, str], tuple[list[Any], int, list[Any]]] = {}
        self._response_written: Any = record.response
        self._debug_written = record.debug.version
        self.commits = 0

    # -- subscription ----------------------------------------------------------
    def subscribe(self, hooks: ev.LifecycleHooks) -> None:
        """The hooks of the steps the orchestrator does not record through `node_*`."""
        hooks.on(ev.NodeRetrying, self.on_node_retrying)
        hooks.on(ev.ThreadStarted, self.on_thread_started)
        hooks.on(ev.ThreadFinished, self.on_thread_finished)
        for terminal in ev.TERMINAL_EVENTS:
            hooks.on(terminal, self.on_terminal)

    def initial(self, create: dict[str, Any] | None = None, *, collect: bool = False) -> None:
        """Commit the starting state (the trigger's frame) so a crash at once is resumable.

        `create`: the new `executions` row, inserted in the same transaction.
        `collect`: also write the attempts, outputs and statuses the new record
        already holds (a re-run's reused nodes).
        """
        for tid in self.rec.threads:
            tt = self._thread(tid)
            if collect:
                th = tt.th
                tt.att.clear()
                for tracked in (th.node_status, th.edge_counts):
                    cast(TrackedDict, tracked).dirty.update(dict.fromkeys(tracked))  # swapped in by track()
                first = len(tt.runs)
                self._collect(tt)
                made = {row[RUN_NODE]: row for row in tt.runs[first:]}  # each node's last new attempt
                for node, value in th.outputs.items():
                    self._output_row(tt, node, value, None, made.get(node))
            tt.due = True
            tt.meta_dirty = True
        self._debug_written = -1  # the debug state goes with it
        self.flush(create=create)

    # -- the orchestrator's calls ------------------------------------------------
    def node_started(self, th: ThreadRecord, frame: Frame, side_effects: bool) -> None:
        """A node's attempt starts (its frame is off the stack from now until it ends)."""
        tid = th.thread_id
        self._flight[tid] = frame
        if side_effects:
            self._sides.add(tid)
            self.flush()  # durable before the world is touched
        elif self._sides:
            self._sides.discard(tid)

    def node_finished(self, th: ThreadRecord, node_id: str | None, *, now: bool, output: Any = NO_OUTPUT, raw: bytes | None = None) -> None:
        """A node ended (or a loop started its items, or nodes were marked skipped:
        `node_id` None): its rows and the thread's changes go into the pending commit.
        `output`: the value it stored (`raw`: that value's UTF-8 JSON text, already made
        when the output was checked). `now`: commit at once, else within the group window.

        The common case, a node whose own status is the only one changed, with one new
        attempt and its output's text at hand, is written out here; anything else takes
        the general steps (`_attempt_rows`, `_output_row`), which make the same rows."""
        tid = th.thread_id
        tt = self.threads.get(tid)
        if tt is None or tt.th is not th:
            tt = self._thread(tid)
        frame = self._flight.get(tid)
        if frame is not None and frame.node_id == node_id:
            del self._flight[tid]
            if self._sides:
                self._sides.discard(tid)
        statuses: TrackedDict = th.node_status  # type: ignore[assignment]  # swapped in by track()
        changed = statuses.dirty
        made = None
        if changed:
            statuses.dirty = {}
            lst = th.attempts.get(node_id) if node_id is not None and len(changed) == 1 and node_id in changed else None
            done = tt.att.get(node_id, 0) if node_id is not None else 0
            if lst is not None and node_id is not None and len(lst) == done + 1 and not self.rec.io.pending:
                tt.status_delta[node_id] = statuses[node_id]
                a = lst[done]
                self.seq = seq = self.seq + 1
                error = a.get("error")
                none = self._none
                made = [seq, node_id, a["attempt"], a["status"], a["started_at"], a["duration_ms"], none if error is None else codec.dumps(error), none]
                tt.runs.append(made)
                self.rows += 1
                tt.att[node_id] = done + 1
            else:
                made = self._attempt_rows(tt, changed, node_id)
        edges: TrackedDict = th.edge_counts  # type: ignore[assignment]  # `_collect_edges`, in line
        if edges.dirty:
            moved, edges.dirty = edges.dirty, {}
            delta = tt.edge_delta
            for conn in moved:
                delta[conn] = edges[conn]
        if output is not NO_OUTPUT:
            if raw is not None and len(raw) <= codec.COMPRESS_OVER and self.sqlite:
                self.seq = seq = self.seq + 1
                # sqlite3 binds a bytearray as the same BLOB without its adapter lookup (~3,300 instructions)
                tt.outs.append((seq, node_id, "json", len(raw), bytearray(raw)))
                self.rows += 1
                if made is not None and made[RUN_STATUS] in PRODUCERS:  # the attempt that produced it
                    made[RUN_OUTPUT_SEQ] = seq
            else:
                self._output_row(tt, node_id, output, raw, made)
        tt.meta_dirty = True
        tt.due = True
        if now:
            self.flush()
        elif self.pending_since is None or self.rows >= GROUP_ROWS or time.monotonic() - self.pending_since >= GROUP_WINDOW:
            self._pending()  # `_pending`'s tests in line: most nodes only join the pending commit

    # -- hooks -------------------------------------------------------------------
    def on_node_retrying(self, e: ev.NodeRetrying, rec: RunRecord) -> None:
        tt = self._thread(e.thread_id)
        self._collect(tt)
        if e.thread_id in self._sides and e.thread_id in self._flight:
            self.flush()  # what a side-effect attempt did is never lost
        else:
            self._pending()

    def on_thread_started(self, e: ev.ThreadStarted, rec: RunRecord) -> None:
        tt = self._thread(e.thread_id)
        self._collect(tt)
        tt.due = True
        self._pending()

    def on_thread_finished(self, e: ev.ThreadFinished, rec: RunRecord) -> None:
        tt = self._thread(e.thread_id)
        tt.meta_dirty = True
        self._collect(tt)
        tt.due = True
        self._pending()

    def on_terminal(self, e: ev.Event, rec: RunRecord) -> None:
        self._flight.clear()
        self._sides.clear()
        self.flush(final=True)

    # -- collecting --------------------------------------------------------------
    def _thread(self, tid: str) -> _Thread:
        tt = self.threads.get(tid)
        if tt is None or tt.th is not self.rec.threads.get(tid):
            new = self.threads[tid] = _Thread(self.rec.threads[tid], len(self.threads), tt is not None and tt.inserted)
            if tt is not None:  # the rows the replaced record's thread left pending still go
                new.runs, new.outs = tt.runs, tt.outs
            tt = new
        return tt

    def _collect(self, tt: _Thread) -> None:
        """Move a thread's status and edge changes since the last call into the pending
        commit, with a row per new attempt of the nodes that changed."""
        th = tt.th
        tt.meta_dirty = True
        statuses: TrackedDict = th.node_status  # type: ignore[assignment]  # swapped in by track()
        changed = statuses.dirty
        if changed:
            statuses.dirty = {}
            self._attempt_rows(tt, changed, None)
        self._collect_edges(th, tt)

    @staticmethod
    def _collect_edges(th: ThreadRecord, tt: _Thread) -> None:
        counts: TrackedDict = th.edge_counts  # type: ignore[assignment]  # swapped in by track()
        edges = counts.dirty
        if edges:
            counts.dirty = {}
            delta = tt.edge_delta
            for conn in edges:
                delta[conn] = counts[conn]

    def _attempt_rows(self, tt: _Thread, changed: dict[str, None], node_id: str | None) -> list[Any] | None:
        """The status deltas of the nodes that changed and a `node_runs` row (a list in
        `RUN_ROW` order) per new attempt; returns the last row made for `node_id`, if any."""
        th = tt.th
        tid = th.thread_id
        status = th.node_status
        delta = tt.status_delta
        att = tt.att
        attempts = th.attempts
        pending = self.rec.io.pending
        rows = tt.runs
        seq = self.seq
        dumps = codec.dumps
        none = self._none
        made: list[Any] | None = None
        for node in changed:
            delta[node] = status[node]
            lst = attempts.get(node)
            if lst is None:
                continue
            done = att.get(node, 0)
            n = len(lst)
            if n <= done:
                continue
            for i in range(done, n):
                a = lst[i]
                seq += 1
                error = a.get("error")
                row = [seq, node, a["attempt"], a["status"], a["started_at"], a["duration_ms"], none if error is None else dumps(error), none]
                rows.append(row)
                if pending:
                    self._recording(tid, row, a, pending)
            if node == node_id:
                made = row
            att[node] = n
        self.rows += seq - self.seq
        self.seq = seq
        return made

    def _output_row(self, tt: _Thread, node: Any, value: Any, raw: bytes | None, producer: list[Any] | None) -> None:
        """An `outputs` row for the output a node stored, linked to the attempt that made it
        (`producer`: its row, when it ended in this call; `raw`: its UTF-8 JSON text when
        the orchestrator made it already, else encoded here)."""
        data: bytes | bytearray
        enc, size, data = codec.encode_value(value) if raw is None else codec.encode_raw(raw)
        self.seq = seq = self.seq + 1
        if self.sqlite:  # sqlite3 binds a bytearray as the same BLOB without its adapter lookup (~3,300 instructions)
            data = bytearray(data)
        tt.outs.append((seq, node, enc, size, data))
        self.rows += 1
        if producer is not None and producer[RUN_STATUS] in PRODUCERS:
            producer[RUN_OUTPUT_SEQ] = seq

    def _recording(self, tid: str, row: list[Any], a: dict[str, Any], pending: dict[tuple[str, str, int], Any]) -> None:
        """The attempt's recorded I/O goes on the attempt and into a `recordings` row (same seq)."""
        eid = self.eid
        seq, node, attempt = row[:3]
        io = pending.pop((tid, node, attempt), None)
        if io is None:
            return
        if io.get("replayed") and row[RUN_STATUS] == "succeeded":
            row[RUN_STATUS] = a["status"] = "replayed"
        a["io"] = io
        enc, size, data = recorded_io.encode(io)
        self.recordings.append((eid, seq, tid, node, attempt, io["kind"], bool(io.get("captured")), enc, size, data))

    def _pending(self) -> None:
        now = time.monotonic()
        if self.pending_since is None:
            self.pending_since = now
            if self._timer is None:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    loop = None
                if loop is not None:
                    self._timer = loop.call_later(GROUP_WINDOW, self._on_timer)
        elif now - self.pending_since >= GROUP_WINDOW or self.rows >= GROUP_ROWS:
            self.flush()

    def _on_timer(self) -> None:
        self._timer = None
        if self.pending_since is not None:
            try:
                self.flush()
            except Exception:  # the next event's flush raises it into the run
                log.exception("execution=%s: group commit failed", self.eid, extra={"execution_id": self.eid})

    # -- serializing -------------------------------------------------------------
    def _loops_json(self, tid: str, loops: list[tuple[str, list[Any], int, list[Any], int]]) -> str:
        """Each loop's state; `results` only from where the last journal row of this run
        left off (`results_from`) and `items` only once, so a K-item loop writes O(K) bytes
        of journal, not O(K²)."""
        parts = []
        for node, items, index, results, n in loops:
            cached = self._items_json.get(id(items))
            if cached is None or cached[0] is not items:
                cached = self._items_json[id(items)] = (items, codec.dumps(items))
            frags = self._results_json.get(id(results))
            if frags is None or frags[0] is not results:
                frags = self._results_json[id(results)] = (results, [])
            got = frags[1]
            if len(got) < n:
                got.extend(codec.dumps(v) for v in results[len(got) : n])
            key = (tid, node)
            written = self._journaled_loops.get(key)
            start = written[1] if written is not None and written[0] is results and written[1] <= n else 0
            same_items = written is not None and written[2] is items
            self._journaled_loops[key] = (results, n, items)
            body = ",".join(got[start:n])
            head = "" if same_items else f'"items":{cached[1]},'  # the items never change: written once
            parts.append(f'{codec.dumps(node)}:{{{head}"index":{index},"results_from":{start},"results":[{body}]}}')
        return "{" + ",".join(parts) + "}"

    def _stack_json(self, tid: str, stack: list[Frame]) -> tuple[int, str]:
        """(how many bottom frames the previous journal row of the thread already holds,
        the JSON of the frames above them). Frames below the top rarely change between
        commits (compared by identity, in C), so a row holds only the top: a W-wide
        fan-out wrote its whole remaining stack, O(W), at every commit."""
        cached = self._stack_cache.get(tid)
        keep = _common_prefix(cached, stack) if cached is not None else 0
        self._stack_cache[tid] = stack
        return keep, "[" + ",".join(codec.dumps(f.to_json()) for f in stack[keep:]) + "]"

    def _waiting_json(self, tid: str, waiting: list[tuple[str, dict[int, Any], int]] | None) -> tuple[str, str]:
        """(the waiting maps' arrivals since the thread's previous journal row, as JSON; per
        merge, how many entries that row already holds, as JSON). A map only grows until its
        merge fires, so a row holds only new arrivals: a W-wide merge wrote every value so far
        at every commit. (A value that arrives again on the same connection replaces the old
        one in place; a resume from such a row re-delivers it from the stack, so the result
        is the same.)"""
        if not waiting:
            return "{}", "{}"
        parts, froms = [], []
        for merge, w, n in waiting:
            hit = self._waiting_cache.get((tid, merge))
            start = hit[1] if hit is not None and hit[0] is w and hit[1] <= n else 0
            self._waiting_cache[(tid, merge)] = (w, n)
            name = codec.dumps(merge)
            if start:
                froms.append(f"{name}:{start}")
            body = ",".join(f"[{i},{codec.dumps(v)}]" for i, v in itertools.islice(w.items(), start, n))
            parts.append(f"{name}:[{body}]")
        return "{" + ",".join(parts) + "}", "{" + ",".join(froms) + "}"

    def _state_json(self, th: ThreadRecord) -> str:
        """The thread's small state for a journal row, read as it is now, with the frame of
        the node in flight back on top of its stack (see the module's rules)."""
        head = codec.dumps(
            {
                "thread_id": th.thread_id,
                "workflow_id": th.workflow_id,
                "parent_thread_id": th.parent_thread_id,
                "parent_node_id": th.parent_node_id,
                "status": th.status,
                "total": th.total,
                "loop_stack": th.loop_stack,
                "in_flight": None,
                "last_output": th.last_output,
                "started_at": th.started_at,
                "stopped_at": th.stopped_at,
                "error": th.error,
            }
        )
        tid = th.thread_id
        loops = (
            self._loops_json(tid, [(k, st.items, st.index, st.results, len(st.results)) for k, st in th.loops.items()])
            if th.loops
            else "{}"
        )
        stack = list(th.stack)
        frame = self._flight.get(tid)
        if frame is not None:
            stack.append(frame)
        keep, stack_text = self._stack_json(tid, stack)
        waiting, waiting_from = self._waiting_json(tid, [(k, w, len(w)) for k, w in th.waiting.items()] if th.waiting else None)
        tail = (f',"stack_from":{keep}' if keep else "") + ',"stack":' + stack_text + ',"waiting":' + waiting + ',"loops":' + loops
        if waiting_from != "{}":
            tail += ',"waiting_from":' + waiting_from
        if self._journaled_vars.get(tid) is not th.variables:  # only a resume changes them
            self._journaled_vars[tid] = th.variables
            tail += ',"variables":' + codec.dumps(th.variables)
        return head[:-1] + tail + "}"

    def _prune_caches(self) -> None:
        """Forget the waiting maps whose merge has fired (after a commit)."""
        if self._waiting_cache:
            live = {(tid, k) for tid, tt in self.threads.items() for k in tt.th.waiting}
            if any(key not in live for key in self._waiting_cache):
                self._waiting_cache = {k: v for k, v in self._waiting_cache.items() if k in live}

    def _journal_row(self) -> str | None:
        threads: list[str] = []
        status: dict[str, dict[str, str]] = {}
        edges: dict[str, list[list[int]]] = {}
        for tid, tt in self.threads.items():
            if tt.due:
                threads.append(codec.dumps(tid) + ":" + self._state_json(tt.th))
                tt.due = False
            if tt.status_delta:
                status[tid] = tt.status_delta
                tt.status_delta = {}
            if tt.edge_delta:
                edges[tid] = [[k, v] for k, v in tt.edge_delta.items()]
                tt.edge_delta = {}
        if not threads and not status and not edges:
            return None
        return '{"threads":{' + ",".join(threads) + '},"status":' + codec.dumps(status) + ',"edges":' + codec.dumps(edges) + "}"

    def _full_row(self) -> str:
        """The compacted state, written as text piece by piece: a copy of the statuses and a
        pair list per edge count was the peak memory of a 100,000-node run (+20 MB)."""
        threads = []
        for tid, th in self.rec.threads.items():
            head = codec.dumps(small_state(th))[:-1]
            edges = _pairs_json(th.edge_counts)
            threads.append(f'{codec.dumps(tid)}:{head},"node_status":{_map_json(th.node_status)},"edge_counts":{edges}}}')
        return '{"threads":{' + ",".join(threads) + '},"full":true}'

    # -- committing --------------------------------------------------------------
    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self.engine.raw_connection()
        return self._conn

    def _release(self) -> None:
        """Give the connection back after each transaction: held for a run's whole life,
        a pool of N connections would stop the (N+1)th concurrent run - on the event loop."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def flush(self, *, final: bool = False, create: dict[str, Any] | None = None) -> None:
        """Commit everything pending in one transaction (`final`: also compact and close)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.pending_since = None
        rec = self.rec
        if final:
            for tid in rec.threads:
                self._collect(self._thread(tid))
        journal = None if final else self._journal_row()
        sql = self.sql
        rows = self._take_rows()
        recordings, self.recordings = self.recordings, []
        try:
            with RawTransaction(self._connection(), self.sqlite) as cur:
                if create is not None:
                    sql.exec_create.run(cur, create)
                if not self._write_execution(cur, final):  # first: it takes the row's lock
                    raise RunTakenOver(
                        f"execution {self.eid} was taken over by another process (or has finished);"
                        " this process stops running it and writes nothing more"
                    )
                self._insert_rows(cur, rows)
                self._insert_recordings.run(cur, recordings)
                if final:
                    for tt in self.threads.values():
                        tt.due = False
                        tt.status_delta = {}
                        tt.edge_delta = {}
                    sql.clear_state.run(cur, {"w_eid": self.eid})
                    self.seq += 1
                    sql.state.run(cur, {"execution_id": self.eid, "seq": self.seq, "full": True, "data": self._full_row()})
                elif journal is not None:
                    self.seq += 1
                    sql.state.run(cur, {"execution_id": self.eid, "seq": self.seq, "full": False, "data": journal})
                self._write_threads(cur)
        except RunTakenOver:
            self._drop_connection()
            raise
        except Exception as exc:
            self._drop_connection()
            self._stack_cache.clear()  # the row was not written: the next one holds whole stacks
            self._waiting_cache.clear()  # and whole waiting maps
            raise StoreError(f"execution {self.eid}: cannot write its checkpoint: {exc}") from exc
        self._release()
        self.commits += 1
        self._prune_caches()
        if final:
            self.close()

    def _take_rows(self) -> list[tuple[str, list[list[Any]], list[tuple[Any, ...]]]]:
        """(thread id, node_runs rows, outputs rows) of each thread with rows pending; none pending after."""
        rows = []
        if self.rows:
            for tt in self.threads.values():
                if tt.runs or tt.outs:
                    rows.append((tt.th.thread_id, tt.runs, tt.outs))
                    tt.runs, tt.outs = [], []
            self.rows = 0
        return rows

    def _insert_rows(self, cur: Any, rows: list[tuple[str, list[list[Any]], list[tuple[Any, ...]]]]) -> None:
        """One thread's rows go with the run's and the thread's ids given once (`RowInsert`'s
        shared columns); rows of several threads as whole rows, in seq order as they were made."""
        eid = self.eid
        if len(rows) == 1:
            tid, runs, outs = rows[0]
            self._insert_runs.run(cur, runs, (eid, tid))
            self._insert_outputs.run(cur, outs, (eid, tid))
        elif rows:
            by_seq = operator.itemgetter(1)
            self._insert_runs.run(cur, sorted(((eid, r[0], tid, *r[1:]) for tid, runs, _ in rows for r in runs), key=by_seq))
            self._insert_outputs.run(cur, sorted(((eid, o[0], tid, *o[1:]) for tid, _, outs in rows for o in outs), key=by_seq))

    def _write_threads(self, cur: Any) -> None:
        sql = self.sql
        for tt in self.threads.values():
            if not tt.meta_dirty:
                continue
            th = tt.th
            values = {
                "status": th.status,
                "total": th.total,
                "in_flight": th.in_flight,
                "started_at": th.started_at,
                "stopped_at": th.stopped_at,
                "error": codec.dumps_opt(th.error),
                **progress_counts(th),
            }
            if tt.inserted:
                values["w_eid"] = self.eid
                values["w_tid"] = th.thread_id
                sql.thread_update.run(cur, values)
            else:
                values.update(
                    execution_id=self.eid,
                    thread_id=th.thread_id,
                    ordinal=tt.ordinal,
                    workflow_id=th.workflow_id,
                    parent_thread_id=th.parent_thread_id,
                    parent_node_id=th.parent_node_id,
                )
                sql.thread_insert.run(cur, values)
                tt.inserted = True
            tt.meta_dirty = False

    def _write_execution(self, cur: Any, final: bool) -> bool:
        """Write the run's row; False when this process is no longer its owner (the fence)."""
        rec = self.rec
        main = rec.threads.get(MAIN_THREAD)
        counts = progress_counts(main) if main is not None else {"completed": 0, "failed": 0, "skipped": 0}
        values: dict[str, Any] = {
            **self._fence,
            "in_flight": codec.dumps({tid: [f.node_id, tid in self._sides] for tid, f in self._flight.items()}) if self._flight else None,
            "heartbeat_at": time.time(),
            "total": main.total if main is not None else 0,
            "paused_at": None,  # a resumed run is no longer paused anywhere (a crash must not replay it)
            **counts,
        }
        if final:
            values.update(
                in_flight=None,
                status=rec.status,
                started_at=rec.started_at,
                stopped_at=rec.stopped_at,
                error=codec.dumps_opt(rec.error),
                response=codec.dumps_opt(rec.response),
                control_request=None,
                debug=codec.dumps(rec.debug.to_json()),
                paused_ms=rec.paused_ms,
                paused_at=codec.dumps_opt(rec.debug.paused_at) if rec.status == "paused" else None,
            )
            self.sql.exec_final.run(cur, values)
            return bool(cur.rowcount == 1)
        self.sql.exec_progress.run(cur, values)
        if cur.rowcount != 1:
            return False
        if rec.debug.version != self._debug_written:  # breakpoints set or hit, a pin mode, a run-to target
            self.sql.exec_debug.run(cur, {**self._fence, "debug": codec.dumps(rec.debug.to_json())})
            self._debug_written = rec.debug.version
        if rec.response is not self._response_written:
            self.sql.exec_response.run(cur, {**self._fence, "response": codec.dumps_opt(rec.response)})
            self._response_written = rec.response
        return True

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
            except Exception:
                log.debug("dropping a failed connection", exc_info=True)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        for th in self.rec.threads.values():
            clear_changes(th)
