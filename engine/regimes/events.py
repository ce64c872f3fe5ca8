"""Labelled regime events: volatility clusters and liquidation cascades.

- A volatility cluster is a run of consecutive bars whose vol label is `high`.
- A liquidation cascade is a run of consecutive rows whose liquidation volume (long_usd +
  short_usd) is above `multiple` x the median of the `window` rows before it. The median is of
  earlier rows only, so a row's flag uses that row and earlier ones (causal), and a spike does
  not raise its own yardstick.

An event still running at the last bar is `ongoing`: its end is the newest bar so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import polars as pl

from engine.regimes.labels import RegimeError

EventKind = Literal["vol_cluster", "liquidation_cascade"]


@dataclass(frozen=True)
class RegimeEvent:
    kind: EventKind
    start: datetime  # its first bar
    end: datetime  # its last bar
    bars: int
    ongoing: bool  # still running at the newest bar
    peak: float | None = None  # cascades: the largest volume / median ratio of the run


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) row of each run of True."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def volatility_clusters(labels: pl.DataFrame, *, min_bars: int = 1) -> list[RegimeEvent]:
    """Runs of the high vol regime in `labels` (ts, vol, as label_regimes gives), at least
    `min_bars` long."""
    if "ts" not in labels.columns or "vol" not in labels.columns:
        raise RegimeError("volatility_clusters: the labels need ts and vol columns")
    if min_bars < 1:
        raise RegimeError(f"volatility_clusters: min_bars must be at least 1, not {min_bars}")
    flags = (labels["vol"] == "high").fill_null(False).to_numpy()
    ts = labels["ts"]
    return [
        RegimeEvent("vol_cluster", ts[first], ts[last], last - first + 1, ongoing=last == labels.height - 1)
        for first, last in _runs(flags)
        if last - first + 1 >= min_bars
    ]


def cascade_ratio(liquidations: pl.DataFrame, window: int) -> pl.Series:
    """Per row: (long_usd + short_usd) / median of the `window` rows before it (null for the
    first `window` rows, and where that median is 0)."""
    missing = [name for name in ("ts", "long_usd", "short_usd") if name not in liquidations.columns]
    if missing:
        raise RegimeError(f"liquidation cascades: the liquidations lack column(s) {', '.join(missing)}")
    if window < 2:
        raise RegimeError(f"liquidation cascades: window must be at least 2 rows, not {window}")
    volume = pl.col("long_usd") + pl.col("short_usd")
    median = volume.shift(1).rolling_median(window)
    return liquidations.select(pl.when(median > 0).then(volume / median).alias("ratio")).to_series()


def liquidation_cascades(
    liquidations: pl.DataFrame, *, multiple: float = 3.0, window: int = 24
) -> list[RegimeEvent]:
    """Runs of rows (ts-ordered: ts, long_usd, short_usd, as brain.load_alt_data gives) whose
    liquidation volume is above `multiple` x the median of the `window` rows before each."""
    if not multiple > 0:
        raise RegimeError(f"liquidation cascades: multiple must be above 0, not {multiple}")
    ratio = cascade_ratio(liquidations, window)
    flags = (ratio > multiple).fill_null(False).to_numpy()
    values = ratio.to_numpy()
    ts = liquidations["ts"]
    return [
        RegimeEvent(
            "liquidation_cascade",
            ts[first],
            ts[last],
            last - first + 1,
            ongoing=last == liquidations.height - 1,
            peak=float(np.nanmax(values[first : last + 1])),
        )
        for first, last in _runs(flags)
    ]
