"""Recipe indicators equal TA-Lib on real data (GOOG daily, EURUSD hourly) for several parameter
choices; the indicators TA-Lib lacks equal their formula; symbols never mix; nothing looks ahead."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
import talib
from polars.testing import assert_frame_equal

from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.features import compute_features, indicators, load_recipe, parse_recipe

# The bar: relative difference at most 1e-8 beyond the first 300 bars. We check every
# value TA-Lib reports, from its first one, and that TA-Lib's NaN warm-up is exactly our nulls.
MAX_RELATIVE_DIFFERENCE = 1e-8
WARM_UP = 300


@pytest.fixture(scope="module", params=["GOOG", "EURUSD"])
def market(request) -> pl.DataFrame:
    return load_ohlcv(bundled_path(request.param))


def arrays(frame: pl.DataFrame) -> SimpleNamespace:
    return SimpleNamespace(**{name[0]: frame[name].to_numpy() for name in ("open", "high", "low", "close")},
                           v=frame["volume"].to_numpy())  # fmt: skip


def relative_difference(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.abs(ours), np.abs(theirs))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale == 0, 0.0, np.abs(ours - theirs) / scale)


def assert_equals_talib(ours: pl.Series, theirs: np.ndarray) -> None:
    np.testing.assert_array_equal(
        ours.is_null().to_numpy(), np.isnan(theirs), err_msg=f"{ours.name}: warm-up"
    )
    reported = ~np.isnan(theirs)
    assert reported[WARM_UP:].all()
    worst = relative_difference(ours.to_numpy()[reported], theirs[reported]).max()
    assert worst <= MAX_RELATIVE_DIFFERENCE, f"{ours.name}: relative difference {worst:.2e}"


def compute(frame: pl.DataFrame, *entries: dict) -> pl.DataFrame:
    return compute_features(frame, parse_recipe({"features": list(entries)}, source="test"))


# pytest.param(recipe entry, {column: TA-Lib's numbers from the arrays}, id=...)
TALIB_CASES = []


def case(entry: dict, expected: dict) -> None:
    values = [value for key, value in entry.items() if key != "indicator"]
    parameters = "_".join(str(x) for value in values for x in (value if isinstance(value, list) else [value]))
    TALIB_CASES.append(pytest.param(entry, expected, id=f"{entry['indicator']}_{parameters}".strip("_")))


def outputs(names: list[str], talib_call) -> dict:
    """The columns of a TA-Lib function with several outputs, in its output order."""
    return {name: (lambda d, i=i: talib_call(d)[i]) for i, name in enumerate(names)}


for p in (2, 20, 200):
    case({"indicator": "sma", "periods": [p]}, {f"sma_{p}": lambda d, p=p: talib.SMA(d.c, p)})
    case({"indicator": "ema", "periods": [p]}, {f"ema_{p}": lambda d, p=p: talib.EMA(d.c, p)})
for p in (2, 14, 50):
    case({"indicator": "rsi", "periods": [p]}, {f"rsi_{p}": lambda d, p=p: talib.RSI(d.c, p)})
for f, s, g in ((12, 26, 9), (5, 35, 5), (3, 10, 16)):
    names = [f"macd_{f}_{s}_{g}", f"macd_signal_{f}_{s}_{g}", f"macd_hist_{f}_{s}_{g}"]
    case({"indicator": "macd", "fast": f, "slow": s, "signal": g},
         outputs(names, lambda d, f=f, s=s, g=g: talib.MACD(d.c, f, s, g)))  # fmt: skip
for p, k in ((20, 2), (10, 1.5), (50, 3)):
    names = [f"bb_upper_{p}_{k}", f"bb_middle_{p}_{k}", f"bb_lower_{p}_{k}"]
    case({"indicator": "bbands", "period": p, "num_std": k},
         outputs(names, lambda d, p=p, k=k: talib.BBANDS(d.c, p, k, k, 0)))  # fmt: skip
for p in (1, 14, 30):
    case({"indicator": "atr", "periods": [p]}, {f"atr_{p}": lambda d, p=p: talib.ATR(d.h, d.l, d.c, p)})
for p in (1, 10, 50):
    case({"indicator": "roc", "periods": [p]}, {f"roc_{p}": lambda d, p=p: talib.ROC(d.c, p)})
    case({"indicator": "momentum", "periods": [p]}, {f"mom_{p}": lambda d, p=p: talib.MOM(d.c, p)})
for k, s, dp in ((14, 3, 3), (5, 3, 5), (21, 1, 4)):
    suffix = f"{k}_{s}" if dp == s else f"{k}_{s}_{dp}"
    case({"indicator": "stoch", "k_period": k, "smooth": s, "d_period": dp},
         outputs([f"stoch_k_{suffix}", f"stoch_d_{suffix}"],
                 lambda d, k=k, s=s, dp=dp: talib.STOCH(d.h, d.l, d.c, k, s, 0, dp, 0)))  # fmt: skip
case({"indicator": "obv"}, {"obv": lambda d: talib.OBV(d.c, d.v)})
for p in (2, 14, 20, 200):
    case({"indicator": "linreg_slope", "periods": [p]},
         {f"linreg_slope_{p}": lambda d, p=p: talib.LINEARREG_SLOPE(d.c, p)})  # fmt: skip
for h in (1, 5, 20):
    case({"indicator": "returns", "horizons": [h]}, {f"ret_{h}": lambda d, h=h: talib.ROCP(d.c, h)})
    case({"indicator": "log_returns", "horizons": [h]},
         {f"log_ret_{h}": lambda d, h=h: np.log(talib.ROCR(d.c, h))})  # fmt: skip
for w in (5, 20):
    sample_std = lambda d, w=w: talib.STDDEV(np.log(talib.ROCR(d.c, 1)), w) * math.sqrt(w / (w - 1))  # noqa: E731
    case(
        {"indicator": "volatility", "windows": [w], "estimators": ["close_to_close"]},
        {f"vol_cc_{w}": sample_std},
    )


@pytest.mark.parametrize(("entry", "expected"), TALIB_CASES)
def test_indicator_equals_talib(market, entry, expected):
    out = compute(market, entry)
    data = arrays(market)
    assert out.columns[len(market.columns) :] == list(expected)
    for column, talib_numbers in expected.items():
        assert_equals_talib(out[column], talib_numbers(data))


def test_several_indicators_in_one_recipe_equal_computing_each_alone(market):
    entries = [case.values[0] for case in TALIB_CASES[::3]]
    together = compute(market, *entries)
    for entry in entries:
        alone = compute(market, entry)
        assert_frame_equal(together.select(alone.columns), alone, check_exact=True)


def test_rolling_zscore_equals_talib_moments(market):
    out = compute(market, {"indicator": "zscore", "columns": ["close", "volume"], "windows": [5, 20]})
    for column in ("close", "volume"):
        x = market[column].to_numpy()
        for w in (5, 20):
            std = talib.STDDEV(x, w) * math.sqrt(w / (w - 1))
            expected = np.where(std < indicators.FLAT_STD, 0.0, (x - talib.SMA(x, w)) / std)
            ours = out[f"{column}_zscore_{w}"]
            np.testing.assert_array_equal(ours.is_null().to_numpy(), np.isnan(expected))
            # A z-score near 0 is a difference of nearly equal numbers: compare in units of the
            # std, where 1e-8 is what the issue asks of every other indicator.
            np.testing.assert_allclose(ours.to_numpy()[w - 1 :], expected[w - 1 :], rtol=0, atol=1e-8)


def test_range_volatility_equals_its_formula(market):
    out = compute(
        market, {"indicator": "volatility", "windows": [10], "estimators": ["parkinson", "garman_klass"]}
    )
    d = arrays(market)
    hl, co = np.log(d.h / d.l) ** 2, np.log(d.c / d.o) ** 2
    window_mean = lambda x: np.lib.stride_tricks.sliding_window_view(x, 10).mean(axis=1)  # noqa: E731
    parkinson = np.sqrt(window_mean(hl) / (4 * math.log(2)))
    garman_klass = np.sqrt(window_mean(0.5 * hl - (2 * math.log(2) - 1) * co))
    for column, expected in (("vol_parkinson_10", parkinson), ("vol_gk_10", garman_klass)):
        assert out[column].head(9).null_count() == 9
        np.testing.assert_allclose(out[column].to_numpy()[9:], expected, rtol=1e-10, atol=0)


def test_lags_and_calendar(market):
    out = compute(
        market,
        {"indicator": "log_returns", "horizons": [1]},
        {"indicator": "lags", "columns": ["log_ret_1", "volume"], "lags": [1, 3]},
        {"indicator": "calendar", "cyclical": True},
    )
    assert out["log_ret_1_lag_3"].to_list() == [None] * 3 + out["log_ret_1"].to_list()[:-3]
    assert out["volume_lag_1"].to_list() == [None, *market["volume"].to_list()[:-1]]
    moments = market["ts"].to_list()
    assert out["hour"].to_list() == [m.hour for m in moments]
    assert out["day_of_week"].to_list() == [m.isoweekday() for m in moments]
    assert out["month"].to_list() == [m.month for m in moments]
    cycles = {
        "hour_sin": [math.sin(2 * math.pi * m.hour / 24) for m in moments],
        "month_cos": [math.cos(2 * math.pi * (m.month - 1) / 12) for m in moments],
        "day_of_week_sin": [math.sin(2 * math.pi * (m.isoweekday() - 1) / 7) for m in moments],
    }
    for column, expected in cycles.items():
        np.testing.assert_allclose(out[column].to_numpy(), expected, rtol=0, atol=1e-15)


def test_flat_prices_follow_talib_conventions(make_bars):
    flat = make_bars(np.zeros(60)).with_columns(
        *(pl.lit(100.0).alias(name) for name in ("open", "high", "low", "close"))
    )
    out = compute(flat, {"indicator": "rsi", "periods": [14]}, {"indicator": "stoch"},
                  {"indicator": "linreg_slope", "periods": [14]}, {"indicator": "bbands"},
                  {"indicator": "zscore", "columns": ["close"], "windows": [20]})  # fmt: skip
    d = arrays(flat)
    assert_equals_talib(out["rsi_14"], talib.RSI(d.c, 14))
    assert_equals_talib(out["stoch_k_14_3"], talib.STOCH(d.h, d.l, d.c, 14, 3, 0, 3, 0)[0])
    assert_equals_talib(out["linreg_slope_14"], talib.LINEARREG_SLOPE(d.c, 14))
    assert_equals_talib(out["bb_upper_20_2"], talib.BBANDS(d.c, 20, 2, 2, 0)[0])
    assert out["close_zscore_20"].drop_nulls().to_list() == [0.0] * 41


def test_fewer_bars_than_the_warm_up_give_nulls_not_errors(goog):
    out = compute_features(goog.head(12))
    recipe = load_recipe()
    assert out.height == 12 and out.columns == [*goog.columns, *recipe.columns()]
    for column in ("sma_50", "macd_12_26_9", "linreg_slope_20", "rsi_14", "atr_14", "stoch_d_14_3"):
        assert out[column].null_count() == 12, column
    assert out["obv"].null_count() == 0 and out["ret_1"].null_count() == 1


def mixed_symbols() -> tuple[list[pl.DataFrame], pl.DataFrame]:
    frames = [load_ohlcv(bundled_path(symbol)) for symbol in ("GOOG", "EURUSD", "BTCUSD")]
    return frames, pl.concat(frames).sort("ts")  # the three symbols' rows interleave


def test_each_symbol_is_computed_on_its_own():
    frames, mixed = mixed_symbols()
    together = compute_features(mixed)
    assert_frame_equal(together.select(mixed.columns), mixed)  # rows stay in the caller's order
    for frame in frames:
        alone = compute_features(frame)
        mine = together.filter(pl.col("symbol") == frame["symbol"][0])
        # Shifts, recursions, OBV and the slope are bit for bit; rolling sums carry rounding
        # (never values) from row to row down the whole column, hence the 1e-12.
        assert_frame_equal(mine, alone, rel_tol=1e-12, abs_tol=1e-12)
        for column in (
            "ema_20",
            "rsi_14",
            "macd_12_26_9",
            "atr_14",
            "obv",
            "linreg_slope_20",
            "log_ret_1_lag_3",
        ):
            assert mine[column].equals(alone[column]), column


def test_another_symbols_prices_change_nothing_of_mine():
    frames, mixed = mixed_symbols()
    shocked = mixed.with_columns(
        pl.when(pl.col("symbol") == "EURUSD").then(pl.col(name) * 1000).otherwise(pl.col(name)).alias(name)
        for name in ("open", "high", "low", "close", "volume")
    )
    before, after = compute_features(mixed), compute_features(shocked)
    for symbol in ("GOOG", "BTCUSD"):
        mine = pl.col("symbol") == symbol
        assert_frame_equal(after.filter(mine), before.filter(mine), rel_tol=1e-12, abs_tol=1e-12)


def test_features_never_use_future_bars(goog):
    changed = 100
    rng = np.random.default_rng(3)
    factor = np.ones(goog.height)
    factor[-changed:] = rng.uniform(0.5, 1.5, changed)
    perturbed = goog.with_columns(
        pl.col(name) * pl.Series(factor) for name in ("open", "high", "low", "close", "volume")
    )
    before, after = compute_features(goog), compute_features(perturbed)
    kept = goog.height - changed
    assert_frame_equal(after.head(kept), before.head(kept), check_exact=True)
    assert not after.tail(changed).equals(before.tail(changed))


def test_indicators_also_run_under_over_symbol():
    """The building blocks work on their own too, windowed by the caller's `.over("symbol")`."""
    frames, mixed = mixed_symbols()
    c, h, l = pl.col("close"), pl.col("high"), pl.col("low")  # noqa: E741
    by_hand = mixed.with_columns(
        indicators.ema(c, 20).over("symbol").alias("ema_20"),
        indicators.wilder_average(indicators.true_range(h, l, c), 14).over("symbol").alias("atr_14"),
        indicators.on_balance_volume(c, pl.col("volume")).over("symbol").alias("obv"),
        indicators.linear_regression_slope(c, 20).over("symbol").alias("linreg_slope_20"),
        indicators.macd(c, 12, 26, 9)[2].over("symbol").alias("macd_hist_12_26_9"),
        indicators.stochastic(h, l, c, 14, 3, 3)[1].over("symbol").alias("stoch_d_14_3"),
        indicators.rsi(c, 14).over("symbol").alias("rsi_14"),
        indicators.bollinger(c, 20, 2.0)[0].over("symbol").alias("bb_upper_20_2"),
    )
    recipe = compute_features(mixed)
    assert_frame_equal(by_hand, recipe.select(by_hand.columns), rel_tol=1e-12, abs_tol=1e-12)


def test_bad_frames_are_refused(goog):
    with pytest.raises(ValueError, match="increasing ts order"):
        compute_features(goog.reverse())
    with pytest.raises(ValueError, match="missing: \\['volume'\\]"):
        compute_features(goog.drop("volume"))
    with pytest.raises(ValueError, match="already has column"):
        compute_features(goog.with_columns(rsi_14=pl.lit(1.0)))
