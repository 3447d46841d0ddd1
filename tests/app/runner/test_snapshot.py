"""Plain copies of a run record for the GUI: the previews' inputs in one pass agree with each node's own."""

from __future__ import annotations

import asyncio

from app.runner.snapshot import node_data, preview_samples
from engine.runtime.runner import run_workflow
from tests.app.runner.helpers import workflow


def test_the_previews_inputs_are_each_nodes_own_input():
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {"n": 1}}},
            {"id": "b", "type": "set", "config": {"values": {"b": 2}}},
            {"id": "c", "type": "set", "config": {"values": {"c": 3}}},
            {"id": "m", "type": "merge"},
            {"id": "loop", "type": "loop", "config": {"items": "{{ [1, 2, 3] }}"}},
            {"id": "body", "type": "set", "config": {"values": {"i": "{{ input }}"}}},
            {"id": "after", "type": "set", "config": {"values": {"done": True}}},
            {"id": "never", "type": "set", "config": {"values": {}}},
        ],
        [
            ("start", "out", "a"), ("a", "out", "b"), ("a", "out", "c"), ("b", "out", "m"), ("c", "out", "m"),
            ("m", "out", "loop"), ("loop", "loop", "body"), ("body", "out", "loop"), ("loop", "done", "after"),
        ],
    )  # fmt: skip
    record = asyncio.run(run_workflow(wf, {"hello": "world"}))
    assert record.status == "completed"
    samples = preview_samples(record, wf)
    assert samples is not None
    expected = {n.id: node_data(record, wf, n.id)["input"] for n in wf.nodes}
    assert samples["inputs"] == {k: v for k, v in expected.items() if v is not None}
    assert samples["inputs"]["start"] == {"hello": "world"}  # the trigger's payload
    assert isinstance(samples["inputs"]["m"], list) and len(samples["inputs"]["m"]) == 2  # a merge gets the list
    assert "never" not in samples["inputs"]  # nothing reached it
    assert samples["inputs"]["loop"] == expected["loop"]  # what came back on the loop's back edge counts too
    assert samples["inputs"]["m"] is not record.main.outputs.get("b")  # copies
