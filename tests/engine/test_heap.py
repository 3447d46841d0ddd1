"""Loading a file pauses garbage collection and leaves the collector as it found it."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from engine import fileformat
from engine.errors import WorkflowInvalid
from engine.graph import validate
from engine.heap import collections_paused
from tests.engine.runtime.helpers import workflow


def _load_seeing_the_collector(path: Path, seen: list[bool]) -> None:
    def validator(node, *, file=None):  # called inside the load, once per node
        seen.append(gc.isenabled())
        return []

    fileformat.load(path, config_validator=validator)


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_is_off_inside_a_load_and_on_after(tmp_path: Path, collector_on: None) -> None:
    path = tmp_path / "wf.pe.json"
    fileformat.save(workflow([{"id": "start", "type": "manual_trigger"}], []), path)
    seen: list[bool] = []
    _load_seeing_the_collector(path, seen)
    assert seen == [False]
    assert gc.isenabled()


def test_a_failed_load_switches_the_collector_back_on(tmp_path: Path, collector_on: None) -> None:
    path = tmp_path / "bad.pe.json"
    path.write_text('{"format": "processengine/1", "id": "x", "nodes": [{"id": 1}]}')
    with pytest.raises(WorkflowInvalid):
        fileformat.load(path)
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_caller_stays_off(tmp_path: Path, collector_on: None) -> None:
    gc.disable()
    with collections_paused():
        with collections_paused():
            pass
        assert not gc.isenabled()
    assert not gc.isenabled()
    wf = workflow([{"id": "start", "type": "manual_trigger"}], [])
    assert validate(wf) == []
    assert not gc.isenabled()
    gc.enable()
    with collections_paused():
        with collections_paused():
            pass
        assert not gc.isenabled()  # the inner pause did not switch it on under the outer one
    assert gc.isenabled()
