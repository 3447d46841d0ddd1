"""JavaScript for the code node: one V8 isolate (mini-racer) per run, reused by every call.

V8 alone has no file, network or process API, and mini-racer exposes no host function
to the code we run, so the isolate is a sandbox as it stands. `js_prelude.js` removes
timers, Atomics, SharedArrayBuffer, WebAssembly and FinalizationRegistry and freezes every built-in object
and the global object before any workflow code runs: mini-racer gives one context per
isolate, so instead of a fresh global per call, nothing a call could change is left
writable, and a node's code cannot be seen by a later node. Each call compiles the
node's code with the Function constructor (so no brace in it can leave its function),
passes the names as JSON and takes the result back as JSON text.

The isolate's heap limit is the node's `memory_mb`; its time limit is `timeout_s`
(the evaluation is cancelled, which terminates the JavaScript). After a time-out,
an exhausted heap or a syntax check that parsed, the isolate is thrown away and the
next call gets a new one.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import NodeError

# the code's parameters, in the order js_prelude.js's makeArgs passes them
PARAMS = (
    "input", "vars", "nodes", "execution", "loop",
    "$json", "$input", "$", "$node", "$vars", "$execution", "items", "console",
)
PRELUDE = (Path(__file__).with_name("js_prelude.js")).read_text(encoding="utf-8")
MAX_OUTPUT_CHARS = 16 * 1024 * 1024
LINES_TIMEOUT_S = 0.25
BODY_LINE_OFFSET = 3  # "async function anonymous(...\n) {\n" + '"use strict";\n'
_FRAME_LINE = re.compile(r"<anonymous>:(\d+):(\d+)\)")
_PARSE_LINE = re.compile(r"<anonymous>:(\d+):")
_PARAMS_JSON = json.dumps(list(PARAMS))
_AWAIT = re.compile(r"\bawait\b")


@dataclass(slots=True, kw_only=True)
class JsResult:
    """A call's value and what it printed: (console method, text) lines."""

    value: Any
    logs: list[tuple[str, str]] = field(default_factory=list)
    dropped: int = 0


class JsCodeError(NodeError):
    """The code threw, did not compile or returned something that is not JSON."""

    def __init__(self, message: str, *, line: int | None, logs: list[tuple[str, str]] | None = None,
                 error_type: str = "CodeError") -> None:
        super().__init__(message, error_type=error_type)
        self.line = line
        self.logs = logs or []


class JsIsolate:
    """One V8 isolate, made on first use on the running event loop and reused until closed."""

    def __init__(self) -> None:
        self._racer: Any = None

    def _get(self) -> Any:
        if self._racer is None:
            from py_mini_racer import MiniRacer

            racer = MiniRacer()  # binds to the running loop: calls never block it
            racer.eval(PRELUDE)
            self._racer = racer
        return self._racer

    def close(self) -> None:
        racer, self._racer = self._racer, None
        if racer is not None:
            racer.close()

    async def call(self, code: str, names: dict[str, Any], *, timeout_s: float, memory_mb: int) -> JsResult:
        """Run `code` (a function body) with `names`; raises JsCodeError or NodeError."""
        from py_mini_racer import JSEvalException, JSOOMException

        racer = self._get()
        names_json = json.dumps(names, allow_nan=False)
        token = secrets.token_hex(16)
        is_async = "true" if _AWAIT.search(code) else "false"
        script = (f'__pe_run("{token}", {json.dumps(code)}, {_PARAMS_JSON}, {json.dumps(names_json)}, '
                  f"{is_async})")
        racer.set_hard_memory_limit(memory_mb * 1024 * 1024)
        try:
            async with asyncio.timeout(timeout_s):
                await racer.eval_cancelable(script)
                # the promise jobs the call queued have run (and were timed) by now
                text = await racer.eval_cancelable(f'__pe_take("{token}")')
        except TimeoutError:
            raise JsCodeError(f"the code ran longer than its time limit of {timeout_s:g} s and was stopped",
                              line=None, logs=await self._lines_then_close(token), error_type="timeout") from None
        except JSOOMException:
            raise JsCodeError(f"the code used more than its memory limit of {memory_mb} MB and was stopped",
                              line=None, logs=await self._lines_then_close(token), error_type="memory_limit") from None
        except JSEvalException as exc:  # not expected: the prelude catches the code's own errors
            self.close()
            raise JsCodeError(f"JavaScript engine error: {exc}", line=None) from None
        except asyncio.CancelledError:
            self.close()  # the evaluation was terminated mid-way: start clean next time
            raise
        if not isinstance(text, str) or len(text) > MAX_OUTPUT_CHARS:
            size = len(text) if isinstance(text, str) else 0
            raise NodeError(f"the code's result is {size / 1e6:.1f} MB of JSON, over the "
                            f"{MAX_OUTPUT_CHARS // (1024 * 1024)} MB limit", error_type="output_too_large")
        return self._outcome(json.loads(text), code)

    async def _lines_then_close(self, token: str) -> list[tuple[str, str]]:
        """What a stopped call printed (the isolate runs again after a termination), then
        a new isolate for the next call. Asked with a short limit of its own: a heap at
        its limit, or promise jobs still spinning, may not answer, and the lines are lost."""
        lines: list[tuple[str, str]] = []
        try:
            async with asyncio.timeout(LINES_TIMEOUT_S):
                text = await self._get().eval_cancelable(f'__pe_lines("{token}")')
            lines = [(str(m), str(t)) for m, t in json.loads(text)] if isinstance(text, str) else []
        except Exception:
            lines = []
        finally:
            self.close()
        return lines

    def _outcome(self, out: dict[str, Any], code: str) -> JsResult:
        logs = [(str(level), str(text)) for level, text in out.get("logs", [])]
        if out.get("ok"):
            return JsResult(value=out.get("value"), logs=logs, dropped=int(out.get("dropped", 0)))
        err = out.get("error") or {}
        name, message = err.get("name", "Error"), err.get("message", "")
        if name == "SyntaxError" and re.search(r"at (?:new )?(?:Async)?Function \(", err.get("stack", "")):
            line = self._syntax_line(code)
        else:
            line = user_line(err.get("stack", ""))
        where = f"line {line}: " if line else ""
        raise JsCodeError(f"{where}{name}: {message}", line=line, logs=logs, error_type=name)

    def _syntax_line(self, code: str) -> int | None:
        """Where a syntax error is: parse the body as a script that would throw before running."""
        from py_mini_racer import JSEvalException

        params = ", ".join(PARAMS)
        check = f'throw 0;\nasync function __pe_syntax({params}) {{"use strict";\n{code}\n}}'
        try:
            self._get().eval(check)
        except JSEvalException as exc:
            match = _PARSE_LINE.match(str(exc))
            if match and "SyntaxError" in str(exc):
                return max(1, int(match.group(1)) - 2)  # "throw 0;" and the function's first line
        # it parsed as a script (so the body closed its function early): this isolate may
        # now hold declarations from it, so the next call starts on a new one
        self.close()
        return None


def user_line(stack: str) -> int | None:
    """The line of the node's code in a V8 stack (the first frame inside the code)."""
    for frame in stack.splitlines():
        if "(eval at compile " in frame:
            matches = _FRAME_LINE.findall(frame)  # "(eval at compile (<anonymous>:L:C), <anonymous>:L:C)"
            if matches:
                return max(1, int(matches[-1][0]) - BODY_LINE_OFFSET)
    return None


def unwrap_n8n_items(value: Any) -> Any:
    """n8n code returns items as `[{json: ...}]`; pass on the plain values instead."""
    item_keys = {"json", "binary", "pairedItem"}
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, dict) and "json" in v and set(v) <= item_keys for v in value)
    ):
        return [v["json"] for v in value]
    return value
