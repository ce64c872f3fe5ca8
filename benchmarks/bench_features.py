"""The default feature recipe: Huracan (polars) versus TA-Lib called per indicator and per symbol,
and versus the `ta` package (pandas).

Data: synthetic OHLCV random walks (seeded), minute bars, in two shapes:
  one symbol x 1,000,000 bars, and 100 symbols x 10,000 bars (1,000,000 rows).

All three sides make the same 45 columns as engine/features/default_recipe.yaml:
  Huracan : compute_features(frame, load_recipe()) on a polars frame -> polars frame.
  TA-Lib  : per symbol, numpy arrays -> one talib call per indicator (SMA, EMA, RSI, MACD, BBANDS,
            ATR, ROC, STOCH, OBV, MOM, LINEARREG_SLOPE, ROCP, ROCR, STDDEV); numpy for what TA-Lib
            lacks (Parkinson / Garman-Klass means via talib.SMA, lags, calendar) -> polars frame.
  ta      : per symbol, pandas frame -> ta's indicator classes (SMAIndicator, EMAIndicator,
            RSIIndicator, MACD, BollingerBands, AverageTrueRange, ROCIndicator,
            StochasticOscillator, OnBalanceVolumeIndicator); pandas for the rest -> pandas frame.
            (ta has its own conventions, e.g. EMAs not seeded with an SMA: same work, other numbers.)
Conversions into each library's input format happen before the clock starts.

Timings are the best of --repeats runs (ta: --ta-repeats, default 1: it is slow, its ATR is a
Python loop), as wall clock and as CPU time summed over threads (time.process_time: the steadier
figure on a shared machine, and the total work done, where polars spreads its work over threads
and TA-Lib runs on one). Ratios are printed, never asserted. The TA-Lib and Huracan outputs are compared
column by column as a sanity check (the tests do that properly, on real data).

Peak memory (--memory): each measurement runs in a fresh subprocess and reads
resource.getrusage(RUSAGE_SELF).ru_maxrss, the process's resident high-water mark, after the
data is built and again after the run; tracemalloc would not see polars' allocations (Rust) nor
TA-Lib's (C).

Run: .venv/bin/python benchmarks/bench_features.py [--repeats 3] [--ta-repeats 1] [--skip-ta]
     [--bars 1000000] [--symbols 100] [--symbol-bars 10000] [--memory]
Targets (issue 3): Huracan >= 10x faster than ta, and within 3x of TA-Lib.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime

import numpy as np
import polars as pl

from engine.features import compute_features, load_recipe

START = datetime(2015, 1, 1, tzinfo=UTC)
LN2 = math.log(2)
CALENDAR_CYCLES = {"hour": (24, 0), "day_of_week": (7, 1), "month": (12, 1)}
CALENDAR_PREFIXES = tuple(CALENDAR_CYCLES)


def synthetic_bars(n: int, symbol: str, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0, 0.0005, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.001, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.001, n)))
    minutes = np.arange(n, dtype=np.int64) * 60_000_000 + int(START.timestamp() * 1e6)
    return pl.DataFrame(
        {
            "ts": pl.Series(minutes).cast(pl.Datetime("us", "UTC")),
            "symbol": [symbol] * n,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": np.round(rng.lognormal(8, 1, n)),
        }
    )


def dataset(shape: str, args) -> pl.DataFrame:
    if shape == "one":
        return synthetic_bars(args.bars, "ONE", seed=1)
    return pl.concat(
        [synthetic_bars(args.symbol_bars, f"S{i:03d}", seed=100 + i) for i in range(args.symbols)]
    )


# --- TA-Lib, one call per indicator and symbol ------------------------------------------------


def _shifted(x: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(x, np.nan)
    out[k:] = x[:-k]
    return out


def _cycle(values: np.ndarray, field: str) -> tuple[np.ndarray, np.ndarray]:
    length, start = CALENDAR_CYCLES[field]
    angles = 2 * np.pi * np.arange(length) / length
    return np.sin(angles)[values - start], np.cos(angles)[values - start]


def _zscore_talib(talib, x: np.ndarray, window: int) -> np.ndarray:
    std = talib.STDDEV(x, window) * math.sqrt(window / (window - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std < 1e-12, 0.0, (x - talib.SMA(x, window)) / std)


def talib_one_symbol(talib, o, h, l, c, v, ts_us) -> dict[str, np.ndarray]:  # noqa: E741
    out: dict[str, np.ndarray] = {}
    for k in (1, 5, 10, 20):
        out[f"ret_{k}"] = talib.ROCP(c, k)
    for k in (1, 5, 10, 20):
        out[f"log_ret_{k}"] = np.log(talib.ROCR(c, k))
    out["vol_cc_20"] = talib.STDDEV(out["log_ret_1"], 20) * math.sqrt(20 / 19)
    out["vol_parkinson_20"] = np.sqrt(talib.SMA(np.log(h / l) ** 2, 20) / (4 * LN2))
    gk = 0.5 * np.log(h / l) ** 2 - (2 * LN2 - 1) * np.log(c / o) ** 2
    out["vol_gk_20"] = np.sqrt(np.maximum(talib.SMA(gk, 20), 0))
    for p in (10, 20, 50):
        out[f"sma_{p}"] = talib.SMA(c, p)
    for p in (10, 20, 50):
        out[f"ema_{p}"] = talib.EMA(c, p)
    out["rsi_14"] = talib.RSI(c, 14)
    macd, signal, hist = talib.MACD(c, 12, 26, 9)
    out |= {"macd_12_26_9": macd, "macd_signal_12_26_9": signal, "macd_hist_12_26_9": hist}
    upper, middle, lower = talib.BBANDS(c, 20, 2.0, 2.0, 0)
    out |= {"bb_upper_20_2": upper, "bb_middle_20_2": middle, "bb_lower_20_2": lower}
    out["atr_14"] = talib.ATR(h, l, c, 14)
    out["roc_10"] = talib.ROC(c, 10)
    out["stoch_k_14_3"], out["stoch_d_14_3"] = talib.STOCH(h, l, c, 14, 3, 0, 3, 0)
    out["obv"] = talib.OBV(c, v)
    out["mom_10"] = talib.MOM(c, 10)
    out["linreg_slope_20"] = talib.LINEARREG_SLOPE(c, 20)
    for k in (1, 2, 3):
        out[f"log_ret_1_lag_{k}"] = _shifted(out["log_ret_1"], k)
    out["close_zscore_20"] = _zscore_talib(talib, c, 20)
    out["volume_zscore_20"] = _zscore_talib(talib, v, 20)
    days = ts_us // 86_400_000_000
    out["hour"] = (ts_us // 3_600_000_000 % 24).astype(np.int8)
    out["day_of_week"] = ((days + 3) % 7 + 1).astype(np.int8)  # 1970-01-01 was a Thursday
    out["month"] = (ts_us.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(
        np.int8
    )
    for field in CALENDAR_CYCLES:
        out[f"{field}_sin"], out[f"{field}_cos"] = _cycle(out[field], field)
    return out


def run_talib(frame: pl.DataFrame) -> pl.DataFrame:
    import talib

    parts = []
    for part in frame.partition_by("symbol", maintain_order=True):
        arrays = [part[name].to_numpy() for name in ("open", "high", "low", "close", "volume")]
        ts_us = part["ts"].dt.epoch("us").to_numpy()
        parts.append(part.hstack(pl.DataFrame(talib_one_symbol(talib, *arrays, ts_us))))
    return pl.concat(parts)


# --- ta (pandas), one indicator object per indicator and symbol -------------------------------


def ta_one_symbol(df):
    import pandas as pd
    from ta.momentum import ROCIndicator, RSIIndicator, StochasticOscillator
    from ta.trend import MACD, EMAIndicator, SMAIndicator
    from ta.volatility import AverageTrueRange, BollingerBands
    from ta.volume import OnBalanceVolumeIndicator

    o, h, l, c, v = (df[name] for name in ("open", "high", "low", "close", "volume"))  # noqa: E741
    out = {}
    for k in (1, 5, 10, 20):
        out[f"ret_{k}"] = c.pct_change(k)
    for k in (1, 5, 10, 20):
        out[f"log_ret_{k}"] = np.log(c / c.shift(k))
    out["vol_cc_20"] = out["log_ret_1"].rolling(20).std()
    out["vol_parkinson_20"] = np.sqrt((np.log(h / l) ** 2).rolling(20).mean() / (4 * LN2))
    gk = 0.5 * np.log(h / l) ** 2 - (2 * LN2 - 1) * np.log(c / o) ** 2
    out["vol_gk_20"] = np.sqrt(gk.rolling(20).mean().clip(lower=0))
    for p in (10, 20, 50):
        out[f"sma_{p}"] = SMAIndicator(c, p).sma_indicator()
    for p in (10, 20, 50):
        out[f"ema_{p}"] = EMAIndicator(c, p).ema_indicator()
    out["rsi_14"] = RSIIndicator(c, 14).rsi()
    macd = MACD(c, window_slow=26, window_fast=12, window_sign=9)
    out |= {"macd_12_26_9": macd.macd(), "macd_signal_12_26_9": macd.macd_signal(),
            "macd_hist_12_26_9": macd.macd_diff()}  # fmt: skip
    bands = BollingerBands(c, 20, 2)
    out |= {"bb_upper_20_2": bands.bollinger_hband(), "bb_middle_20_2": bands.bollinger_mavg(),
            "bb_lower_20_2": bands.bollinger_lband()}  # fmt: skip
    out["atr_14"] = AverageTrueRange(h, l, c, 14).average_true_range()
    out["roc_10"] = ROCIndicator(c, 10).roc()
    stoch = StochasticOscillator(h, l, c, 14, 3)
    out["stoch_k_14_3"], out["stoch_d_14_3"] = stoch.stoch(), stoch.stoch_signal()
    out["obv"] = OnBalanceVolumeIndicator(c, v).on_balance_volume()
    out["mom_10"] = c.diff(10)
    # ta has no regression slope; pandas' rolling covariance with time is the vectorised way.
    t = pd.Series(np.arange(len(c), dtype=float), index=c.index)
    out["linreg_slope_20"] = c.rolling(20).cov(t) / t.rolling(20).var()
    for k in (1, 2, 3):
        out[f"log_ret_1_lag_{k}"] = out["log_ret_1"].shift(k)
    for name, x in (("close", c), ("volume", v)):
        std = x.rolling(20).std()
        out[f"{name}_zscore_20"] = ((x - x.rolling(20).mean()) / std).where(std >= 1e-12, 0.0)
    index = df.index
    out["hour"] = pd.Series(index.hour, index=index)
    out["day_of_week"] = pd.Series(index.dayofweek + 1, index=index)
    out["month"] = pd.Series(index.month, index=index)
    for field in CALENDAR_CYCLES:
        sin, cos = _cycle(out[field].to_numpy(), field)
        out[f"{field}_sin"], out[f"{field}_cos"] = pd.Series(sin, index=index), pd.Series(cos, index=index)
    return pd.concat([df, pd.DataFrame(out)], axis=1)


def pandas_parts(frame: pl.DataFrame) -> list:
    import pandas as pd

    return [
        pd.DataFrame(
            {name: part[name].to_numpy() for name in ("open", "high", "low", "close", "volume")},
            index=pd.DatetimeIndex(part["ts"].dt.epoch("us").to_numpy().astype("datetime64[us]"), tz="UTC"),
        )
        for part in frame.partition_by("symbol", maintain_order=True)
    ]


def run_ta(parts: list):
    import pandas as pd

    return pd.concat([ta_one_symbol(df) for df in parts])


# --- measuring ----------------------------------------------------------------------------------


def best_time(function, repeats: int) -> tuple[float, float, object]:
    """Best wall-clock seconds, best CPU seconds (all threads: time.process_time) and a result."""
    wall, cpu, result = math.inf, math.inf, None
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = function()
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - started_cpu)
    return wall, cpu, result


def agreement(ours: pl.DataFrame, theirs: pl.DataFrame, columns: list[str]) -> float:
    """Largest relative difference over every column and every value both sides have."""
    worst = 0.0
    for name in columns:
        a = ours[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        b = theirs[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        both = ~np.isnan(a) & ~np.isnan(b)
        scale = np.maximum(np.abs(a[both]), np.abs(b[both]))
        diff = np.abs(a[both] - b[both])
        nonzero = scale > 0
        if nonzero.any():
            worst = max(worst, float(np.max(diff[nonzero] / scale[nonzero])))
    return worst


def peak_memory_child(library: str, args) -> None:
    """Runs in a fresh interpreter: one measurement, printed as JSON on stdout."""
    frame = dataset("one", args)
    recipe = load_recipe()
    inputs = pandas_parts(frame) if library == "ta" else frame
    # Libraries load before the baseline reading, as polars already has.
    if library == "talib":
        import talib  # noqa: F401
    if library == "ta":
        import ta.momentum  # noqa: F401
        import ta.trend  # noqa: F401
        import ta.volatility  # noqa: F401
        import ta.volume  # noqa: F401
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if library == "huracan":
        compute_features(frame, recipe)
    elif library == "talib":
        run_talib(frame)
    else:
        run_ta(inputs)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_mib": before / 1024, "peak_mib": after / 1024}))  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ta-repeats", type=int, default=1)
    parser.add_argument("--skip-ta", action="store_true", help="leave out the (slow) ta runs")
    parser.add_argument("--bars", type=int, default=1_000_000, help="bars of the one-symbol run")
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--symbol-bars", type=int, default=10_000)
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS of the 1M-bar run")
    parser.add_argument("--peak-memory-child", choices=["huracan", "talib", "ta"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_memory_child:
        peak_memory_child(args.peak_memory_child, args)
        return

    memory = measure_memory(args) if args.memory else {}
    recipe = load_recipe()
    columns = recipe.columns()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"default recipe: {len(columns)} columns; polars {pl.__version__} on {pl.thread_pool_size()} "
          f"threads; {os.cpu_count()} CPUs, load average {load}")  # fmt: skip
    for shape, label in (("one", f"1 symbol x {args.bars:,} bars"),
                         ("many", f"{args.symbols} symbols x {args.symbol_bars:,} bars")):  # fmt: skip
        frame = dataset(shape, args)
        ours_s, ours_cpu, ours = best_time(lambda frame=frame: compute_features(frame, recipe), args.repeats)
        talib_s, talib_cpu, theirs = best_time(lambda frame=frame: run_talib(frame), args.repeats)
        assert theirs.columns == ours.columns, "the TA-Lib baseline must make the recipe's columns"
        print(f"\n{label}                 wall clock            CPU time (all threads)")
        print(f"  huracan  {ours_s:8.3f} s                    {ours_cpu:8.3f} s")
        print(f"  talib    {talib_s:8.3f} s  huracan/talib {ours_s / talib_s:5.2f}  "
              f"{talib_cpu:8.3f} s  huracan/talib {ours_cpu / talib_cpu:5.2f}  (target <= 3)")  # fmt: skip
        if not args.skip_ta:
            parts = pandas_parts(frame)
            ta_s, ta_cpu, _ = best_time(lambda parts=parts: run_ta(parts), args.ta_repeats)
            print(f"  ta       {ta_s:8.3f} s  ta/huracan   {ta_s / ours_s:6.1f}  "
                  f"{ta_cpu:8.3f} s  ta/huracan   {ta_cpu / ours_cpu:6.1f}  (target >= 10)")  # fmt: skip
        zscores = [name for name in columns if "_zscore_" in name]
        numeric = [name for name in columns if name not in zscores and not name.startswith(CALENDAR_PREFIXES)]
        z_gap = max(float((ours[name] - theirs[name]).abs().max()) for name in zscores)
        relative = agreement(ours, theirs, numeric)
        print(f"  huracan vs TA-Lib baseline: largest relative difference {relative:.1e}"
              f" (z-scores: largest absolute difference {z_gap:.1e})")  # fmt: skip

    if args.memory:
        print(f"\npeak resident memory, 1 symbol x {args.bars:,} bars (ru_maxrss, fresh process each)")
        for library, (before, peak) in memory.items():
            print(
                f"  {library:8s} before {before:7.0f} MiB  peak {peak:7.0f} MiB  (+{peak - before:.0f} MiB)"
            )


def measure_memory(args) -> dict[str, tuple[float, float]]:
    """Before this process holds any data: Linux carries a process's peak RSS over into the
    programs it starts (ru_maxrss survives fork + exec), so a child started later would report
    this process's own peak."""
    memory = {}
    for library in ("huracan", "talib", *(() if args.skip_ta else ("ta",))):
        done = subprocess.run(
            [sys.executable, __file__, "--peak-memory-child", library, "--bars", str(args.bars)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        figures = json.loads(done.stdout)
        memory[library] = (figures["before_mib"], figures["peak_mib"])
    return memory


if __name__ == "__main__":
    main()
