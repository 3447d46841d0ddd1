"""Turns user intents (from the canvas, the panels and the menus) into undo commands.

Views only say what the user wants (`connect_requested`, `nodes_moved`, ...);
this controller checks it against the model, builds the command and pushes
it on the document's stack (NodeGraphQt's viewer -> graph split). A refused
intent returns the reason as text so the view can show it in the status bar.
`attach(scene)` connects a scene's intent signals to this controller's own slots
(orange-canvas-core's `SchemeEditWidget.setScheme`), so the window hosting both
routes nothing.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from app.document import clipboard, commands
from app.document.document import WorkflowDocument
from app.document.ports import input_ports, output_ports
from engine.model import Connection, Node, Note, Workflow, new_id
from engine.nodes.registry import get_spec

if TYPE_CHECKING:  # the document layer does not need the canvas at run time
    from app.canvas.scene import WorkflowScene

PASTE_OFFSET = 40.0


def rename_references(value: Any, old: str, new: str) -> Any:
    """`value` with every `nodes["old"]` / `nodes['old']` inside `{{ }}` pointing at `new`."""
    if isinstance(value, str):
        if "{{" not in value or old not in value:
            return value
        pattern = re.compile(r"""nodes\[\s*(["'])""" + re.escape(old) + r"""\1\s*\]""")
        return pattern.sub(lambda m: f"nodes[{m.group(1)}{new}{m.group(1)}]", value)
    if isinstance(value, dict):
        return {k: rename_references(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [rename_references(v, old, new) for v in value]
    return value


class EditController(QObject):
    """The only writer of the document (every method pushes at most one command)."""

    refused = Signal(str)  # why an intent was not carried out (for the status bar)

    def __init__(self, document: WorkflowDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.read_only = False  # the window shows a past run: every edit is refused
        self.scene: WorkflowScene | None = None  # the scene whose intents this controller carries out

    @property
    def wf(self) -> Workflow:
        return self.document.workflow

    def _push(self, command: Any) -> None:
        if self._refused_read_only():
            return
        self.document.push(command)

    def _refused_read_only(self) -> bool:
        """The last line of defence behind the disabled actions and gestures."""
        if self.read_only:
            self._refuse("The workflow is read-only while a past run is shown (Back to editing to change it).")
        return self.read_only

    def _refuse(self, reason: str) -> str:
        self.refused.emit(reason)
        return reason

    # -- views -------------------------------------------------------------
    def attach(self, scene: WorkflowScene) -> None:
        """Carry out `scene`'s edit intents from now on (one scene at a time): a link drawn,
        nodes and notes dragged, a note's text or size changed each become one command.
        The scene also asks this controller before it offers a link."""
        self.detach()
        scene.connect_requested.connect(self._connect_requested)
        scene.nodes_moved.connect(self._nodes_moved)
        scene.note_text_changed.connect(self._note_text_changed)
        scene.note_resized.connect(self._note_resized)
        scene.link_validator = self.connection_refusal
        self.scene = scene

    def detach(self) -> None:
        """Stop listening to the attached scene (its document is being replaced)."""
        scene, self.scene = self.scene, None
        if scene is None:
            return
        scene.connect_requested.disconnect(self._connect_requested)
        scene.nodes_moved.disconnect(self._nodes_moved)
        scene.note_text_changed.disconnect(self._note_text_changed)
        scene.note_resized.disconnect(self._note_resized)
        if scene.link_validator == self.connection_refusal:
            scene.link_validator = None

    def _connect_requested(self, from_node: str, from_port: str, to_node: str, to_port: str) -> None:
        self.connect(from_node, from_port, to_node, to_port)

    def _nodes_moved(
        self,
        moves: dict[str, tuple[tuple[float, float], tuple[float, float]]],
        note_moves: dict[str, tuple[tuple[float, float], tuple[float, float]]],
        merge_key: Any,
    ) -> None:
        self.move(moves, note_moves, merge_key)

    def _note_text_changed(self, note_id: str, text: str) -> None:
        self.edit_note(note_id, "text", text, merge=False)

    def _note_resized(self, note_id: str, size: tuple[float, float]) -> None:
        self.edit_note(note_id, "size", tuple(size), merge=False)

    # -- nodes -------------------------------------------------------------
    def add_node(self, node_type: str, position: tuple[float, float]) -> str:
        """Add a node of `node_type` at `position`; returns its new id."""
        spec = get_spec(node_type)
        node = Node(
            id=new_id(),
            type=node_type,
            name=self.wf.unique_name(spec.title),
            position=(float(position[0]), float(position[1])),
            config={},
        )
        self._push(commands.AddNode(self.wf, node))
        return node.id

    def add_node_linked(
        self, node_type: str, position: tuple[float, float], node_id: str, port: str, from_output: bool
    ) -> tuple[str, str | None]:
        """Add a node and connect it to (node_id, port) in one undo step.

        `from_output`: the link starts at an output, so it goes into the new
        node's first input; otherwise the new node's first output feeds the
        input. Returns the new id and why the connection was not made (if so).
        """
        if self._refused_read_only():
            return "", "read-only"
        stack = self.document.undo_stack
        stack.beginMacro(f"Add {get_spec(node_type).title} and connect")
        try:
            new_id_ = self.add_node(node_type, position)
            new = self.wf.node(new_id_)
            ports = input_ports(new) if from_output else output_ports(new)
            if not ports:
                reason: str | None = f"{new.name} has no {'input' if from_output else 'output'}"
                self.refused.emit(reason)
                return new_id_, reason
            if from_output:
                reason = self.connect(node_id, port, new_id_, ports[0])
            else:
                reason = self.connect(new_id_, ports[0], node_id, port)
            return new_id_, reason
        finally:
            stack.endMacro()

    def rename(self, node_id: str, name: str) -> str | None:
        if self._refused_read_only():
            return "read-only"
        name = name.strip()
        node = self.wf.node(node_id)
        if name == node.name:
            return None
        if not name:
            return self._refuse("a node needs a name")
        other = self.wf.node_by_name(name)
        if other is not None and other.id != node_id:
            return self._refuse(f"another node is already called {name!r}")
        updates = {}
        for other_node in self.wf.nodes:
            renamed = rename_references(other_node.config, node.name, name)
            if renamed != other_node.config:
                updates[other_node.id] = renamed
        if not updates:
            self._push(commands.Rename(self.wf, node_id, name))
            return None
        # expressions that read nodes["old name"] follow the rename, in the same undo step
        stack = self.document.undo_stack
        stack.beginMacro(f"Rename to {name}")
        self._push(commands.Rename(self.wf, node_id, name))
        for other_id, config in updates.items():
            self._push(commands.SetConfig(self.wf, other_id, config))
        stack.endMacro()
        return None

    def set_config(self, node_id: str, config: dict[str, Any], merge_key: Any = None) -> None:
        if config != self.wf.node(node_id).config:
            self._push(commands.SetConfig(self.wf, node_id, config, merge_key))

    def set_config_value(self, node_id: str, key: str, value: Any, *, remove: bool = False, merge: bool = True) -> None:
        """Set (or remove) one config key; consecutive edits of the same key merge."""
        config = copy.deepcopy(self.wf.node(node_id).config)
        if remove:
            config.pop(key, None)
        else:
            config[key] = value
        self.set_config(node_id, config, key if merge else None)

    def set_retry(self, node_id: str, retry: dict[str, Any] | str | None, merge_key: Any = None) -> None:
        if retry != self.wf.node(node_id).retry:
            self._push(commands.SetRetry(self.wf, node_id, retry, merge_key))

    def set_on_error(self, node_id: str, on_error: str) -> None:
        if on_error != self.wf.node(node_id).on_error:
            self._push(commands.SetOnError(self.wf, node_id, on_error))

    def set_pin(self, node_id: str, pin: Any) -> None:
        """Pin (or with None unpin) a node's output: one undoable command (pinning a node
        set to Replay sets it to Pinned, in the same step)."""
        node = self.wf.get(node_id)
        if node is None or node.pin == pin:
            return
        if pin is not None and node.replay:
            self._push(commands.SetRunMode(self.wf, node_id, replay=False, pin=pin))
        else:
            self._push(commands.SetPin(self.wf, node_id, pin))

    def set_replay(self, node_id: str, replay: bool) -> None:
        """Live (False) or Replay (True) in debug re-runs; a pin the node had goes, in the same step."""
        node = self.wf.get(node_id)
        if node is not None and (node.replay != replay or node.pin is not None):
            self._push(commands.SetRunMode(self.wf, node_id, replay=replay))

    def set_disabled(self, node_ids: Iterable[str], disabled: bool) -> None:
        ids = [i for i in node_ids if self.wf.node(i).disabled != disabled]
        if not ids or self._refused_read_only():
            return
        if len(ids) == 1:
            self._push(commands.SetDisabled(self.wf, ids[0], disabled))
            return
        self.document.undo_stack.beginMacro(f"{'Disable' if disabled else 'Enable'} {len(ids)} nodes")
        for i in ids:
            self._push(commands.SetDisabled(self.wf, i, disabled))
        self.document.undo_stack.endMacro()

    def move(
        self,
        moves: dict[str, tuple[tuple[float, float], tuple[float, float]]],
        note_moves: dict[str, tuple[tuple[float, float], tuple[float, float]]] | None = None,
        merge_key: Any = None,
    ) -> None:
        moves = {k: v for k, v in moves.items() if tuple(v[0]) != tuple(v[1])}
        note_moves = {k: v for k, v in (note_moves or {}).items() if tuple(v[0]) != tuple(v[1])}
        if moves or note_moves:
            self._push(commands.MoveNodes(self.wf, moves, merge_key, note_moves))

    def delete(self, node_ids: Iterable[str] = (), connections: Iterable[Connection] = (), note_ids: Iterable[str] = ()) -> None:
        node_ids, connections, note_ids = list(node_ids), list(connections), list(note_ids)
        if node_ids or connections or note_ids:
            self._push(commands.RemoveItems(self.wf, node_ids, connections, note_ids))

    # -- connections -------------------------------------------------------
    def connection_refusal(self, from_node: str, from_port: str, to_node: str, to_port: str) -> str | None:
        """Why this connection cannot be made, or None when it can."""
        src, dst = self.wf.get(from_node), self.wf.get(to_node)
        if src is None or dst is None:
            return "that node no longer exists"
        if from_node == to_node:
            return "a node cannot connect to itself"
        if from_port not in output_ports(src):
            return f"{src.name} has no output {from_port!r}"
        ins = input_ports(dst)
        if not ins:
            return f"{dst.name} is a trigger: it has no input"
        if to_port not in ins:
            return f"{dst.name} has no input {to_port!r}"
        if Connection(from_node, from_port, to_node, to_port) in self.wf.connections:
            return "these ports are already connected"
        return None

    def connect(self, from_node: str, from_port: str, to_node: str, to_port: str) -> str | None:  # type: ignore[override]  # a document edit, not QObject.connect
        """Connect two ports; returns the refusal reason (also emitted) or None."""
        reason = self.connection_refusal(from_node, from_port, to_node, to_port)
        if reason:
            return self._refuse(reason)
        self._push(commands.Connect(self.wf, Connection(from_node, from_port, to_node, to_port)))
        return None

    def disconnect(self, conn: Connection) -> None:  # type: ignore[override]  # a document edit, not QObject.disconnect
        if conn in self.wf.connections:
            self._push(commands.RemoveItems(self.wf, connections=[conn]))

    # -- notes -------------------------------------------------------------
    def add_note(self, position: tuple[float, float], text: str = "") -> str:
        note = Note(new_id(), text, (float(position[0]), float(position[1])))
        self._push(commands.AddNote(self.wf, note))
        return note.id

    def edit_note(self, note_id: str, attr: str, value: Any, merge: bool = True) -> None:
        note = next(n for n in self.wf.notes if n.id == note_id)
        if getattr(note, attr) != value:
            self._push(commands.EditNote(self.wf, note_id, attr, value, (note_id, attr) if merge else None))

    # -- workflow ----------------------------------------------------------
    def set_variables(self, variables: dict[str, Any], merge_key: Any = None) -> None:
        if variables != self.wf.variables:
            self._push(commands.SetVariables(self.wf, variables, merge_key))

    def set_workflow_name(self, name: str) -> None:
        if name != self.wf.name:
            self._push(commands.SetWorkflowName(self.wf, name))

    def set_max_node_visits(self, visits: int) -> None:
        """How often one node may run in one execution (bounds a cycle that never leaves)."""
        if visits != self.wf.max_node_visits:
            self._push(commands.SetWorkflowAttr(self.wf, "max_node_visits", visits, f"Set max node visits to {visits}", "max_node_visits"))

    # -- clipboard ---------------------------------------------------------
    def copy_text(self, node_ids: Iterable[str], note_ids: Iterable[str] = ()) -> str:
        return clipboard.copy_text(self.wf, node_ids, note_ids)

    def paste_text(self, text: str, at: tuple[float, float] | None = None) -> tuple[list[str], list[str]]:
        """Paste file-format text; returns the new node and note ids.

        Raises engine.errors.WorkflowInvalid when the text is not a workflow.
        With `at`, the pasted group's top-left lands there; otherwise it is
        offset a little from where it was copied.
        """
        fragment = clipboard.parse_fragment(text)
        if not fragment.nodes and not fragment.notes:
            return [], []
        if at is None:
            offset = self._free_offset(fragment)
        else:
            xs = [n.position[0] for n in fragment.nodes] + [n.position[0] for n in fragment.notes]
            ys = [n.position[1] for n in fragment.nodes] + [n.position[1] for n in fragment.notes]
            offset = (at[0] - min(xs), at[1] - min(ys))
        nodes, conns, notes = clipboard.prepare_paste(self.wf, fragment, offset)
        count = len(nodes) + len(notes)
        self._push(commands.Paste(self.wf, nodes, conns, notes, f"Paste {count} item{'s' if count != 1 else ''}"))
        return [n.id for n in nodes], [n.id for n in notes]

    def _free_offset(self, fragment: Workflow) -> tuple[float, float]:
        """A little down-right of where the items were copied, and further while that spot
        is taken: pasting twice must not stack the copies exactly on each other."""
        placed: tuple[Node | Note, ...] = (*self.wf.nodes, *self.wf.notes)
        copied: tuple[Node | Note, ...] = (*fragment.nodes, *fragment.notes)
        taken = {tuple(n.position) for n in placed}
        spots = [tuple(n.position) for n in copied]
        step = 1
        while step < 1000 and any((x + step * PASTE_OFFSET, y + step * PASTE_OFFSET) in taken for x, y in spots):
            step += 1
        return (step * PASTE_OFFSET, step * PASTE_OFFSET)

    def duplicate(self, node_ids: Iterable[str], note_ids: Iterable[str] = ()) -> tuple[list[str], list[str]]:
        return self.paste_text(self.copy_text(node_ids, note_ids))
