"""`huracan evaluate` as a user runs it: real files in, one JSON document (or text) out."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import empyrical
import numpy as np
import polars as pl
import pytest

from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.metrics import evaluate_predictions

BIN = Path(sys.executable).parent
GOOG = bundled_path("GOOG")


def huracan(*args: str, home: Path) -> subprocess.CompletedProcess:
    # The brain would live under XDG_DATA_HOME / HURACAN_BRAIN: evaluate must not create one.
    env = {**os.environ, "XDG_DATA_HOME": str(home / "xdg"), "HURACAN_BRAIN": f"sqlite:///{home / 'b.db'}"}
    return subprocess.run([str(BIN / "huracan"), *args], capture_output=True, text=True, timeout=120, env=env)


def momentum_predictions() -> pl.DataFrame:
    """A forecast of the next bar's return in bps: 20-bar momentum, scaled down."""
    close = pl.col("close")
    return (
        load_ohlcv(GOOG).select("ts", ((close / close.shift(20) - 1) * 100).alias("prediction")).drop_nulls()
    )


def test_scores_a_forecast_with_the_numbers_training_uses(tmp_path):
    predictions = momentum_predictions()
    path = tmp_path / "preds.csv"
    # written the way people export them: a "Date" column of plain dates
    predictions.select(pl.col("ts").dt.strftime("%Y-%m-%d").alias("Date"), "prediction").write_csv(path)
    done = huracan("evaluate", "--data", str(GOOG), "--predictions", str(path), "--json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert (document["symbol"], document["timeframe"], document["horizon"]) == ("GOOG", "1d", 1)
    assert document["rows"] == predictions.height and document["unscored"] == 1  # the last bar
    assert document["scored"] == predictions.height - 1
    assert document["cost_bps"] == 1.0 and document["periods_per_year"] == 252

    bars = load_ohlcv(GOOG)
    close = bars["close"].to_numpy()
    fwd = (close[1:] / close[:-1] - 1) * 1e4
    offset = bars.height - predictions.height  # the 20 warm-up bars
    p = predictions["prediction"].to_numpy()[:-1]
    y, next_ret = fwd[offset:], fwd[offset:] / 1e4
    ours = evaluate_predictions(y, p, next_ret, 1.0, 252)
    ml, trading = document["ml"], document["trading"]
    for key in ("mae", "rmse"):
        assert ml[key] == pytest.approx(ours[key], rel=1e-12)
    for key in ("hit_rate", "ic", "sharpe"):
        assert trading[key] == pytest.approx(ours[key], rel=1e-12)
    returns = np.sign(p) * next_ret - 1.0 / 1e4 * np.abs(np.diff(np.sign(p), prepend=0.0))
    assert trading["sortino"] == pytest.approx(empyrical.sortino_ratio(returns, annualization=252), rel=1e-10)
    assert trading["max_drawdown"] == pytest.approx(empyrical.max_drawdown(returns), rel=1e-10)
    assert trading["cumulative_return"] == pytest.approx(empyrical.cum_returns_final(returns), rel=1e-10)
    assert set(ml) == {"mae", "mse", "rmse", "r2", "accuracy", "f1", "log_loss", "roc_auc"}
    assert ml["log_loss"] is None  # no probabilities given
    assert 0 < ml["roc_auc"] < 1 and 0 < ml["accuracy"] < 1
    assert {"calmar", "profit_factor", "win_rate", "turnover", "annual_turnover", "pearson_ic"} <= set(
        trading
    )
    assert not (tmp_path / "b.db").exists() and not (tmp_path / "xdg").exists()


def test_classes_and_probabilities_from_parquet_with_options(tmp_path):
    bars = load_ohlcv(bundled_path("EURUSD")).head(400)
    data = tmp_path / "eurusd_hourly.parquet"
    bars.select("ts", "open", "high", "low", "close", "volume").write_parquet(data)
    rng = np.random.default_rng(0)
    picks = bars["ts"].head(300).to_list()[::3]  # a prediction every third bar
    path = tmp_path / "mine.parquet"
    pl.DataFrame(
        {
            "Timestamp": picks,
            "Signal": rng.choice([-1.0, 0.0, 1.0], size=len(picks)),
            "p_up": rng.uniform(0.05, 0.95, size=len(picks)),
        }
    ).write_parquet(path)
    done = huracan(
        "evaluate", "--data", str(data), "--predictions", str(path), "--kind", "class",
        "--column", "signal", "--probability", "P_UP", "--horizon", "2", "--cost-bps", "0.5",
        "--threshold-bps", "3", "--timeframe", "1h", "--json", home=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["periods_per_year"] == 252 * 24 and document["scored"] == 100
    assert document["ml"]["mae"] is None and document["ml"]["r2"] is None  # classes: no regression
    assert document["ml"]["log_loss"] > 0 and 0 < document["ml"]["roc_auc"] < 1
    assert abs(document["ml"]["roc_auc"] - 0.5) < 0.15  # random probabilities
    assert 0 < document["trading"]["turnover"] <= 2


def test_text_output(tmp_path):
    path = tmp_path / "p.csv"
    momentum_predictions().head(200).write_csv(path)
    done = huracan("evaluate", "--data", str(GOOG), "--predictions", str(path), home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "200 of 200 predictions scored" in done.stdout
    assert "sharpe" in done.stdout and "log_loss           -" in done.stdout


BAD_PREDICTIONS = {
    "no_bar": (
        "ts,prediction\n2010-01-04,1.5\n2010-01-03,2.0\n2010-01-02,2.0\n",
        "2010-01-02 (row 3) has no bar",
    ),
    "no_column": ("ts,forecast\n2010-01-04,1.5\n", "missing column(s): prediction"),
    "nan": ("ts,prediction\n2010-01-04,1.5\n2010-01-05,NaN\n", "nan in column prediction at row 2"),
    "duplicate": ("ts,prediction\n2010-01-04,1\n2010-01-04,2\n", "duplicate timestamp 2010-01-04 at row 2"),
    "missing_file": (None, "file not found"),
}


@pytest.mark.parametrize("case", sorted(BAD_PREDICTIONS))
def test_bad_prediction_files_are_one_line_and_exit_2(tmp_path, case):
    content, expected = BAD_PREDICTIONS[case]
    path = tmp_path / f"{case}.csv"
    if content is not None:
        path.write_text(content)
    done = huracan("evaluate", "--data", str(GOOG), "--predictions", str(path), "--json", home=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("huracan: error:") and path.name in lines[0]
    assert expected.lower() in lines[0].lower() and "Traceback" not in done.stderr
    assert not (tmp_path / "b.db").exists()


def test_clean_makes_any_report_json():
    from huracan_tui.cli.output import clean

    assert clean({"a": math.inf, "b": {"c": math.nan, "d": 1.5, "e": 3}}) == {
        "a": None,
        "b": {"c": None, "d": 1.5, "e": 3},
    }
