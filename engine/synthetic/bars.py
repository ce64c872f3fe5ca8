"""What a bar is to the GAN, and how generated rows become OHLCV bars again.

A bar t becomes five numbers, all relative to the close before it, so a generated row can be
stitched on wherever a path stands: the log return close_t / close_{t-1} (`ret`), the opening gap
open_t / close_{t-1} (`gap`), the upper wick high / max(open, close) and the lower wick
min(open, close) / low (`upper`, `lower`, logs, >= 0), and the log volume less its level, the
mean log volume of the `VOLUME_LEVEL_BARS` bars before (`volume`). Rebuilt bars always satisfy
low <= open, close <= high, whatever the generator produced: wicks below zero count as none.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

BAR_COLUMNS = ("ret", "gap", "upper", "lower", "volume")
VOLUME_LEVEL_BARS = 20


def bar_rows(bars: pl.DataFrame) -> np.ndarray:
    """(rows, len(BAR_COLUMNS)): each bar after the first `VOLUME_LEVEL_BARS` as BAR_COLUMNS.
    ValueError for bars that are not positive prices (a log of them means nothing)."""
    o, h, lo, c, v = (bars[name].to_numpy().astype(float)
                      for name in ("open", "high", "low", "close", "volume"))
    if bars.height <= VOLUME_LEVEL_BARS + 1:
        raise ValueError(f"{bars.height} bars are too few to describe; "
                         f"need more than {VOLUME_LEVEL_BARS + 1}")
    if (np.minimum.reduce([o, h, lo, c]) <= 0).any() or (v < 0).any():
        raise ValueError("bars need positive prices and non-negative volume")
    previous = c[:-1]
    o, h, lo, c, v = o[1:], h[1:], lo[1:], c[1:], v[1:]
    log_volume = np.log1p(bars["volume"].to_numpy().astype(float))
    # the level a bar's volume is judged against: the mean of the bars before it
    level = np.convolve(log_volume, np.ones(VOLUME_LEVEL_BARS) / VOLUME_LEVEL_BARS, mode="valid")[:-1]
    rows = np.column_stack([
        np.log(c / previous),
        np.log(o / previous),
        np.log(h / np.maximum(o, c)),
        np.log(np.minimum(o, c) / lo),
        np.log1p(v) - np.concatenate([np.full(VOLUME_LEVEL_BARS - 1, np.nan), level]),
    ])
    return rows[VOLUME_LEVEL_BARS - 1:]


def stitched_bars(start: pl.DataFrame, rows: np.ndarray) -> pl.DataFrame:
    """`start` (real bars, canonical columns, ts order) followed by one bar per row of `rows`
    (BAR_COLUMNS), the first one opening from the last real close, one typical bar apart."""
    from engine.data import typical_spacing

    step: timedelta = typical_spacing(start["ts"])
    if step <= timedelta(0):
        raise ValueError("the real bars need at least two distinct timestamps to continue from")
    close = float(start["close"][-1]) * np.exp(np.cumsum(rows[:, 0]))
    previous = np.concatenate([[float(start["close"][-1])], close[:-1]])
    opened = previous * np.exp(rows[:, 1])
    high = np.maximum(opened, close) * np.exp(np.maximum(rows[:, 2], 0.0))
    low = np.minimum(opened, close) * np.exp(-np.maximum(rows[:, 3], 0.0))
    volume = _volumes(np.log1p(start["volume"].to_numpy()[-VOLUME_LEVEL_BARS:].astype(float)), rows[:, 4])
    last = start["ts"][-1]
    made = pl.DataFrame(
        {"ts": [last + step * (i + 1) for i in range(len(rows))], "symbol": [start["symbol"][0]] * len(rows),
         "open": opened, "high": high, "low": low, "close": close, "volume": volume},
        schema=start.schema,
    )
    return pl.concat([start.select(made.columns), made])


def _volumes(history: np.ndarray, deviations: np.ndarray) -> np.ndarray:
    """Volumes whose logs sit `deviations` from the mean of the bars before, as bar_rows states them."""
    window = list(history)
    made = np.empty(len(deviations))
    for i, deviation in enumerate(deviations):
        log_volume = max(float(np.mean(window[-VOLUME_LEVEL_BARS:])) + float(deviation), 0.0)
        window.append(log_volume)
        made[i] = np.expm1(log_volume)
    return made
