"""Causal market-regime labels: each bar's label uses that bar and earlier bars only.

Three axes:
- vol: the bar's realised volatility (sample std of the last `vol_window` one-bar log returns)
  against its own EXPANDING history: low below the history's q1 quantile, high at or above its
  q2 quantile, normal between. The quantiles are numpy's `method="lower"` ones over every
  realised volatility up to and including the bar, so a label is a function of the bar's rank
  in that history (see `vol_codes`).
- trend: Wilder's ADX with +DI / -DI, equal to TA-Lib's ADX / PLUS_DI / MINUS_DI: trending when
  ADX >= adx_threshold, up or down by which DI is larger, ranging otherwise.
- hmm (optional, engine.regimes.hmm): a Gaussian HMM fitted on the first bars only, read with
  the forward (filtering) probabilities.

Numeric codes (what recipe entries expose as features): vol low=0, normal=1, high=2; trend
trending_down=-1, ranging=0, trending_up=1. NaN where a bar has no label (not enough history).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

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
    "directional_movement",
    "expanding_le_counts",
    "label_regimes",
    "realised_vol",
    "trend_codes",
    "vol_codes",
]

# The configuration and names live in engine.regimes.config (pydantic only: the console reads
# the config without loading numpy or polars); they are re-exported here, the interface's home.
# --- volatility ------------------------------------------------------------------------------


def realised_vol(close: np.ndarray, window: int) -> np.ndarray:
    """Sample std (ddof=1) of the last `window` one-bar log returns; NaN for the first `window`
    bars (the `volatility` recipe entry's vol_cc_{window}, to rounding).

    Each bar's value is computed from its own window alone: two passes (the mean, then the
    squared deviations), each adding the window's returns in order. So a bar labelled later from
    a short tail (engine.regimes.incremental) gets the very bits it gets here, where a running
    sum (polars' rolling_std) would differ in the last place with the history before it, and a
    last-place difference can move a bar's rank among its history's volatilities."""
    close = np.asarray(close, dtype=np.float64)
    out = np.full(close.size, np.nan)
    if close.size > window:
        out[window:] = window_std(np.diff(np.log(close)), window)
    return out


def window_std(returns: np.ndarray, window: int) -> np.ndarray:
    """The sample std of each run of `window` consecutive returns (returns[j : j + window] for
    each j), each from its own values only."""
    rows = returns.size - window + 1
    total = returns[:rows].copy()
    for j in range(1, window):
        total += returns[j : j + rows]
    mean = total / window
    squares = (returns[:rows] - mean) ** 2
    for j in range(1, window):
        squares += (returns[j : j + rows] - mean) ** 2
    return np.sqrt(squares / (window - 1))


def expanding_le_counts(values: np.ndarray) -> np.ndarray:
    """For each t: how many of values[0..t] (itself included) are <= values[t]. O(n log n) in
    numpy, no Python loop over the rows.

    A merge sort run top-down: `order` holds the positions sorted by (position // 2w, value),
    the groups of 2w positions each in value order (a stable argsort gives the first level, one
    group holding everything; equal values keep position order, so an earlier one counts as
    <=). In each group, every element of the right half (positions w..2w-1) is preceded in
    value order by exactly the left-half elements <= it: a cumulative sum counts them. Then a
    stable partition of each group into its halves (positions from two cumulative sums, one
    scatter) gives the next level's order, w halved, down to w = 1.
    """
    n = values.size
    if n < 2:
        return np.ones(n, dtype=np.int64)
    dtype = np.int32 if n < 2**31 - 1 else np.int64
    order: npt.NDArray[np.signedinteger[Any]] = np.argsort(values, kind="stable").astype(dtype)
    # Each element's count so far, kept in `order`'s order and moved with it (a scatter into
    # nearby places, where updating counts[order] would jump across the whole array).
    found: npt.NDArray[np.signedinteger[Any]] = np.ones(n, dtype=dtype)
    # How many elements lie up to and including each place.
    seen: npt.NDArray[np.signedinteger[Any]] = np.arange(1, n + 1, dtype=dtype)
    k = (n - 1).bit_length() - 1  # w = 2**k: the largest power of two below n
    while k >= 0:
        w = 1 << k
        right = (order >> k) & 1
        start = (order >> (k + 1)) << (k + 1)  # the group's first place (earlier groups are full)
        lefts: npt.NDArray[np.signedinteger[Any]] = np.cumsum(right ^ 1, dtype=dtype)
        lefts -= start >> 1  # this group's lefts up to here (each earlier group has w)
        found += right * lefts
        if k == 0:
            break
        rights = seen - lefts - start  # this group's rights up to here
        place = np.where(right, np.minimum(w, n - start) + rights, lefts)
        place += start - 1
        moved_order, moved_found = np.empty_like(order), np.empty_like(found)
        moved_order[place] = order
        moved_found[place] = found
        order, found = moved_order, moved_found
        k -= 1
    counts = np.empty(n, dtype=np.int64)
    counts[order] = found
    return counts


def vol_codes(vol: np.ndarray, quantiles: tuple[float, float], min_history: int) -> np.ndarray:
    """0 / 1 / 2 (low / normal / high) per bar, NaN where vol is NaN or the bar is before row
    `min_history`.

    With h_t the realised volatilities up to bar t (n_t of them) and C_t how many are <= vol_t,
    numpy's lower quantile is the order statistic k = floor(q (n_t - 1)), and
    vol_t < quantile(q1) exactly when C_t <= k1, vol_t >= quantile(q2) exactly when C_t > k2.
    """
    out = np.full(vol.size, np.nan)
    valid = np.flatnonzero(~np.isnan(vol))
    if valid.size == 0:
        return out
    counts = expanding_le_counts(vol[valid])
    seen = np.arange(valid.size, dtype=np.float64)  # n_t - 1
    k1 = np.floor(seen * quantiles[0])
    k2 = np.floor(seen * quantiles[1])
    codes = np.where(counts <= k1, 0.0, np.where(counts > k2, 2.0, 1.0))
    out[valid] = codes
    out[: min(min_history, out.size)] = np.nan
    return out


# --- trend -----------------------------------------------------------------------------------


def _wilder_means(terms: np.ndarray, period: int) -> np.ndarray:
    """TA-Lib's running Wilder sum of a per-bar term defined from row 1, divided by `period`:
    TA-Lib's sum is the sum of rows 1..period-1 at row period-1, then s_t = s_{t-1} - s_{t-1} /
    period + x_t.

    s / period is an exponential mean with alpha = 1 / period (polars' ewm_mean, a C loop)
    seeded with s_{period-1} / period; the sum is period times it (the scaling changes the last
    bit at most). The mean is what a labeller carries from bar to bar (incremental.py)."""
    out = np.full(terms.size, np.nan)
    if terms.size < period:
        return out
    seed = np.add.accumulate(terms[1:period])[-1]
    out[period - 1 :] = _exponential_mean(seed / period, terms[period:], period)
    return out


def _exponential_mean(seed: float, values: np.ndarray, period: int) -> np.ndarray:
    """m_0 = seed, then m += (x - m) / period for each value; a NaN value is skipped (m stays)."""
    joined = np.concatenate([[seed], values])
    if not np.isnan(values).any():  # the common case: no copies for nulls
        return pl.Series(joined).ewm_mean(alpha=1.0 / period, adjust=False).to_numpy()
    series = pl.Series(joined, nan_to_null=True)
    smoothed = series.ewm_mean(alpha=1.0 / period, adjust=False, ignore_nulls=True)
    return smoothed.forward_fill().to_numpy().astype(np.float64)


def directional_movement(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ADX, +DI, -DI), equal to talib.ADX / PLUS_DI / MINUS_DI (NaN where TA-Lib's are): the
    DIs from row `period`, ADX from row 2 * period - 1."""
    adx, plus_di, minus_di, _means = directional_state(high, low, close, period)
    return adx, plus_di, minus_di


def directional_terms(
    high: np.ndarray, low: np.ndarray, close: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """+DM, -DM and the true range of each bar from row 1 (row 0: zeros)."""
    n = close.size
    up, down, true_range = np.zeros(n), np.zeros(n), np.zeros(n)
    up[1:] = high[1:] - high[:-1]
    down[1:] = low[:-1] - low[1:]
    plus_dm = np.where((up > 0) & (up > down), up, 0.0)
    minus_dm = np.where((down > 0) & (down > up), down, 0.0)
    previous = close[:-1]
    true_range[1:] = np.maximum.reduce(
        [high[1:] - low[1:], np.abs(high[1:] - previous), np.abs(low[1:] - previous)]
    )
    return plus_dm, minus_dm, true_range


def directional_index(
    plus_mean: np.ndarray, minus_mean: np.ndarray, range_mean: np.ndarray, period: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(+DI, -DI, DX) from the Wilder means of +DM, -DM and the true range; DX is NaN where
    TA-Lib leaves a bar's DX out."""
    plus_sum, minus_sum, range_sum = period * plus_mean, period * minus_mean, period * range_mean
    # TA-Lib (0.8) divides by a Wilder sum unless it is exactly 0: one decaying towards 0 over a
    # long flat stretch still gives its ratio (tested against TA-Lib through 500 flat bars).
    flat = range_sum == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        plus_di = np.where(flat, 0.0, 100.0 * plus_sum / range_sum)
        minus_di = np.where(flat, 0.0, 100.0 * minus_sum / range_sum)
        total = plus_di + minus_di
        dx = 100.0 * np.abs(minus_di - plus_di) / total
    # TA-Lib leaves a bar's DX out (ADX unchanged) where either sum is zero.
    dx[flat | (total == 0)] = np.nan
    return plus_di, minus_di, dx


def directional_state(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """directional_movement's (ADX, +DI, -DI), and the Wilder means of +DM, -DM and the true
    range they came from (what a labeller carries on from the last bar)."""
    high, low, close = (np.asarray(a, dtype=np.float64) for a in (high, low, close))
    n = close.size
    adx, plus_di, minus_di = (np.full(n, np.nan) for _ in range(3))
    means = tuple(_wilder_means(x, period) for x in directional_terms(high, low, close))
    if n <= period:
        return adx, plus_di, minus_di, means
    span = slice(period, n)
    plus_di[span], minus_di[span], dx = directional_index(*(mean[span] for mean in means), period=period)
    if n >= 2 * period:
        seed = np.nansum(dx[:period]) / period
        # TA-Lib leaves a skipped DX out of the average: ADX stays where it was.
        adx[2 * period - 1 :] = _exponential_mean(seed, dx[period:], period)
    return adx, plus_di, minus_di, means


def trend_of(adx: np.ndarray, plus_di: np.ndarray, minus_di: np.ndarray, threshold: float) -> np.ndarray:
    """1 / -1 / 0 (trending up / down / ranging) per bar; NaN where ADX is."""
    trending = adx >= threshold
    codes = np.where(
        trending & (plus_di > minus_di), 1.0, np.where(trending & (minus_di > plus_di), -1.0, 0.0)
    )
    codes[np.isnan(adx)] = np.nan
    return codes


def trend_codes(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int, threshold: float, min_history: int
) -> np.ndarray:
    """1 / -1 / 0 (trending up / down / ranging) per bar; NaN before ADX's first value and
    before row `min_history`."""
    codes = trend_of(*directional_movement(high, low, close, period), threshold)
    codes[: min(min_history, codes.size)] = np.nan
    return codes


# --- the labels ------------------------------------------------------------------------------


def decode(codes: np.ndarray, names: dict[str, int]) -> pl.Series:
    lookup = {float(code): name for name, code in names.items()}
    return pl.Series(codes, nan_to_null=True).replace_strict(lookup, default=None, return_dtype=pl.Utf8)


def require_bars(bars: pl.DataFrame, what: str = "label_regimes") -> None:
    """One ValueError line for bars a labeller cannot read."""
    missing = [name for name in ("ts", "high", "low", "close") if name not in bars.columns]
    if missing:
        raise RegimeError(f"{what}: the bars lack column(s) {', '.join(missing)}")
    if bars.height > 1:
        steps = bars.select(pl.col("ts").diff().drop_nulls().dt.total_microseconds().min()).item()
        if steps is not None and steps <= 0:
            raise RegimeError(f"{what}: the bars must be in strictly increasing ts order")


def label_regimes(bars: pl.DataFrame, config: RegimeConfig) -> pl.DataFrame:
    """bars: ts, open, high, low, close, volume (time-ordered). Returns ts, vol, trend[, hmm]
    (Utf8 labels, null where not enough history). Each label uses bars up to its own ts only."""
    require_bars(bars)
    high, low, close = (bars[name].cast(pl.Float64).to_numpy() for name in ("high", "low", "close"))
    vol = vol_codes(realised_vol(close, config.vol_window), config.vol_quantiles, config.min_history)
    trend = trend_codes(high, low, close, config.adx_period, config.adx_threshold, config.min_history)
    columns = [bars["ts"], decode(vol, VOL_CODES).alias("vol"), decode(trend, TREND_CODES).alias("trend")]
    if config.hmm_states is not None:
        from engine.regimes.hmm import hmm_labels

        columns.append(hmm_labels(bars, config).alias("hmm"))
    return pl.DataFrame(columns)
