"""Schedule trigger: starts a run every N seconds or on a cron schedule.

`processengine serve` (and the GUI's schedule preview) ask `next_fire_times`
when the next runs are due; when one fires, the scheduler hands the node
``{"fired_at": <ISO time>}`` and the node outputs it (a manual run gets the
current UTC time; a non-object input is kept under ``value``). Cron expressions are
the classic five fields (optionally a sixth for seconds), evaluated by
croniter in the time zone of the start time it is given (serve uses local time).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from pydantic import Field, ValidationInfo, field_validator, model_validator

from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, NodeSpec
from engine.nodes.common import deferred_keys


class ScheduleTriggerConfig(NodeConfig):
    every_s: float | None = Field(
        None, gt=0, description="Fire every this many seconds (set this or `cron`, not both)."
    )
    cron: str | None = Field(
        None,
        description="Cron expression, e.g. '*/15 * * * *' = every 15 minutes "
        "(set this or `every_s`, not both).",
    )

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.strip()
        if not croniter.is_valid(v):
            raise ValueError(f"invalid cron expression {v!r} (expected e.g. '*/5 * * * *')")
        return v

    @model_validator(mode="after")
    def _exactly_one(self, info: ValidationInfo) -> ScheduleTriggerConfig:
        if deferred_keys(info) & {"every_s", "cron"}:
            return self  # an expression: checked once rendered
        if (self.every_s is None) == (self.cron is None):
            raise ValueError("set exactly one of `every_s` or `cron`")
        return self


def next_fire_times(
    config: ScheduleTriggerConfig | dict[str, Any], start: datetime, n: int
) -> list[datetime]:
    """The next `n` fire times strictly after `start` (same time zone as `start`).

    A naive `start` is taken as local time. For `every_s` the schedule is
    anchored at `start` (start + k * every_s).
    """
    if isinstance(config, dict):
        config = ScheduleTriggerConfig.model_validate(config)
    if n <= 0:
        return []
    if start.tzinfo is None:
        start = start.astimezone()
    if config.every_s is not None:
        step = timedelta(seconds=config.every_s)
        return [start + step * k for k in range(1, n + 1)]
    assert config.cron is not None
    it = croniter(config.cron, start)
    return [it.get_next(datetime) for _ in range(n)]


class ScheduleTriggerSpec(NodeSpec):
    type = "schedule_trigger"
    title = "Schedule trigger"
    category = "Triggers"
    description = (
        "Starts the workflow on a schedule (every N seconds or a cron expression) while "
        "`processengine serve` runs; outputs {fired_at} plus anything the scheduler passes."
    )
    icon = "clock"
    config_model = ScheduleTriggerConfig
    is_trigger = True
    fields_not_rendered = ("cron",)

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:
        # A fired_at from the scheduler (the scheduled time) wins over "now", which is
        # only the fallback for a manual run of a scheduled workflow.
        if isinstance(value, dict):
            payload = dict(value)
        else:
            payload = {} if value is None else {"value": value}
        if not payload.get("fired_at"):
            payload["fired_at"] = datetime.now(UTC).isoformat()
        return NodeResult.out(payload)


SPEC = registry.register(ScheduleTriggerSpec())
