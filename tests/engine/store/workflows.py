"""Workflows the store and durability tests run (built as data, validated like files)."""

from __future__ import annotations

from typing import Any

from engine.model import Workflow
from tests.engine.runtime.helpers import workflow


def http_out(value: Any) -> Any:
    """An output with HTTP response headers dropped (Date changes from run to run)."""
    if isinstance(value, dict) and "headers" in value and "status" in value:
        return {k: v for k, v in value.items() if k != "headers"}
    return value


def comparable(outputs: dict[str, Any]) -> dict[str, Any]:
    return {k: http_out(v) for k, v in outputs.items()}


def mixed() -> Workflow:
    """Set, loop, wait, if, merge: every piece of resumable state (loops, waiting map)."""
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "a", "type": "set", "config": {"values": {"n": 3}}},
            {"id": "each", "type": "loop", "config": {"items": "{{ [1, 2, 3, 4] }}"}},
            {"id": "body", "type": "set", "config": {"values": {"sq": "{{ loop.item * loop.item }}"}}},
            {"id": "w", "type": "wait", "config": {"seconds": 0}},
            {"id": "chk", "type": "if", "config": {"condition": "{{ len(input) > 2 }}"}},
            {"id": "yes", "type": "set", "config": {"values": {"big": True}, "keep_input": False}},
            {"id": "no", "type": "set", "config": {"values": {"big": False}}},
            {"id": "fan", "type": "set", "config": {"values": {"side": "{{ nodes.a.n }}"}}},
            {"id": "m", "type": "merge", "config": {}},
            {"id": "end", "type": "set", "config": {"values": {"all": "{{ input }}"}}},
        ],
        [
            ("start", "out", "a"),
            ("a", "out", "each"),
            ("each", "loop", "body"),
            ("body", "out", "w"),
            ("w", "out", "each"),
            ("each", "done", "chk"),
            ("chk", "true", "yes"),
            ("chk", "false", "no"),
            ("a", "out", "fan"),
            ("yes", "out", "m"),
            ("no", "out", "m"),
            ("fan", "out", "m"),
            ("m", "out", "end"),
        ],
    )


def steps(url_for: Any, n: int = 3, wait_s: float = 0.05) -> Workflow:
    """start -> (set -> wait -> POST /step/i) x n -> set: side effects between pure nodes."""
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "manual_trigger"}]
    conns: list[tuple[str, str, str]] = []
    prev = "start"
    for i in range(1, n + 1):
        nodes += [
            {"id": f"s{i}", "type": "set", "config": {"values": {"i": i, "seen": "{{ input['body'] if 'body' in input else None }}"}}},
            {"id": f"w{i}", "type": "wait", "config": {"seconds": wait_s}},
            {
                "id": f"p{i}",
                "type": "http_request",
                "config": {"method": "POST", "url": url_for(f"/step/{i}"), "json": "{{ input.i }}"},
                "retry": "none",
            },
        ]
        conns += [(prev, "out", f"s{i}"), (f"s{i}", "out", f"w{i}"), (f"w{i}", "out", f"p{i}")]
        prev = f"p{i}"
    nodes.append({"id": "end", "type": "set", "config": {"values": {"body": "{{ input.body }}"}}})
    conns.append((prev, "out", "end"))
    return workflow(nodes, conns)


def waits(n: int, seconds: float = 0.0) -> Workflow:
    """A chain of `wait` nodes (not pure: each one is committed on its own)."""
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "manual_trigger"}]
    conns = []
    prev = "start"
    for i in range(1, n + 1):
        nodes.append({"id": f"w{i}", "type": "wait", "config": {"seconds": seconds}})
        conns.append((prev, "out", f"w{i}"))
        prev = f"w{i}"
    return workflow(nodes, conns)


def napping(seconds: float) -> Workflow:
    """start -> wait `seconds` -> set: a run that stays `running` for a while."""
    return workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "nap", "type": "wait", "config": {"seconds": seconds}},
            {"id": "done", "type": "set", "config": {"values": {"ok": True}}},
        ],
        [("start", "out", "nap"), ("nap", "out", "done")],
    )
