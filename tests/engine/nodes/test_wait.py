from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import ValidationError

from engine.nodes import registry
from engine.nodes.base import Interrupted
from engine.nodes.wait import WaitConfig
from tests.waiting import until


async def test_waits_then_passes_input(harness):
    started = time.monotonic()
    result = await harness.run("wait", {"seconds": 0.05}, {"x": 1})
    assert time.monotonic() - started >= 0.05
    assert result.outputs == {"out": {"x": 1}}


@pytest.mark.parametrize(("action", "reason"), [("pause", "pause"), ("cancel", "cancel")])
async def test_pause_and_cancel_interrupt_the_wait(harness, action, reason):
    task = asyncio.ensure_future(harness.run("wait", {"seconds": 30}, 1))
    await until(lambda: harness.control._sleeping, what="the wait asleep")  # nodes in the control's sleep
    getattr(harness.control, action)()
    with pytest.raises(Interrupted) as err:
        await asyncio.wait_for(task, 1.0)
    assert err.value.reason == reason


def test_schema():
    assert WaitConfig.model_validate({}).seconds == 1.0
    with pytest.raises(ValidationError, match="seconds\n  Input should be greater than or equal to 0"):
        WaitConfig.model_validate({"seconds": -1})
    with pytest.raises(ValidationError, match="seconds\n  Input should be a valid number"):
        WaitConfig.model_validate({"seconds": "soon"})


def test_spec():
    spec = registry.get_spec("wait")
    assert not spec.pure and not spec.side_effects and spec.default_retry == "none"
