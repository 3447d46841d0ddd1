"""Copy and paste in the file format, so nodes travel between windows and text editors.

A copied selection is a complete `processengine/1` document (the selected
nodes, the connections among them, the selected notes): pasting it into a
text editor gives a file the engine can load, and pasting a whole file's text
into the canvas works too. Pasted nodes get fresh ids and unique names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from PySide6.QtCore import QMimeData

from engine import fileformat
from engine.errors import WorkflowInvalid
from engine.model import Connection, Node, Note, Workflow, new_id

MIME_TYPE = "application/x-processengine+json"


def copy_text(wf: Workflow, node_ids: Iterable[str], note_ids: Iterable[str] = ()) -> str:
    """The selection as file-format JSON text."""
    ids = set(node_ids)
    notes = set(note_ids)
    fragment = Workflow(
        name=wf.name,
        variables={},
        nodes=[n.clone() for n in wf.nodes if n.id in ids],
        connections=[c for c in wf.connections if c.from_node in ids and c.to_node in ids],
        notes=[n.clone() for n in wf.notes if n.id in notes],
    )
    return fileformat.dumps(fragment)


def parse_fragment(text: str) -> Workflow:
    """Read clipboard text; raises WorkflowInvalid when it is not a workflow document.

    Configs are not checked here: a pasted node with a bad config is shown and
    reported by validation like any other, rather than refused.
    """
    return fileformat.loads(text, check_configs=False)


def prepare_paste(
    target: Workflow, fragment: Workflow, offset: tuple[float, float] = (0.0, 0.0)
) -> tuple[list[Node], list[Connection], list[Note]]:
    """New nodes/connections/notes for `target`: new ids, unique names, shifted by `offset`."""
    taken = {n.name for n in target.nodes}
    id_map: dict[str, str] = {}
    nodes: list[Node] = []
    dx, dy = offset
    for src in fragment.nodes:
        node = src.clone()
        node.id = new_id()
        id_map[src.id] = node.id
        node.name = _unique(src.name, taken)
        taken.add(node.name)
        node.position = (src.position[0] + dx, src.position[1] + dy)
        nodes.append(node)
    conns = [
        Connection(id_map[c.from_node], c.from_port, id_map[c.to_node], c.to_port)
        for c in fragment.connections
        if c.from_node in id_map and c.to_node in id_map
    ]
    notes = []
    for src_note in fragment.notes:
        note = src_note.clone()
        note.id = new_id()
        note.position = (src_note.position[0] + dx, src_note.position[1] + dy)
        notes.append(note)
    return nodes, conns, notes


def _unique(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    stem = base
    parts = base.rsplit(" ", 1)
    if len(parts) == 2 and parts[1].isdigit():
        stem = parts[0]
    i = 2
    while f"{stem} {i}" in taken:
        i += 1
    return f"{stem} {i}"


def to_mime(text: str) -> QMimeData:
    mime = QMimeData()
    mime.setText(text)
    mime.setData(MIME_TYPE, text.encode("utf-8"))
    return mime


def from_mime(mime: QMimeData | None) -> str | None:
    """The workflow text on the clipboard, or None when it holds something else."""
    if mime is None:
        return None
    if mime.hasFormat(MIME_TYPE):
        return bytes(mime.data(MIME_TYPE).data()).decode("utf-8")
    if mime.hasText():
        text = mime.text().strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except ValueError:
                return None
            if isinstance(data, dict) and "format" in data:
                return text
    return None


__all__ = ["MIME_TYPE", "WorkflowInvalid", "copy_text", "from_mime", "parse_fragment", "prepare_paste", "to_mime"]
