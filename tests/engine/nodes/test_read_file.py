from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.read_file import ReadFileConfig

CSV = "id,customer,total\nA-1001,ann@example.org,120.50\nA-1002,\"Bob, Jr.\",42\nA-1003,cem@example.org\n"


@pytest.fixture(autouse=True)
def _no_extra_roots(monkeypatch):
    monkeypatch.delenv("PROCESSENGINE_FILE_ROOTS", raising=False)


async def test_text_relative_to_the_workflow_folder(harness, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("Grüße\nline 2\n", encoding="utf-8")
    result = await harness.run("read_file", {"path": "notes/a.txt"})
    assert result.outputs == {"out": {"path": str(tmp_path / "notes" / "a.txt"), "content": "Grüße\nline 2\n", "size": 15}}


async def test_json(harness, tmp_path):
    (tmp_path / "cfg.json").write_text(json.dumps({"limits": [1, 2], "name": "x"}), encoding="utf-8")
    out = (await harness.run("read_file", {"path": "cfg.json", "format": "json"})).outputs["out"]
    assert out["content"] == {"limits": [1, 2], "name": "x"}


async def test_csv_rows_as_objects(harness, tmp_path):
    (tmp_path / "orders.csv").write_text(CSV, encoding="utf-8")
    out = (await harness.run("read_file", {"path": "orders.csv", "format": "csv"})).outputs["out"]
    assert out["content"] == [
        {"id": "A-1001", "customer": "ann@example.org", "total": "120.50"},
        {"id": "A-1002", "customer": "Bob, Jr.", "total": "42"},
        {"id": "A-1003", "customer": "cem@example.org", "total": None},
    ]
    assert out["size"] == len(CSV.encode())


async def test_bytes_as_base64_and_latin1_text(harness, tmp_path):
    (tmp_path / "logo.bin").write_bytes(b"\x89PNG\x00\xff")
    out = (await harness.run("read_file", {"path": "logo.bin", "format": "bytes"})).outputs["out"]
    assert out == {"path": str(tmp_path / "logo.bin"), "content": base64.b64encode(b"\x89PNG\x00\xff").decode(), "size": 6}
    (tmp_path / "old.txt").write_bytes("café".encode("latin-1"))
    out = (await harness.run("read_file", {"path": "old.txt", "encoding": "latin-1"})).outputs["out"]
    assert out["content"] == "café"


@pytest.mark.parametrize(
    ("files", "cfg", "message"),
    [
        ({}, {"path": "missing.json"}, "node 'n1', config.path: file not found: {root}/missing.json"),
        ({"bad.json": '{"a": 1,}'}, {"path": "bad.json", "format": "json"}, "node 'n1', config.path ({root}/bad.json): not valid JSON: Expecting property name enclosed in double quotes at line 1 column 9"),
        ({"long.csv": "a,b\n1,2,3\n"}, {"path": "long.csv", "format": "csv"}, "node 'n1', config.path ({root}/long.csv): line 2 has 3 fields, the header has 2"),
        ({"x.txt": b"\xff\xfe\x00"}, {"path": "x.txt"}, "node 'n1', config.path ({root}/x.txt): not valid utf-8 text (byte 0); set `encoding` or use format bytes"),
        ({"x.txt": "a"}, {"path": "x.txt", "encoding": "klingon"}, "unknown encoding 'klingon'"),
        ({"dir/x": "a"}, {"path": "dir"}, "node 'n1', config.path: {root}/dir is a folder, not a file"),
    ],
)
async def test_errors_name_node_field_and_file(harness, tmp_path, files, cfg, message):
    for name, data in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
    with pytest.raises(NodeError) as err:
        await harness.run("read_file", cfg)
    assert message.format(root=tmp_path) in err.value.message


async def test_paths_outside_the_workflow_folder_are_refused(harness, tmp_path, monkeypatch):
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("nope")
    (tmp_path / "link").symlink_to(outside / "secret.txt")
    for path in ("../" + outside.name + "/secret.txt", str(outside / "secret.txt"), "link"):
        with pytest.raises(NodeError, match=r"is outside the folders files may be used from .*PROCESSENGINE_FILE_ROOTS"):
            await harness.run("read_file", {"path": path})
    monkeypatch.setenv("PROCESSENGINE_FILE_ROOTS", str(outside))
    assert (await harness.run("read_file", {"path": "link"})).outputs["out"]["content"] == "nope"


async def test_unsaved_workflow_needs_an_absolute_allowed_path(harness, tmp_path, monkeypatch):
    harness.services.workflow_dir = lambda: None
    with pytest.raises(NodeError, match=r"'a\.txt' is relative but the workflow was never saved"):
        await harness.run("read_file", {"path": "a.txt"})
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(NodeError, match=r"outside the folders files may be used from \(none\)"):
        await harness.run("read_file", {"path": str(tmp_path / "a.txt")})
    monkeypatch.setenv("PROCESSENGINE_FILE_ROOTS", str(tmp_path))
    assert (await harness.run("read_file", {"path": str(tmp_path / "a.txt")})).outputs["out"]["content"] == "x"


def test_schema_and_spec():
    cfg = ReadFileConfig.model_validate({"path": "a"})
    assert (cfg.format, cfg.encoding) == ("text", "utf-8")
    with pytest.raises(ValidationError, match="'text', 'json', 'csv' or 'bytes'"):
        ReadFileConfig.model_validate({"path": "a", "format": "xml"})
    spec = registry.get_spec("read_file")
    assert not spec.side_effects and not spec.pure and spec.category == "Files"


async def test_excel_export_with_bom_and_semicolons(harness, tmp_path):
    (tmp_path / "export.csv").write_bytes("\ufeffid;name;city\n1;Jürgen;Köln\n".encode())
    out = (await harness.run("read_file", {"path": "export.csv", "format": "csv", "delimiter": ";"})).outputs["out"]
    assert out["content"] == [{"id": "1", "name": "Jürgen", "city": "Köln"}]
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + b'{"ok": true}')
    assert (await harness.run("read_file", {"path": "bom.json", "format": "json"})).outputs["out"]["content"] == {"ok": True}
