"""Run one node type's `run()` directly, with real services.

`NodeHarness` builds a real `NodeContext`: the run's shared httpx client
(`engine.http_client.SharedHttpClient`), the real credential resolver, a
`respond()` that records what it was given, the runtime's interruptible sleep
(`RunControl.sleep`, so tests can pause/cancel it), the real expression
evaluator, a file loader for sub-workflows and the in-memory runner for
child runs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from engine import expressions, fileformat
from engine.credentials import resolve_credential
from engine.http_client import SharedHttpClient
from engine.model import Node, Workflow
from engine.nodes import registry
from engine.nodes.base import NodeContext, NodeResult, NodeServices
from engine.runtime.control import RunControl

log = logging.getLogger("tests.nodes")


class NodeHarness:
    def __init__(self, base_dir: Path | None = None) -> None:
        self.control = RunControl()
        self.http = SharedHttpClient()
        self.responses: list[tuple[int, Any, dict[str, str] | None]] = []
        self.sub_runs: list[tuple[str, Any]] = []  # (child workflow name, inputs)
        self.base_dir = base_dir or Path.cwd()
        self.services = NodeServices(
            http_client=self.http.get,
            credential=resolve_credential,
            run_sub_workflow=self._run_sub_workflow,
            respond=self._respond,
            load_workflow=self._load_workflow,
            workflow_dir=lambda: self.base_dir,
        )

    def _respond(self, status: int, body: Any, headers: dict[str, str] | None) -> None:
        self.responses.append((status, body, headers))

    def _load_workflow(self, ref: str) -> Workflow:
        """A file path relative to `base_dir`, or `id:<id>` of a `*.pe.json` file there."""
        if ref.startswith("id:"):
            for candidate in sorted(self.base_dir.glob("*.pe.json")):
                wf = fileformat.load(candidate)
                if wf.id == ref[3:]:
                    return wf
            raise FileNotFoundError(f"no workflow with id {ref[3:]!r} in {self.base_dir}")
        path = Path(ref) if Path(ref).is_absolute() else self.base_dir / ref
        if path.is_file():
            return fileformat.load(path)
        for candidate in sorted(self.base_dir.glob("*.pe.json")):
            wf = fileformat.load(candidate)
            if wf.id == ref:
                return wf
        raise FileNotFoundError(f"no workflow file or id {ref!r} in {self.base_dir}")

    async def _run_sub_workflow(self, ctx: NodeContext, workflow: Workflow, inputs: Any) -> Any:
        from engine.runtime.runner import run_workflow

        self.sub_runs.append((workflow.name, inputs))
        record = await run_workflow(workflow, inputs)
        if record.status != "completed":
            raise RuntimeError(f"child run ended {record.status}: {record.main.error}")
        return record.main.last_output

    def node(self, node_type: str, config: dict[str, Any], *, node_id: str = "n1",
             name: str | None = None, on_error: str = "fail") -> Node:
        return Node(id=node_id, type=node_type, name=name or node_id, config=config, on_error=on_error)

    def context(self, node: Node, *, value: Any = None, attempt: int = 1,
                variables: dict[str, Any] | None = None) -> NodeContext:
        """Validate `node.config` (already "rendered": tests pass plain values) and build a context."""
        spec = registry.get_spec(node.type)
        cfg = spec.config_model.model_validate(node.config)
        variables = dict(variables or {})

        def evaluate(expr: str, extra: dict[str, Any] | None = None) -> Any:
            names = {"input": value, "vars": variables, "nodes": {}, **(extra or {})}
            return expressions.evaluate(expr, names, node_id=node.id)

        return NodeContext(
            node=node,
            config=cfg,
            raw_config=dict(node.config),
            execution_id="test-execution",
            thread_id="main",
            attempt=attempt,
            variables=variables,
            outputs_by_name={},
            services=self.services,
            sleep=self.control.sleep,
            log=logging.LoggerAdapter(log, {"node_id": node.id}),
            evaluate=evaluate,
        )

    async def run(self, node_type: str, config: dict[str, Any], value: Any = None, **node_kw: Any) -> NodeResult:
        """Validate the config, then call the spec's run() once, like one attempt of the runtime."""
        node = self.node(node_type, config, **node_kw)
        return await registry.get_spec(node_type).run(self.context(node, value=value), value)

    async def aclose(self) -> None:
        self.services.close_resources()
        await self.http.aclose()
