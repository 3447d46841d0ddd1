"""The contract between the runtime and node types.

A node type is a `NodeSpec`: a pydantic config schema, its ports, whether it
has side effects, its default retry preset, and `async run(ctx, value)`. The
runtime renders `{{ }}` expressions in the config, validates the result against
the schema and hands it to `run` as `ctx.config`; `run` returns a `NodeResult`
(a JSON value on one or more output ports). Node modules never touch the stack.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from engine.recorded_io import RunIO, keep_pending, recording

if TYPE_CHECKING:
    from engine.model import Node, Workflow

__all__ = [
    "ContextHost", "ContextScope", "Interrupted", "NodeConfig", "NodeContext", "NodeResult", "NodeServices", "NodeSpec",
    "SyncNodeSpec",
]

_new = object.__new__


class NodeConfig(BaseModel):
    """Base of every config schema: unknown keys are errors (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid")


@dataclass(slots=True)
class NodeResult:
    """What a node produced: port name -> JSON value, in the order the branches should run."""

    outputs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def out(cls, value: Any, port: str = "out") -> NodeResult:
        return cls({port: value})


class Interrupted(Exception):
    """Raised inside a node when the run is paused or cancelled during a wait."""

    def __init__(self, reason: str) -> None:  # "pause" | "cancel"
        super().__init__(reason)
        self.reason = reason


@dataclass
class NodeServices:
    """What the hosting runtime lends to nodes (so node modules stay free of runtime internals).

    - `http_client()`: the run's shared httpx.AsyncClient (created lazily, closed at run end).
    - `credential(name)`: resolve a named credential (env vars first, then the OS keyring); never logged.
    - `run_sub_workflow(ctx, workflow, inputs)`: run a child thread, return its final output.
    - `respond(status, body, headers)`: set the webhook response of this execution.
    - `load_workflow(ref)`: load a workflow by file path (relative to the parent file) or `id:<workflow id>`.
    - `resources`: objects a node type keeps for the whole run (e.g. the code node's V8
      isolate), by key; the runtime calls `close()` on each when the run ends.
    - `workflow_dir()`: the folder of the run's workflow file (None for a workflow never saved);
      file nodes resolve relative paths against it.
    - `io`: the run's recorded-I/O modes (capture email, replay) and unwritten recordings.
    """

    http_client: Callable[[], Any]
    credential: Callable[[str], dict[str, str]]
    run_sub_workflow: Callable[..., Awaitable[Any]]
    respond: Callable[[int, Any, dict[str, str] | None], None]
    load_workflow: Callable[[str], Workflow]
    resources: dict[str, Any] = field(default_factory=dict)
    workflow_dir: Callable[[], Path | None] = lambda: None
    io: RunIO = field(default_factory=RunIO)

    def close_resources(self) -> None:
        """Close what nodes kept for the run; one failing to close does not stop the others."""
        while self.resources:
            _, resource = self.resources.popitem()
            try:
                resource.close()
            except Exception:
                logging.getLogger("engine.runtime").debug("closing a run resource failed", exc_info=True)

    def end(self) -> None:
        """The run ended: close its resources and let go of the runtime's callables. They are
        its bound methods (a reference cycle through the runtime), so without this a finished
        run, its record and every output in it would wait for the garbage collector."""
        self.close_resources()
        self.http_client = self.credential = self.run_sub_workflow = self.respond = self.load_workflow = self.workflow_dir = _run_ended


def _run_ended(*_args: Any, **_kw: Any) -> Any:
    raise RuntimeError("the run these services were lent to has ended")


class ContextHost(Protocol):
    """What a context asks for its logger and its `evaluate` on first use (the runtime's
    per-attempt state): most nodes use neither, so neither is made for them."""

    def node_log(self) -> logging.LoggerAdapter:  # type: ignore[type-arg]
        ...

    def evaluate(self, expression: str, extra: dict[str, Any] | None = None) -> Any:
        ...


class ContextScope:
    """What every context of one thread of one run shares (made once per thread by the
    runtime, not once per attempt)."""

    __slots__ = ("execution_id", "outputs_by_name", "services", "sleep", "thread_id", "variables")

    def __init__(
        self,
        execution_id: str,
        thread_id: str,
        variables: dict[str, Any],
        outputs_by_name: dict[str, Any],
        services: NodeServices,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.execution_id = execution_id
        self.thread_id = thread_id
        self.variables = variables
        self.outputs_by_name = outputs_by_name
        self.services = services
        self.sleep = sleep


class NodeContext:
    """Everything one attempt of one node may use.

    - `config`: the node type's validated config model (expressions already rendered);
      `raw_config`: the rendered config as plain data.
    - `sleep(seconds)`: interruptible: raises Interrupted on pause/cancel.
    - `log`: the node's logger; `evaluate(expression, extra)`: an expression with extra names.
      Either is given, or made on first use by the `host`.
    - `state`: node-private state kept with the node's frame when a pause interrupts it,
      handed back on resume (JSON values only): e.g. the wait node's deadline.
    - `execution_id`, `thread_id`, `variables`, `outputs_by_name`, `services`, `sleep`:
      the run's, read from a `ContextScope` the thread's contexts share.
    """

    __slots__ = ("_evaluate", "_host", "_log", "_scope", "attempt", "config", "node", "raw_config", "state")

    def __init__(
        self,
        *,
        node: Node,
        config: Any,
        raw_config: dict[str, Any],
        execution_id: str,
        thread_id: str,
        attempt: int,
        variables: dict[str, Any],
        outputs_by_name: dict[str, Any],
        services: NodeServices,
        sleep: Callable[[float], Awaitable[None]],
        log: logging.LoggerAdapter | None = None,  # type: ignore[type-arg]
        evaluate: Callable[[str, dict[str, Any] | None], Any] | None = None,
        state: dict[str, Any] | None = None,
        host: ContextHost | None = None,
    ) -> None:
        if (log is None or evaluate is None) and host is None:
            raise TypeError("NodeContext needs `log` and `evaluate`, or a `host` that makes them")
        self._scope = ContextScope(execution_id, thread_id, variables, outputs_by_name, services, sleep)
        self.node = node
        self.config = config
        self.raw_config = raw_config
        self.attempt = attempt
        self._log = log
        self._evaluate = evaluate
        self.state = {} if state is None else state
        self._host = host

    @classmethod
    def of_attempt(
        cls, scope: ContextScope, node: Node, config: Any, raw_config: dict[str, Any], attempt: int,
        state: dict[str, Any], host: ContextHost,
    ) -> NodeContext:
        """The runtime's way to make one: positional, with the thread's shared scope (a
        context per node attempt; keyword arguments and a scope each made a third of a node step)."""
        ctx = _new(cls)
        ctx._scope = scope
        ctx.node = node
        ctx.config = config
        ctx.raw_config = raw_config
        ctx.attempt = attempt
        ctx.state = state
        ctx._host = host
        ctx._log = ctx._evaluate = None
        return ctx

    @property
    def execution_id(self) -> str:
        return self._scope.execution_id

    @property
    def thread_id(self) -> str:
        return self._scope.thread_id

    @property
    def variables(self) -> dict[str, Any]:
        return self._scope.variables

    @property
    def outputs_by_name(self) -> dict[str, Any]:
        return self._scope.outputs_by_name

    @property
    def services(self) -> NodeServices:
        return self._scope.services

    @property
    def sleep(self) -> Callable[[float], Awaitable[None]]:
        return self._scope.sleep

    def __repr__(self) -> str:
        return f"NodeContext(node={self.node.id!r}, thread_id={self.thread_id!r}, attempt={self.attempt})"

    @property
    def log(self) -> logging.LoggerAdapter:  # type: ignore[type-arg]
        got = self._log
        if got is None:
            got = self._log = self._host.node_log()  # type: ignore[union-attr]  # checked in __init__
        return got

    @log.setter
    def log(self, value: logging.LoggerAdapter) -> None:  # type: ignore[type-arg]
        self._log = value

    @property
    def evaluate(self) -> Callable[[str, dict[str, Any] | None], Any]:
        """`evaluate(expression, extra)`: an expression over the node's names (its input,
        `nodes`, `vars`, ...) plus `extra` (e.g. a list item)."""
        got = self._evaluate
        return got if got is not None else self._host.evaluate  # type: ignore[union-attr]  # checked in __init__

    @evaluate.setter
    def evaluate(self, value: Callable[[str, dict[str, Any] | None], Any]) -> None:
        self._evaluate = value

    def record_io(
        self,
        kind: str,
        request: dict[str, Any],
        response: dict[str, Any] | None,
        *,
        captured: bool = False,
        replayed: bool = False,
        mismatch: list[str] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        """Keep what this attempt sent and got (already redacted by the caller; `secrets`
        are scrubbed from it all); the checkpointer stores it with the attempt."""
        key = (self.thread_id, self.node.id, self.attempt)
        rec = recording(
            kind, request, response, captured=captured, replayed=replayed, mismatch=mismatch, secrets=secrets
        )
        keep_pending(self.services.io, key, rec)

    def replayed_io(self) -> dict[str, Any] | None:
        """The recording that answers this node in a replaying re-run (None: run for real)."""
        return self.services.io.replay_answer(self.node.id, self.attempt)


class NodeSpec:
    """Describes one node type. Subclass per type and register an instance in the registry."""

    type: ClassVar[str]
    title: ClassVar[str]
    category: ClassVar[str] = "Data"  # Triggers | Flow | Data | Network | Actions
    description: ClassVar[str] = ""
    icon: ClassVar[str] = "node"  # app/resources/icons/<icon>.svg
    config_model: ClassVar[builtins.type[NodeConfig]] = NodeConfig  # `type` is the node type name here
    is_trigger: ClassVar[bool] = False
    side_effects: ClassVar[bool] = False  # re-running it changes the world (email, POST, respond)
    pure: ClassVar[bool] = False  # same input -> same output; checkpoints may be group-committed
    sync: ClassVar[bool] = False  # `run_now` does the work without waiting (`SyncNodeSpec`)
    default_retry: ClassVar[str] = "none"  # preset name used when the node has no `retry`
    kind: ClassVar[str] = "plain"  # plain | loop | merge | sub_workflow (the runtime's special cases)
    fields_not_rendered: ClassVar[tuple[str, ...]] = ()  # config keys the runtime leaves as text
    # config keys the node evaluates once per list item, with `item` and `index` added to the
    # names (engine.nodes.items); editors preview them with the first item of the input
    item_fields: ClassVar[tuple[str, ...]] = ()

    def input_ports(self, node: Node) -> list[str]:
        return [] if self.is_trigger else ["in"]

    def base_output_ports(self, node: Node) -> list[str]:
        return ["out"]

    def output_ports(self, node: Node) -> list[str]:
        ports = list(self.base_output_ports(node))
        if node.on_error == "route" and "error" not in ports:
            ports.append("error")
        return ports

    def has_side_effects(self, node: Node) -> bool:
        return self.side_effects

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def run_now(self, ctx: NodeContext, value: Any) -> NodeResult:  # pragma: no cover - abstract
        """The work of a type that never waits (`sync`): see `SyncNodeSpec`."""
        raise NotImplementedError


class SyncNodeSpec(NodeSpec):
    """A node type whose work never waits (no I/O, no sleep): it writes `run_now`, and `run`
    is `run_now` made awaitable. The runtime calls `run_now` itself when nothing it would
    await is subscribed: a node step with no coroutine in it. A subclass that writes its own
    `run` is run by it (`sync` false)."""

    sync = True

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        cls.sync = cls.run is SyncNodeSpec.run

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:
        return self.run_now(ctx, value)
