"""The code node in JavaScript: exact outputs, n8n's names, errors with lines, and the sandbox.

Every sandbox payload must fail cleanly: a NodeError naming the node, never a hang,
a crash or a side effect. Network payloads aim at a real local HTTP server, which
must see no request at all.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.base import Interrupted
from engine.runtime.control import RunControl
from engine.runtime.runner import run_workflow
from tests.engine.nodes.helpers import NodeHarness
from tests.engine.runtime.helpers import workflow

ORDERS = [
    {"id": "A-1", "customer": "acme", "total": 120.5, "lines": 3},
    {"id": "A-2", "customer": "globex", "total": 80, "lines": 1},
    {"id": "A-3", "customer": "acme", "total": 19.5, "lines": 2},
]


async def js(harness: NodeHarness, code: str, value: Any = None, **config: Any) -> Any:
    result = await harness.run("code", {"code": code, **config}, value, name="Shape")
    return result.outputs["out"]


async def js_error(harness: NodeHarness, code: str, value: Any = None, **config: Any) -> NodeError:
    with pytest.raises(NodeError) as err:
        await js(harness, code, value, **config)
    assert "node 'Shape'" in str(err.value)
    return err.value


# -- exact outputs ---------------------------------------------------------------

async def test_totals_per_customer(harness):
    code = """
const byCustomer = {};
for (const order of input) {
  const c = byCustomer[order.customer] ??= { customer: order.customer, orders: 0, total: 0 };
  c.orders += 1;
  c.total += order.total;
}
return Object.values(byCustomer).sort((a, b) => b.total - a.total);
"""
    assert await js(harness, code, ORDERS) == [
        {"customer": "acme", "orders": 2, "total": 140.0},
        {"customer": "globex", "orders": 1, "total": 80},
    ]


async def test_async_code_and_dates(harness):
    code = "const n = await Promise.resolve(input.n); return {n: n * 2, at: new Date(Date.UTC(2024, 0, 2))};"
    assert await js(harness, code, {"n": 21}) == {"n": 42, "at": "2024-01-02T00:00:00.000Z"}


async def test_own_objects_may_shadow_builtin_names(harness):
    code = """
class HttpError extends Error { constructor(m) { super(m); this.name = 'HttpError'; } }
const o = {}; o.toString = () => 'custom'; o.constructor = 'mine';
function P() {} P.prototype.valueOf = function () { return 7; };
return [new HttpError('x').name, String(o), o.constructor, new P() + 1];
"""
    assert await js(harness, code) == ["HttpError", "custom", "mine", 8]


async def test_n8n_names_over_a_list_input(harness):
    code = """
const out = [];
for (const item of $input.all()) out.push({ id: item.json.id, first: $input.first().json.id });
return [...out, { count: items.length, last: $input.last().json.id, json: $json.length }];
"""
    assert await js(harness, code, ORDERS) == [
        {"id": "A-1", "first": "A-1"},
        {"id": "A-2", "first": "A-1"},
        {"id": "A-3", "first": "A-1"},
        {"count": 3, "last": "A-3", "json": 3},
    ]


async def test_n8n_items_are_unwrapped(harness):
    code = "return $input.all().map(item => ({ json: { ...item.json, big: item.json.total > 100 } }));"
    assert await js(harness, code, ORDERS[:2]) == [
        {**ORDERS[0], "big": True},
        {**ORDERS[1], "big": False},
    ]


async def test_n8n_names_in_a_workflow():
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "fetch", "name": "Fetch", "type": "set", "config": {"values": {"user": "ada", "plan": "pro"}}},
            {"id": "code", "name": "Shape", "type": "code", "config": {"code": (
                "return { user: $('Fetch').item.json.user, plan: $node['Fetch'].json.plan,\n"
                "  region: $vars.region, same: $json.user === nodes.Fetch.user, exec: typeof $execution.id,\n"
                "  names: Object.keys($node) };"
            )}},
        ],
        [("start", "out", "fetch"), ("fetch", "out", "code")],
        variables={"region": "eu"},
    )
    rec = await run_workflow(wf)
    assert rec.status == "completed", rec.main.error
    assert rec.main.outputs["code"] == {
        "user": "ada", "plan": "pro", "region": "eu", "same": True, "exec": "string",
        "names": ["start", "Fetch"],
    }


async def test_unknown_node_name_is_a_clear_error(harness):
    err = await js_error(harness, "return $('Nope').item.json")
    assert 'no node named "Nope" has run before this one' in str(err)


async def test_loop_names_inside_a_loop_body():
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "each", "type": "loop", "config": {"items": ["a", "b"]}},
            {"id": "code", "type": "code", "config": {"code": "return `${loop.index}:${loop.item}:${input}`;"}},
        ],
        [("start", "out", "each"), ("each", "loop", "code"), ("code", "out", "each")],
    )
    rec = await run_workflow(wf)
    assert rec.main.outputs["each"] == ["0:a:a", "1:b:b"]


async def test_console_lines_are_node_log_lines(caplog):
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "code", "type": "code", "config": {"code": (
                "console.log('seen', {n: 1}, [2]); console.warn('careful'); console.error(new Error('x').message);"
                "\nreturn 1;"
            )}},
        ],
        [("start", "out", "code")],
    )
    with caplog.at_level(logging.INFO, logger="engine.runtime"):
        rec = await run_workflow(wf, execution_id="exec-42")
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if "console" in r.getMessage()]
    assert lines == [
        ("INFO", 'execution=exec-42 node=code console.log: seen {"n":1} [2]'),
        ("WARNING", "execution=exec-42 node=code console.warn: careful"),
        ("ERROR", "execution=exec-42 node=code console.error: x"),
    ]
    assert rec.status == "completed"


async def test_console_flood_is_capped(harness, caplog):
    with caplog.at_level(logging.INFO, logger="tests.nodes"):
        assert await js(harness, "for (let i = 0; i < 5000; i++) console.log(i); return 'ok';") == "ok"
    messages = [r.getMessage() for r in caplog.records if r.name == "tests.nodes"]
    assert len(messages) == 1001
    assert messages[0] == "console.log: 0" and messages[999] == "console.log: 999"
    assert messages[-1] == "console: 4000 more lines not logged"


# -- errors with node and line ---------------------------------------------------

@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("const a = 1;\nconst b = null;\nreturn b.x;", "line 3: TypeError: Cannot read properties of null (reading 'x')"),
        ("let x = 1;\nif (x {\n}", "line 2: SyntaxError: Unexpected token '{'"),
        ("\n\nthrow new RangeError('too far');", "line 3: RangeError: too far"),
        ("throw 'plain text';", "Error: threw plain text"),
        ("return undefinedName + 1;", "line 1: ReferenceError: undefinedName is not defined"),
        ("const x = 1;", "TypeError: the code returned nothing: end it with `return <value>`"),
        ("return () => 1;", "the result holds a function at $ (not a JSON value)"),
        ("return {a: {b: undefined}};", "the result holds undefined at $.a.b (not a JSON value)"),
        ("return [1, NaN];", "the result holds NaN at $[1] (not a JSON number)"),
        ("return {x: Infinity};", "the result holds Infinity at $.x (not a JSON number)"),
        ("return new Map([[1, 2]]);", "the result holds a Map at $ (only plain objects"),
        ("return 10n;", "the result holds a bigint at $ (not a JSON value)"),
        ("const a = {}; a.self = a; return a;", "the result refers to itself at $.self (a cycle)"),
        ("return new Promise(() => {});", "the code's promise never settled"),
    ],
)
async def test_errors_name_the_node_and_line(harness, code, message):
    err = await js_error(harness, code)
    assert str(err).startswith("JavaScript code of node 'Shape': ")
    assert message in str(err)


# -- the sandbox -----------------------------------------------------------------

def payloads(url: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, code, extra config); each must fail. `url` is the local server's."""
    quick = {"timeout_s": 1}
    return [
        # files, processes, modules
        ("require-fs", "return require('fs').readFileSync('/etc/passwd', 'utf8');", {}),
        ("process-env", "return process.env;", {}),
        ("process-exit", "process.exit(3);", {}),
        ("child-process", "return require('child_process').execSync('id').toString();", {}),
        ("deno", "return Deno.readTextFileSync('/etc/passwd');", {}),
        ("import-fs", "return await import('fs');", {}),
        ("import-node-fs", "const m = await import('node:fs'); return m.readFileSync('/etc/hosts');", {}),
        ("function-import", "return await Function(\"return import('fs')\")();", {}),
        # network to the local server
        ("fetch", f"return await fetch('{url}/js-fetch');", {}),
        ("xhr", f"const x = new XMLHttpRequest(); x.open('GET', '{url}/js-xhr'); x.send(); return 1;", {}),
        ("import-url", f"return await import('{url}/js-import.mjs');", {}),
        ("websocket", f"new WebSocket('{url.replace('http', 'ws')}/js-ws'); return 1;", {}),
        ("beacon", f"navigator.sendBeacon('{url}/js-beacon', 'x'); return 1;", {}),
        ("image", f"new Image().src = '{url}/js-image'; return 1;", {}),
        # host escapes through constructors
        ("this-constructor", "return this.constructor.constructor('return process')().env;", {}),
        ("function-ctor", "return (function () {}).constructor('return process')().mainModule;", {}),
        ("array-ctor", "return [].constructor.constructor('return globalThis')().process.exit(1);", {}),
        ("async-fn-ctor", "const AF = Object.getPrototypeOf(async function () {}).constructor;\nreturn (await AF('return process')()).pid;", {}),
        ("reflect-construct", "return Reflect.construct(Function, ['return require'])()('fs');", {}),
        ("eval-require", "return eval('require')('os').hostname();", {}),
        ("indirect-eval-global", "(0, eval)('var leaked = 1');\nreturn leaked;", {}),
        ("arguments-callee", "return arguments.callee.caller;", {}),
        ("prepare-stack-trace", "Error.prepareStackTrace = (e, frames) => frames;\nreturn new Error().stack[0].getThis();", {}),
        ("engine-entry", "__pe_run('x', 'return 1', [], '{}');\nreturn 1;", {}),
        ("engine-take", "return __pe_take('guess');", {}),
        ("wrapper-breakout", "return 1 }, [], '{}'); let leaked = 1; (function () {", {}),
        # things a sandbox must bound
        ("infinite-loop", "while (true) {}", quick),
        ("infinite-after-await", "await null;\nfor (;;) {}", quick),
        ("proxy-result-trap", "return new Proxy({}, { ownKeys() { for (;;) {} } });", quick),
        ("getter-in-result", "return { get a() { for (;;) {} } };", quick),
        ("microtask-after-return", "Promise.resolve().then(() => { for (;;) {} });\nreturn 1;", quick),
        ("finalization-registry", "new FinalizationRegistry(() => {}).register({}, 1);\nreturn 1;", {}),
        ("recursion", "function f(n) { return f(n + 1) + 1; }\nreturn f(0);", {}),
        ("memory-bomb", "const keep = [];\nfor (;;) keep.push(new Array(1e6).fill(1.5));", {"memory_mb": 32}),
        ("arraybuffer-bomb", "const keep = [];\nfor (;;) keep.push(new ArrayBuffer(64 * 1024 * 1024));", {"memory_mb": 64}),
        ("string-bomb", "let s = 'x';\nfor (;;) s += s;", {"memory_mb": 64}),
        ("huge-output", "return 'x'.repeat(17 * 1024 * 1024);", {"memory_mb": 512}),
        ("atomics-wait", "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);\nreturn 1;", {}),
        ("set-timeout", "setTimeout(() => {}, 10);\nreturn 1;", {}),
        ("wasm", "return WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));", {}),
        # prototype pollution and shared-state changes
        ("proto-object", "Object.prototype.isAdmin = true;\nreturn 1;", {}),
        ("proto-dunder", "({}).__proto__.polluted = 'yes';\nreturn 1;", {}),
        ("proto-array-map", "Array.prototype.map = function () { return ['owned']; };\nreturn 1;", {}),
        ("define-on-proto", "Object.defineProperty(Object.prototype, 'x', { get() { return 1; } });\nreturn 1;", {}),
        ("json-parse", "JSON.parse = () => ({ owned: true });\nreturn 1;", {}),
        ("math-random", "Math.random = () => 4;\nreturn 1;", {}),
        ("global-var", "globalThis.leaked = 1;\nreturn 1;", {}),
        ("set-proto-of", "Object.setPrototypeOf(Array.prototype, null);\nreturn 1;", {}),
        ("iterator-proto", "Object.getPrototypeOf([][Symbol.iterator]()).next = () => ({ done: true });\nreturn 1;", {}),
        ("promise-then", "Promise.prototype.then = function () {};\nreturn 1;", {}),
        ("string-proto", "String.prototype.trim = () => 'owned';\nreturn 1;", {}),
        ("typed-array-proto", "Object.getPrototypeOf(Uint8Array).prototype.fill = () => 0;\nreturn 1;", {}),
        ("delete-builtin", "delete Array.prototype.push;\nreturn [].push === undefined;", {}),
    ]


SANDBOX_IDS = [p[0] for p in payloads("http://x")]


@pytest.mark.parametrize("name", SANDBOX_IDS)
async def test_sandbox_payload_fails_cleanly(harness, http_server, name):
    _, code, config = next(p for p in payloads(http_server.url) if p[0] == name)
    err = await js_error(harness, code, {"a": 1}, **config)
    assert err.message
    # the isolate is still usable (or was replaced) for the next call
    assert await js(harness, "return [typeof require, ({}).isAdmin ?? null, [1].map(x => x + 1)];") == [
        "undefined", None, [2]]
    assert http_server.requests == []


async def test_at_least_thirty_payloads():
    assert len(SANDBOX_IDS) >= 30


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("infinite-loop", "longer than its time limit of 1 s"),
        ("memory-bomb", "more than its memory limit of 32 MB"),
        ("arraybuffer-bomb", "RangeError: Array buffer allocation failed"),
        ("huge-output", "over the 16 MB limit"),
        ("proto-object", "Cannot add property isAdmin, object is not extensible"),
        ("iterator-proto", "Cannot assign to read only property 'next'"),
        ("require-fs", "line 1: ReferenceError: require is not defined"),
        ("wrapper-breakout", "SyntaxError"),
    ],
)
async def test_sandbox_failures_say_why(harness, http_server, name, expected):
    _, code, config = next(p for p in payloads(http_server.url) if p[0] == name)
    assert expected in str(await js_error(harness, code, **config))


POLLUTE = """
const attempts = [
  () => { Object.prototype.polluted = 'yes'; },
  () => { Array.prototype.includes = () => true; },
  () => { JSON.stringify = () => '"owned"'; },
  () => { globalThis.shared = 'leak'; },
  () => { Object.getPrototypeOf([][Symbol.iterator]()).next = () => ({ done: true }); },
  () => { (0, eval)('var evalLeak = 1'); },
  () => { Function('this.fnLeak = 1')(); },
];
let refused = 0;
for (const attempt of attempts) { try { attempt(); } catch (e) { refused += 1; } }
return refused;
"""

CHECK = """
return {
  polluted: ({}).polluted ?? null,
  includes: [1, 2].includes(3),
  json: JSON.stringify({a: 1}),
  shared: typeof shared,
  evalLeak: typeof evalLeak,
  fnLeak: typeof fnLeak,
  iterates: [...[1, 2, 3]],
};
"""


async def test_prototype_pollution_never_reaches_a_later_node():
    wf = workflow(
        [
            {"id": "start", "type": "manual_trigger"},
            {"id": "evil", "type": "code", "config": {"code": POLLUTE}},
            {"id": "breakout", "type": "code", "on_error": "continue",
             "config": {"code": "return 1 }, [], '{}'); let lexicalLeak = 1; (function () {"}},
            {"id": "check", "type": "code", "config": {"code": CHECK + "\n// lexical: " }},
            {"id": "lexical", "type": "code", "config": {"code": "return typeof lexicalLeak;"}},
        ],
        [("start", "out", "evil"), ("evil", "out", "breakout"), ("breakout", "out", "check"),
         ("check", "out", "lexical")],
    )
    rec = await run_workflow(wf)
    assert rec.status == "completed", rec.main.error
    # every attempt but the sloppy-mode Function one threw; that one was silently ignored
    assert rec.main.outputs["evil"] == 6
    assert rec.main.attempts["breakout"][0]["status"] == "failed"
    assert rec.main.outputs["check"] == {
        "polluted": None, "includes": False, "json": '{"a":1}', "shared": "undefined",
        "evalLeak": "undefined", "fnLeak": "undefined", "iterates": [1, 2, 3],
    }
    assert rec.main.outputs["lexical"] == "undefined"


async def test_one_isolate_serves_the_whole_run(harness):
    await js(harness, "return 1;")
    isolate = harness.services.resources["code.js_isolate"]
    racer = isolate._racer
    await js(harness, "return 2;")
    assert isolate._racer is racer
    harness.services.close_resources()
    assert isolate._racer is None and harness.services.resources == {}


@pytest.mark.parametrize("action", ["pause", "cancel"])
async def test_pause_and_cancel_stop_endless_code(harness, action):
    """With a 600 s limit, only the pause/cancel can end this call (the test would time out)."""
    node = harness.node("code", {"code": "for (;;) {}", "timeout_s": 600}, name="Shape")
    task = asyncio.ensure_future(registry.get_spec("code").run(harness.context(node), None))
    await asyncio.sleep(0)  # one turn of the loop: the call is under way
    getattr(harness.control, action)()
    if action == "cancel":
        task.cancel()  # what RunControl.cancel does to the runtime's node task
    with pytest.raises((Interrupted, asyncio.CancelledError)) as err:
        await task
    assert isinstance(err.value, Interrupted if action == "pause" else asyncio.CancelledError)
    harness.control = RunControl()
    assert await js(harness, "return 'alive';") == "alive"


@pytest.mark.parametrize(
    ("code", "computed"),
    [
        ("return nodes.Fetch.x;", False),
        ('return nodes["Get items"].body;', False),
        ("return $('Fetch').item.json;", False),
        ('return $node["Fetch"].json;', False),
        ("return nodes.get('Fetch')", False),
        ("return Object.keys($node);", True),
        ("const n = 'Fetch'; return nodes[n];", True),
        ("return $(name).json;", True),
        ("for k in nodes:\n    pass", True),
        ("return nodes.items()", True),
        ("return nodes;", True),
    ],
)
def test_which_node_outputs_the_code_gets(code, computed):
    from engine.nodes.code import reads_nodes_by_computed_name

    assert reads_nodes_by_computed_name(code) is computed


async def test_only_mentioned_node_outputs_are_passed(harness):
    from engine.nodes.code import code_names

    outputs = {"Start": {}, "Fetch": {"n": 1}, "Other": {"n": 2}}
    ctx = harness.context(harness.node("code", {}))
    ctx.evaluate = lambda expr, extra=None: {"nodes": outputs, "execution": {"id": "e"}, "loop": None}[expr]
    assert code_names(ctx, 1, "return nodes.Fetch.n;")["nodes"] == {"Fetch": {"n": 1}}
    assert code_names(ctx, 1, "return $('Other').json;")["nodes"] == {"Other": {"n": 2}}
    assert code_names(ctx, 1, "return Object.keys(nodes);")["nodes"] == outputs
    assert code_names(ctx, 1, "return input;")["nodes"] == {}


async def test_the_order_report_example():
    from pathlib import Path

    from engine import fileformat

    path = Path(__file__).resolve().parents[3] / "app" / "resources" / "examples" / "order_report.pe.json"
    rec = await run_workflow(fileformat.load(path))
    assert rec.status == "completed", rec.main.error
    assert rec.main.outputs["report"] == {
        "customers": [
            {"customer": "initech", "orders": 1, "total": 240},
            {"customer": "acme", "orders": 2, "total": 140},
            {"customer": "globex", "orders": 1, "total": 80},
        ],
        "big": ["A-1001", "A-1004"],
        "revenue": 460,
    }
    assert rec.main.outputs["n8n"] == [{"top": "initech", "share": 52, "orders": 4}]


async def test_the_runs_isolate_is_closed_when_the_run_ends():
    from py_mini_racer._context import context_count  # the library's own leak counter

    wf = workflow(
        [{"id": "start", "type": "manual_trigger"},
         {"id": "a", "type": "code", "config": {"code": "return 1;"}},
         {"id": "b", "type": "code", "config": {"code": "return input + 1;"}}],
        [("start", "out", "a"), ("a", "out", "b")],
    )
    before = context_count()
    rec = await run_workflow(wf)
    assert rec.main.outputs["b"] == 2
    assert context_count() == before


async def test_lines_printed_before_a_time_out_are_logged(harness, caplog):
    code = "console.log('step 1');\nconsole.log('step 2');\nfor (;;) {}"
    with caplog.at_level(logging.INFO, logger="tests.nodes"):
        err = await js_error(harness, code, timeout_s=0.5)
    assert "longer than its time limit of 0.5 s" in str(err)
    assert [r.getMessage() for r in caplog.records if r.name == "tests.nodes"] == [
        "console.log: step 1", "console.log: step 2"]
    assert await js(harness, "return 'next';") == "next"
