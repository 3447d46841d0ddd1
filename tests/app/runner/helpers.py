"""A small real window hosting the runner (canvas + docks), and workflow builders."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QMainWindow

from app.canvas.scene import WorkflowScene
from app.canvas.view import CanvasView
from engine.fileformat import parse
from engine.model import Workflow


def workflow(nodes: list[dict[str, Any]], connections: list[tuple[str, ...]], *, wf_id: str = "wf-app", name: str = "app test") -> Workflow:
    """nodes: dicts (name defaults to id, position laid out left to right); connections: (from, port, to[, to_port])."""
    doc = {
        "format": "processengine/1",
        "id": wf_id,
        "name": name,
        "variables": {},
        "nodes": [
            {"name": n["id"], "config": {}, "position": [i * 260, (i % 2) * 90], **n} for i, n in enumerate(nodes)
        ],
        "connections": [
            {"from": c[0], "from_port": c[1], "to": c[2], "to_port": c[3] if len(c) > 3 else "in"} for c in connections
        ],
    }
    return parse(doc)


# How long a test waits for a run to end and the panels to show it, in ms. It only bounds a
# failure: a passing wait returns as soon as its condition holds (about 0.1-1 s on an idle
# machine). On two loaded cores the first run of a test, with a fresh store to migrate, took
# up to 18 s (measured beside three CPU burners), past the 5 and 10 s bounds used before.
RUN_MS = 30_000


def http_retry_workflow(url: str) -> Workflow:
    """start -> get (HTTP, 4 attempts, short back-off) -> check (if) -> ok / no."""
    return workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {
                "id": "get",
                "type": "http_request",
                "name": "Get items",
                "config": {"method": "GET", "url": url, "timeout_s": 5},
                "retry": {"max_attempts": 4, "initial_delay_s": 0.6, "multiplier": 1.5, "max_delay_s": 5, "jitter": False},
            },
            {"id": "check", "type": "if", "name": "Many?", "config": {"condition": "{{ len(input.body['items']) > 1 }}"}},
            {"id": "yes", "type": "set", "name": "Many", "config": {"values": {"n": "{{ len(nodes['Get items'].body['items']) }}"}}},
            {"id": "no", "type": "set", "name": "Few", "config": {"values": {"n": 0}}},
        ],
        [("start", "out", "get"), ("get", "out", "check"), ("check", "true", "yes"), ("check", "false", "no")],
    )


def wait_workflow(seconds: float = 0.6) -> Workflow:
    return workflow(
        [
            {"id": "start", "type": "manual_trigger", "name": "Start"},
            {"id": "a", "type": "set", "name": "Prepare", "config": {"values": {"x": 1}}},
            {"id": "w", "type": "wait", "name": "Wait", "config": {"seconds": seconds}},
            {"id": "b", "type": "set", "name": "Finish", "config": {"values": {"y": 2}, "keep_input": True}},
        ],
        [("start", "out", "a"), ("a", "out", "w"), ("w", "out", "b")],
        wf_id="wf-wait",
        name="wait test",
    )


class HostWindow(QMainWindow):
    """A real main window with a canvas, implementing `app.runner.host.RunnerHost`."""

    def __init__(self, wf: Workflow | None, path: str | None = None) -> None:
        super().__init__()
        self._scene = WorkflowScene()
        self._view = CanvasView(self._scene)
        self.setCentralWidget(self._view)
        self.wf = wf
        self.path = path
        self.read_only = False
        self.shown_workflows: list[Workflow] = []
        if wf is not None:
            self._scene.bind(wf)
        self.resize(1200, 700)

    # RunnerHost
    def window(self) -> QMainWindow:
        return self

    def current_workflow(self) -> Workflow | None:
        return self.wf

    def current_file(self) -> str | None:
        return self.path

    def scene(self) -> WorkflowScene:
        return self._scene

    def view(self) -> CanvasView:
        return self._view

    def show_workflow(self, workflow: Workflow) -> None:
        self.shown_workflows.append(workflow)
        self.wf = workflow
        self._scene.bind(workflow)

    def set_read_only(self, read_only: bool) -> None:
        self.read_only = read_only

    def select_node(self, node_id: str) -> None:
        self._scene.select_nodes([node_id])
