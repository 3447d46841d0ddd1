"""The workflow file's top-level `"concurrency": N` (queue mode's per-workflow limit)."""

from __future__ import annotations

import pytest

from engine import fileformat
from engine.errors import WorkflowInvalid


def _doc(**extra):
    return {
        "format": "processengine/1",
        "id": "wf-c",
        "name": "c",
        "nodes": [{"id": "start", "type": "manual_trigger", "name": "start", "position": [0, 0], "config": {}}],
        "connections": [],
        **extra,
    }


def test_concurrency_round_trips_and_survives_a_clone() -> None:
    wf = fileformat.parse(_doc(concurrency=3))
    assert wf.concurrency == 3 and wf.clone().concurrency == 3
    assert fileformat.to_dict(wf)["concurrency"] == 3
    assert fileformat.loads(fileformat.dumps(wf)) == wf
    assert "concurrency" not in fileformat.to_dict(fileformat.parse(_doc()))  # absent stays absent


@pytest.mark.parametrize("bad", [0, -1, "two", 1.5])
def test_a_bad_concurrency_names_the_field(bad: object) -> None:
    with pytest.raises(WorkflowInvalid) as err:
        fileformat.parse(_doc(concurrency=bad), file="c.pe.json")
    assert any(p.field == "concurrency" for p in err.value.problems), err.value.problems
