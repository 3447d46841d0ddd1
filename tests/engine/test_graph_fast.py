"""Graph validation's cheaper paths give what the code they replaced gave.

The per-node walk over a config (expression strings, the keys holding them, the
schema check) and the cycle and reachability checks were reworked to do less per
node; each is compared here with the code as it was written before, on generated
configs and graphs: the same problems, in the same order, naming the same file, node
and field.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine import expressions, graph
from engine.errors import ExpressionError, Problem
from engine.fileformat import parse
from engine.model import Node, Workflow
from engine.nodes import registry
from engine.nodes.registry import find_spec, has_expression, known_types

CHECKS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


# --------------------------------------------------------------- the code as it was


def _old_config_strings(value: object, path: str, out: list[tuple[str, str]]) -> None:
    if isinstance(value, str):
        if "{{" in value:
            out.append((path, value))
    elif isinstance(value, dict):
        for k, v in value.items():
            if type(v) is str and "{{" not in v:
                continue
            _old_config_strings(v, f"{path}.{k}", out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if type(v) is str and "{{" not in v:
                continue
            _old_config_strings(v, f"{path}[{i}]", out)


def _old_validate_node_config(
    node: Node, *, file: str | None = None, expression_keys: Collection[str] | None = None
) -> list[Problem]:
    spec = find_spec(node.type)
    if spec is None:
        known = ", ".join(known_types())
        return [Problem(f"unknown node type {node.type!r} (known: {known})", node_id=node.id, field="type", file=file)]
    if not isinstance(node.config, dict):
        return [Problem("config must be an object", node_id=node.id, field="config", file=file)]
    if expression_keys is None:
        expression_keys = [k for k, v in node.config.items() if has_expression(v)]
    deferred = frozenset(k for k in expression_keys if k not in spec.fields_not_rendered)
    if len(deferred) == len(node.config):
        found = registry._all_deferred_problems(spec, deferred)
    else:
        found = registry._static_problems(spec, {k: v for k, v in node.config.items() if k not in deferred}, deferred)
    return [Problem(msg, node_id=node.id, field=field, file=file) for msg, field in found]


def _old_expression_problems(n: Node, strings: list[tuple[str, str]], file: str | None) -> list[Problem]:
    problems = []
    for path, text in strings:
        try:
            expressions.check(text, node_id=n.id, field=path)
        except ExpressionError as exc:
            where = exc.message if exc.position is None else f"{exc.message} (position {exc.position})"
            if text.startswith("="):
                where += "; this is n8n JavaScript the import could not translate: rewrite it as an expression"
            problems.append(Problem(where, node_id=n.id, field=path, file=file))
    return problems


def _old_node_problems(n: Node, file: str | None) -> list[Problem]:
    config = n.config
    strings: list[tuple[str, str]] = []
    if not isinstance(config, dict):
        _old_config_strings(config, "config", strings)
        return _old_validate_node_config(n, file=file) + _old_expression_problems(n, strings, file)
    hidden = graph._NOT_EXPRESSIONS.get(n.type, ())
    expression_keys = []
    for key, value in config.items():
        if type(value) is str and "{{" not in value:
            continue
        before = len(strings)
        _old_config_strings(value, f"config.{key}", strings)
        if len(strings) > before:
            expression_keys.append(key)
            if key in hidden:
                del strings[before:]
    problems = _old_validate_node_config(n, file=file, expression_keys=expression_keys)
    if n.type == "unsupported":
        from engine.nodes.unsupported import problem_message

        problems.append(Problem(problem_message(config), node_id=n.id, field="type", file=file))
    return problems + _old_expression_problems(n, strings, file) if strings else problems


def _old_connection_problems(
    wf: Workflow, specs: dict, file: str | None, problems: list[Problem]
) -> list[tuple[str, str, str]]:
    seen: set[tuple[str, str, str, str]] = set()
    edges: list[tuple[str, str, str]] = []
    get = wf.get
    for i, c in enumerate(wf.connections):
        ok = True
        src, dst = get(c.from_node), get(c.to_node)
        if src is None:
            problems.append(Problem(f"connection from unknown node {c.from_node!r}", node_id=c.from_node, field=f"connections[{i}].from", file=file))
            ok = False
        if dst is None:
            problems.append(Problem(f"connection to unknown node {c.to_node!r}", node_id=c.to_node, field=f"connections[{i}].to", file=file))
            ok = False
        if src is not None and (spec := specs[src.id]) is not None:
            outs = spec.output_ports(src)
            if c.from_port not in outs:
                problems.append(Problem(f"node has no output port {c.from_port!r} (ports: {', '.join(outs)})", node_id=src.id, field=f"connections[{i}].from_port", file=file))
                ok = False
        if dst is not None and (spec := specs[dst.id]) is not None:
            ins = spec.input_ports(dst)
            if c.to_port not in ins:
                msg = "a trigger has no input" if not ins else f"node has no input port {c.to_port!r} (ports: {', '.join(ins)})"
                problems.append(Problem(msg, node_id=dst.id, field=f"connections[{i}].to_port", file=file))
                ok = False
        key = c.key
        if key in seen:
            problems.append(Problem("duplicate connection", node_id=c.from_node, field=f"connections[{i}]", file=file))
            ok = False
        seen.add(key)
        if ok:
            edges.append((c.from_node, c.to_node, c.from_port))
    return edges


def _old_cycle_problems(wf: Workflow, specs: dict, edges: list[tuple[str, str, str]], file: str | None) -> list[Problem]:
    dag_edges = [
        (u, v) for u, v, port in edges
        if not (port == "loop" and (s := specs.get(u)) is not None and s.kind == "loop")
    ]  # fmt: skip
    cyclic = graph._nodes_on_cycles([n.id for n in wf.nodes], dag_edges)
    if not cyclic:
        return []
    import networkx as nx

    g: Any = nx.DiGraph()
    g.add_edges_from((u, v) for u, v in dag_edges if u in cyclic and v in cyclic)
    problems = []
    for component in nx.strongly_connected_components(g):
        if len(component) == 1 and not any(u == v for u, v in dag_edges if u in component):
            continue
        if any(graph._has_way_out(wf.node(n), specs.get(n), component, edges) for n in component):
            continue
        cycle = nx.find_cycle(g.subgraph(component))
        path = " -> ".join([cycle[0][0], *(v for _, v in cycle)])
        problems.append(
            Problem(f"cycle with no way out (no if, switch or error route leaves it): {path}",
                    node_id=cycle[0][0], field="connections", file=file)
        )
    return problems


def _old_reachable(starts: list[str], edges: list[tuple[str, str]]) -> set[str]:
    succ: dict[str, list[str]] = {}
    for u, v in edges:
        succ.setdefault(u, []).append(v)
    seen = set(starts)
    todo = list(starts)
    while todo:
        for v in succ.get(todo.pop(), ()):
            if v not in seen:
                seen.add(v)
                todo.append(v)
    return seen


# --------------------------------------------------------------- generated configs

TEXTS = st.sampled_from(
    ["plain", "{{ vars.k }}", "{{ 1 + }}", "a {{ input.x }} b", "{{ __x }}", "{{ len( }}", "={{ $json.a }}",
     "{{ 'a' }}{{ 2 * 3 }}", "{{", "{{ }}", "x}}", "{{ input._hidden }}", "{{ 1 | 2 }}"]
)  # fmt: skip
VALUES = st.recursive(
    TEXTS | st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([1.5, "GET", "https://x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "url", "c d"]), inner, max_size=3),
    max_leaves=10,
)
KEYS = st.sampled_from(["values", "keep_input", "url", "method", "headers", "parameters", "reason", "credentials",
                        "condition", "code", "cron", "unknown_key"])  # fmt: skip
TYPES = st.sampled_from(["set", "http_request", "unsupported", "filter", "code", "schedule_trigger", "nope", "manual_trigger"])


@CHECKS
@given(node_type=TYPES, config=st.dictionaries(KEYS, VALUES, max_size=4) | VALUES)
@example(node_type="unsupported", config={"parameters": {"a": "{{ 1 + }}"}, "reason": "{{ x }}"})
@example(node_type="set", config={"values": {"i": "{{ 0 + 1 }}", "k": "{{ vars.k }}"}})
@example(node_type="set", config=["{{ 1 + }}"])
@example(node_type="http_request", config={"url": "{{ vars.u }}", "method": "{{ 1 + }}", "headers": {"a": 1}})
def test_a_node_is_checked_as_before(node_type: str, config: Any) -> None:
    node = Node(id="n1", type=node_type, name="N", config=config)
    new = graph._node_problems(node, "f.pe.json", registry.validate_node_config)
    assert new == _old_node_problems(node, "f.pe.json")
    if isinstance(config, dict):
        keys = [k for k, v in config.items() if has_expression(v)]
        assert registry.validate_node_config(node, file="f", expression_keys=keys) == _old_validate_node_config(
            node, file="f", expression_keys=keys
        )


@CHECKS
@given(value=VALUES)
def test_expression_strings_are_found_as_before(value: Any) -> None:
    new: list[tuple[str, str]] = []
    old: list[tuple[str, str]] = []
    graph._config_strings(value, "config", new)
    _old_config_strings(value, "config", old)
    assert new == old


class _Text(str):
    """A str subclass (Python data handed to the API may hold one)."""


def test_a_str_subclass_in_a_config_is_still_read_for_expressions() -> None:
    value = {"a": _Text("{{ 1 + }}"), "b": [_Text("{{ x }}")]}
    new: list[tuple[str, str]] = []
    old: list[tuple[str, str]] = []
    graph._config_strings(value, "config", new)
    _old_config_strings(value, "config", old)
    assert new == old == [("config.a", "{{ 1 + }}"), ("config.b[0]", "{{ x }}")]


# --------------------------------------------------------------- generated graphs

GRAPH_TYPES = st.sampled_from(["manual_trigger", "set", "if", "loop", "merge", "nope"])


@st.composite
def _graphs(draw: st.DrawFn) -> Workflow:
    count = draw(st.integers(1, 8))
    ids = [f"n{i}" for i in range(count)]
    nodes = [
        {"id": i, "type": draw(GRAPH_TYPES), "name": i, "on_error": draw(st.sampled_from(["fail", "route"]))}
        for i in ids
    ]
    ends = st.sampled_from([*ids, "ghost"])
    ports = st.sampled_from(["out", "true", "false", "loop", "done", "error", "in", "in2"])
    connections = draw(st.lists(st.tuples(ends, ports, ends, st.sampled_from(["in", "in2"])), max_size=14))
    doc = {
        "format": "processengine/1", "id": "wf", "name": "t", "nodes": nodes,
        "connections": [{"from": a, "from_port": p, "to": b, "to_port": q} for a, p, b, q in connections],
    }  # fmt: skip
    return parse(doc, check_configs=False)


@CHECKS
@given(wf=_graphs())
def test_cycles_and_reachability_are_found_as_before(wf: Workflow) -> None:
    specs = graph._specs(wf)
    problems: list[Problem] = []
    edges = graph._connection_problems(wf, specs, "f", problems)
    old_problems: list[Problem] = []
    assert _old_connection_problems(wf, specs, "f", old_problems) == edges
    assert old_problems == problems
    succ = graph._successors(edges)
    assert graph._cycle_problems(wf, specs, edges, "f", succ) == _old_cycle_problems(wf, specs, edges, "f")
    starts = [n.id for n in wf.nodes if (s := specs.get(n.id)) is not None and s.is_trigger]
    assert graph._reached(starts, succ) == _old_reachable(starts, [(u, v) for u, v, _ in edges])
    indeg = dict.fromkeys((n.id for n in wf.nodes), 0)
    assert graph._left_after_peeling(indeg, succ) == graph._nodes_on_cycles([n.id for n in wf.nodes], [(u, v) for u, v, _ in edges])


def test_ports_are_asked_once_only_of_specs_that_keep_the_default_port_methods() -> None:
    """A spec's ports are kept for the validation only when its class keeps NodeSpec's
    port methods and the instance overrides none of them (the ports then depend on the
    type and `on_error` alone); a spec need not be hashable."""
    from engine.nodes.base import NodeSpec

    class Plain(NodeSpec):
        type = "plain_test"
        title = "Plain"

        __hash__ = None  # type: ignore[assignment]  # a spec that cannot be a dict key

    class Branching(Plain):
        def base_output_ports(self, node: Node) -> list[str]:
            return ["yes", "no"]

    patched = Plain()
    patched.output_ports = lambda node: ["left"]  # type: ignore[method-assign]
    assert graph._fixed_ports(Plain()) and not graph._fixed_ports(Branching()) and not graph._fixed_ports(patched)
    wf = parse({
        "format": "processengine/1", "id": "wf", "name": "t",
        "nodes": [{"id": i, "type": "set", "name": i} for i in ("a", "b", "c")],
        "connections": [{"from": "a", "from_port": "left", "to": "b"}, {"from": "b", "from_port": "left", "to": "c"}],
    }, check_configs=False)  # fmt: skip
    for spec, bad in ((Plain(), 2), (patched, 0), (Branching(), 2)):
        problems: list[Problem] = []
        graph._connection_problems(wf, dict.fromkeys(("a", "b", "c"), spec), "f", problems)
        old: list[Problem] = []
        _old_connection_problems(wf, dict.fromkeys(("a", "b", "c"), spec), "f", old)
        assert problems == old and len(problems) == bad
