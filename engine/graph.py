"""Graph checks (networkx) and the routing map built once per run.

`validate` returns every problem at once, each with the node id and field;
`Routing` answers "where does a value on (node, port) go?" with one dict
lookup, knows each merge's incoming connections in file order and which
connections are loop back-edges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from engine import expressions
from engine.errors import ExpressionError, Problem, WorkflowInvalid
from engine.heap import collections_paused
from engine.model import Connection, Node, Workflow

if TYPE_CHECKING:
    from engine.nodes.base import NodeSpec

__all__ = ["Route", "RouteTuple", "Routing", "cycle_edges", "ensure_valid", "validate"]


def _specs(wf: Workflow) -> dict[str, NodeSpec | None]:
    from engine.nodes.registry import find_spec

    by_type = {t: find_spec(t) for t in dict.fromkeys(n.type for n in wf.nodes)}  # per type, in file order
    return {n.id: by_type[n.type] for n in wf.nodes}


def _config_strings(value: object, path: str, out: list[tuple[str, str]]) -> None:
    """Append (field path, text) of every string in `value` that holds an expression
    (a path is built only for a container that holds one, or for such a string)."""
    if isinstance(value, str):
        if "{{" in value:
            out.append((path, value))
    elif isinstance(value, dict):
        for k, v in value.items():
            if type(v) is str:
                if "{{" in v:
                    out.append((f"{path}.{k}", v))
            elif isinstance(v, str | dict | list):  # a str subclass, a container
                _config_strings(v, f"{path}.{k}", out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if type(v) is str:
                if "{{" in v:
                    out.append((f"{path}[{i}]", v))
            elif isinstance(v, str | dict | list):  # a str subclass, a container
                _config_strings(v, f"{path}[{i}]", out)


def validate(wf: Workflow, *, file: str | None = None) -> list[Problem]:
    """Every problem with the workflow, in a stable order (empty list: it can run)."""
    with collections_paused():  # the parsed expressions live on (engine.heap says why)
        return _validate(wf, file)


def _validate(wf: Workflow, file: str | None) -> list[Problem]:
    from engine.nodes.registry import validate_node_config

    problems: list[Problem] = []
    specs = _specs(wf)

    ids: dict[str, int] = {}
    names: dict[str, str] = {}
    for n in wf.nodes:
        if n.id in ids:
            problems.append(Problem("duplicate node id", node_id=n.id, field="id", file=file))
        ids[n.id] = 1
        if n.name in names:
            problems.append(
                Problem(f"duplicate node name {n.name!r} (also {names[n.name]!r})", node_id=n.id, field="name", file=file)
            )
        else:
            names[n.name] = n.id
        problems.extend(_node_problems(n, file, validate_node_config))

    triggers = [n for n in wf.nodes if (s := specs.get(n.id)) is not None and s.is_trigger]
    if not triggers:
        problems.append(Problem("the workflow has no trigger node", field="nodes", file=file))

    edges = _connection_problems(wf, specs, file, problems)
    succ = _successors(edges)
    problems.extend(_cycle_problems(wf, specs, edges, file, succ))
    if triggers:
        reachable = _reached([t.id for t in triggers], succ)
        for n in wf.nodes:
            if n.id not in reachable:
                problems.append(
                    Problem("unreachable: no path from a trigger (the run skips it)", node_id=n.id, field=None, file=file, severity="warning")
                )
    return problems


ConfigCheck = Callable[..., list[Problem]]  # registry.validate_node_config (imported on first use)
_NOT_EXPRESSIONS = {"unsupported": ("parameters", "credentials", "reason")}  # kept as imported


def _connection_problems(
    wf: Workflow, specs: dict[str, NodeSpec | None], file: str | None, problems: list[Problem]
) -> list[tuple[str, str, str]]:
    """Append each connection's problems to `problems`; return the (from, to, from_port)
    of the well-formed ones (the field names are built only for a problem)."""
    seen: set[tuple[str, str, str, str]] = set()
    edges: list[tuple[str, str, str]] = []
    get = wf.get
    outputs: dict[tuple[int, str], list[str]] = {}  # by id(spec), of specs whose ports are fixed
    inputs: dict[int, list[str]] = {}
    for i, c in enumerate(wf.connections):
        ok = True
        from_node, to_node = c.from_node, c.to_node
        src, dst = get(from_node), get(to_node)
        if src is None:
            problems.append(Problem(f"connection from unknown node {c.from_node!r}", node_id=c.from_node, field=f"connections[{i}].from", file=file))
            ok = False
        if dst is None:
            problems.append(Problem(f"connection to unknown node {c.to_node!r}", node_id=c.to_node, field=f"connections[{i}].to", file=file))
            ok = False
        if src is not None and (spec := specs[src.id]) is not None:
            outs = outputs.get((id(spec), src.on_error))
            if outs is None:
                outs = spec.output_ports(src)
                if _fixed_ports(spec):
                    outputs[id(spec), src.on_error] = outs
            if c.from_port not in outs:
                problems.append(Problem(f"node has no output port {c.from_port!r} (ports: {', '.join(outs)})", node_id=src.id, field=f"connections[{i}].from_port", file=file))
                ok = False
        if dst is not None and (spec := specs[dst.id]) is not None:
            ins = inputs.get(id(spec))
            if ins is None:
                ins = spec.input_ports(dst)
                if _fixed_ports(spec):
                    inputs[id(spec)] = ins
            if c.to_port not in ins:
                msg = "a trigger has no input" if not ins else f"node has no input port {c.to_port!r} (ports: {', '.join(ins)})"
                problems.append(Problem(msg, node_id=dst.id, field=f"connections[{i}].to_port", file=file))
                ok = False
        key = (from_node, c.from_port, to_node, c.to_port)  # `c.key`, without the call
        if key in seen:
            problems.append(Problem("duplicate connection", node_id=from_node, field=f"connections[{i}]", file=file))
            ok = False
        seen.add(key)
        if ok:
            edges.append((from_node, to_node, c.from_port))
    return edges


_PORT_METHODS = frozenset({"input_ports", "output_ports", "base_output_ports", "is_trigger"})


def _fixed_ports(spec: NodeSpec) -> bool:
    """Whether `spec` keeps NodeSpec's own port methods: its ports then depend on its type
    and a node's `on_error` alone, and are asked once per workflow, not per connection."""
    cls: Any = type(spec)
    return _fixed_port_methods(cls) and not _PORT_METHODS & getattr(spec, "__dict__", {}).keys()


@lru_cache(maxsize=256)
def _fixed_port_methods(cls: Any) -> bool:
    from engine.nodes.base import NodeSpec

    return bool(
        cls.input_ports is NodeSpec.input_ports
        and cls.output_ports is NodeSpec.output_ports
        and cls.base_output_ports is NodeSpec.base_output_ports
    )


def _successors(edges: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    """Node -> the nodes its well-formed connections lead to, in file order."""
    succ: dict[str, list[str]] = {}
    for u, v, _ in edges:
        targets = succ.get(u)
        if targets is None:
            succ[u] = [v]
        else:
            targets.append(v)
    return succ


def _node_problems(n: Node, file: str | None, validate_node_config: ConfigCheck) -> list[Problem]:
    """One node's config against its schema, and the syntax of every expression in it,
    from one walk over the config (which also tells the schema check which keys hold an
    expression, to be checked after rendering).

    An `unsupported` placeholder is a problem in itself; its original n8n parameters
    are kept as they were, so they are not read as expressions.
    """
    config = n.config
    strings: list[tuple[str, str]] = []
    if not isinstance(config, dict):
        _config_strings(config, "config", strings)
        return validate_node_config(n, file=file) + _expression_problems(n, strings, file)
    hidden = _NOT_EXPRESSIONS.get(n.type, ())
    expression_keys = []
    for key, value in config.items():
        if type(value) is str:
            if "{{" in value:
                expression_keys.append(key)
                if key not in hidden:
                    strings.append((f"config.{key}", value))
            continue
        before = len(strings)
        _config_strings(value, f"config.{key}", strings)
        if len(strings) > before:
            expression_keys.append(key)
            if key in hidden:
                del strings[before:]
    problems = validate_node_config(n, file=file, expression_keys=expression_keys)
    if n.type == "unsupported":
        from engine.nodes.unsupported import problem_message

        problems.append(Problem(problem_message(config), node_id=n.id, field="type", file=file))
    return problems + _expression_problems(n, strings, file) if strings else problems


def _expression_problems(n: Node, strings: list[tuple[str, str]], file: str | None) -> list[Problem]:
    """A problem for each (field path, text) whose expressions do not pass `check`."""
    problems = []
    check = expressions.check
    for path, text in strings:
        try:
            check(text, node_id=n.id, field=path)
        except ExpressionError as exc:
            where = exc.message if exc.position is None else f"{exc.message} (position {exc.position})"
            if text.startswith("="):  # an imported n8n expression left as it was (n8n marks them with "=")
                where += "; this is n8n JavaScript the import could not translate: rewrite it as an expression"
            problems.append(Problem(where, node_id=n.id, field=path, file=file))
    return problems


def _is_branching(node: Node, spec: NodeSpec | None) -> bool:
    """A node that can send its value to one port and not another: a way out of a cycle."""
    if node.on_error == "route":
        return True
    return spec is not None and spec.kind != "loop" and len(spec.output_ports(node)) > 1


def _cycle_problems(
    wf: Workflow, specs: dict[str, NodeSpec | None], edges: list[tuple[str, str, str]], file: str | None,
    succ: dict[str, list[str]],
) -> list[Problem]:  # fmt: skip
    """A cycle is fine through a loop node's `loop` port or through a branching node with
    a port that leaves the cycle (a polling loop: wait -> request -> if -> back); any other
    cycle could never end and is an error. `succ`: `_successors(edges)`."""
    dag_edges = [
        (u, v) for u, v, port in edges
        if not (port == "loop" and (s := specs.get(u)) is not None and s.kind == "loop")
    ]
    if len(dag_edges) < len(edges):  # a loop's `loop` port: those connections left out
        succ = _successors([(u, v, "") for u, v in dag_edges])
    cyclic = _left_after_peeling(dict.fromkeys((n.id for n in wf.nodes), 0), succ)
    if not cyclic:  # the common case: no networkx at all
        return []
    import networkx as nx

    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_edges_from((u, v) for u, v in dag_edges if u in cyclic and v in cyclic)
    problems = []
    for component in nx.strongly_connected_components(g):
        if len(component) == 1 and not any(u == v for u, v in dag_edges if u in component):
            continue
        if any(_has_way_out(wf.node(n), specs.get(n), component, edges) for n in component):
            continue
        cycle = nx.find_cycle(g.subgraph(component))
        path = " -> ".join([cycle[0][0], *(v for _, v in cycle)])
        problems.append(
            Problem(
                f"cycle with no way out (no if, switch or error route leaves it): {path}",
                node_id=cycle[0][0], field="connections", file=file,
            )
        )
    return problems


def _has_way_out(node: Node, spec: NodeSpec | None, component: set[str], edges: list[tuple[str, str, str]]) -> bool:
    if not _is_branching(node, spec):
        return False
    ports = spec.output_ports(node) if spec is not None else ["out", "error"]
    for port in ports:
        targets = [v for u, v, p in edges if u == node.id and p == port]
        if not targets or any(v not in component for v in targets):
            return True
    return False


def cycle_edges(wf: Workflow) -> set[int]:
    """Indices of the connections that close a cycle (drawn as back-edges on the canvas).

    A depth-first walk from the triggers (then from any node not reached) in file
    order: a connection to a node still on the walk's path goes back.
    """
    succ: dict[str, list[tuple[int, str]]] = {}
    for i, c in enumerate(wf.connections):
        succ.setdefault(c.from_node, []).append((i, c.to_node))
    specs = _specs(wf)
    starts = [n.id for n in wf.nodes if (s := specs.get(n.id)) is not None and s.is_trigger]
    starts += [n.id for n in wf.nodes]
    state: dict[str, int] = {}  # 1 on the path, 2 done
    back: set[int] = set()
    for start in starts:
        if start in state:
            continue
        state[start] = 1
        todo = [(start, iter(succ.get(start, ())))]
        while todo:
            node, it = todo[-1]
            step = next(it, None)
            if step is None:
                state[node] = 2
                todo.pop()
                continue
            i, v = step
            if state.get(v) == 1:
                back.add(i)
            elif v not in state:
                state[v] = 1
                todo.append((v, iter(succ.get(v, ()))))
    return back


def _nodes_on_cycles(nodes: list[str], edges: list[tuple[str, str]]) -> set[str]:
    """Nodes left after peeling off every node without incoming edges (Kahn); empty if acyclic."""
    indeg = dict.fromkeys(nodes, 0)
    succ: dict[str, list[str]] = {}
    for u, v in edges:
        succ.setdefault(u, []).append(v)
        indeg.setdefault(u, 0)
        indeg.setdefault(v, 0)
    return _left_after_peeling(indeg, succ)


def _left_after_peeling(indeg: dict[str, int], succ: dict[str, list[str]]) -> set[str]:
    """`_nodes_on_cycles` of the nodes in `indeg` (each at 0) and their successors, all
    among them."""
    for targets in succ.values():
        for v in targets:
            indeg[v] += 1
    ready = [n for n, d in indeg.items() if d == 0]
    while ready:
        n = ready.pop()
        del indeg[n]
        for v in succ.get(n, ()):
            indeg[v] -= 1
            if indeg[v] == 0:
                ready.append(v)
    return set(indeg)


def _reached(starts: list[str], succ: dict[str, list[str]]) -> set[str]:
    seen = set(starts)
    todo = list(starts)
    while todo:
        for v in succ.get(todo.pop(), ()):
            if v not in seen:
                seen.add(v)
                todo.append(v)
    return seen


def ensure_valid(wf: Workflow, *, file: str | None = None) -> None:
    """Raise WorkflowInvalid listing every problem when there is an error (warnings alone,
    such as unreachable nodes, do not stop a run)."""
    problems = validate(wf, file=file)
    if any(p.is_error for p in problems):
        raise WorkflowInvalid(problems, file)


@dataclass(slots=True)
class Route:
    """Where a value on an output port goes (as `Routing.targets` returns it)."""

    to_node: str
    to_port: str
    conn: int


# The routing keeps each route as a plain (to_node, to_port, conn) tuple: a tuple of
# strings and an int is dropped from the collector's watch after its first collection,
# a Route object (and the tuple holding it) is scanned by every full collection of a run.
RouteTuple = tuple[str, str, int]


def _incoming(incoming: dict[str, list[int]], conns: list[Connection], of: set[str] | None) -> None:
    """Fill `incoming`: node -> its connections' indices, in file order (`of`: those nodes only)."""
    if of is not None and not of:
        return
    for i, c in enumerate(conns):
        to = c.to_node
        if of is not None and to not in of:
            continue
        got = incoming.get(to)
        if got is None:
            incoming[to] = [i]
        else:
            got.append(i)


@dataclass
class Routing:
    """O(1) lookups for the orchestrator, built once per run (and per sub-workflow)."""

    out: dict[tuple[str, str], tuple[RouteTuple, ...]] = field(default_factory=dict)
    incoming: dict[str, list[int]] = field(default_factory=dict)  # node -> connection indices, file order
    back_edges: frozenset[int] = frozenset()
    descendants_cache: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    _wf: Workflow | None = None
    _cyclic: frozenset[str] | None = None
    _ports: dict[str, list[str]] | None = None

    @classmethod
    def build(cls, wf: Workflow, *, incoming_kinds: frozenset[str] | None = None) -> Routing:
        """The routing of `wf`. `incoming_kinds`: keep `incoming` only for the nodes of
        those kinds (a run reads only its merges'), not for every node."""
        from engine.nodes.registry import find_spec

        r = cls()
        out: dict[tuple[str, str], tuple[RouteTuple, ...]] = {}
        several: dict[tuple[str, str], list[RouteTuple]] = {}  # ports with more than one route
        conns = wf.connections
        for i, c in enumerate(conns):
            key = (c.from_node, c.from_port)
            got = out.get(key)
            if got is None:
                out[key] = ((c.to_node, c.to_port, i),)
            else:
                routes = several.get(key)
                if routes is None:
                    routes = several[key] = list(got)
                routes.append((c.to_node, c.to_port, i))
        for key, routes in several.items():
            out[key] = tuple(routes)
        r.out = out
        r._wf = wf
        kinds = {t: s.kind for t in {n.type for n in wf.nodes} if (s := find_spec(t)) is not None}
        loop_types = {t for t, kind in kinds.items() if kind == "loop"}
        loops = [n.id for n in wf.nodes if n.type in loop_types] if loop_types else []
        if incoming_kinds is None:
            _incoming(r.incoming, conns, None)
        else:
            kept = {t for t, kind in kinds.items() if kind in incoming_kinds}
            _incoming(r.incoming, conns, {n.id for n in wf.nodes if n.type in kept}.union(loops) if kept or loops else set())
        if not loops:  # no loop, no back-edge: skip networkx entirely (the hot path of big chains)
            return r
        import networkx as nx

        g = r._full_graph()
        back: set[int] = set()
        for loop_id in loops:
            # the body: what the `loop` port reaches without passing through the loop itself
            inside = g.subgraph([x for x in g.nodes if x != loop_id])
            body: set[str] = set()
            for to_node, _, _ in r.out.get((loop_id, "loop"), ()):
                if to_node == loop_id:
                    continue
                body.add(to_node)
                body |= nx.descendants(inside, to_node)
            for i in r.incoming.get(loop_id, []):
                if wf.connections[i].from_node in body:
                    back.add(i)
        r.back_edges = frozenset(back)
        if incoming_kinds is not None and "loop" not in incoming_kinds:
            for loop_id in loops:  # wanted above for the back edges only
                r.incoming.pop(loop_id, None)
        return r

    @property
    def cyclic(self) -> frozenset[str]:
        """Nodes on or after a cycle (they may run more than once), found on first use:
        a run asks only for a branching node or a node run many times, so a chain never
        pays for the walk over the whole graph."""
        got = self._cyclic
        if got is None:
            assert self._wf is not None, "set by Routing.build"
            wf = self._wf
            specs = _specs(wf)
            got = self._cyclic = frozenset(_nodes_on_cycles(
                [n.id for n in wf.nodes],
                [(c.from_node, c.to_node) for c in wf.connections
                 if not (c.from_port == "loop" and (s := specs.get(c.from_node)) is not None and s.kind == "loop")],
            ))
        return got

    def _full_graph(self) -> Any:
        import networkx as nx

        assert self._wf is not None, "set by Routing.build"
        g: nx.MultiDiGraph[str] = nx.MultiDiGraph()
        g.add_nodes_from(n.id for n in self._wf.nodes)
        for i, c in enumerate(self._wf.connections):
            g.add_edge(c.from_node, c.to_node, conn=i)
        return g

    def targets(self, node_id: str, port: str) -> list[Route]:
        return [Route(*r) for r in self.out.get((node_id, port), ())]

    def descendants(self, node_id: str, port: str) -> frozenset[str]:
        """Nodes downstream of one output port, not following loop back-edges (for skipped marks).

        A plain walk over `out`: the first skipped branch of a run would otherwise import
        networkx (100-400 ms) in the middle of the run."""
        key = (node_id, port)
        got = self.descendants_cache.get(key)
        if got is None:
            got = self.descendants_cache[key] = frozenset(self._reach(node_id, key))
        return got

    def _reach(self, node_id: str, key: tuple[str, str]) -> set[str]:
        back, out = self.back_edges, self.out
        ports = self._ports_by_node()
        seen: set[str] = set()
        todo = [to for to, _, conn in out.get(key, ()) if conn not in back]
        while todo:
            at = todo.pop()
            if at in seen:
                continue
            seen.add(at)
            for p in ports.get(at, ()):
                todo.extend(to for to, _, conn in out[(at, p)] if conn not in back and to not in seen)
        seen.discard(node_id)
        return seen

    def _ports_by_node(self) -> dict[str, list[str]]:
        """Each node's output ports that have connections, made on first need."""
        got = self._ports
        if got is None:
            got = self._ports = {}
            for from_node, from_port in self.out:
                got.setdefault(from_node, []).append(from_port)
        return got
