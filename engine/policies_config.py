"""The feedback policies' settings (seed 002: live performance → retrain and prune queues,
auto-rollback), one set of models for both configuration files: huracan.yaml's `policies:`
(scheduler.config) and ml_framework.yaml's `feedback:` (engine.ml_config). Pure pydantic, so the
engine can hold them and the scheduler can read them.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float) -> float:
    """'90s', '15m', '24h', '7d', '1w' (or a plain number of seconds) -> seconds."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = _DURATION.match(str(text))
        if not match:
            raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 24h, 7d)")
        seconds = float(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)]
    if not math.isfinite(seconds):
        raise ValueError(f"duration must be a finite number of seconds, got {text!r}")
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {text!r}")
    return seconds


class _Strict(BaseModel):
    # inf / nan are refused in every setting (a threshold of .inf would never fire).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _Policy(_Strict):
    """A policy's settings: each has a cooldown, a duration ('24h', '7d' or seconds)."""

    cooldown: float = 24 * 3600.0

    @field_validator("cooldown", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class RetrainPolicyConfig(_Policy):
    window: int = Field(default=50, ge=2)  # the newest matured forecasts the live numbers cover
    min_samples: int = Field(default=30, ge=2)
    sharpe_below: float = 0.0
    mae_ratio_above: float = Field(default=1.5, gt=0)  # live MAE > k x out-of-sample MAE


class PrunePolicyConfig(_Policy):
    window: int = Field(default=50, ge=2)  # paired forecasts per comparison window
    windows: int = Field(default=3, ge=1)  # consecutive windows worse than the champion
    min_ensemble_weight: float = Field(default=0.01, ge=0)
    # shared matured bars the ensemble weights are fitted on, at least (default: a full window)
    min_samples: int = Field(default=50, ge=2)
    cooldown: float = 7 * 24 * 3600.0


class RollbackPolicyConfig(_Policy):
    window: int = Field(default=100, ge=2)  # paired forecasts after a promotion that are judged
    min_samples: int = Field(default=30, ge=3)
    alpha: float = Field(default=0.01, gt=0, lt=1)
    test: Literal["diebold_mariano", "paired_t"] = "diebold_mariano"


class RegimePolicyConfig(_Policy):
    """When a slot's regime on `axis` (None: the `regimes:` axis) changed within its newest
    `recent_bars` labelled bars and its champion is weak in the new one (the regime map's metric
    below `metric_below` on enough bars, or another version significantly better on the bars
    they share), by its walk-forward (`source: oos`) or live numbers -> retrain queue."""

    enabled: bool = True
    axis: Literal["vol", "trend", "hmm"] | None = None
    recent_bars: int = Field(default=5, ge=1)
    metric_below: float = 0.0
    source: Literal["oos", "live"] = "oos"


class PoliciesConfig(_Strict):
    retrain: RetrainPolicyConfig = Field(default_factory=RetrainPolicyConfig)
    prune: PrunePolicyConfig = Field(default_factory=PrunePolicyConfig)
    rollback: RollbackPolicyConfig = Field(default_factory=RollbackPolicyConfig)
    regime: RegimePolicyConfig = Field(default_factory=RegimePolicyConfig)
