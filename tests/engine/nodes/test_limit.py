from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.errors import NodeError
from engine.nodes.limit import LimitConfig
from tests.engine.nodes.data_fixtures import orders


async def test_first_and_last(harness):
    first = await harness.run("limit", {"count": 2}, orders())
    assert [o["id"] for o in first.outputs["out"]] == ["A-1001", "A-1002"]
    last = await harness.run("limit", {"count": 2, "from": "end"}, orders())
    assert [o["id"] for o in last.outputs["out"]] == ["A-1005", "A-1006"]


async def test_count_over_length_and_zero(harness):
    assert (await harness.run("limit", {"count": 50, "from": "end"}, [1, 2])).outputs == {"out": [1, 2]}
    assert (await harness.run("limit", {"count": 0, "from": "end"}, [1, 2])).outputs == {"out": []}


async def test_items_field(harness):
    result = await harness.run("limit", {"items": [5, 6, 7], "count": 1}, {"ignored": True})
    assert result.outputs == {"out": [5]}


async def test_not_a_list(harness):
    with pytest.raises(NodeError, match="expected a list, got a number"):
        await harness.run("limit", {"count": 1}, 3)


def test_schema():
    cfg = LimitConfig.model_validate({"count": 3})
    assert (cfg.count, cfg.from_) == (3, "start")
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        LimitConfig.model_validate({"count": -1})
    with pytest.raises(ValidationError, match="'start' or 'end'"):
        LimitConfig.model_validate({"count": 1, "from": "middle"})
