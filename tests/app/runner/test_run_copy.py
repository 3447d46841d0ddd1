"""The copy a run starts from, made in slices: the same as `Workflow.clone`, and never torn by an edit."""

from __future__ import annotations

import asyncio
from typing import Any

import qasync
from pytestqt.qtbot import QtBot

from app.runner.run_copy import clone_in_slices
from engine.model import Connection, Node, Note, Workflow


def workflow(n: int) -> Workflow:
    nodes = [Node(id="start", type="manual_trigger", name="Start")]
    nodes += [
        Node(id=f"s{i}", type="set", name=f"Set {i}", position=(i * 10.0, 5.0), config={"values": {"i": i, "l": [i, {"k": "v"}]}}, retry={"preset": "strict"} if i % 7 == 0 else None, pin={"x": i} if i % 11 == 0 else None)
        for i in range(1, n)
    ]
    conns = [Connection(nodes[i].id, "out", nodes[i + 1].id) for i in range(n - 1)]
    wf = Workflow(id="wf-copy", name="copy", variables={"k": {"deep": [1, 2]}}, nodes=nodes, connections=conns, notes=[Note("n1", "hello")], max_node_visits=77)
    wf.concurrency = 3
    return wf


def attributes(wf: Workflow) -> dict[str, Any]:
    """Every attribute but the subscribers (a copy has none of the original's)."""
    return {k: v for k, v in vars(wf).items() if k != "events"}


def run(qloop: qasync.QEventLoop, qtbot: QtBot, coro: Any) -> Any:
    task = qloop.create_task(coro)
    qtbot.waitUntil(task.done, timeout=10000)
    return task.result()


def test_a_copy_in_slices_equals_the_engine_clone_in_every_attribute(qloop: qasync.QEventLoop, qtbot: QtBot) -> None:
    wf = workflow(2000)
    turns = [0]
    ticker = qloop.call_soon  # counts the event loop's turns while the copy runs

    def tick() -> None:
        turns[0] += 1
        if not task.done():
            ticker(tick)

    task = qloop.create_task(clone_in_slices(wf, slice_s=0.0))
    ticker(tick)
    qtbot.waitUntil(task.done, timeout=10000)
    copy = task.result()
    assert attributes(copy) == attributes(wf.clone())
    assert copy == wf and type(copy.events) is type(wf.events)
    assert turns[0] > 10  # the loop ran between the slices
    # a deep copy: nothing of the document is shared with the run
    assert copy.nodes[5] is not wf.nodes[5] and copy.nodes[5].config is not wf.nodes[5].config
    assert copy.nodes[5].config["values"]["l"] is not wf.nodes[5].config["values"]["l"]
    assert copy.variables["k"] is not wf.variables["k"] and copy.notes[0] is not wf.notes[0]


def test_an_edit_during_the_copy_starts_it_over(qloop: qasync.QEventLoop, qtbot: QtBot) -> None:
    wf = workflow(2000)
    late = Node(id="late", type="set", name="Late")

    async def edit_soon() -> None:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        wf.add_node(late)  # the copy is part-way through the nodes
        wf.set_attr("name", "renamed")

    async def both() -> Workflow:
        editing = asyncio.ensure_future(edit_soon())
        copy = await clone_in_slices(wf, slice_s=0.0)
        await editing
        return copy

    copy = run(qloop, qtbot, both())
    assert copy.get("late") is not None and copy.name == "renamed"
    assert attributes(copy) == attributes(wf.clone())
    assert not any(len(getattr(wf.events, name)) for name in type(wf.events).__slots__)  # its watcher is gone


def test_a_small_workflow_is_copied_at_once(qloop: qasync.QEventLoop, qtbot: QtBot) -> None:
    wf = workflow(20)
    coro = clone_in_slices(wf)
    try:
        coro.send(None)  # no await inside: the first step finishes it
    except StopIteration as done:
        assert attributes(done.value) == attributes(wf.clone())
    else:
        raise AssertionError("the small copy waited for the event loop")
