"""docs/nodes.md documents every node type exactly as the schemas define them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic_core import PydanticUndefined

from engine.model import Node
from engine.nodes import registry

DOC = (Path(__file__).resolve().parents[3] / "docs" / "nodes.md").read_text(encoding="utf-8")
SPECS = registry.all_specs()
# keys whose default is "the node's input" (the key being absent), not the schema's None
INPUT_DEFAULTS = {
    ("respond_webhook", "body"),
    ("sub_workflow", "inputs"),
    ("write_file", "content"),
    *((t, "items") for t in ("filter", "sort", "limit", "remove_duplicates", "aggregate")),
}


def section(node_type: str) -> str:
    m = re.search(rf"^## `{re.escape(node_type)}` — (.+)$", DOC, re.M)
    assert m, f"docs/nodes.md has no section '## `{node_type}` — ...'"
    end = DOC.find("\n## ", m.end())
    return DOC[m.start(): end if end != -1 else len(DOC)]


def table_rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^\| `([A-Za-z_]+)` \|(.*)\|$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in re.split(r"(?<!\\)\|", m.group(2))]
    return rows


def doc_default(value: Any) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{json.dumps(value)}`"


def field_default(info: Any) -> Any:
    if info.default_factory is not None:
        return info.default_factory()
    return info.default


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.type)
def test_every_config_key_is_documented_with_its_default(spec):
    text = section(spec.type)
    assert spec.title in text.splitlines()[0]
    rows = table_rows(text)
    keys = {info.alias or name: info for name, info in spec.config_model.model_fields.items()}
    assert set(rows) == set(keys), f"{spec.type}: doc keys {sorted(rows)} != schema keys {sorted(keys)}"
    for key, info in keys.items():
        default_col = rows[key][1]
        if info.is_required():
            assert default_col == "required", f"{spec.type}.{key} is required"
        elif (spec.type, key) in INPUT_DEFAULTS:
            assert default_col == "the node's input", f"{spec.type}.{key}"
        else:
            default = field_default(info)
            assert default is not PydanticUndefined
            assert default_col == doc_default(default), f"{spec.type}.{key}: doc {default_col!r}, schema {default!r}"
        assert info.description, f"{spec.type}.{key} has no description for the inspector"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.type)
def test_ports_side_effects_and_retry_are_documented(spec):
    text = section(spec.type)
    node = Node(id="n", type=spec.type, name="n", config={"cases": {}})
    for port in spec.base_output_ports(node):
        assert f"`{port}`" in text, f"{spec.type}: port {port!r} not documented"
    assert f"**Default retry:** `{spec.default_retry}`" in text
    assert ("**Side effects:** yes" in text) is spec.side_effects
    assert ("**Pure:** yes" in text) is spec.pure
    if spec.is_trigger:
        assert "no input" in text
    row = re.search(rf"^\| `{re.escape(spec.type)}` \| (.+)$", DOC, re.M)
    assert row, f"{spec.type} missing from the summary table"
    cols = [c.strip() for c in row.group(1).split("|")]
    assert cols[0] == spec.title and cols[1] == spec.category
    assert cols[4] == f"`{spec.default_retry}`"


def test_every_registered_type_and_no_other_is_documented():
    documented = set(re.findall(r"^## `([a-z_]+)` — ", DOC, re.M))
    assert documented == {s.type for s in SPECS}


def test_spec_metadata_is_complete():
    for spec in SPECS:
        assert spec.title and spec.description and spec.icon != "node", spec.type
        assert spec.category in ("Triggers", "Flow", "Data", "Files", "Database", "Code", "Network", "Actions"), spec.type
        assert spec.default_retry == ("default" if spec.type in ("http_request", "send_email") else "none")
        assert spec.kind == {"loop": "loop", "merge": "merge", "sub_workflow": "sub_workflow"}.get(spec.type, "plain")
        assert spec.is_trigger == spec.type.endswith("_trigger")
        assert spec.config_model.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.type)
def test_json_schema_for_the_inspector(spec):
    schema = spec.config_model.model_json_schema()
    assert schema["type"] == "object" and schema.get("additionalProperties") is False
    for key, prop in schema.get("properties", {}).items():
        assert prop.get("description"), f"{spec.type}.{key}"
