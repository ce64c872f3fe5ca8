"""Feature recipes: the packaged default, column names that follow the parameters, and one-line
errors that name the recipe file and the key."""

from __future__ import annotations

import polars as pl
import pytest

from engine.features import DEFAULT_RECIPE_PATH, RecipeError, compute_features, load_recipe, parse_recipe
from engine.features.specs import INDICATORS

DESIGN_NAMES = [  # DESIGN.md section 5
    "rsi_14", "macd_12_26_9", "macd_signal_12_26_9", "macd_hist_12_26_9", "bb_upper_20_2",
    "bb_middle_20_2", "bb_lower_20_2", "atr_14", "sma_20", "ema_20", "roc_10", "stoch_k_14_3",
    "stoch_d_14_3", "obv",
]  # fmt: skip


def test_default_recipe_has_every_indicator_and_the_design_names():
    recipe = load_recipe()
    assert recipe == load_recipe(DEFAULT_RECIPE_PATH)
    # Every indicator but the three the core recipe adds for its own columns (sma_20_ratio,
    # hl_range, volume_z_20): the full recipe stays the 45 columns it always was.
    core_only = {"sma_ratio", "hl_range", "volume_zscore"}
    # The regime entries are opt-in: regime_vol reads the whole history, which would make every
    # live tick of a full-recipe version recompute it from the first bar (engine/features/tail.py).
    opt_in = {"regime_vol", "regime_trend"}
    assert {spec.indicator for spec in recipe.features} == set(INDICATORS) - core_only - opt_in
    columns = recipe.columns()
    assert set(DESIGN_NAMES) <= set(columns) and len(columns) == len(set(columns))
    assert {"ret_5", "log_ret_20", "vol_cc_20", "vol_parkinson_20", "vol_gk_20", "mom_10", "linreg_slope_20",
            "log_ret_1_lag_3", "close_zscore_20", "volume_zscore_20", "hour", "day_of_week", "month",
            "hour_sin", "month_cos"} <= set(columns)  # fmt: skip


def test_default_recipe_on_real_data_is_finite_after_the_warm_up(goog):
    recipe = load_recipe()
    out = compute_features(goog, recipe)
    assert out.columns == [*goog.columns, *recipe.columns()]
    warmed = out.slice(50).select(recipe.columns())  # the longest window is sma_50 / ema_50
    assert warmed.null_count().sum_horizontal().item() == 0
    assert all(warmed.select(pl.col(pl.Float64).is_finite().all()).row(0))
    # Warm-up nulls sit at the start only: once a column has a value, it keeps having one.
    for name in recipe.columns():
        nulls = out[name].is_null()
        assert nulls.arg_min() is None or not nulls.slice(int(nulls.arg_min())).any(), name


@pytest.mark.parametrize(
    ("entry", "columns"),
    [
        ({"indicator": "macd", "fast": 5, "slow": 35, "signal": 5},
         ["macd_5_35_5", "macd_signal_5_35_5", "macd_hist_5_35_5"]),
        ({"indicator": "bbands", "period": 10, "num_std": 2.5},
         ["bb_upper_10_2.5", "bb_middle_10_2.5", "bb_lower_10_2.5"]),
        ({"indicator": "stoch", "k_period": 9, "smooth": 4}, ["stoch_k_9_4", "stoch_d_9_4"]),
        ({"indicator": "stoch", "k_period": 9, "smooth": 4, "d_period": 2},
         ["stoch_k_9_4_2", "stoch_d_9_4_2"]),
        ({"indicator": "rsi", "periods": [7, 21]}, ["rsi_7", "rsi_21"]),
        ({"indicator": "atr"}, ["atr_14"]),
        ({"indicator": "volatility", "windows": [5, 60], "estimators": ["parkinson"]},
         ["vol_parkinson_5", "vol_parkinson_60"]),
        ({"indicator": "zscore", "columns": ["volume"], "windows": [30]}, ["volume_zscore_30"]),
        ({"indicator": "calendar", "fields": ["month"]}, ["month"]),
        ({"indicator": "calendar", "fields": ["hour"], "cyclical": True}, ["hour", "hour_sin", "hour_cos"]),
    ],
)  # fmt: skip
def test_column_names_follow_the_parameters(goog, entry, columns):
    recipe = parse_recipe({"features": [entry]})
    assert recipe.columns() == columns
    assert compute_features(goog, recipe).columns == [*goog.columns, *columns]


BAD_RECIPES = {
    "unknown indicator": ("features:\n  - {indicator: rsi}\n  - {indicator: ichimoku}\n",
                          "features[1].indicator: unknown indicator 'ichimoku'"),
    "unknown key": ("features:\n  - {indicator: sma, window: 3}\n", "features[0].window: unknown key"),
    "unknown top-level key": ("features:\n  - {indicator: obv}\nfeature_set: x\n",
                              "feature_set: unknown key"),
    "misspelt top-level key": ("feature:\n  - {indicator: obv}\n", "feature: unknown key"),
    "period too small": ("features:\n  - {indicator: ema, periods: [1]}\n",
                         "features[0].periods[0]: Input should be greater than or equal to 2"),
    "period not a number": ("features:\n  - {indicator: rsi, periods: [fourteen]}\n",
                            "features[0].periods[0]: Input should be a valid integer"),
    "period a float": ("features:\n  - {indicator: rsi, periods: [14.5]}\n", "features[0].periods[0]"),
    "repeated period": ("features:\n  - {indicator: sma, periods: [20, 20]}\n",
                        "features[0].periods: repeated value(s): 20"),
    "fast not below slow": ("features:\n  - {indicator: macd, fast: 30, slow: 26}\n",
                            "features[0]: fast (30) must be below slow (26)"),
    "num_std not positive": ("features:\n  - {indicator: bbands, num_std: -2}\n", "features[0].num_std"),
    "num_std a string": ("features:\n  - {indicator: bbands, num_std: '2'}\n", "features[0].num_std"),
    "cyclical not a boolean": ("features:\n  - {indicator: calendar, cyclical: 'yes'}\n",
                               "features[0].cyclical"),
    "unknown calendar field": ("features:\n  - {indicator: calendar, fields: [minute]}\n",
                               "features[0].fields[0]"),
    "missing indicator": ("features:\n  - {periods: [3]}\n", "features[0]: missing key 'indicator'"),
    "entry not a mapping": ("features:\n  - rsi\n", "features[0]: expected a mapping"),
    "no features": ("features: []\n", "features: List should have at least 1 item"),
    "same column twice": ("features:\n  - {indicator: sma}\n  - {indicator: sma, periods: [50, 20]}\n",
                          "features[1]: column 'sma_20' is already made by features[0]"),
    "lag of an unknown column": ("features:\n  - {indicator: lags, columns: [rsi_14]}\n",
                                 "features[0].columns: unknown column 'rsi_14'"),
    "z-score of a lag": ("features:\n  - {indicator: lags, columns: [close]}\n"
                         "  - {indicator: zscore, columns: [close_lag_1]}\n",
                         "features[1].columns: unknown column 'close_lag_1'"),
    "top level a list": ("- {indicator: rsi}\n", "the top level must be a mapping"),
    "empty file": ("", "empty recipe"),
    "invalid YAML": ("features:\n  - {indicator: rsi\n", "invalid YAML (line"),
}  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), BAD_RECIPES.values(), ids=BAD_RECIPES.keys())
def test_bad_recipes_are_one_line_naming_the_file_and_the_key(tmp_path, text, expected):
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and expected in message
    assert "\n" not in message


def test_a_missing_recipe_file_is_named(tmp_path):
    with pytest.raises(RecipeError, match="nothere.yaml: recipe file not found"):
        load_recipe(tmp_path / "nothere.yaml")
    assert issubclass(RecipeError, ValueError)  # the CLI turns it into exit 2


def test_lags_and_zscores_may_read_any_non_derived_column(goog):
    recipe = parse_recipe({"features": [
        {"indicator": "zscore", "columns": ["rsi_14", "high"], "windows": [10]},  # listed before rsi: fine
        {"indicator": "rsi"},
        {"indicator": "lags", "columns": ["rsi_14"], "lags": [2]},
    ]})  # fmt: skip
    out = compute_features(goog, recipe)
    assert recipe.columns() == ["rsi_14_zscore_10", "high_zscore_10", "rsi_14", "rsi_14_lag_2"]
    assert out["rsi_14_lag_2"].to_list() == [None, None, *out["rsi_14"].to_list()[:-2]]
    assert out["rsi_14_zscore_10"].null_count() == 14 + 9
