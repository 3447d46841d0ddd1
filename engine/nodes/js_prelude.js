// Installed once in each isolate before any workflow code runs (engine/nodes/js_runtime.py).
//
// 1. Removes what a code node has no use for and what could block, reach the host or run
//    later: timers, Atomics, SharedArrayBuffer, WebAssembly, FinalizationRegistry.
// 2. Tames the "override mistake": on the shared prototypes, common method and data
//    names (toString, constructor, name, message, ...) become accessors, so that
//    `this.name = "MyError"` on an instance still works once the prototypes are frozen.
// 3. Freezes every built-in object reachable from the global object, the hidden
//    intrinsics (iterator and generator prototypes, %TypedArray%, ...) and the global
//    object itself: nothing one node does to a shared object can be seen by a later node.
// 4. Defines __pe_run / __pe_take, the only entry points the engine calls.
(function () {
  "use strict";
  const G = globalThis;
  const { defineProperty, getOwnPropertyDescriptor, getPrototypeOf, freeze } = Object;
  const ownKeys = Reflect.ownKeys;
  const apply = Reflect.apply;
  const hasOwn = Object.hasOwn;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const isArray = Array.isArray;
  const ObjectProto = Object.prototype;
  const ArrayProto = Array.prototype;
  const DateProto = Date.prototype;
  const numberIsFinite = Number.isFinite;
  const StringCtor = String;
  const promiseThen = Promise.prototype.then;
  const AsyncFunction = getPrototypeOf(async function () {}).constructor;
  const FunctionCtor = Function;
  const PromiseCtor = Promise;
  const promiseResolve = Promise.resolve;
  const MAX_LOG_LINES = 1000;
  const MAX_LOG_CHARS = 10000;

  // FinalizationRegistry: its callbacks would run later, inside another node's call
  for (const name of ["setTimeout", "clearTimeout", "__timer_manager", "Atomics",
                      "SharedArrayBuffer", "WebAssembly", "FinalizationRegistry"]) {
    const d = getOwnPropertyDescriptor(G, name);
    if (d && d.configurable) delete G[name];
    else if (d && d.writable) G[name] = undefined;
  }

  // names that code commonly assigns on its own objects, shadowing a built-in prototype's
  const OVERRIDABLE = ["constructor", "toString", "toLocaleString", "valueOf", "name", "message",
                       "hasOwnProperty", "toJSON", "then", "catch", "finally"];

  function tame(obj, key) {
    const d = getOwnPropertyDescriptor(obj, key);
    if (!d || !("value" in d) || !d.configurable) return;
    const value = d.value;
    const accessors = {
      get() { return value; },
      set(v) {
        if (this === obj) {
          throw new TypeError("Cannot assign to read only property '" + StringCtor(key) +
                              "' of a shared built-in object");
        }
        defineProperty(this, key, { value: v, writable: true, enumerable: true, configurable: true });
      },
    };
    const getter = getOwnPropertyDescriptor(accessors, "get").value;
    const setter = getOwnPropertyDescriptor(accessors, "set").value;
    defineProperty(obj, key, { get: getter, set: setter, enumerable: d.enumerable, configurable: false });
  }

  function hiddenIntrinsics() {
    const seeds = [];
    const add = (f) => { try { seeds.push(f()); } catch (e) { /* absent in this V8 */ } };
    add(() => function* () {});
    add(() => (function* () {})());
    add(() => async function () {});
    add(() => async function* () {});
    add(() => (async function* () {})());
    add(() => [][Symbol.iterator]());
    add(() => new Map()[Symbol.iterator]());
    add(() => new Set()[Symbol.iterator]());
    add(() => ""[Symbol.iterator]());
    add(() => /a/[Symbol.matchAll](""));
    add(() => [].values().map((x) => x));
    add(() => Iterator.from({ next() { return { done: true }; } }));
    add(() => new Intl.Segmenter().segment(""));
    add(() => new Intl.Segmenter().segment("")[Symbol.iterator]());
    add(() => getPrototypeOf(Uint8Array));
    add(() => (function () { return arguments; })());
    add(() => Promise.resolve());
    return seeds;
  }

  function collect() {
    const seen = new Set();
    const todo = [G, ...hiddenIntrinsics()];
    while (todo.length) {
      const obj = todo.pop();
      if ((typeof obj !== "object" && typeof obj !== "function") || obj === null || seen.has(obj)) continue;
      seen.add(obj);
      todo.push(getPrototypeOf(obj));
      for (const key of ownKeys(obj)) {
        const d = getOwnPropertyDescriptor(obj, key);
        if (!d) continue;
        if ("value" in d) todo.push(d.value);
        if (d.get) todo.push(d.get);
        if (d.set) todo.push(d.set);
      }
    }
    return seen;
  }


  // -- per call ---------------------------------------------------------------
  let pending = null;
  let activeToken = null;  // set by the engine per call; the code never sees it

  function formatArg(v) {
    if (typeof v === "string") return v;
    try {
      const text = stringify(v);
      return text === undefined ? StringCtor(v) : text;
    } catch (e) {
      return StringCtor(v);
    }
  }

  function makeConsole(lines) {
    const write = (level) => function (...args) {
      if (lines.length >= MAX_LOG_LINES) { lines.dropped = (lines.dropped || 0) + 1; return; }
      let text = "";
      for (let i = 0; i < args.length; i++) text += (i ? " " : "") + formatArg(args[i]);
      if (text.length > MAX_LOG_CHARS) text = text.slice(0, MAX_LOG_CHARS) + "…";
      lines[lines.length] = [level, text];
    };
    return freeze({ log: write("log"), info: write("info"), debug: write("debug"),
                    warn: write("warn"), error: write("error") });
  }

  // Check that a result is plain JSON data and give the path of the first thing that is not.
  function checkJson(value, path, depth, seen) {
    if (depth > 200) throw new TypeError("the result is nested more than 200 levels deep at " + path);
    const t = typeof value;
    if (value === null || t === "string" || t === "boolean") return;
    if (t === "number") {
      if (!numberIsFinite(value)) throw new TypeError("the result holds " + StringCtor(value) + " at " + path + " (not a JSON number)");
      return;
    }
    if (t === "undefined") throw new TypeError("the result holds undefined at " + path + " (not a JSON value)");
    if (t === "function") throw new TypeError("the result holds a function at " + path + " (not a JSON value)");
    if (t === "symbol" || t === "bigint") throw new TypeError("the result holds a " + t + " at " + path + " (not a JSON value)");
    if (seen.has(value)) throw new TypeError("the result refers to itself at " + path + " (a cycle)");
    const proto = getPrototypeOf(value);
    if (proto === DateProto) return;
    if (proto !== ObjectProto && proto !== ArrayProto && proto !== null) {
      const name = (value.constructor && value.constructor.name) || "object";
      throw new TypeError("the result holds a " + name + " at " + path + " (only plain objects, arrays, strings, numbers, booleans and null)");
    }
    seen.add(value);
    if (isArray(value)) {
      for (let i = 0; i < value.length; i++) checkJson(value[i], path + "[" + i + "]", depth + 1, seen);
    } else {
      for (const key of ownKeys(value)) {
        if (typeof key === "symbol") continue;
        const d = getOwnPropertyDescriptor(value, key);
        if (!d.enumerable) continue;
        if (!("value" in d)) throw new TypeError("the result holds a getter at " + path + "." + key);
        checkJson(d.value, path + "." + key, depth + 1, seen);
      }
    }
    seen.delete(value);
  }

  function errorInfo(e) {
    if (e !== null && typeof e === "object" && typeof e.message === "string") {
      return { name: StringCtor(e.name || "Error"), message: e.message, stack: StringCtor(e.stack || "") };
    }
    return { name: "Error", message: "threw " + formatArg(e), stack: "" };
  }

  function finish(state, value) {
    try {
      if (value === undefined) {
        throw new TypeError("the code returned nothing: end it with `return <value>`");
      }
      checkJson(value, "$", 0, new Set());
      state.out = stringify({ ok: true, value: value, logs: state.lines, dropped: state.lines.dropped || 0 });
    } catch (e) {
      fail(state, e);
    }
  }

  function fail(state, e) {
    state.out = stringify({ ok: false, error: errorInfo(e), logs: state.lines, dropped: state.lines.dropped || 0 });
  }

  // n8n's names over ours. A list input is n8n's list of items; any other value is one item.
  function itemsOf(value) {
    const list = isArray(value) ? value : [value];
    const items = [];
    for (let i = 0; i < list.length; i++) items[i] = { json: list[i] };
    return items;
  }

  function itemAccess(value, label) {
    const items = itemsOf(value);
    const first = () => {
      if (!items.length) throw new TypeError(label + " has no items");
      return items[0];
    };
    return {
      json: isArray(value) ? (value.length ? value[0] : null) : value,
      get item() { return first(); },
      all: () => items,
      first: first,
      last: () => items.length ? items[items.length - 1] : first(),
    };
  }

  function nodeRefs(nodes) {
    const lookup = (name) => {
      if (!hasOwn(nodes, name)) {
        throw new ReferenceError("no node named " + stringify(StringCtor(name)) + " has run before this one");
      }
      return itemAccess(nodes[name], "node " + stringify(StringCtor(name)));
    };
    const byName = {};
    for (const name of ownKeys(nodes)) {
      if (typeof name === "string") defineProperty(byName, name, { get: () => lookup(name), enumerable: true });
    }
    return { call: lookup, byName: byName };
  }

  // The arguments, in the order of the wrapper's parameters (js_runtime.PARAMS).
  function makeArgs(names, consoleObj) {
    const input = names.input;
    const refs = nodeRefs(names.nodes || {});
    const $input = itemAccess(input, "the input");
    return [input, names.vars, names.nodes, names.execution, names.loop,
            input, $input, refs.call, refs.byName, names.vars, names.execution,
            $input.all(), consoleObj];
  }

  // token: the engine's secret for this call; code: the node's code (a function body); params: the wrapper's parameter names;
  // namesJson: the names as JSON text. The body is compiled on its own (the Function
  // constructor), so no brace in it can reach the script around it.
  // A body without `await` is compiled as a plain function, one with it as an async one.
  // The result is always taken by a second evaluation (__pe_take): V8 runs the promise
  // jobs between the two, so whatever the code queued runs (and is timed) in its own call.
  function run(token, code, params, namesJson, isAsync) {
    if (activeToken !== null) throw new TypeError("__pe_run is not available to the code");
    activeToken = token;
    const lines = [];
    const state = { lines: lines, out: null };
    pending = state;
    try {
      const fn = compile(code, params, isAsync);
      const names = parse(namesJson);
      const result = apply(fn, undefined, makeArgs(names, makeConsole(lines)));
      if (isAsync || isThenable(result)) {
        apply(promiseThen, apply(promiseResolve, PromiseCtor, [result]),
              [(v) => finish(state, v), (e) => fail(state, e)]);
      } else {
        finish(state, result);
      }
    } catch (e) {
      fail(state, e);
    }
  }

  // Compiled bodies are kept per text: the function object is unreachable from the code
  // itself (strict mode: no arguments.callee, no name binding, frozen stack hooks).
  const compiled = new Map();
  const mapGet = Map.prototype.get;
  const mapSet = Map.prototype.set;
  const mapClear = Map.prototype.clear;
  function compile(code, params, isAsync) {
    const key = (isAsync ? "a" : "s") + code;
    let fn = apply(mapGet, compiled, [key]);
    if (fn === undefined) {
      fn = apply(isAsync ? AsyncFunction : FunctionCtor, undefined, [...params, '"use strict";\n' + code]);
      if (compiled.size >= 256) apply(mapClear, compiled, []);
      apply(mapSet, compiled, [key, fn]);
    }
    return fn;
  }

  function isThenable(v) {
    return v !== null && (typeof v === "object" || typeof v === "function") && typeof v.then === "function";
  }

  function take(token) {
    if (activeToken === null || token !== activeToken) throw new TypeError("__pe_take is not available to the code");
    activeToken = null;
    const state = pending;
    pending = null;
    if (state === null || state.out === null) {
      return stringify({ ok: false, error: { name: "Error", message: "the code's promise never settled (there are no timers or I/O to wait for)", stack: "" }, logs: state ? state.lines : [], dropped: 0 });
    }
    return state.out;
  }

  defineProperty(G, "__pe_run", { value: run, enumerable: false });
  defineProperty(G, "__pe_take", { value: take, enumerable: false });
  // what a call printed before it was stopped (time or memory limit)
  defineProperty(G, "__pe_lines", { value: function (token) {
    if (activeToken === null || token !== activeToken || pending === null) return "[]";
    const lines = pending.lines;
    activeToken = null;
    pending = null;
    return stringify(lines);
  }, enumerable: false });

  for (const obj of collect()) {
    if (obj === G || typeof obj === "function") continue;
    for (const key of OVERRIDABLE) {
      if (hasOwn(obj, key)) tame(obj, key);
    }
  }
  // the accessors made above are objects too: collect again, then freeze them all
  for (const obj of collect()) freeze(obj);
})();
