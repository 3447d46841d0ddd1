"""Execute command: runs a program (an argv list, no shell) and outputs its result.

It runs with the user's own rights, outside any sandbox, so a workflow that has one
needs the user's trust (engine/trust.py), and it counts as a node with side effects.
The program runs in a session of its own; a time-out, pause or cancel kills it and
everything it started. A non-zero exit fails the node unless `allow_failure`.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from engine import trust
from engine.errors import NodeError
from engine.nodes import processes, registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, NodeSpec

MAX_OUTPUT_BYTES = 16 * 1024 * 1024
ERROR_TAIL_CHARS = 300


class ExecuteCommandConfig(NodeConfig):
    command: list[str] = Field(description="The program and its arguments (no shell), e.g. [\"git\", \"status\"].")
    cwd: str | None = Field(None, description="Working directory (default: the current one).")
    env: dict[str, str] = Field(default_factory=dict, description="Environment variables added to the current ones.")
    stdin: str | None = Field(None, description="Text written to the program's standard input.")
    timeout_s: float = Field(60.0, gt=0, description="Time limit, in seconds; the program is killed after it.")
    allow_failure: bool = Field(False, description="A non-zero exit code is output instead of failing the node.")

    @field_validator("command")
    @classmethod
    def _not_empty(cls, v: list[str]) -> list[str]:
        if not v or not v[0]:
            raise ValueError("command must name a program: a non-empty list such as [\"ls\", \"-l\"]")
        return v

    @field_validator("env", mode="before")
    @classmethod
    def _text_values(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: x if isinstance(x, str) else str(x).lower() if isinstance(x, bool) else str(x)
                    for k, x in v.items()}
        return v


def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        processes.kill_group(proc.pid)


async def _read_capped(stream: asyncio.StreamReader) -> bytes:
    """Everything until end of file, failing past MAX_OUTPUT_BYTES."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(65536):
        size += len(chunk)
        if size > MAX_OUTPUT_BYTES:
            raise NodeError(f"the command wrote more than {MAX_OUTPUT_BYTES // (1024 * 1024)} MB of output",
                            error_type="output_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


async def _communicate(proc: asyncio.subprocess.Process, stdin: str | None) -> tuple[bytes, bytes, int]:
    assert proc.stdout is not None and proc.stderr is not None
    if proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if stdin:
                proc.stdin.write(stdin.encode())
                await proc.stdin.drain()
            proc.stdin.close()
    reads = asyncio.gather(_read_capped(proc.stdout), _read_capped(proc.stderr))
    try:
        await processes.exited(proc)
        # the program ended: what it left running in its session would hold the pipes open
        processes.kill_group(proc.pid)
        out, err = await reads
    finally:
        reads.cancel()
    return out, err, await proc.wait()


class ExecuteCommandSpec(NodeSpec):
    type = "execute_command"
    title = "Execute command"
    category = "Actions"
    description = "Runs a program (argv list, no shell) and outputs {exit_code, stdout, stderr}. Needs trust."
    icon = "terminal"
    config_model = ExecuteCommandConfig
    side_effects = True

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: ExecuteCommandConfig = ctx.config
        if not trust.is_granted():
            raise NodeError(trust.refusal(ctx.node), error_type="untrusted")
        proc = await self._start(ctx, cfg)
        work = asyncio.ensure_future(_communicate(proc, cfg.stdin))
        watch = asyncio.ensure_future(ctx.sleep(cfg.timeout_s))
        try:
            done, _ = await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
            if work not in done:
                _kill(proc)
                watch.result()  # raises Interrupted on pause or cancel
                raise NodeError(f"{cfg.command[0]} ran longer than {cfg.timeout_s:g} s and was killed",
                                retryable=True, error_type="timeout")
            out, err, code = work.result()
        finally:
            _kill(proc)
            for task in (work, watch):
                task.cancel()
            await asyncio.gather(work, watch, return_exceptions=True)
            with contextlib.suppress(ProcessLookupError):
                await proc.wait()  # reap it
        stderr = err.decode("utf-8", "replace")
        result = {"exit_code": code, "stdout": out.decode("utf-8", "replace"), "stderr": stderr}
        ctx.log.info("%s exited with %d (%d bytes out, %d bytes err)", cfg.command[0], code, len(out), len(err))
        if code != 0 and not cfg.allow_failure:
            tail = stderr.strip()[-ERROR_TAIL_CHARS:]
            raise NodeError(f"{cfg.command[0]} exited with code {code}" + (f": {tail}" if tail else ""),
                            error_type="exit_code")
        return NodeResult.out(result)

    async def _start(self, ctx: NodeContext, cfg: ExecuteCommandConfig) -> asyncio.subprocess.Process:
        cwd = cfg.cwd
        try:
            return await asyncio.create_subprocess_exec(
                *cfg.command, cwd=cwd, env=processes.child_env(cfg.env),
                stdin=asyncio.subprocess.PIPE if cfg.stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
            )
        except FileNotFoundError as exc:
            missing = "working directory" if cwd and not Path(cwd).is_dir() else "program"
            raise NodeError(f"cannot run {cfg.command[0]!r}: {missing} not found ({exc.filename})",
                            error_type="not_found") from None
        except PermissionError as exc:
            raise NodeError(f"cannot run {cfg.command[0]!r}: permission denied ({exc.filename})",
                            error_type="permission") from None


SPEC = registry.register(ExecuteCommandSpec())
