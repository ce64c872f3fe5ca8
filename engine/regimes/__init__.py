"""Market regimes: causal labels per bar (vol, trend, hmm) and labelled events.

`label_regimes(bars, RegimeConfig())` labels every bar from that bar and earlier ones only
(engine.regimes.labels); engine.regimes.hmm is the hidden-Markov axis; engine.regimes.events
finds volatility clusters and liquidation cascades. The configuration (engine.regimes.config)
imports without numpy or polars, and so does this package: `label_regimes` loads on first use.
"""

from __future__ import annotations

from typing import Any

from engine.regimes.config import (
    REGIME_AXES,
    TREND_CODES,
    TREND_LABELS,
    VOL_CODES,
    VOL_LABELS,
    RegimeConfig,
    RegimeError,
)

__all__ = [
    "REGIME_AXES",
    "TREND_CODES",
    "TREND_LABELS",
    "VOL_CODES",
    "VOL_LABELS",
    "RegimeConfig",
    "RegimeError",
    "label_regimes",
]


def __getattr__(name: str) -> Any:
    if name == "label_regimes":
        from engine.regimes.labels import label_regimes

        return label_regimes
    raise AttributeError(f"module 'engine.regimes' has no attribute {name!r}")
