"""`Routing.descendants` walks the routing map itself; networkx's answer is the reference."""

from __future__ import annotations

import random
import subprocess
import sys

import networkx as nx
import pytest

from engine.graph import Routing
from tests.engine.runtime.helpers import workflow


def _reference(r: Routing, node_id: str, port: str) -> frozenset[str]:
    """networkx's descendants over the graph without loop back-edges (the old way)."""
    assert r._wf is not None
    dag: nx.MultiDiGraph[str] = nx.MultiDiGraph()
    dag.add_nodes_from(n.id for n in r._wf.nodes)
    for i, c in enumerate(r._wf.connections):
        if i not in r.back_edges:
            dag.add_edge(c.from_node, c.to_node)
    s: set[str] = set()
    for to_node, _, conn in r.out.get((node_id, port), ()):
        if conn not in r.back_edges:
            s.add(to_node)
            s |= nx.descendants(dag, to_node)
    s.discard(node_id)
    return frozenset(s)


def _node(node_id: str, kind: str) -> dict[str, object]:
    return {"id": node_id, "type": kind, **({"config": {"condition": "{{ true }}"}} if kind == "if" else {})}


@pytest.mark.parametrize("seed", range(40))
def test_descendants_match_networkx_on_random_graphs(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(2, 14)
    nodes = [{"id": "t", "type": "manual_trigger"}]
    nodes += [_node(f"n{i}", rng.choice(["set", "if", "merge"])) for i in range(n)]
    ids = [x["id"] for x in nodes]
    ports = {"manual_trigger": ["out"], "set": ["out"], "if": ["true", "false"], "merge": ["out"]}
    types = {x["id"]: x["type"] for x in nodes}
    conns = []
    for _ in range(rng.randint(1, 3 * n)):
        a, b = rng.choice(ids), rng.choice(ids[1:])  # cycles and self-loops included
        conns.append((a, rng.choice(ports[types[a]]), b))
    r = Routing.build(workflow(nodes, conns))
    for a in ids:
        for port in ports[types[a]]:
            assert r.descendants(a, port) == _reference(r, a, port), (seed, a, port)


def test_back_edges_of_a_loop_are_not_followed() -> None:
    nodes = [
        {"id": "t", "type": "manual_trigger"},
        {"id": "loop", "type": "loop", "config": {"items": "{{ [1, 2] }}"}},
        {"id": "body", "type": "set"},
        {"id": "after", "type": "set"},
    ]
    conns = [("t", "out", "loop"), ("loop", "loop", "body"), ("body", "out", "loop"), ("loop", "done", "after")]
    r = Routing.build(workflow(nodes, conns))
    assert r.back_edges
    assert r.descendants("loop", "loop") == {"body"} == _reference(r, "loop", "loop")
    assert r.descendants("loop", "done") == {"after"}


def test_a_skipped_branch_does_not_import_networkx() -> None:
    """The first skipped branch of a run used to import networkx in the middle of the run."""
    code = (
        "import sys\n"
        "from engine.graph import Routing\n"
        "from tests.engine.runtime.helpers import workflow\n"
        "wf = workflow([{'id': 't', 'type': 'manual_trigger'}, {'id': 'c', 'type': 'if', 'config': {'condition': '{{ true }}'}},"
        " {'id': 'a', 'type': 'set'}, {'id': 'b', 'type': 'set'}],"
        " [('t', 'out', 'c'), ('c', 'true', 'a'), ('c', 'false', 'b'), ('a', 'out', 'b')])\n"
        "assert Routing.build(wf).descendants('c', 'false') == {'b'}\n"
        "print('networkx' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
