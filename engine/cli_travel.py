"""`steps`, `state` and `diff`: travel through a stored execution from the command line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine import cli


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Any]:
    s = sub.add_parser("steps", parents=[common], help="every step (node attempt) of an execution, in order")
    s.add_argument("id", help="execution id")
    s.add_argument("--json", action="store_true", help="print a JSON array of steps")

    st = sub.add_parser("state", parents=[common], help="the execution's memory right after one step")
    st.add_argument("id", help="execution id")
    st.add_argument("--at", type=int, required=True, metavar="INDEX", help="step index (0 is the first; -1 the last)")
    st.add_argument("--json", action="store_true", help="print the state as JSON")

    d = sub.add_parser("diff", parents=[common], help="compare two executions node by node")
    d.add_argument("left", metavar="ID1", help="the first execution")
    d.add_argument("right", metavar="ID2", help="the execution to compare it with")
    d.add_argument("--json", action="store_true", help="print the comparison as JSON")
    return {"steps": cmd_steps, "state": cmd_state, "diff": cmd_diff}


def _history(service: Any) -> Any:
    from engine.travel import History

    return History(service.store, service.workflow_of)


def cmd_steps(args: argparse.Namespace) -> int:
    service = cli._service(args)
    try:
        steps = [s.to_json() for s in _history(service).steps(args.id)]
    finally:
        service.close()
    if args.json:
        cli._print_json(steps)
        return 0
    for s in steps:
        took = "" if s["duration_ms"] is None else f"{s['duration_ms']:.1f} ms"
        where = "" if s["thread_id"] == "main" else f"  [{s['thread_id']}]"
        sys.stdout.write(f"{s['index']:>6}  {s['node_id']}  #{s['attempt']}  {s['status']:<11} {took}{where}\n")
    return 0


def cmd_state(args: argparse.Namespace) -> int:
    service = cli._service(args)
    try:
        state = _history(service).state_at(args.id, args.at)
    finally:
        service.close()
    if args.json:
        cli._print_json(state)
        return 0
    step = state["step"]
    out = sys.stdout
    out.write(f"after step {state['index']} of {state['steps']}: {step['node_id']} #{step['attempt']} {step['status']}\n")
    out.write("node status:\n")
    for node, status in state["node_status"].items():
        out.write(f"  {node}: {status}\n")
    pending = ", ".join(f["node_id"] for f in state["stack"]) or "(empty)"
    out.write(f"next to run: {pending}\n")
    out.write(f"outputs of {len(state['outputs'])} node(s); variables: {', '.join(state['variables']) or '(none)'}\n")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from engine.rundiff import diff_executions

    service = cli._service(args)
    try:
        workflows = (service.workflow_of(args.left), service.workflow_of(args.right))
        result = diff_executions(_history(service), args.left, args.right, workflows)
    finally:
        service.close()
    if args.json:
        cli._print_json(result)
        return 0
    _print_diff(result)
    return 0


def _print_diff(result: dict[str, Any]) -> None:
    out = sys.stdout
    first = result["first_divergence"]
    if first is None and not result["differing"]:
        out.write("the two executions ran the same steps with the same results\n")
        return
    if first is not None:
        out.write(f"first divergence at step {first['index']}: {first['node_id']} ({first['reason']})\n")
    for node in result["differing"]:
        d = result["nodes"][node]
        lf, rf = d["left"], d["right"]
        out.write(f"{node}: {lf['status']} -> {rf['status']}")
        if not d["port_equal"]:
            out.write(f", branch {lf['port']} -> {rf['port']}")
        if lf["attempts"] != rf["attempts"]:
            out.write(f", attempts {lf['attempts']} -> {rf['attempts']}")
        out.write("\n")
        for change in d["output_diff"][:20]:
            out.write(f"    {change['kind']:<8} {change['path']}: {change['left']!r} -> {change['right']!r}\n")
