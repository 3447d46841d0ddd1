"""`run --json`'s document put together from parts (`run_json_text`) is exactly the text the
general path writes (`json_text` of `outputs_and_attempts`), for large and small reports,
and for every attempt the direct formatting does not cover."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from engine.cli_report import (
    INDENT_UP_TO,
    REPORT_PIECE,
    json_text,
    print_run_json,
    run_json_pieces,
    run_json_text,
)
from engine.runtime.record import RunRecord
from engine.runtime.status import outputs_and_attempts, status_object
from engine.service import ExecutionService
from tests.engine.runtime.helpers import workflow
from tests.servers import HttpTestServer, Reply


def _general(rec: RunRecord) -> tuple[str, list[str]]:
    status = status_object(rec)
    outputs, attempts = outputs_and_attempts(rec)
    return json_text({**status, "outputs": outputs, "attempts": attempts})


async def _run(http_server: HttpTestServer, chain: int) -> RunRecord:
    """start -> `chain` set nodes (names and values beyond ASCII) -> an HTTP node that fails
    twice (retried, then continued past): succeeded, failed and retried attempts."""
    http_server.route("/boom", Reply(status=500, json={"error": "böom"}))
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "manual_trigger"}]
    conns = []
    prev = "start"
    for i in range(chain):
        nodes.append({"id": f"nö{i}", "type": "set", "config": {"values": {"i": "{{ " + str(i) + " * 1.5 }}", "t": "ü€ \"q\" \\ \n"}}})
        conns.append((prev, "out", f"nö{i}"))
        prev = f"nö{i}"
    nodes.append({"id": "get", "type": "http_request", "config": {"method": "GET", "url": http_server.url_for("/boom")},
                  "retry": {"max_attempts": 2, "initial_delay_s": 0.01}, "on_error": "continue"})
    conns.append((prev, "out", "get"))
    svc = ExecutionService(in_memory=True)
    rec = await svc.run(workflow(nodes, conns))
    assert [a["status"] for a in rec.main.attempts["get"]] == ["failed", "failed"]
    return rec


@pytest.mark.parametrize("chain", [2, 700], ids=["small, indented", "large, compact"])
async def test_the_run_report_is_the_general_paths_text(http_server: HttpTestServer, chain: int) -> None:
    rec = await _run(http_server, chain)
    text, bad = run_json_text(status_object(rec), rec)
    assert (text, bad) == _general(rec)
    assert ("\n" not in text) is (len(text) > INDENT_UP_TO)
    assert json.loads(text)["attempts"]["get"][0]["error"]["message"]


async def test_a_large_report_is_printed_in_pieces_that_make_its_text(http_server: HttpTestServer, capsys: pytest.CaptureFixture[str]) -> None:
    rec = await _run(http_server, 700)
    pieces, bad = run_json_pieces(status_object(rec), rec)
    text = _general(rec)[0]
    assert "".join(pieces) == text and bad == []
    assert len(pieces) == 3 + -(-702 // REPORT_PIECE) and max(map(len, pieces[1:])) < len(text) // 2
    print_run_json(status_object(rec), rec)
    assert capsys.readouterr().out == text + "\n"


ODD_ATTEMPTS = {
    "a NaN duration": {"duration_ms": math.nan},
    "an infinite duration": {"duration_ms": math.inf},
    "a whole-number start": {"started_at": 1_700_000_000},
    "no start": {"started_at": None},
    "a duration of a whole number": {"duration_ms": 3},
    "an attempt number that is a bool": {"attempt": True},
    "a status beyond ASCII": {"status": "fertig ✓"},
    "an error holding a NaN": {"error": {"message": "x", "value": math.nan}},
    "an error on a node's only attempt": {"error": {"message": "x ü", "node_id": "nö5"}},
    "an error that is a text": {"error": "x"},
    "a missing key": None,
    "a key beyond the five": {"finished_at": 1_700_000_000.5},
    "another status word": {"status": "reused"},
    "a start at a whole second": {"started_at": 1_700_000_000.0},
    "a start a hair under a whole second": {"started_at": 1_700_000_000.9999996},
}


@pytest.mark.parametrize("change", list(ODD_ATTEMPTS.values()), ids=list(ODD_ATTEMPTS))
async def test_an_unusual_attempt_is_written_as_the_general_path_writes_it(http_server: HttpTestServer, change: dict[str, Any] | None) -> None:
    rec = await _run(http_server, 700)
    odd = copy.deepcopy(rec)
    attempt = odd.main.attempts["nö5"][0]
    if change is None:
        del attempt["duration_ms"]
    else:
        attempt.update(change)
    assert run_json_text(status_object(odd), odd) == _general(odd)


async def test_a_non_finite_output_is_printed_as_null_and_named(http_server: HttpTestServer) -> None:
    rec = await _run(http_server, 700)
    odd = copy.deepcopy(rec)
    odd.main.outputs["nö3"] = {"i": math.inf}
    text, bad = run_json_text(status_object(odd), odd)
    assert (text, bad) == _general(odd) and bad == ["outputs.nö3.i"]
