"""Regime labels (vol + trend) of 1,000,000 bars: Huracan's `label_regimes` against the same
computation with TA-Lib and numpy.

Data: one synthetic random walk of minute bars (seeded), 1,000,000 rows.

Every side computes, per bar, the vol regime (the realised volatility over 20 one-bar log returns
against the quantiles 0.33 / 0.67, numpy's method="lower", of its own expanding history) and the
trend regime (ADX(14) >= 25, up or down by +DI vs -DI), null before bar 60:
  Huracan : label_regimes(bars, RegimeConfig()) on a polars frame -> a polars frame of Utf8
            labels (engine/regimes/labels.py: polars' rolling std, ADX in numpy + polars'
            exponential means, the expanding quantile by a merge sort in numpy).
  peer    : TA-Lib for what it has (ADX, PLUS_DI, MINUS_DI, STDDEV of the log returns), numpy for
            the expanding quantile: the classic way, blocks of ~sqrt(n) bars, each block's
            counts from np.searchsorted into the sorted history before it plus an in-block
            comparison matrix, then np.insert of the sorted block -> numpy code arrays.
  kernels : the same TA-Lib calls and Huracan's numpy expanding count (expanding_le_counts):
            what the labels cost without our ADX and without building the Utf8 frame.
  pandas  : for reference, pandas' Series.expanding().quantile (a skiplist in Cython), once per
            quantile, for the vol part alone (--skip-pandas to leave it out; it is slow).
Inputs are converted to each side's format before the clock starts. The sides' labels are
compared (they must agree on every bar; the ADX agrees with TA-Lib to ~1e-13, so a bar exactly
at the threshold could in principle differ; none does here).

Timings: best of --repeats, wall clock and CPU time (time.process_time: the steadier figure on a
shared machine). Ratios are printed, never asserted. Target (issue 17): Huracan <= 2x the peer.

Run: .venv/bin/python benchmarks/bench_regimes.py [--bars 1000000] [--repeats 3] [--skip-pandas]
"""

from __future__ import annotations

import argparse
import math
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import talib

from engine.regimes import VOL_CODES, RegimeConfig, label_regimes
from engine.regimes.labels import TREND_CODES, expanding_le_counts

CONFIG = RegimeConfig()


def synthetic_bars(n: int, seed: int = 7) -> pl.DataFrame:
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    # Volatility that wanders (its log an AR(1), std ~0.45, half-life ~700 bars), so all three
    # vol regimes occur and last.
    scale = 0.001 * np.exp(lfilter([1.0], [1.0, -0.999], rng.normal(0, 0.02, n)))
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1, n) * scale))
    spread = np.abs(rng.normal(0, 1, n)) * scale * close
    start = datetime(2020, 1, 1, tzinfo=UTC)
    return pl.DataFrame(
        {
            "ts": pl.datetime_range(
                start, start + timedelta(minutes=n - 1), "1m", eager=True, time_zone="UTC"
            ),
            "open": close,
            "high": close + spread,
            "low": close - spread,
            "close": close,
            "volume": np.ones(n),
        }
    )


# --- the peer ---------------------------------------------------------------------------------


def blocked_le_counts(values: np.ndarray) -> np.ndarray:
    """counts[t] = #{j <= t: values[j] <= values[t]}, by blocks of ~sqrt(n): the sorted history
    before the block (np.searchsorted) plus the block's own lower triangle."""
    n = values.size
    size = max(64, int(math.sqrt(n)))
    history = np.empty(0)
    counts = np.empty(n, dtype=np.int64)
    lower = np.tril(np.ones((size, size), dtype=bool))
    for first in range(0, n, size):
        block = values[first : first + size]
        m = block.size
        within = ((block[None, :] <= block[:, None]) & lower[:m, :m]).sum(axis=1)
        counts[first : first + m] = np.searchsorted(history, block, side="right") + within
        ordered = np.sort(block)
        history = np.insert(history, np.searchsorted(history, ordered, side="right"), ordered)
    return counts


def vol_codes_from_counts(vol: np.ndarray, counts_of) -> np.ndarray:
    codes = np.full(vol.size, np.nan)
    valid = np.flatnonzero(~np.isnan(vol))
    counts = counts_of(vol[valid])
    seen = np.arange(valid.size, dtype=np.float64)
    low, high = CONFIG.vol_quantiles
    codes[valid] = np.where(
        counts <= np.floor(seen * low), 0.0, np.where(counts > np.floor(seen * high), 2.0, 1.0)
    )
    codes[: CONFIG.min_history] = np.nan
    return codes


def peer(high, low, close, counts_of=blocked_le_counts) -> tuple[np.ndarray, np.ndarray]:
    returns = np.full(close.size, np.nan)
    returns[1:] = np.diff(np.log(close))
    window = CONFIG.vol_window
    vol = talib.STDDEV(returns, timeperiod=window) * math.sqrt(window / (window - 1))
    vol_codes = vol_codes_from_counts(vol, counts_of)
    period = CONFIG.adx_period
    adx = talib.ADX(high, low, close, period)
    plus, minus = talib.PLUS_DI(high, low, close, period), talib.MINUS_DI(high, low, close, period)
    trending = adx >= CONFIG.adx_threshold
    trend = np.where(trending & (plus > minus), 1.0, np.where(trending & (minus > plus), -1.0, 0.0))
    trend[np.isnan(adx)] = np.nan
    trend[: CONFIG.min_history] = np.nan
    return vol_codes, trend


def pandas_vol(close: np.ndarray):
    import pandas as pd

    returns = pd.Series(np.log(close)).diff()
    vol = returns.rolling(CONFIG.vol_window).std()
    history = vol.expanding()
    low, high = (history.quantile(q, interpolation="lower") for q in CONFIG.vol_quantiles)
    return np.where(vol < low, 0.0, np.where(vol >= high, 2.0, 1.0))


# --- timing -----------------------------------------------------------------------------------


def best(run, repeats: int) -> tuple[float, float, object]:
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        out = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-pandas", action="store_true")
    args = parser.parse_args()

    bars = synthetic_bars(args.bars)
    high, low, close = (bars[name].to_numpy() for name in ("high", "low", "close"))
    label_regimes(bars.head(1000), CONFIG)  # imports and first-call costs outside the clock
    peer(high[:1000], low[:1000], close[:1000])

    results = {
        "Huracan label_regimes": best(lambda: label_regimes(bars, CONFIG), args.repeats),
        "peer: TA-Lib + numpy blocks": best(lambda: peer(high, low, close), args.repeats),
        "kernels: TA-Lib + our numpy count": best(
            lambda: peer(high, low, close, counts_of=expanding_le_counts), args.repeats
        ),
    }
    if not args.skip_pandas:
        results["pandas expanding quantile (vol only)"] = best(lambda: pandas_vol(close), 1)

    ours = results["Huracan label_regimes"][2]
    vol_codes, trend_codes = results["peer: TA-Lib + numpy blocks"][2]
    ours_vol = ours["vol"].replace_strict(VOL_CODES, default=None, return_dtype=pl.Float64).to_numpy()
    ours_trend = ours["trend"].replace_strict(TREND_CODES, default=None, return_dtype=pl.Float64).to_numpy()
    for name, mine, theirs in (("vol", ours_vol, vol_codes), ("trend", ours_trend, trend_codes)):
        same = (mine == theirs) | (np.isnan(mine) & np.isnan(theirs))
        print(f"{name} labels agree with the peer on {same.mean():.6%} of {same.size:,} bars")
    shares = ours["vol"].drop_nulls().value_counts(normalize=True).sort("vol").rows()
    print("vol regime shares:", ", ".join(f"{label} {share:.1%}" for label, share in shares))

    print(f"\n{args.bars:,} bars, best of {args.repeats}")
    print(f"{'side':42} {'wall ms':>10} {'cpu ms':>10}")
    for name, (wall, cpu, _) in results.items():
        print(f"{name:42} {wall * 1e3:10.1f} {cpu * 1e3:10.1f}")
    wall, cpu, _ = results["Huracan label_regimes"]
    for name in list(results)[1:]:
        other_wall, other_cpu, _ = results[name]
        print(f"Huracan / {name}: {wall / other_wall:.2f}x wall, {cpu / other_cpu:.2f}x cpu")


if __name__ == "__main__":
    main()
