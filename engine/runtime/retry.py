"""Per-node retry policy with exponential back-off and presets.

`none` (1 attempt) is the default for triggers and logic, `default` for HTTP
and email, `strict` for flaky services (more attempts, also retries 429).
A node's `retry` is a preset name or an object of overrides (optionally with
its own `preset` base).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from engine.errors import NodeError

__all__ = ["PRESETS", "RetryPolicy", "policy_for"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 1
    initial_delay_s: float = 1.0
    multiplier: float = 2.0
    max_delay_s: float = 30.0
    jitter: bool = True
    on_status: tuple[int, ...] = field(default_factory=tuple)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based).

        With jitter the delay is drawn from [d/2, d] ("equal jitter"), which
        spreads retries while keeping a floor.
        """
        d = min(self.max_delay_s, self.initial_delay_s * self.multiplier ** max(0, attempt - 1))
        if self.jitter and d > 0:
            d = d / 2 + (rng or random).random() * d / 2
        return d

    def schedule(self) -> list[float]:
        """The un-jittered delays between attempts (for previews)."""
        return [replace(self, jitter=False).delay(i) for i in range(1, self.max_attempts)]

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        if attempt >= self.max_attempts:
            return False
        if isinstance(error, NodeError):
            if error.status is not None and error.status in self.on_status:
                return True
            return error.retryable
        return False


PRESETS: dict[str, RetryPolicy] = {
    "none": RetryPolicy(max_attempts=1),
    "default": RetryPolicy(max_attempts=3, initial_delay_s=1.0, multiplier=2.0, max_delay_s=30.0),
    "strict": RetryPolicy(
        max_attempts=5, initial_delay_s=2.0, multiplier=2.0, max_delay_s=60.0, on_status=(429,)
    ),
}


def policy_for(retry: dict[str, Any] | str | None, default_preset: str) -> RetryPolicy:
    """Build the effective policy of a node from its `retry` field and its type's default."""
    if retry is None:
        return PRESETS[default_preset]
    if isinstance(retry, str):
        return PRESETS[retry]
    base = PRESETS[retry.get("preset") or default_preset]
    overrides = {k: v for k, v in retry.items() if k != "preset" and v is not None}
    if "on_status" in overrides:
        overrides["on_status"] = tuple(int(s) for s in overrides["on_status"])
    return replace(base, **overrides)
