"""The run's saved version, encoded across event-loop turns, is the engine's canonical document."""

from __future__ import annotations

import asyncio
import sqlite3

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.runner import controller as rc
from app.runner.run_version import canonical_in_slices
from engine import fileformat
from engine.model import Workflow
from tests.app.runner.helpers import RUN_MS, workflow
from tests.perf.bench_gui_events import chain

SCALAR = st.one_of(st.text(max_size=5), st.integers(-(10**20), 10**20), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none())
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=8)


def _sliced(wf: Workflow, chunk: int = 1) -> tuple[str, str]:
    """The sliced encoding with a turn of the loop wherever one may come, whatever the size."""
    return asyncio.run(canonical_in_slices(wf, slice_s=0.0, small=0, chunk=chunk))


@st.composite
def workflows(draw: st.DrawFn) -> Workflow:
    names = draw(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=6))
    nodes = [{"id": "start", "type": "manual_trigger", "name": names[0]}]
    for i, name in enumerate(names[1:], 1):
        nodes.append({"id": f"s{i}", "type": "set", "name": name, "config": {"values": draw(st.dictionaries(st.text(min_size=1, max_size=4), VALUE, max_size=3))},
                      "position": [draw(st.floats(-1e6, 1e6)), draw(st.integers(-5000, 5000))]})
    conns = [(nodes[i]["id"], "out", nodes[i + 1]["id"]) for i in range(len(nodes) - 1)]
    wf = workflow(nodes, conns, name=draw(st.text(max_size=10)))
    wf.variables.update(draw(st.dictionaries(st.text(min_size=1, max_size=4), VALUE, max_size=3)))
    return wf


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(workflows(), st.integers(1, 4))
def test_the_sliced_encoding_is_the_canonical_document(wf, chunk):
    assert _sliced(wf, chunk) == fileformat.canonical(wf)


def test_a_big_chain_notes_and_a_lone_node_encode_the_same():
    wf = chain(800)
    assert _sliced(wf) == _sliced(wf, chunk=100) == fileformat.canonical(wf)
    doc = fileformat.to_dict(wf)
    doc["notes"] = [{"id": "n1", "text": "Ünïcode ✓ \"quoted\"\n", "position": [1.5, -2], "size": [200, 80]}]
    noted = fileformat.parse(doc)
    assert noted.notes and _sliced(noted) == fileformat.canonical(noted)
    lone = workflow([{"id": "only", "type": "manual_trigger", "name": "Ünïcode ✓ \"quoted\""}], [])
    assert _sliced(lone) == fileformat.canonical(lone)


def test_a_studio_run_saves_the_version_the_engine_would(window, runner, qtbot, tmp_path, db_path):
    """The studio hands the run its version's text and hash; the row saved is the
    engine's own canonical document of the run's workflow, found by that hash."""
    wf = chain(600)  # past run_version.SMALL: encoded in slices
    path = tmp_path / "big.pe.json"
    fileformat.save(wf, path)
    assert window.open_path(path, ask=False)
    c = runner.controller
    c.run_action.trigger()
    qtbot.waitUntil(lambda: c.state == rc.COMPLETED, timeout=RUN_MS)
    with sqlite3.connect(db_path) as db:
        saved = db.execute("SELECT document, content_hash FROM workflows").fetchall()
    assert saved == [fileformat.canonical(window.document.workflow)]
