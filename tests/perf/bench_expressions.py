"""Expression benchmark: cost of `render` per config, plus how fast the sandbox refuses.

Run: python tests/perf/bench_expressions.py [--quick]
Prints two markdown tables. Times are the best CPU time of several timeit repeats
(warm caches: the runtime renders the same config strings on every node run). Not a
test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.errors import ExpressionError  # noqa: E402
from engine.expressions import check, make_names, render  # noqa: E402
from tests.engine.test_expression_sandbox import COST_PAYLOADS, PAYLOADS  # noqa: E402

NAMES = make_names(
    input={"body": {"items": list(range(100)), "name": "Ada"}, "status": 200},
    nodes={"Get items": {"status": 200, "body": {"ids": [1, 2]}}},
    vars={"base_url": "http://127.0.0.1:8080", "threshold": 2, "token": "t0k"},
    loop=None,
    execution={"id": "exec-1", "started_at": "2024-05-01T10:00:00+00:00"},
)

CASES: list[tuple[str, object]] = [
    ("plain string (no {{)", "http://127.0.0.1:8080/items"),
    ("static 5-field config", {"method": "GET", "url": "http://x/items", "timeout_s": 10,
                               "headers": {"Accept": "application/json"}, "query": {"q": "1"}}),
    ("one-field expression", "{{ vars.base_url }}"),
    ("if condition", {"condition": "{{ len(input.body.items) > vars.threshold }}"}),
    ("interpolated string (2 exprs)", "{{ vars.base_url }}/items/{{ input.body.name }}"),
    ("5-field config, 3 expressions", {
        "method": "GET", "url": "{{ vars.base_url }}/items", "timeout_s": 10,
        "headers": {"Authorization": "Bearer {{ vars.token }}"},
        "query": {"name": "{{ input.body.name }}"}}),
    ("comprehension over 100 items", "{{ [x * 2 for x in input.body.items if x % 2] }}"),
]  # fmt: skip


def per_call_us(fn, number: int, repeat: int) -> float:
    """Best CPU time per call (process time: other load on the machine adds less noise)."""
    timer = timeit.Timer(fn, timer=time.process_time)
    return min(timer.repeat(number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    number, repeat = (2000, 3) if args.quick else (20000, 7)

    print("| render | µs per call |\n| --- | ---: |")
    for label, value in CASES:
        render(value, NAMES)  # warm the template cache
        cost = per_call_us(
            lambda v=value: render(v, NAMES), number // 10 if "100" in label else number, repeat
        )
        print(f"| {label} | {cost:.2f} |")
    make = per_call_us(
        lambda: make_names(input={}, nodes={}, vars={}, loop=None, execution={"id": "e"}),
        number,
        repeat,
    )
    print(f"| make_names | {make:.2f} |")
    first_checks(2000 if args.quick else 20000)

    print(
        "\n| sandbox payloads refused | count | slowest ms (wall) | median ms (wall) |\n| --- | ---: | ---: | ---: |"
    )
    times = []
    for payload in PAYLOADS:
        start = time.perf_counter()
        try:
            render("{{ " + payload + " }}", NAMES, node_id="n", field="f")
        except ExpressionError:
            pass
        else:
            print(f"NOT REFUSED: {payload[:60]}")
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    print(f"| all | {len(times)} | {times[-1]:.1f} | {times[len(times) // 2]:.3f} |")
    costly()


FIRST_CHECKS = [  # each made distinct by a number, as every node of a real workflow reads its own fields
    ("key path", "{{{{ input.body.items{} }}}}"),
    ("arithmetic", "{{{{ {} + 1 }}}}"),
    ("comparison and call", "{{{{ len(input.body.items) > {} }}}}"),
    ("interpolated, 2 expressions", "{{{{ vars.base_url }}}}/items/{{{{ input.body.id{} }}}}"),
]


def first_checks(count: int) -> None:
    """`check` of fields never seen before (what loading pays once per distinct
    expression: parse, static check, cached for the run), then the run's first render."""
    print("\n| first sight of a field | check µs | then render µs |\n| --- | ---: | ---: |")
    body = {**NAMES["input"]["body"], **{f"items{i}": i for i in range(count)}, **{f"id{i}": i for i in range(count)}}
    names = {**NAMES, "input": {"body": body}}
    for label, form in FIRST_CHECKS:
        texts = [form.format(i) for i in range(count)]
        start = time.process_time()
        for t in texts:
            check(t)
        checked = time.process_time() - start
        start = time.process_time()
        for t in texts:
            render(t, names)
        rendered = time.process_time() - start
        print(f"| {label} | {checked / count * 1e6:.2f} | {rendered / count * 1e6:.2f} |")


def costly() -> None:
    """Each costly payload alone: CPU time to the refusal, and the process's peak memory."""
    import resource

    print("\n| costly payload | CPU ms to refusal |\n| --- | ---: |")
    for payload in COST_PAYLOADS:
        start = time.process_time()
        try:
            render("{{ " + payload + " }}", NAMES, node_id="n", field="f")
        except ExpressionError:
            pass
        else:
            print(f"NOT REFUSED: {payload[:60]}")
        shown = payload if len(payload) <= 60 else payload[:57] + "..."
        print(f"| `{shown}` | {(time.process_time() - start) * 1e3:.1f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
