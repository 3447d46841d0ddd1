"""Malformed or odd n8n exports never end in a traceback: the import either succeeds
(unmappable nodes become placeholders) or refuses the file with a clear problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import fileformat
from engine.errors import WorkflowInvalid
from engine.n8n import convert

CORPUS = Path(__file__).parent / "corpus"
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
TYPES = st.sampled_from(["httpRequest", "set", "if", "switch", "code", "wait", "merge", "webhook", "scheduleTrigger",
                         "respondToWebhook", "filter", "splitInBatches", "emailSend", "stickyNote", "telegram"])  # fmt: skip


@st.composite
def n8n_nodes(draw: Any) -> dict[str, Any]:
    return {
        "id": draw(st.text(max_size=4)), "name": draw(st.text(min_size=1, max_size=6)),
        "type": "n8n-nodes-base." + draw(TYPES), "typeVersion": draw(st.sampled_from([1, 2, 3, 3.4, 4.2, "x", None])),
        "position": draw(st.one_of(st.just([0, 0]), JSON)), "parameters": draw(st.one_of(st.dictionaries(st.text(max_size=12), JSON, max_size=4), JSON)),
    }  # fmt: skip


def _import(doc: Any) -> None:
    try:
        wf, summary = convert(doc, file="x.json")
    except WorkflowInvalid as exc:
        assert exc.problems and all(p.file == "x.json" for p in exc.problems)
        return
    fileformat.parse(json.loads(fileformat.dumps(wf)), check_configs=False)  # what it writes reads back
    assert len(summary.nodes) == len(wf.nodes)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes=st.lists(n8n_nodes(), max_size=4), connections=st.one_of(JSON, st.dictionaries(st.text(max_size=6), JSON, max_size=3)))
def test_random_exports_never_traceback(nodes: list[dict[str, Any]], connections: Any) -> None:
    _import({"name": "fuzz", "nodes": nodes, "connections": connections})


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_corrupted_corpus_workflows_never_traceback(data: Any) -> None:
    path = data.draw(st.sampled_from(sorted(CORPUS.glob("*.json"))))
    doc = json.loads(path.read_text())
    node = data.draw(st.sampled_from(doc["nodes"]))
    key = data.draw(st.sampled_from(sorted(node["parameters"]) or ["x"]))
    node["parameters"][key] = data.draw(JSON)
    _import(doc)


def test_not_an_export_names_the_file() -> None:
    for doc in ([], {"nodes": "x"}, {"nodes": [], "connections": []}, {"format": "processengine/1", "nodes": [], "connections": {}}):
        try:
            convert(doc, file="x.json")
        except WorkflowInvalid as exc:
            assert "not an n8n workflow export" in exc.problems[0].message and exc.problems[0].file == "x.json"
        else:
            raise AssertionError(f"accepted {doc!r}")
