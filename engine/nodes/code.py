"""Code: a function body in JavaScript (sandboxed V8) or Python (a child process).

The body sees `input`, `vars`, `nodes` (node name -> latest output), `execution` and
`loop` (inside a loop body, else null) and `return`s the node's output, a JSON value.
JavaScript also gets n8n's names (`$json`, `$input`, `$('Name')`, `$node`, `$vars`,
`items`) so code imported from n8n runs; `console.log` lines become the node's log lines.
Python is not a sandbox: it needs the user's trust (engine/trust.py), and it may
change the world, so it counts as a node with side effects.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from engine import trust
from engine.errors import ExpressionError, NodeError
from engine.model import Node
from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, NodeSpec

__all__ = [
    "ISOLATE_KEY",
    "LOG_LEVELS",
    "SPEC",
    "CodeConfig",
    "CodeRun",
    "CodeSpec",
    "code_names",
    "reads_nodes_by_computed_name",
    "run_once",
]

ISOLATE_KEY = "code.js_isolate"
# console method -> logging level
LOG_LEVELS = {"debug": 10, "log": 20, "info": 20, "warn": 30, "error": 40}


class CodeConfig(NodeConfig):
    language: Literal["javascript", "python"] = Field(
        "javascript", description="javascript (sandboxed V8) or python (a child process; needs trust)."
    )
    code: str = Field(
        "return input;",
        description="A function body that `return`s the output; sees input, vars, nodes, execution, loop.",
    )
    timeout_s: float = Field(10.0, gt=0, le=3600, description="Time limit of one call, in seconds.")
    memory_mb: int = Field(128, ge=16, le=65536, description="Memory limit (V8 heap / the child's address space), in MB.")


# `nodes`, `$node` or `$(` where they start; what follows decides whether the name is literal
_NODE_REFS = re.compile(r"(?<![\w$.])(?:nodes|\$node)(?![\w$])|(?<![\w$.])\$\(")
_LITERAL_ACCESS = re.compile(r"""\s*(?:\.\s*[A-Za-z_$][\w$]*(?![\w$]|\s*\()|\[\s*['"`]|\.get\(\s*['"])""")
_LITERAL_CALL = re.compile(r"""\s*['"`]""")


def reads_nodes_by_computed_name(code: str) -> bool:
    """True unless every use of `nodes` / `$node` / `$(...)` names a node literally."""
    for m in _NODE_REFS.finditer(code):
        follow = _LITERAL_CALL if m.group(0) == "$(" else _LITERAL_ACCESS
        if not follow.match(code, m.end()):
            return True
    return False


def code_names(ctx: NodeContext, value: Any, code: str = "") -> dict[str, Any]:
    """The names the code sees, as plain JSON data.

    `nodes` carries only the outputs of the nodes whose name the code mentions, unless
    it reads `nodes` by a computed name (then all of them): a long chain would
    otherwise copy every earlier output into every call.
    """
    names: dict[str, Any] = {"input": value, "vars": ctx.variables, "nodes": {},
                             "execution": {"id": ctx.execution_id}, "loop": None}
    for key in ("nodes", "execution", "loop"):
        with contextlib.suppress(ExpressionError):  # `loop` outside a loop body
            names[key] = ctx.evaluate(key, None)
    if not reads_nodes_by_computed_name(code):
        names["nodes"] = {k: v for k, v in names["nodes"].items() if k in code}
    return names


async def _interruptible(ctx: NodeContext, work: Any, timeout_s: float) -> Any:
    """Await `work` (which has its own time limit), but stop it at once on pause or cancel."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(ctx.sleep(timeout_s + 5))
    try:
        done, _ = await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
        if task not in done:
            watch.result()  # raises Interrupted on pause or cancel
        return await task  # the watch ended without a pause or cancel: the work decides
    finally:
        for t in (task, watch):
            t.cancel()
        await asyncio.gather(task, watch, return_exceptions=True)


class CodeSpec(NodeSpec):
    type = "code"
    title = "Code"
    category = "Data"
    description = (
        "Runs a function body in JavaScript (sandboxed) or Python (needs trust) and outputs "
        "what it returns."
    )
    icon = "code"
    config_model = CodeConfig
    fields_not_rendered = ("code",)

    def has_side_effects(self, node: Node) -> bool:
        config = node.config if isinstance(node.config, dict) else {}
        language: object = config.get("language", "javascript")
        return language != "javascript"

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: CodeConfig = ctx.config
        names = code_names(ctx, value, cfg.code)
        if cfg.language == "javascript":
            return NodeResult.out(await _run_js(ctx, cfg, names))
        if not trust.is_granted():
            raise NodeError(trust.refusal(ctx.node), error_type="untrusted")
        from engine.nodes.py_runner import run_python

        try:
            result = await run_python(
                cfg.code, names, timeout_s=cfg.timeout_s, memory_mb=cfg.memory_mb, sleep=ctx.sleep,
                log=lambda text: ctx.log.info("print: %s", text, extra={"source": "print"}),
            )
        except NodeError as exc:
            raise _located(exc, ctx, "Python") from None
        return NodeResult.out(result)


def _located(exc: Any, ctx: NodeContext, language: str) -> NodeError:
    """The code's error, saying which node's code and which line (`line` stays on it)."""
    err = NodeError(f"{language} code of node {ctx.node.name!r}: {exc.message}", error_type=exc.error_type)
    err.line = getattr(exc, "line", None)  # type: ignore[attr-defined]
    return err


async def _run_js(ctx: NodeContext, cfg: CodeConfig, names: dict[str, Any]) -> Any:
    from engine.nodes.js_runtime import JsCodeError, JsIsolate, unwrap_n8n_items

    isolate = ctx.services.resources.get(ISOLATE_KEY)
    if isolate is None:
        isolate = ctx.services.resources[ISOLATE_KEY] = JsIsolate()
    try:
        result = await _interruptible(
            ctx, isolate.call(cfg.code, names, timeout_s=cfg.timeout_s, memory_mb=cfg.memory_mb),
            cfg.timeout_s,
        )
    except NodeError as exc:
        if isinstance(exc, JsCodeError):
            _log_console(ctx, exc.logs, 0)
        raise _located(exc, ctx, "JavaScript") from None
    _log_console(ctx, result.logs, result.dropped)
    return unwrap_n8n_items(result.value)


def _log_console(ctx: NodeContext, lines: list[tuple[str, str]], dropped: int) -> None:
    for method, text in lines:
        ctx.log.log(LOG_LEVELS.get(method, 20), "console.%s: %s", method, text, extra={"source": "console"})
    if dropped:
        ctx.log.warning("console: %d more lines not logged", dropped)


SPEC = registry.register(CodeSpec())


@dataclass(slots=True, kw_only=True)
class CodeRun:
    """One call made outside a workflow run (the editor's Test button)."""

    value: Any = None
    error: str | None = None
    line: int | None = None
    logs: list[str] = field(default_factory=list)


async def run_once(config: dict[str, Any], names: dict[str, Any]) -> CodeRun:
    """Run a code node's config once on the given names, with its limits; never raises
    for the code's own faults. Python still needs `trust.granted()` around the call."""
    from pydantic import ValidationError

    from engine.nodes.js_runtime import JsCodeError, JsIsolate, unwrap_n8n_items
    from engine.nodes.py_runner import run_python

    logs: list[str] = []
    try:
        cfg = CodeConfig.model_validate(config)
        if cfg.language == "javascript":
            isolate = JsIsolate()
            try:
                result = await isolate.call(cfg.code, names, timeout_s=cfg.timeout_s, memory_mb=cfg.memory_mb)
            except JsCodeError as exc:
                logs += [f"console.{level}: {text}" for level, text in exc.logs]
                raise
            finally:
                isolate.close()
            logs += [f"console.{level}: {text}" for level, text in result.logs]
            return CodeRun(value=unwrap_n8n_items(result.value), logs=logs)
        if not trust.is_granted():
            raise NodeError("Python code runs outside the sandbox: trust the workflow first", error_type="untrusted")
        value = await run_python(cfg.code, names, timeout_s=cfg.timeout_s, memory_mb=cfg.memory_mb,
                                 sleep=asyncio.sleep, log=lambda text: logs.append(f"print: {text}"))
        return CodeRun(value=value, logs=logs)
    except NodeError as exc:
        return CodeRun(error=exc.message, line=getattr(exc, "line", None), logs=logs)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field_name = ".".join(str(p) for p in first["loc"])
        return CodeRun(error=f"config.{field_name}: {first['msg']}")
