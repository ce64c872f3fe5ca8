"""Regime labels bar by bar: a labeller that carries its state from one bar to the next.

`label_regimes` labels a whole series; the live loop and the leader see one new bar a tick, and
relabelling the whole history for it cost a router's tick more than its forecast did
(benchmarks/bench_live_tick_router.py). Every label is causal, so the labels of the bars seen so
far never change, and the newest one needs only a small state:

- vol: the last `vol_window` one-bar log returns (the new bar's realised volatility is computed
  from its window alone, as labels.realised_vol does), and every realised volatility so far,
  sorted (the new one's rank is a binary search, its insertion one move of memory);
- trend: the previous bar, the Wilder means of +DM, -DM and the true range, and ADX, stepped with
  the very exponential mean labels.py uses.

So the labels equal label_regimes' on the whole series bit for bit (tests/engine/
test_engine_regimes_incremental.py checks every bar of real and synthetic series). The HMM axis
is not carried: with `hmm_states` set the labeller keeps the bars and labels them whole.

A series' newest bar may be rewritten (a feed revising the bar it last sent); `extend` takes bars
from the newest labelled one on, and a first bar at that ts replaces it: the state before it is
kept for that. Until ADX has its first value (2 x adx_period bars, seeded from a window) the
labeller keeps the bars and labels them whole.

Each step costs a binary search and one move of the sorted volatilities (8 bytes a bar so far):
about a millisecond at a million bars, so a catch-up of many bars is best labelled whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from engine.regimes.config import TREND_CODES, VOL_CODES, RegimeConfig, RegimeError
from engine.regimes.labels import (
    directional_state,
    label_regimes,
    realised_vol,
    require_bars,
)

__all__ = ["RegimeLabeller"]


@dataclass(frozen=True)
class _State:
    """What the labels of the next bar need, after the bar at `newest`."""

    newest: datetime
    bars: int  # bars seen, the newest included
    last_price: tuple[float, float, float]  # high, low, close of the newest bar
    returns: tuple[float, ...]  # the last vol_window one-bar log returns
    vols: np.ndarray  # every realised volatility so far, sorted
    means: tuple[float, float, float]  # Wilder means of +DM, -DM and the true range
    adx: float


class RegimeLabeller:
    """Labels one series' bars as they arrive; `extend` returns the labels of the bars given."""

    def __init__(self, config: RegimeConfig) -> None:
        self.config = config
        self._state: _State | None = None
        self._before_newest: _State | None = None  # the state before the newest bar
        self._bars: pl.DataFrame | None = None  # the series, while it is labelled whole

    @property
    def seen(self) -> int:
        """How many bars of the series were labelled."""
        if self._state is not None:
            return self._state.bars
        return 0 if self._bars is None else self._bars.height

    @property
    def newest(self) -> datetime | None:
        """The ts of the newest bar labelled, None before any."""
        if self._state is not None:
            return self._state.newest
        return None if self._bars is None else self._bars["ts"][-1]

    def extend(self, bars: pl.DataFrame) -> pl.DataFrame:
        """The labels (ts, vol, trend[, hmm]) of `bars`: the series' first bars, or the bars from
        the newest labelled one on (a first bar at its ts replaces it). RegimeError (one line)
        for bars that go back further."""
        require_bars(bars, "regime labeller")
        newest = self.newest
        if bars.is_empty():
            return label_regimes(bars, self.config)
        if newest is not None and bars["ts"][0] < newest:
            raise RegimeError(f"regime labeller: bars from {bars['ts'][0]} go back before the newest "
                              f"labelled bar ({newest}); label the series whole")
        replaces_newest = newest is not None and bars["ts"][0] == newest
        if self._state is None:
            return self._label_whole(bars, replaces_newest)
        if replaces_newest:
            self._state = self._before_newest
        return self._step(bars)

    def _label_whole(self, bars: pl.DataFrame, replaces_newest: bool) -> pl.DataFrame:
        """Label the series held so far and `bars` whole; once ADX has its first value before the
        newest bar (and no HMM is asked for), carry the state from there on instead."""
        given = bars.height
        if self._bars is not None:
            kept = self._bars.height - 1 if replaces_newest else self._bars.height
            bars = pl.concat([self._bars.head(kept), bars])
        labels = label_regimes(bars, self.config)
        if self.config.hmm_states is None and bars.height > 2 * self.config.adx_period:
            self._before_newest, self._state = self._states(bars)
            self._bars = None
        else:
            self._bars = bars
        return labels.tail(given)

    def _states(self, bars: pl.DataFrame) -> tuple[_State, _State]:
        """The states after the last bar but one, and after the last."""
        config = self.config
        high, low, close = (bars[name].cast(pl.Float64).to_numpy() for name in ("high", "low", "close"))
        vol = realised_vol(close, config.vol_window)
        adx, _plus, _minus, means = directional_state(high, low, close, config.adx_period)
        returns = np.diff(np.log(close[-(config.vol_window + 2) :]))

        def after(row: int) -> _State:  # row: -1 (the last bar) or -2
            upto = vol[: bars.height + row + 1]
            return _State(
                newest=bars["ts"][row],
                bars=bars.height + row + 1,
                last_price=(float(high[row]), float(low[row]), float(close[row])),
                returns=tuple(returns[: returns.size + row + 1][-config.vol_window :].tolist()),
                vols=np.sort(upto[~np.isnan(upto)]),
                means=(float(means[0][row]), float(means[1][row]), float(means[2][row])),
                adx=float(adx[row]),
            )

        return after(-2), after(-1)

    def _step(self, bars: pl.DataFrame) -> pl.DataFrame:
        high, low, close = (bars[name].cast(pl.Float64).to_list() for name in ("high", "low", "close"))
        vol_names, trend_names = [], []
        state = self._state
        assert state is not None
        for i, ts in enumerate(bars["ts"]):
            self._before_newest = state
            state, vol, trend = self._next(state, high[i], low[i], close[i], ts)
            vol_names.append(VOL_NAMES.get(vol))
            trend_names.append(TREND_NAMES.get(trend))
        self._state = state
        return pl.DataFrame([bars["ts"], pl.Series("vol", vol_names, dtype=pl.Utf8),
                             pl.Series("trend", trend_names, dtype=pl.Utf8)])

    def _next(self, state: _State, high: float, low: float, close: float, ts: datetime
              ) -> tuple[_State, int | None, int | None]:
        """The state after one more bar, and that bar's vol and trend codes (None: no label).

        The arithmetic of labels.py on the bar's own window and the carried means, in the same
        order, on Python floats (IEEE doubles, as numpy's): the same bits. polars' ewm_mean with
        adjust=False steps m += alpha * (x - m), which `_wilder_step` repeats."""
        config, period = self.config, self.config.adx_period
        prev_high, prev_low, prev_close = state.last_price
        # vol: the new bar's realised volatility, and its rank among those so far
        new_return = float(np.diff(np.log(np.array([prev_close, close])))[0])  # numpy's log, as labels'
        returns = (*state.returns, new_return)[-config.vol_window :]
        vols, vol_code = state.vols, None
        if len(returns) == config.vol_window:
            vol = _window_std(returns)
            if vol == vol:  # not NaN
                seen = float(vols.size)  # n_t - 1 in labels.vol_codes
                count = int(np.searchsorted(vols, vol, side="right")) + 1
                low_k, high_k = (math.floor(seen * q) for q in config.vol_quantiles)
                vol_code = 0 if count <= low_k else (2 if count > high_k else 1)
                vols = np.insert(vols, count - 1, vol)
        # trend: +DM, -DM and the true range (labels.directional_terms), one Wilder step of each
        # mean, then DI and DX (labels.directional_index) and one step of ADX
        up, down = high - prev_high, prev_low - low
        terms = (up if up > 0 and up > down else 0.0, down if down > 0 and down > up else 0.0,
                 max(high - low, abs(high - prev_close), abs(low - prev_close)))
        plus_mean, minus_mean, range_mean = (
            _wilder_step(mean, term, period) for mean, term in zip(state.means, terms, strict=True))
        plus_sum, minus_sum, range_sum = period * plus_mean, period * minus_mean, period * range_mean
        flat = range_sum == 0
        plus_di = 0.0 if flat else 100.0 * plus_sum / range_sum
        minus_di = 0.0 if flat else 100.0 * minus_sum / range_sum
        total = plus_di + minus_di
        adx = state.adx
        if not flat and total != 0:  # else TA-Lib leaves the bar's DX out: ADX stays
            adx = _wilder_step(adx, 100.0 * abs(minus_di - plus_di) / total, period)
        trending = adx >= config.adx_threshold
        trend_code: int | None = (1 if trending and plus_di > minus_di else
                                  -1 if trending and minus_di > plus_di else 0)
        if state.bars < config.min_history:  # the new bar's row, state.bars, is before min_history
            vol_code = trend_code = None
        after = _State(ts, state.bars + 1, (high, low, close), returns, vols,
                       (plus_mean, minus_mean, range_mean), adx)
        return after, vol_code, trend_code


VOL_NAMES: dict[int | None, str] = {code: name for name, code in VOL_CODES.items()}
TREND_NAMES: dict[int | None, str] = {code: name for name, code in TREND_CODES.items()}


def _wilder_step(mean: float, value: float, period: int) -> float:
    """One step of labels._exponential_mean (polars' ewm_mean, adjust=False, alpha = 1 / period)."""
    return mean + (1.0 / period) * (value - mean)


def _window_std(returns: tuple[float, ...]) -> float:
    """labels.window_std of one window: the same operations in the same order."""
    window = len(returns)
    total = returns[0]
    for value in returns[1:]:
        total += value
    mean = total / window
    squares = (returns[0] - mean) * (returns[0] - mean)
    for value in returns[1:]:
        squares += (value - mean) * (value - mean)
    return math.sqrt(squares / (window - 1))
