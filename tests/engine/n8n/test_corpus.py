"""Every one of the 20 shared community workflows imports, keeping every node,
connection and sticky note; the ones with node types that have no counterpart
report them as unsupported, and validate names them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import fileformat
from engine.graph import validate
from engine.n8n import import_file
from engine.n8n.convert import MAPPERS, short_type

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.json"))


def test_the_corpus_is_all_there() -> None:
    assert len(FILES) == 20
    assert (CORPUS / "LICENSE-CC-BY-4.0.txt").exists()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem[:40])
def test_imports_keeping_every_node_and_connection(path: Path) -> None:
    doc = json.loads(path.read_text())
    wf, summary = import_file(path)
    real = [n for n in doc["nodes"] if short_type(n["type"]) != "stickyNote"]
    stickies = [n for n in doc["nodes"] if short_type(n["type"]) == "stickyNote"]
    wanted = sum(len(t) for out in doc["connections"].values() for ts in out.get("main", []) for t in [ts or []])
    assert [n.name for n in wf.nodes] == [n["name"] for n in real]
    assert [n.position for n in wf.nodes] == [tuple(map(float, n["position"])) for n in real]
    assert len(wf.connections) == wanted and not summary.dropped_connections
    assert len(wf.notes) == len(stickies)
    # the saved file reads back as the same workflow
    again = fileformat.parse(json.loads(fileformat.dumps(wf)), check_configs=False)
    assert fileformat.to_dict(again) == fileformat.to_dict(wf)
    # nodes with no mapper are placeholders, and validate names each one
    unmapped = {n["name"] for n in real if short_type(n["type"]) not in MAPPERS}
    assert {e.name for e in summary.unsupported} >= unmapped
    problems = validate(wf)
    for entry in summary.unsupported:
        assert any(p.node_id == entry.node_id and "unsupported node" in p.message for p in problems)


def test_credentials_become_names_only() -> None:
    wf, _ = import_file(CORPUS / "enescingoz__glasp-highlights-export-workflow.json")
    http = next(n for n in wf.nodes if n.type == "http_request")
    doc = json.loads((CORPUS / "enescingoz__glasp-highlights-export-workflow.json").read_text())
    raw = next(n for n in doc["nodes"] if n["name"] == http.name)
    assert http.config["credential"] == next(iter(raw["credentials"].values()))["name"]
    assert "id" not in json.dumps(http.config["credential"])
