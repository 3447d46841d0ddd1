"""The workflow model: plain, mutable records with fine-grained change events.

The file format (`engine.fileformat`) parses into these records; the runtime
reads them; the designer edits them through undo commands and observes the
`WorkflowEvents` signals to keep its scene in step. Ids are stable strings
(the editor makes UUIDs), node names are unique so expressions can use them.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from engine.observable import Signal

__all__ = [
    "DEFAULT_MAX_NODE_VISITS",
    "FORMAT",
    "Connection",
    "Node",
    "Note",
    "Workflow",
    "WorkflowEvents",
    "WorkflowVersion",
    "new_id",
]

FORMAT = "processengine/1"
# how often one node may run in one execution (cycles through a branching node are
# allowed; this bound turns a cycle that never takes its way out into a clear failure)
DEFAULT_MAX_NODE_VISITS = 1000
# a saved workflow version as its file's load found it: (content hash, canonical document),
# either None when not known; a run, `serve` or `run --queue` given the hash finds the saved
# version without encoding and hashing the workflow again
WorkflowVersion = tuple[str | None, str | None]


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(slots=True)
class Node:
    id: str
    type: str
    name: str
    position: tuple[float, float] = (0.0, 0.0)
    config: dict[str, Any] = field(default_factory=dict)
    retry: dict[str, Any] | str | None = None
    on_error: str = "fail"
    disabled: bool = False
    pin: Any = None  # pinned output (JSON): a debug run uses it instead of running the node; None: no pin
    replay: bool = False  # the studio's re-runs answer this HTTP / email node from the source run's recording

    def clone(self) -> Node:
        return Node(
            id=self.id,
            type=self.type,
            name=self.name,
            position=tuple(self.position),  # type: ignore[arg-type]
            config=copy.deepcopy(self.config),
            retry=copy.deepcopy(self.retry),
            on_error=self.on_error,
            disabled=self.disabled,
            pin=copy.deepcopy(self.pin),
            replay=self.replay,
        )


class Connection(NamedTuple):
    """An edge from an output port to an input port (immutable: edits replace it).

    A named tuple rather than a frozen dataclass: a file's connections are built with
    `tuple.__new__`, no Python call each (the dataclass's `__init__` set each field
    through `object.__setattr__`). It hashes as before (its fields' tuple) and also
    equals a plain tuple of the same four texts."""

    from_node: str
    from_port: str
    to_node: str
    to_port: str = "in"

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.from_node, self.from_port, self.to_node, self.to_port)


@dataclass(slots=True)
class Note:
    """A sticky note on the canvas; it never runs."""

    id: str
    text: str = ""
    position: tuple[float, float] = (0.0, 0.0)
    size: tuple[float, float] = (200.0, 120.0)

    def clone(self) -> Note:
        return Note(self.id, self.text, tuple(self.position), tuple(self.size))  # type: ignore[arg-type]


class WorkflowEvents:
    """Change notifications; each carries what changed and where (index) so undo is exact."""

    __slots__ = (
        "connection_added",
        "connection_removed",
        "node_added",
        "node_changed",
        "node_removed",
        "note_added",
        "note_changed",
        "note_removed",
        "workflow_changed",
    )

    def __init__(self) -> None:
        self.node_added = Signal()  # (node, index)
        self.node_removed = Signal()  # (node, index)
        self.node_changed = Signal()  # (node, attribute name)
        self.connection_added = Signal()  # (connection, index)
        self.connection_removed = Signal()  # (connection, index)
        self.note_added = Signal()  # (note, index)
        self.note_removed = Signal()  # (note, index)
        self.note_changed = Signal()  # (note, attribute name)
        self.workflow_changed = Signal()  # (attribute name)


class Workflow:
    """An ordered set of nodes, connections and notes plus workflow variables.

    Order matters: connection order decides fan-out order and merge order, so
    every insert/remove takes and reports an index.
    """

    def __init__(
        self,
        *,
        id: str | None = None,
        name: str = "Untitled",
        variables: dict[str, Any] | None = None,
        nodes: list[Node] | None = None,
        connections: list[Connection] | None = None,
        notes: list[Note] | None = None,
        max_node_visits: int = DEFAULT_MAX_NODE_VISITS,
    ) -> None:
        self.id = id or new_id()
        self.max_node_visits = max_node_visits
        self.name = name
        self.variables: dict[str, Any] = dict(variables or {})
        self._nodes: list[Node] = list(nodes or [])
        self._by_id: dict[str, Node] = {n.id: n for n in self._nodes}
        self.connections: list[Connection] = list(connections or [])
        self.notes: list[Note] = list(notes or [])
        self.concurrency: int | None = None  # queue mode: most runs at once across workers
        self.events = WorkflowEvents()

    # -- reading -----------------------------------------------------------
    @property
    def nodes(self) -> list[Node]:
        return self._nodes

    @property
    def by_id(self) -> Mapping[str, Node]:
        """Node id -> node, kept in step with every edit (read only: edit through the methods)."""
        return self._by_id

    def node(self, node_id: str) -> Node:
        return self._by_id[node_id]

    def get(self, node_id: str) -> Node | None:
        return self._by_id.get(node_id)

    def node_by_name(self, name: str) -> Node | None:
        for n in self._nodes:
            if n.name == name:
                return n
        return None

    def index_of(self, node_id: str) -> int:
        return next(i for i, n in enumerate(self._nodes) if n.id == node_id)

    def unique_name(self, base: str) -> str:
        names = {n.name for n in self._nodes}
        if base not in names:
            return base
        i = 2
        while f"{base} {i}" in names:
            i += 1
        return f"{base} {i}"

    # -- editing (each edit emits exactly one event) -----------------------
    def add_node(self, node: Node, index: int | None = None) -> None:
        if node.id in self._by_id:
            raise ValueError(f"duplicate node id {node.id!r}")
        index = len(self._nodes) if index is None else index
        self._nodes.insert(index, node)
        self._by_id[node.id] = node
        self.events.node_added.emit(node, index)

    def remove_node(self, node_id: str) -> tuple[Node, int]:
        """Remove a node (its connections must be removed first by the caller)."""
        index = self.index_of(node_id)
        node = self._nodes.pop(index)
        del self._by_id[node_id]
        self.events.node_removed.emit(node, index)
        return node, index

    def set_node_attr(self, node_id: str, attr: str, value: Any) -> Any:
        """Set one attribute (name, position, config, retry, on_error, disabled, pin, replay); returns the old value."""
        node = self._by_id[node_id]
        if attr not in ("name", "position", "config", "retry", "on_error", "disabled", "type", "pin", "replay"):
            raise AttributeError(attr)
        old = getattr(node, attr)
        setattr(node, attr, value)
        self.events.node_changed.emit(node, attr)
        return old

    def add_connection(self, conn: Connection, index: int | None = None) -> None:
        index = len(self.connections) if index is None else index
        self.connections.insert(index, conn)
        self.events.connection_added.emit(conn, index)

    def remove_connection(self, conn: Connection) -> int:
        index = self.connections.index(conn)
        self.connections.pop(index)
        self.events.connection_removed.emit(conn, index)
        return index

    def add_note(self, note: Note, index: int | None = None) -> None:
        index = len(self.notes) if index is None else index
        self.notes.insert(index, note)
        self.events.note_added.emit(note, index)

    def remove_note(self, note_id: str) -> tuple[Note, int]:
        index = next(i for i, n in enumerate(self.notes) if n.id == note_id)
        note = self.notes.pop(index)
        self.events.note_removed.emit(note, index)
        return note, index

    def set_note_attr(self, note_id: str, attr: str, value: Any) -> Any:
        note = next(n for n in self.notes if n.id == note_id)
        old = getattr(note, attr)
        setattr(note, attr, value)
        self.events.note_changed.emit(note, attr)
        return old

    def set_attr(self, attr: str, value: Any) -> Any:
        """Set a workflow-level attribute (name, variables, max_node_visits)."""
        if attr not in ("name", "variables", "max_node_visits"):
            raise AttributeError(attr)
        old = getattr(self, attr)
        setattr(self, attr, value)
        self.events.workflow_changed.emit(attr)
        return old

    # -- copying -----------------------------------------------------------
    def clone(self, *, nodes: list[Node] | None = None) -> Workflow:
        """A deep copy without subscribers (used by runs, which must not see later edits).
        `nodes`: copies of this workflow's nodes already made (the studio makes them across
        event-loop turns, `app/runner/run_copy.py`)."""
        wf = Workflow(
            id=self.id,
            name=self.name,
            variables=copy.deepcopy(self.variables),
            nodes=[n.clone() for n in self._nodes] if nodes is None else nodes,
            connections=list(self.connections),
            notes=[n.clone() for n in self.notes],
            max_node_visits=self.max_node_visits,
        )
        wf.concurrency = self.concurrency
        return wf

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.id, self.name, self.variables, self.max_node_visits, self.concurrency,
            self._nodes, self.connections, self.notes,
        )

    def __eq__(self, other: object) -> bool:
        """Structural: the same fields, nodes, connections and notes, in the same order
        (the records compare field by field; no trip through the file format)."""
        if not isinstance(other, Workflow):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Workflow({self.name!r}, {len(self._nodes)} nodes, {len(self.connections)} connections)"
