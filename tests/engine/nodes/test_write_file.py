from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.write_file import WriteFileConfig
from tests.engine.nodes.data_fixtures import orders


@pytest.fixture(autouse=True)
def _no_extra_roots(monkeypatch):
    monkeypatch.delenv("PROCESSENGINE_FILE_ROOTS", raising=False)


async def test_json_pretty_and_the_input_by_default(harness, tmp_path):
    value = {"country": "DE", "revenue": 430.5}
    result = await harness.run("write_file", {"path": "out/report.json", "format": "json"}, value)
    target = tmp_path / "out" / "report.json"
    assert target.read_text() == '{\n  "country": "DE",\n  "revenue": 430.5\n}\n'
    assert result.outputs == {"out": {"path": str(target), "size": target.stat().st_size}}
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]  # no temp file left


async def test_text_overwrite_replaces(harness, tmp_path):
    (tmp_path / "a.txt").write_text("old old old")
    result = await harness.run("write_file", {"path": "a.txt", "content": "new ü"}, None)
    assert (tmp_path / "a.txt").read_text() == "new ü"
    assert result.outputs["out"]["size"] == 6


async def test_csv_objects_then_append_without_a_second_header(harness, tmp_path):
    rows = [{k: o[k] for k in ("id", "country", "total")} for o in orders()[:2]]
    await harness.run("write_file", {"path": "o.csv", "format": "csv", "mode": "append", "content": rows})
    await harness.run("write_file", {"path": "o.csv", "format": "csv", "mode": "append", "content": [{"id": "A-9", "country": None, "total": 1, "note": {"x": True}}]})
    assert (tmp_path / "o.csv").read_text() == "id,country,total\nA-1001,DE,120.5\nA-1002,FR,42.0\nA-9,,1,\"{\"\"x\"\":true}\"\n"


async def test_csv_lists_and_json_lines_append(harness, tmp_path):
    await harness.run("write_file", {"path": "t.csv", "format": "csv", "content": [["a", "b"], [1, True]]})
    assert (tmp_path / "t.csv").read_text() == "a,b\n1,true\n"
    for event in ({"e": 1}, {"e": 2}):
        await harness.run("write_file", {"path": "log.jsonl", "format": "json", "mode": "append"}, event)
    assert [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()] == [{"e": 1}, {"e": 2}]


async def test_bytes_from_base64(harness, tmp_path):
    data = b"\x89PNG\r\n\x00\xff"
    out = await harness.run("write_file", {"path": "img.png", "format": "bytes", "content": base64.b64encode(data).decode()})
    assert (tmp_path / "img.png").read_bytes() == data and out.outputs["out"]["size"] == len(data)


async def test_fail_if_exists(harness, tmp_path):
    await harness.run("write_file", {"path": "once.txt", "mode": "fail_if_exists", "content": "1"})
    with pytest.raises(NodeError, match=r"node 'n1', config.content: .*once.txt already exists \(mode fail_if_exists\)"):
        await harness.run("write_file", {"path": "once.txt", "mode": "fail_if_exists", "content": "2"})
    assert (tmp_path / "once.txt").read_text() == "1"


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"path": "a.txt", "content": {"a": 1}}, "node 'n1', config.content: text needs a string, got an object (use format json)"),
        ({"path": "a.csv", "format": "csv", "content": {"a": 1}}, "csv needs a list of objects or of lists, got an object"),
        ({"path": "a.csv", "format": "csv", "content": [{"a": 1}, [1]]}, "csv rows must be all objects or all lists"),
        ({"path": "a.bin", "format": "bytes", "content": "***"}, "node 'n1', config.content: not valid base64"),
        ({"path": "a.txt", "content": "x", "encoding": "nope"}, "node 'n1', config.encoding: unknown encoding 'nope'"),
        ({"path": "../escape.txt", "content": "x"}, "node 'n1', config.path: "),
    ],
)
async def test_errors(harness, tmp_path, cfg, message):
    with pytest.raises(NodeError) as err:
        await harness.run("write_file", cfg)
    assert message in err.value.message
    assert not (tmp_path.parent / "escape.txt").exists()


def test_schema_and_spec():
    cfg = WriteFileConfig.model_validate({"path": "a"})
    assert (cfg.format, cfg.mode, cfg.encoding, cfg.content) == ("text", "overwrite", "utf-8", None)
    with pytest.raises(ValidationError, match="'overwrite', 'append' or 'fail_if_exists'"):
        WriteFileConfig.model_validate({"path": "a", "mode": "replace"})
    spec = registry.get_spec("write_file")
    assert spec.side_effects and not spec.pure and spec.default_retry == "none"


async def test_csv_with_a_tab_delimiter_reads_back(harness, tmp_path):
    rows = [{"sku": "B-100", "name": "Bolt, M6"}, {"sku": "N-200", "name": "Nut\tM6"}]
    await harness.run("write_file", {"path": "stock.tsv", "format": "csv", "delimiter": "\t", "content": rows})
    assert (tmp_path / "stock.tsv").read_text() == 'sku\tname\nB-100\tBolt, M6\nN-200\t"Nut\tM6"\n'
    back = await harness.run("read_file", {"path": "stock.tsv", "format": "csv", "delimiter": "\t"})
    assert back.outputs["out"]["content"] == rows
