"""The demo workflows, built in one place for tests, screenshots and benchmarks.

- The shipped examples (`app/resources/examples`, found through `app.paths.EXAMPLES` as the
  app finds them): the files are the source of truth, so the README's images
  (tests/app/runner/make_screenshots.py), the CLI and API tests and the benchmarks load
  them by name here instead of spelling out paths or keeping copies.
- `DEMO`, "Fetch and notify": the editor tests' workflow, as a processengine/1 document. It
  holds one of each kind of canvas item the tests drive (an error route, an `if` with two
  ports, a node with retries, a sticky note); `demo_workflow()` and `write_demo()` give it
  as a model or as a file.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from app.paths import EXAMPLES
from engine import fileformat
from engine.model import Workflow

__all__ = ["DEMO", "EXAMPLES", "demo_document", "demo_workflow", "example", "example_names", "example_path", "write_demo"]

DEMO = {
    "format": "processengine/1",
    "id": "c0a8e9f2-5d7b-4a5e-9a3c-1f1f3c2b7d10",
    "name": "Fetch and notify",
    "variables": {"base_url": "http://127.0.0.1:8080", "threshold": 2},
    "nodes": [
        {"id": "start", "type": "manual_trigger", "name": "Start", "position": [0, 0], "config": {}},
        {"id": "get", "type": "http_request", "name": "Get items", "position": [280, 0],
         "config": {"method": "GET", "url": "{{ vars.base_url }}/items", "timeout_s": 10},
         "retry": {"max_attempts": 4, "initial_delay_s": 0.5, "multiplier": 2.0, "max_delay_s": 30, "jitter": True},
         "on_error": "route"},
        {"id": "many", "type": "if", "name": "Many?", "position": [560, 0],
         "config": {"condition": "{{ len(input.body.items) > vars.threshold }}"}},
        {"id": "mail", "type": "send_email", "name": "Notify", "position": [840, 120],
         "config": {"smtp_host": "127.0.0.1", "from": "robot@example.com", "to": ["ops@example.com"], "subject": "hi"}},
        {"id": "log", "type": "set", "name": "Log error", "position": [560, 240], "config": {"values": {"error": "{{ input.message }}"}}},
    ],
    "connections": [
        {"from": "start", "from_port": "out", "to": "get", "to_port": "in"},
        {"from": "get", "from_port": "out", "to": "many", "to_port": "in"},
        {"from": "many", "from_port": "false", "to": "mail", "to_port": "in"},
        {"from": "get", "from_port": "error", "to": "log", "to_port": "in"},
    ],
    "notes": [{"id": "n1", "text": "Fetch the items", "position": [0, 160], "size": [220, 90]}],
}  # fmt: skip


def demo_document() -> dict[str, Any]:
    """A fresh copy of `DEMO` (a test may change it freely)."""
    return copy.deepcopy(DEMO)


def demo_workflow() -> Workflow:
    """`DEMO` as a model, parsed and checked like a file."""
    return fileformat.parse(demo_document())


def write_demo(path: Path) -> Path:
    """`DEMO` saved as a workflow file at `path` (as a user's file would look)."""
    path.write_text(json.dumps(DEMO, indent=2), encoding="utf-8")
    return path


def example_names() -> list[str]:
    """The shipped examples, by name (the file name without `.pe.json`)."""
    return sorted(p.name.removesuffix(".pe.json") for p in EXAMPLES.glob("*.pe.json"))


def example_path(name: str) -> Path:
    """The file of the shipped example `name` (e.g. "hello")."""
    path = EXAMPLES / f"{name}.pe.json"
    if not path.is_file():
        raise FileNotFoundError(f"no shipped example {name!r} in {EXAMPLES} (there are: {', '.join(example_names())})")
    return path


def example(name: str) -> Workflow:
    """The shipped example `name`, loaded as the app and the CLI load it."""
    return fileformat.load(example_path(name))
