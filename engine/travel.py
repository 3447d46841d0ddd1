"""Time travel over a stored execution: its steps in order, and its memory after any step.

A *step* is one attempt of one node (a `node_runs` row), in the order the run made
them. The memory as it was right after step k is rebuilt from what the store already
keeps — attempt rows, output rows (each with its commit sequence number), the saved
workflow version and the run's last checkpoint — never from a copy per step:

- `outputs`: each node's latest output row written before step k+1;
- `node_status`: each node's latest attempt status up to step k; a node the run
  skipped is shown skipped from the step of its latest-running upstream node on;
- `stack`: the frames pushed but not yet run. A step's frame was pushed by its
  *cause*: the latest earlier step, in the same thread, of a node connected into it
  (a retry keeps the cause of its first attempt). A frame is pending at k when its
  cause is at or before k and the step itself after k;
- `edge_counts`: how many values each connection had carried by step k (one per
  caused step);
- `variables`: the thread's variables (only a debugger edit changes them mid-run).

At the last step the exact checkpoint is used (a paused run's real stack). Causes are
computed once per execution, so scrubbing a 10,000-step run costs one query per step.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.errors import EngineError
from engine.model import Workflow
from engine.runtime.orchestrator import iso
from engine.runtime.record import MAIN_THREAD, RUNNING, Frame, RunRecord, ThreadRecord
from engine.store import codec
from engine.store import schema as t
from engine.store.store import ExecutionStore

__all__ = ["History", "Step", "StepOutOfRange"]

FINISHED = ("completed", "failed", "cancelled")
ENDED = ("succeeded", "failed", "pinned", "reused", "replayed")


class StepOutOfRange(EngineError):
    """`--at` names no step of the execution."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One attempt of one node, in run order."""

    index: int
    seq: int
    node_id: str
    attempt: int
    status: str
    started_at: float | None
    duration_ms: float | None
    thread_id: str
    output_seq: int | None
    error: str | None = None  # the attempt's error object, as stored (JSON text)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "node_id": self.node_id,
            "attempt": self.attempt,
            "status": self.status,
            "started_at": iso(self.started_at),
            "duration_ms": self.duration_ms,
            "thread_id": self.thread_id,
        }


@dataclass(slots=True, kw_only=True)
class _Run:
    """What one execution's time travel needs, loaded once."""

    steps: list[Step]
    record: RunRecord
    incoming: dict[str, dict[str, list[tuple[int, str]]]]  # thread -> node -> [(conn index, from node)]
    causes: list[tuple[int, int | None]]  # per step: (cause step index or -1, connection index)
    chain: list[int]  # per step: the first attempt of its retry chain (one frame)
    loops: set[tuple[str, str]]  # (thread, node) of every loop node


class History:
    """Steps and past states of the executions of one store (results cached per execution)."""

    def __init__(self, store: ExecutionStore, workflow_of: Any) -> None:
        self._store = store
        self._workflow_of = workflow_of  # execution id -> Workflow (the version it ran)
        self._runs: dict[str, _Run] = {}

    # -- public --------------------------------------------------------------------
    def steps(self, execution_id: str) -> list[Step]:
        return self._run(execution_id).steps

    def state_at(self, execution_id: str, index: int) -> dict[str, Any]:
        """The execution memory right after step `index` (negative counts from the end)."""
        run = self._run(execution_id)
        n = len(run.steps)
        if n == 0:
            raise StepOutOfRange(f"execution {execution_id} has no steps yet")
        k = index + n if index < 0 else index
        if not 0 <= k < n:
            raise StepOutOfRange(f"execution {execution_id} has steps 0..{n - 1}; there is no step {index}")
        if k == n - 1:
            return self._final_state(execution_id, run, k)
        limit = run.steps[k + 1].seq
        return self._assemble(execution_id, run, k, self._outputs_before(execution_id, limit))

    def step_outputs(self, execution_id: str) -> dict[int, Any]:
        """Step index -> the output that attempt produced (attempts that produced one)."""
        run = self._run(execution_id)
        by_seq = {s.output_seq: s.index for s in run.steps if s.output_seq is not None}
        o = t.outputs
        result: dict[int, Any] = {}
        with self._store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(o.c.seq, o.c.encoding, o.c.data).where(o.c.execution_id == execution_id).order_by(o.c.seq)
            )
            for r in rows:
                if r.seq in by_seq:
                    result[by_seq[r.seq]] = codec.decode_value(r.encoding, r.data)
        return result

    def successors(self, execution_id: str) -> dict[int, list[str]]:
        """Step index -> the nodes whose frames it pushed (the branch it took), in order."""
        run = self._run(execution_id)
        out: dict[int, list[str]] = {}
        for j, (cause, _conn) in enumerate(run.causes):
            if cause >= 0 and run.chain[j] == j:
                out.setdefault(cause, []).append(run.steps[j].node_id)
        return out

    def record(self, execution_id: str) -> RunRecord:
        return self._run(execution_id).record

    def record_at(self, execution_id: str, index: int) -> RunRecord:
        """The run record as it was right after step `index`: what every view of a run
        (canvas, run data, timeline) can show for a moment of its past. Before the last
        step its status is `running`; frames on its stacks carry node ids only."""
        state = self.state_at(execution_id, index)
        run = self._run(execution_id)
        k = state["index"]
        last = k == len(run.steps) - 1
        attempts: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for s in run.steps[: k + 1]:
            attempts.setdefault(s.thread_id, {}).setdefault(s.node_id, []).append(
                {"attempt": s.attempt, "status": s.status, "started_at": s.started_at,
                 "duration_ms": s.duration_ms, "error": codec.loads(s.error)}
            )
        stacks: dict[str, list[Frame]] = {}
        for f in state["stack"]:
            stacks.setdefault(f["thread_id"], []).insert(0, Frame(f["node_id"]))
        threads = {}
        for tid, th in run.record.threads.items():
            view = state if tid == MAIN_THREAD else state["threads"][tid]
            threads[tid] = ThreadRecord(
                thread_id=tid, workflow_id=th.workflow_id, parent_thread_id=th.parent_thread_id,
                parent_node_id=th.parent_node_id, status=th.status if last else RUNNING, total=th.total,
                stack=stacks.get(tid, []), variables=view["variables"], outputs=dict(view["outputs"]),
                node_status=dict(view["node_status"]), attempts=attempts.get(tid, {}),
                edge_counts={int(c): v for c, v in view["edge_counts"].items()},
                started_at=th.started_at, stopped_at=th.stopped_at if last else None,
            )
        rec = run.record
        return RunRecord(
            execution_id=rec.execution_id, workflow_id=rec.workflow_id, workspace=rec.workspace,
            status=rec.status if last else RUNNING, trigger_node=rec.trigger_node, trigger_payload=rec.trigger_payload,
            started_at=rec.started_at, stopped_at=rec.stopped_at if last else None, threads=threads,
            error=rec.error if last else None, response=rec.response if last else None, workflow_file=rec.workflow_file,
        )

    # -- loading -------------------------------------------------------------------
    def _run(self, execution_id: str) -> _Run:
        """Load once; a run that can still move is loaded again on every call."""
        run = self._runs.get(execution_id)
        if run is not None and run.record.status in FINISHED:
            return run
        record = self._store.load_record(execution_id)[0]
        steps = self._load_steps(execution_id)
        incoming, loops = self._incoming(execution_id, record)
        chain = _chains(steps)
        causes = _causes(steps, incoming, chain, self._output_seqs(execution_id))
        run = _Run(steps=steps, record=record, incoming=incoming, causes=causes, chain=chain, loops=loops)
        self._runs[execution_id] = run
        return run

    def _load_steps(self, execution_id: str) -> list[Step]:
        nr = t.node_runs
        q = (
            sa.select(nr.c.seq, nr.c.thread_id, nr.c.node_id, nr.c.attempt, nr.c.status, nr.c.started_at,
                      nr.c.duration_ms, nr.c.output_seq, nr.c.error)
            .where(nr.c.execution_id == execution_id)
            .order_by(nr.c.seq)
        )
        with self._store.engine.connect() as conn:
            rows = list(conn.execute(q))
        return [
            Step(index=i, seq=r.seq, node_id=r.node_id, attempt=r.attempt, status=r.status, started_at=r.started_at,
                 duration_ms=r.duration_ms, thread_id=r.thread_id, output_seq=r.output_seq, error=r.error)
            for i, r in enumerate(rows)
        ]

    def _incoming(
        self, execution_id: str, record: RunRecord
    ) -> tuple[dict[str, dict[str, list[tuple[int, str]]]], set[tuple[str, str]]]:
        """Per thread: node -> its incoming connections, from the workflow that thread ran;
        and the (thread, node) of every loop node."""
        main: Workflow = self._workflow_of(execution_id)
        by_workflow: dict[str, Workflow] = {main.id: main}
        result: dict[str, dict[str, list[tuple[int, str]]]] = {}
        for tid, th in record.threads.items():
            wf = by_workflow.get(th.workflow_id)
            if wf is None:
                found = self._store.latest_workflow(th.workflow_id)
                if found is None:
                    continue
                wf = by_workflow[th.workflow_id] = found
            inc: dict[str, list[tuple[int, str]]] = {}
            for i, c in enumerate(wf.connections):
                inc.setdefault(c.to_node, []).append((i, c.from_node))
            result[tid] = inc
        result.setdefault(MAIN_THREAD, {})
        loops = {
            (tid, n.id)
            for tid, th in record.threads.items()
            if (wf := by_workflow.get(th.workflow_id)) is not None
            for n in wf.nodes
            if n.type == "loop"
        }
        return result, loops

    def _output_seqs(self, execution_id: str) -> dict[tuple[str, str], list[int]]:
        o = t.outputs
        q = sa.select(o.c.thread_id, o.c.node_id, o.c.seq).where(o.c.execution_id == execution_id).order_by(o.c.seq)
        result: dict[tuple[str, str], list[int]] = {}
        with self._store.engine.connect() as conn:
            for r in conn.execute(q):
                result.setdefault((r.thread_id, r.node_id), []).append(r.seq)
        return result

    def _outputs_before(self, execution_id: str, limit: int) -> dict[tuple[str, str], Any]:
        o = t.outputs
        latest = (
            sa.select(o.c.thread_id, o.c.node_id, sa.func.max(o.c.seq).label("last"))
            .where(o.c.execution_id == execution_id, o.c.seq < limit)
            .group_by(o.c.thread_id, o.c.node_id)
            .subquery()
        )
        q = sa.select(o.c.thread_id, o.c.node_id, o.c.encoding, o.c.data).join(
            latest, sa.and_(o.c.execution_id == execution_id, o.c.seq == latest.c.last)
        )
        with self._store.engine.connect() as conn:
            return {(r.thread_id, r.node_id): codec.decode_value(r.encoding, r.data) for r in conn.execute(q)}

    # -- assembling ----------------------------------------------------------------
    def _assemble(self, execution_id: str, run: _Run, k: int, outs: dict[tuple[str, str], Any]) -> dict[str, Any]:
        status: dict[str, dict[str, str]] = {}
        last_of_chain: dict[int, int] = {}
        for j, c in enumerate(run.chain):
            last_of_chain[c] = j
        for s in run.steps[: k + 1]:
            retrying = s.status == "failed" and last_of_chain[run.chain[s.index]] > k  # waiting to try again
            status.setdefault(s.thread_id, {})[s.node_id] = "retrying" if retrying else s.status
        for tid, node in run.loops:  # a loop is running until it hands out its `done` list
            if status.get(tid, {}).get(node) == "succeeded" and (tid, node) not in outs:
                status[tid][node] = "running"
        self._mark_skipped(run, k, status)
        edges: dict[str, dict[int, int]] = {}
        stack: list[dict[str, Any]] = []
        for j, (cause, conn) in enumerate(run.causes):
            if run.chain[j] != j or cause > k:
                continue  # a retry shares its first attempt's frame; or not pushed yet
            step = run.steps[j]
            if conn is not None and cause >= 0:
                per = edges.setdefault(step.thread_id, {})
                per[conn] = per.get(conn, 0) + 1
            if j > k:
                stack.append({"thread_id": step.thread_id, "node_id": step.node_id})
        return self._shape(execution_id, run, k, outs, status, edges, stack)

    def _mark_skipped(self, run: _Run, k: int, status: dict[str, dict[str, str]]) -> None:
        """A node the run skipped counts as skipped once its latest-running upstream node ran."""
        last_index: dict[tuple[str, str], int] = {}
        for s in run.steps:
            last_index[(s.thread_id, s.node_id)] = s.index
        for tid, th in run.record.threads.items():
            inc = run.incoming.get(tid, {})
            for node, st in th.node_status.items():
                if st != "skipped":
                    continue
                ups = [last_index.get((tid, frm), -1) for _i, frm in inc.get(node, [])]
                if max(ups, default=-1) <= k:
                    status.setdefault(tid, {})[node] = "skipped"

    def _final_state(self, execution_id: str, run: _Run, k: int) -> dict[str, Any]:
        rec = run.record
        outs = {(tid, n): v for tid, th in rec.threads.items() for n, v in th.outputs.items()}
        status = {tid: dict(th.node_status) for tid, th in rec.threads.items()}
        edges = {tid: dict(th.edge_counts) for tid, th in rec.threads.items()}
        stack = [
            {"thread_id": tid, "node_id": f.node_id}
            for tid, th in rec.threads.items()
            for f in reversed(th.stack)
        ]
        return self._shape(execution_id, run, k, outs, status, edges, stack)

    def _shape(
        self,
        execution_id: str,
        run: _Run,
        k: int,
        outs: dict[tuple[str, str], Any],
        status: dict[str, dict[str, str]],
        edges: dict[str, dict[int, int]],
        stack: list[dict[str, Any]],
    ) -> dict[str, Any]:
        rec = run.record
        threads: dict[str, Any] = {}
        for tid, th in rec.threads.items():
            threads[tid] = {
                "variables": th.variables,
                "outputs": {n: v for (t_id, n), v in outs.items() if t_id == tid},
                "node_status": status.get(tid, {}),
                "edge_counts": {str(c): v for c, v in sorted(edges.get(tid, {}).items())},
            }
        main = threads.get(MAIN_THREAD, {"variables": {}, "outputs": {}, "node_status": {}, "edge_counts": {}})
        return {
            "execution_id": execution_id,
            "index": k,
            "step": run.steps[k].to_json(),
            "steps": len(run.steps),
            **main,
            "stack": stack,
            "threads": {tid: v for tid, v in threads.items() if tid != MAIN_THREAD},
        }


def _chains(steps: list[Step]) -> list[int]:
    """Per step, the index of the first attempt of its frame: a retry, or the re-run of an
    interrupted attempt, continues the frame of the attempt before it."""
    last: dict[tuple[str, str], int] = {}
    chain: list[int] = []
    for s in steps:
        key = (s.thread_id, s.node_id)
        prev = last.get(key)
        same = prev is not None and (
            steps[prev].status == "interrupted" or (steps[prev].status == "failed" and s.attempt == steps[prev].attempt + 1)
        )
        chain.append(chain[prev] if same and prev is not None else s.index)
        last[key] = s.index
    return chain


def _causes(
    steps: list[Step],
    incoming: dict[str, dict[str, list[tuple[int, str]]]],
    chain: list[int],
    output_seqs: dict[tuple[str, str], list[int]],
) -> list[tuple[int, int | None]]:
    """Per step: (the step that pushed its frame, -1 if the run's start did; the connection).

    The pusher is the latest upstream event before the step: an upstream node's attempt
    that ended, or an output it wrote without an attempt of its own (a loop's `done`
    list). A node that runs again from the same pusher (a loop body's next item) was
    pushed just before it ran: a loop hands out its items one at a time, on its tick.
    """
    seqs = [s.seq for s in steps]
    latest: dict[tuple[str, str], int] = {}  # (thread, node) -> latest step that ended
    previous: dict[tuple[str, str], tuple[int, int]] = {}  # (thread, node) -> (its latest frame, raw pusher)
    result: list[tuple[int, int | None]] = []
    for s in steps:
        key = (s.thread_id, s.node_id)
        if chain[s.index] != s.index:
            result.append(result[chain[s.index]])
        else:
            best: tuple[int, int | None] = (-1, None)
            for conn, frm in incoming.get(s.thread_id, {}).get(s.node_id, []):
                i = latest.get((s.thread_id, frm), -1)
                out = output_seqs.get((s.thread_id, frm))
                if out:
                    before = bisect.bisect_left(out, s.seq)
                    if before:
                        i = max(i, bisect.bisect_right(seqs, out[before - 1]) - 1)
                if i > best[0]:
                    best = (i, conn)
            raw = best[0]
            prev = previous.get(key)
            if prev is not None and raw >= 0 and prev[1] == raw:
                best = (s.index - 1, best[1])
            result.append(best)
            previous[key] = (s.index, raw)
        if s.status in ENDED:
            latest[key] = s.index
    return result
