"""A recipe over a tail window: the live loop's new bars get the numbers a batch computation over
the whole history gives, from a bounded number of bars.

How many bars a value needs (`recipe_warmup`): a windowed indicator its window (and its lags); a
recursive one (EMA, Wilder's averages in RSI and ATR, MACD) is seeded from the window's first bars
instead of from the whole history, and the seed's weight decays as (1 - alpha)^k, so it needs the
bars after which that weight is below SEED_WEIGHT (~860 bars for a 50-bar EMA); a derived entry
(lags, z-scores) adds its own window to the longest of the others. From that row of a window on,
values equal batch to about SEED_WEIGHT relative (tests check 1e-12).

OBV is a running sum: its value at a bar depends on every bar before it, so no window is long
enough. A window's OBV differs from batch by a constant (the sum before the window), which
`TailFeatures` carries: the first window is the whole history; each later window starts inside
the one before, and its OBV is shifted so that on their first common bar it equals the value the
previous window had there.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from engine.features import specs
from engine.features.compute import compute_features
from engine.features.recipe import FeatureRecipe

SEED_WEIGHT = 1e-15


def _decay(alpha: float) -> int:
    """Bars after which a seed's weight (1 - alpha)^k is below SEED_WEIGHT."""
    return math.ceil(math.log(SEED_WEIGHT) / math.log(1 - alpha))


def entry_warmup(spec: specs.FeatureSpec) -> int | None:
    """Bars of history before a value of `spec`'s own columns equals batch; None: no bounded
    number does (a running sum). Derived entries: their own part only (recipe_warmup adds the rest)."""
    if isinstance(spec, specs.Obv) or spec.whole_history:
        return None
    if isinstance(spec, specs.Returns | specs.LogReturns):
        return max(spec.horizons)
    if isinstance(spec, specs.Volatility):
        return max(spec.windows) + 1
    if isinstance(spec, specs.Sma | specs.SmaRatio):
        return max(spec.periods)
    if isinstance(spec, specs.Ema):
        return max(p + _decay(2 / (p + 1)) for p in spec.periods)
    if isinstance(spec, specs.Rsi | specs.Atr):
        return max(p + 1 + _decay(1 / p) for p in spec.periods)
    if isinstance(spec, specs.Macd):
        return spec.slow + spec.signal + _decay(2 / (spec.slow + 1)) + _decay(2 / (spec.signal + 1))
    if isinstance(spec, specs.Bbands):
        return spec.period
    if isinstance(spec, specs.Roc | specs.Momentum | specs.LinregSlope):
        return max(spec.periods) + 1
    if isinstance(spec, specs.Stoch):
        return spec.k_period + spec.smooth + (spec.d_period or spec.smooth)
    if isinstance(spec, specs.VolumeZscore | specs.Zscore):
        return max(spec.windows)
    if isinstance(spec, specs.Lags):
        return max(spec.lags)
    if isinstance(spec, specs.HlRange | specs.Calendar):
        return 0
    if isinstance(spec, specs.RegimeTrend):
        # Wilder's sums, then ADX's own Wilder average of DX; no label before min_history.
        return max(spec.min_history, 2 * (spec.period + 1 + _decay(1 / spec.period)))
    raise TypeError(f"no warm-up known for recipe entry {type(spec).__name__}")


def recipe_warmup(recipe: FeatureRecipe) -> int:
    """Bars of history a new bar's features need to equal batch (running sums aside, which
    TailFeatures carries)."""
    base = [entry_warmup(spec) or 0 for spec in recipe.features if not spec.derived]
    longest = max(base, default=0)
    derived = [longest + (entry_warmup(spec) or 0) for spec in recipe.features if spec.derived]
    return max([longest, *derived])


def running_sum_columns(recipe: FeatureRecipe) -> list[str]:
    """The recipe's columns whose value at a bar depends on every bar before it."""
    return [
        name
        for spec in recipe.features
        if entry_warmup(spec) is None and not spec.whole_history
        for name in spec.columns()
    ]


class TailFeatures:
    """One series' recipe features, computed over tail windows once the whole history was computed.

    Contract: `bars_needed()` says how many of the newest bars `compute` needs ahead of the bars
    wanted (None: the whole history, on the first call); `compute(bars)` returns compute_features
    of those bars, every row from `bars_needed()` on equal to batch. Each window must start inside
    the previous one (the live loop's windows do: they move on by the new bars only)."""

    def __init__(self, recipe: FeatureRecipe):
        self.recipe = recipe
        self.warmup = recipe_warmup(recipe)
        self._sums = running_sum_columns(recipe)
        # An entry of the whole history (the regime_vol expanding quantile): every window is it.
        self._whole_history = any(spec.whole_history for spec in recipe.features)
        # The previous window's ts and running-sum columns (None before the first compute).
        self._last: pl.DataFrame | None = None
        self._last_ts: np.ndarray = np.empty(0, dtype=np.int64)

    def bars_needed(self) -> int | None:
        return None if self._last is None or self._whole_history else self.warmup

    def compute(self, bars: pl.DataFrame) -> pl.DataFrame:
        frame = compute_features(bars, self.recipe)
        if self._sums and self._last is not None and frame.height:
            anchor = self._anchor(int(frame["ts"].to_physical()[0]))
            frame = frame.with_columns(
                (pl.col(name) + (value - frame[name][0])).alias(name)
                for name, value in zip(self._sums, anchor, strict=True)
                if value is not None and frame[name][0] is not None
            )
        self._last = frame.select("ts", *self._sums)
        self._last_ts = frame["ts"].to_physical().to_numpy()
        return frame

    def _anchor(self, stamp: int) -> tuple:
        """The previous window's running sums at the bar this window starts on (`stamp`: its ts
        as the integer polars holds; searched as integers, far cheaper than datetimes)."""
        assert self._last is not None
        where = int(np.searchsorted(self._last_ts, stamp))
        if where >= self._last_ts.size or self._last_ts[where] != stamp:
            raise ValueError("TailFeatures: a window must start inside the previous one")
        return self._last.row(where)[1:]
