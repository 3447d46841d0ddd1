"""The canvas draws the ports a node type declares: the filter's `discarded` output too."""

from __future__ import annotations

from pathlib import Path


def test_canvas_shows_the_filter_discarded_port(window):
    examples = Path(__file__).resolve().parents[3] / "app" / "resources" / "examples"
    assert window.open_path(examples / "orders_report.pe.json")
    item = window.scene._nodes["paid"]
    assert list(item.outputs) == ["out", "discarded"]
    assert [c.from_port for c in window.document.workflow.connections if c.from_node == "paid"] == ["out", "discarded"]
