"""One QUndoCommand per kind of edit; each changes only the engine model.

The scene and the panels observe the model's `workflow.events`, so a command
never touches a graphics item. Compound edits (removing a node with its
connections, pasting, switching `on_error` away from `route`) are parent
commands whose children run in order on redo and in reverse on undo; every
child records the list index it touched, so undo restores the exact order of
nodes, connections and notes (connection order is fan-out and merge order).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from PySide6.QtGui import QUndoCommand

from engine.model import Connection, Node, Note, Workflow

# merge ids (QUndoCommand.id): commands only merge with the same id and merge key
_MOVE_ID = 1
_ATTR_ID = 2
_NOTE_ID = 3
_WF_ID = 4


class _Command(QUndoCommand):
    """Base: a command with optional children (redo in order, undo in reverse).

    Children are kept in a Python list rather than as Qt child commands: Qt
    would delete them with the parent while their Python wrappers still own
    them, which crashes at teardown.
    """

    def __init__(self, wf: Workflow, text: str, parent: _Command | None = None) -> None:
        super().__init__(text)
        self.wf = wf
        self.children: list[_Command] = []
        if parent is not None:
            parent.children.append(self)

    def redo(self) -> None:
        for kid in self.children:
            kid.redo()

    def undo(self) -> None:
        for kid in reversed(self.children):
            kid.undo()


# -- nodes -------------------------------------------------------------------
class AddNode(_Command):
    def __init__(self, wf: Workflow, node: Node, index: int | None = None, parent: _Command | None = None) -> None:
        super().__init__(wf, f"Add {node.name}", parent)
        self.node = node
        self.index = index

    def redo(self) -> None:
        if self.index is None:
            self.index = len(self.wf.nodes)
        self.wf.add_node(self.node, self.index)

    def undo(self) -> None:
        self.wf.remove_node(self.node.id)


class _RemoveOneNode(_Command):
    """Removes a node whose connections are already gone (child of RemoveItems)."""

    def __init__(self, wf: Workflow, node_id: str, parent: _Command | None = None) -> None:
        super().__init__(wf, "Remove node", parent)
        self.node_id = node_id
        self.node: Node | None = None
        self.index = -1

    def redo(self) -> None:
        self.node, self.index = self.wf.remove_node(self.node_id)

    def undo(self) -> None:
        assert self.node is not None
        self.wf.add_node(self.node, self.index)


class RemoveItems(_Command):
    """Delete nodes (with every connection touching them), connections and notes as one step."""

    def __init__(
        self,
        wf: Workflow,
        node_ids: Sequence[str] = (),
        connections: Sequence[Connection] = (),
        note_ids: Sequence[str] = (),
        parent: _Command | None = None,
    ) -> None:
        n = len(node_ids)
        what = f"{n} nodes" if n > 1 else (wf.node(node_ids[0]).name if n else "")
        if not what:
            what = "connection" if connections else "note"
        super().__init__(wf, f"Delete {what}", parent)
        ids = set(node_ids)
        doomed: list[Connection] = []
        for c in wf.connections:  # in file order, for a predictable child order
            if c in connections or c.from_node in ids or c.to_node in ids:
                doomed.append(c)
        for c in doomed:
            Disconnect(wf, c, parent=self)
        for node_id in node_ids:
            _RemoveOneNode(wf, node_id, parent=self)
        for note_id in note_ids:
            RemoveNote(wf, note_id, parent=self)


def RemoveNode(wf: Workflow, node_id: str) -> RemoveItems:
    """Remove one node: first its connections, then the node (undo restores all indices)."""
    return RemoveItems(wf, [node_id])


class MoveNodes(_Command):
    """Set node positions. Commands with the same `merge_key` merge (e.g. arrow-key nudges)."""

    def __init__(
        self,
        wf: Workflow,
        moves: dict[str, tuple[tuple[float, float], tuple[float, float]]],
        merge_key: Any = None,
        note_moves: dict[str, tuple[tuple[float, float], tuple[float, float]]] | None = None,
        parent: _Command | None = None,
    ) -> None:
        count = len(moves) + len(note_moves or {})
        super().__init__(wf, f"Move {count} item{'s' if count != 1 else ''}", parent)
        self.moves = dict(moves)
        self.note_moves = dict(note_moves or {})
        self.merge_key = merge_key

    def id(self) -> int:
        return _MOVE_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, MoveNodes) or other.merge_key != self.merge_key:
            return False
        if set(other.moves) != set(self.moves) or set(other.note_moves) != set(self.note_moves):
            return False
        for k, (_old, new) in other.moves.items():
            self.moves[k] = (self.moves[k][0], new)
        for k, (_old, new) in other.note_moves.items():
            self.note_moves[k] = (self.note_moves[k][0], new)
        if all(o == n for o, n in self.moves.values()) and all(o == n for o, n in self.note_moves.values()):
            self.setObsolete(True)
        return True

    def redo(self) -> None:
        for node_id, (_old, new) in self.moves.items():
            self.wf.set_node_attr(node_id, "position", tuple(new))
        for note_id, (_old, new) in self.note_moves.items():
            self.wf.set_note_attr(note_id, "position", tuple(new))

    def undo(self) -> None:
        for node_id, (old, _new) in self.moves.items():
            self.wf.set_node_attr(node_id, "position", tuple(old))
        for note_id, (old, _new) in self.note_moves.items():
            self.wf.set_note_attr(note_id, "position", tuple(old))


class SetNodeAttr(_Command):
    """Set one node attribute; consecutive edits with the same merge key merge (typing)."""

    def __init__(
        self,
        wf: Workflow,
        node_id: str,
        attr: str,
        value: Any,
        text: str,
        merge_key: Any = None,
        parent: _Command | None = None,
    ) -> None:
        super().__init__(wf, text, parent)
        self.node_id = node_id
        self.attr = attr
        self.new = copy.deepcopy(value)
        self.old = copy.deepcopy(getattr(wf.node(node_id), attr))
        self.merge_key = merge_key

    def id(self) -> int:
        return _ATTR_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetNodeAttr) or other.merge_key != self.merge_key:
            return False
        if (other.node_id, other.attr) != (self.node_id, self.attr):
            return False
        self.new = copy.deepcopy(other.new)
        if self.new == self.old:
            self.setObsolete(True)
        return True

    def redo(self) -> None:
        self.wf.set_node_attr(self.node_id, self.attr, copy.deepcopy(self.new))

    def undo(self) -> None:
        self.wf.set_node_attr(self.node_id, self.attr, copy.deepcopy(self.old))


def Rename(wf: Workflow, node_id: str, name: str) -> SetNodeAttr:
    return SetNodeAttr(wf, node_id, "name", name, f"Rename to {name}")


def SetConfig(wf: Workflow, node_id: str, config: dict[str, Any], merge_key: Any = None) -> SetNodeAttr:
    """Replace a node's config; pass a merge key (e.g. the field name) to merge typing bursts."""
    key = None if merge_key is None else ("config", node_id, merge_key)
    return SetNodeAttr(wf, node_id, "config", config, f"Edit {wf.node(node_id).name}", key)


def SetRetry(wf: Workflow, node_id: str, retry: dict[str, Any] | str | None, merge_key: Any = None) -> SetNodeAttr:
    key = None if merge_key is None else ("retry", node_id, merge_key)
    return SetNodeAttr(wf, node_id, "retry", retry, f"Retry policy of {wf.node(node_id).name}", key)


def SetPin(wf: Workflow, node_id: str, pin: Any) -> SetNodeAttr:
    """Pin an output on a node (None: unpin); a debug run uses it instead of running the node."""
    return SetNodeAttr(wf, node_id, "pin", pin, "Unpin output" if pin is None else "Pin output")


class SetRunMode(_Command):
    """A node's mode in debug re-runs, as one step: Live, Replay (answered from the recording
    of the run re-run) or Pinned (its pin stands in). Pin and replay flag change together,
    so the node is never pinned and replaying at once."""

    def __init__(self, wf: Workflow, node_id: str, *, replay: bool, pin: Any = None, parent: _Command | None = None) -> None:
        node = wf.node(node_id)
        mode = "Pin output" if pin is not None else ("Replay" if replay else "Live")
        super().__init__(wf, f"{mode}: {node.name}", parent)
        if node.pin != pin:
            SetNodeAttr(wf, node_id, "pin", pin, self.text(), parent=self)
        if node.replay != replay:
            SetNodeAttr(wf, node_id, "replay", replay, self.text(), parent=self)


def SetDisabled(wf: Workflow, node_id: str, disabled: bool) -> SetNodeAttr:
    verb = "Disable" if disabled else "Enable"
    return SetNodeAttr(wf, node_id, "disabled", disabled, f"{verb} {wf.node(node_id).name}")


class SetOnError(_Command):
    """Change `on_error`; leaving `route` also removes the connections from the `error` port."""

    def __init__(self, wf: Workflow, node_id: str, on_error: str, parent: _Command | None = None) -> None:
        node = wf.node(node_id)
        super().__init__(wf, f"On error: {on_error} ({node.name})", parent)
        if node.on_error == "route" and on_error != "route":
            for c in list(wf.connections):
                if c.from_node == node_id and c.from_port == "error":
                    Disconnect(wf, c, parent=self)
        SetNodeAttr(wf, node_id, "on_error", on_error, self.text(), parent=self)


# -- connections -------------------------------------------------------------
class Connect(_Command):
    def __init__(self, wf: Workflow, conn: Connection, index: int | None = None, parent: _Command | None = None) -> None:
        super().__init__(wf, "Connect", parent)
        self.conn = conn
        self.index = index

    def redo(self) -> None:
        if self.index is None:
            self.index = len(self.wf.connections)
        self.wf.add_connection(self.conn, self.index)

    def undo(self) -> None:
        self.wf.remove_connection(self.conn)


class Disconnect(_Command):
    def __init__(self, wf: Workflow, conn: Connection, parent: _Command | None = None) -> None:
        super().__init__(wf, "Disconnect", parent)
        self.conn = conn
        self.index = -1

    def redo(self) -> None:
        self.index = self.wf.remove_connection(self.conn)

    def undo(self) -> None:
        self.wf.add_connection(self.conn, self.index)


# -- notes -------------------------------------------------------------------
class AddNote(_Command):
    def __init__(self, wf: Workflow, note: Note, index: int | None = None, parent: _Command | None = None) -> None:
        super().__init__(wf, "Add note", parent)
        self.note = note
        self.index = index

    def redo(self) -> None:
        if self.index is None:
            self.index = len(self.wf.notes)
        self.wf.add_note(self.note, self.index)

    def undo(self) -> None:
        self.wf.remove_note(self.note.id)


class RemoveNote(_Command):
    def __init__(self, wf: Workflow, note_id: str, parent: _Command | None = None) -> None:
        super().__init__(wf, "Delete note", parent)
        self.note_id = note_id
        self.note: Note | None = None
        self.index = -1

    def redo(self) -> None:
        self.note, self.index = self.wf.remove_note(self.note_id)

    def undo(self) -> None:
        assert self.note is not None
        self.wf.add_note(self.note, self.index)


class EditNote(_Command):
    """Set a note's text, position or size; typing in the same note merges."""

    def __init__(self, wf: Workflow, note_id: str, attr: str, value: Any, merge_key: Any = None, parent: _Command | None = None) -> None:
        super().__init__(wf, "Edit note" if attr == "text" else "Resize note", parent)
        note = next(n for n in wf.notes if n.id == note_id)
        self.note_id = note_id
        self.attr = attr
        self.old = getattr(note, attr)
        self.new = value
        self.merge_key = merge_key

    def id(self) -> int:
        return _NOTE_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, EditNote) or other.merge_key != self.merge_key:
            return False
        if (other.note_id, other.attr) != (self.note_id, self.attr):
            return False
        self.new = other.new
        if self.new == self.old:
            self.setObsolete(True)
        return True

    def redo(self) -> None:
        self.wf.set_note_attr(self.note_id, self.attr, self.new)

    def undo(self) -> None:
        self.wf.set_note_attr(self.note_id, self.attr, self.old)


# -- workflow ----------------------------------------------------------------
class SetWorkflowAttr(_Command):
    def __init__(self, wf: Workflow, attr: str, value: Any, text: str, merge_key: Any = None, parent: _Command | None = None) -> None:
        super().__init__(wf, text, parent)
        self.attr = attr
        self.old = copy.deepcopy(getattr(wf, attr))
        self.new = copy.deepcopy(value)
        self.merge_key = merge_key

    def id(self) -> int:
        return _WF_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetWorkflowAttr) or other.merge_key != self.merge_key or other.attr != self.attr:
            return False
        self.new = copy.deepcopy(other.new)
        if self.new == self.old:
            self.setObsolete(True)
        return True

    def redo(self) -> None:
        self.wf.set_attr(self.attr, copy.deepcopy(self.new))

    def undo(self) -> None:
        self.wf.set_attr(self.attr, copy.deepcopy(self.old))


def SetVariables(wf: Workflow, variables: dict[str, Any], merge_key: Any = None) -> SetWorkflowAttr:
    return SetWorkflowAttr(wf, "variables", variables, "Edit variables", merge_key)


def SetWorkflowName(wf: Workflow, name: str) -> SetWorkflowAttr:
    return SetWorkflowAttr(wf, "name", name, f"Rename workflow to {name}")


class Paste(_Command):
    """Add prepared nodes, the connections among them and notes as one step."""

    def __init__(
        self,
        wf: Workflow,
        nodes: list[Node],
        connections: list[Connection],
        notes: Sequence[Note] = (),
        text: str = "Paste",
        parent: _Command | None = None,
    ) -> None:
        super().__init__(wf, text, parent)
        self.nodes = list(nodes)
        self.notes = list(notes)
        for node in nodes:
            AddNode(wf, node, parent=self)
        for conn in connections:
            Connect(wf, conn, parent=self)
        for note in notes:
            AddNote(wf, note, parent=self)
