from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from engine.nodes import registry
from engine.nodes.schedule_trigger import ScheduleTriggerConfig, next_fire_times


def test_exactly_one_of_every_s_and_cron():
    with pytest.raises(ValidationError, match="exactly one of `every_s` or `cron`"):
        ScheduleTriggerConfig.model_validate({})
    with pytest.raises(ValidationError, match="exactly one of `every_s` or `cron`"):
        ScheduleTriggerConfig.model_validate({"every_s": 5, "cron": "* * * * *"})
    assert ScheduleTriggerConfig.model_validate({"every_s": 5}).every_s == 5


@pytest.mark.parametrize("cron", ["61 * * * *", "every minute", "* * *"])
def test_invalid_cron_is_rejected_on_the_cron_field(cron):
    with pytest.raises(ValidationError) as err:
        ScheduleTriggerConfig.model_validate({"cron": cron})
    assert err.value.errors()[0]["loc"] == ("cron",)
    assert "invalid cron expression" in str(err.value)


def test_every_s_must_be_positive():
    with pytest.raises(ValidationError, match="greater than 0"):
        ScheduleTriggerConfig.model_validate({"every_s": 0})


def test_next_fire_times_cron():
    start = datetime(2024, 1, 1, 0, 2, 30, tzinfo=UTC)
    times = next_fire_times({"cron": "*/5 * * * *"}, start, 3)
    assert times == [start.replace(minute=m, second=0) for m in (5, 10, 15)]


def test_next_fire_times_cron_keeps_the_start_time_zone():
    tz = timezone(timedelta(hours=2))
    start = datetime(2024, 3, 1, 8, 30, tzinfo=tz)
    (first,) = next_fire_times({"cron": "0 9 * * *"}, start, 1)
    assert first == datetime(2024, 3, 1, 9, 0, tzinfo=tz)
    assert first.utcoffset() == timedelta(hours=2)


def test_next_fire_times_every_s_and_naive_start():
    start = datetime(2024, 1, 1, 12, 0, 0)
    times = next_fire_times(ScheduleTriggerConfig(every_s=90), start, 2)
    assert all(t.tzinfo is not None for t in times)
    assert [t - times[0] for t in times] == [timedelta(0), timedelta(seconds=90)]
    assert times[0] == start.astimezone() + timedelta(seconds=90)
    assert next_fire_times({"every_s": 1}, start, 0) == []


async def test_manual_run_stamps_fired_at_now(harness):
    before = datetime.now(UTC)
    result = await harness.run("schedule_trigger", {"every_s": 60}, {"extra": 1})
    out = result.outputs["out"]
    assert out["extra"] == 1
    fired = datetime.fromisoformat(out["fired_at"])
    assert before <= fired <= datetime.now(UTC)


async def test_scheduler_fired_at_is_kept(harness):
    result = await harness.run("schedule_trigger", {"cron": "* * * * *"}, {"fired_at": "2024-01-01T00:00:00+00:00"})
    assert result.outputs["out"] == {"fired_at": "2024-01-01T00:00:00+00:00"}


def test_spec(harness):
    spec = registry.get_spec("schedule_trigger")
    node = harness.node("schedule_trigger", {"every_s": 1})
    assert spec.is_trigger and spec.input_ports(node) == []
    assert spec.category == "Triggers" and not spec.pure
