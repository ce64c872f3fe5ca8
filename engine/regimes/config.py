"""The regime labels' configuration and names (pydantic only, no numpy or polars: the Huracan
config holds a RegimeConfig, and the console reads that config at start)."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Training rows per free parameter of an HMM (means, full covariances, transitions, start).
ROWS_PER_PARAMETER = 10
HMM_FEATURES = 2  # the one-bar log return and the realised volatility (engine.regimes.hmm)


def rows_needed(states: int, features: int = HMM_FEATURES) -> int:
    """Training rows an HMM of `states` states needs: ROWS_PER_PARAMETER per free parameter."""
    parameters = (
        states * features  # means
        + states * features * (features + 1) // 2  # full covariance matrices
        + states * (states - 1)  # transition rows (each sums to 1)
        + states
        - 1  # start probabilities
    )
    return ROWS_PER_PARAMETER * parameters


REGIME_AXES = ("vol", "trend", "hmm")
VOL_LABELS = ("low", "normal", "high")
TREND_LABELS = ("trending_up", "trending_down", "ranging")
VOL_CODES = {"low": 0, "normal": 1, "high": 2}
TREND_CODES = {"trending_down": -1, "ranging": 0, "trending_up": 1}


class RegimeError(ValueError):
    """Bad input to a regime labeller, worded as one line."""


class RegimeConfig(BaseModel):
    """How regimes are labelled (the `regimes:` section of the Huracan config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vol_window: int = Field(default=20, ge=2, le=100_000)
    vol_quantiles: tuple[float, float] = (0.33, 0.67)
    min_history: int = Field(default=60, ge=1)
    adx_period: int = Field(default=14, ge=2, le=100_000)
    adx_threshold: float = Field(default=25.0, ge=0, le=100)
    hmm_states: int | None = Field(default=None, ge=2, le=10)
    # The HMM is fitted on the first hmm_train_bars bars and labels only the bars after them.
    hmm_train_bars: int = Field(default=500, ge=2)
    hmm_seed: int = 0
    axis: Literal["vol", "trend", "hmm"] = "trend"

    @model_validator(mode="after")
    def _quantiles_in_order(self):
        low, high = self.vol_quantiles
        if not (0 < low < 1 and 0 < high < 1):
            raise ValueError(
                f"vol_quantiles {list(self.vol_quantiles)}: each must lie strictly between 0 and 1"
            )
        if low >= high:
            raise ValueError(f"vol_quantiles {list(self.vol_quantiles)}: the first must be below the second")
        if self.axis == "hmm" and self.hmm_states is None:
            raise ValueError("axis 'hmm' needs hmm_states (the number of hidden states)")
        if self.hmm_states is not None:
            # The first vol_window bars have no realised volatility, so no feature row.
            rows, need = self.hmm_train_bars - self.vol_window, rows_needed(self.hmm_states)
            if rows < need:
                raise ValueError(
                    f"hmm_train_bars {self.hmm_train_bars}: {self.hmm_states} hmm states need at least "
                    f"{need} training rows, and these bars give {max(rows, 0)} (the first vol_window "
                    f"bars have none); raise hmm_train_bars to {need + self.vol_window} or lower hmm_states"
                )
        return self

    def axes(self) -> tuple[str, ...]:
        """The axes this configuration labels."""
        return ("vol", "trend", "hmm") if self.hmm_states is not None else ("vol", "trend")

    def label_key(self) -> str:
        """A short hash of the fields that change labels (not `axis`, which only picks one):
        stored labels are kept per key, so a changed configuration never reads old labels."""
        fields = self.model_dump(mode="json", exclude={"axis"})
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
