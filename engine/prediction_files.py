"""Score anyone's predictions with Huracan's own metrics: a prediction file against OHLCV bars.

A prediction file is a CSV / TSV / TXT or Parquet table with a timestamp column, found and
parsed by the same rules as an OHLCV file (engine.data / engine.timestamps), and a prediction
column. Each prediction is made at the close of its bar and is scored against what followed:

- kind "return" (default): the prediction is a forecast of the forward return over `horizon`
  bars in bps, compared with `fwd_ret_{horizon}` (MAE, MSE, RMSE, R², hit rate, rank and
  Pearson IC); its predicted class is its direction with `threshold_bps`, as for the outcome.
- kind "class": the prediction is a class, -1 sell / 0 hold / 1 buy; regression metrics are
  left undefined.

Classification metrics compare the predicted class with `direction_{horizon}` (macro F1).
ROC AUC and log loss score the "buy" event (forward return > threshold_bps): with a
probability column they use it; without one, ROC AUC ranks the prediction itself and log loss
is undefined. Trading metrics hold sign(prediction) (or, with rule "size", the prediction itself
as a position size: engine.metrics.POSITION_RULES) over the next bar, pay `cost_bps` per unit
of turnover and are annualised by the bar length, exactly as training's walk-forward
evaluation does (`engine.metrics.strategy_returns`); the predicted bars are taken in time
order as one sequence, so bars without a prediction are skipped, not held through.
Predictions whose outcome is not known yet (the last bars) are counted but not scored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

# The OHLCV loader's own readers, so that both kinds of file follow one set of rules.
from engine.data import (
    _TIMESTAMP_NAMES,
    DataError,
    _format_ts,
    _normalise_name,
    _numeric_column,
    _parse_timestamp_column,
    _read_table,
)
from engine.metrics import (
    classification_report,
    log_loss,
    periods_per_year,
    positions,
    regression_report,
    roc_auc,
    signal_report,
    strategy_returns,
    trading_report,
)
from engine.targets import add_direction, add_forward_return, direction_name, target_name

PREDICTION_KINDS = ("return", "class")
_CLASSES = (-1.0, 0.0, 1.0)


def load_predictions(
    path: str | Path, column: str = "prediction", probability: str | None = None
) -> pl.DataFrame:
    """Read a prediction file into columns `row` (1-based data row in the file), `ts` (UTC),
    `prediction` and, when `probability` names a column, `probability`; sorted by ts.

    Column names match case-insensitively. Missing columns, unreadable or missing values,
    probabilities outside [0, 1] and repeated timestamps raise DataError naming the file.
    """
    path = Path(path)
    source = str(path)
    table = _read_table(path, source)
    names = {_normalise_name(name): name for name in reversed(table.columns)}  # first one wins
    ts_column = next((name for name in table.columns if _normalise_name(name) in _TIMESTAMP_NAMES), None)
    wanted = {"prediction": column, **({"probability": probability} if probability else {})}
    missing = [name for name in wanted.values() if _normalise_name(name) not in names]
    if ts_column is None:
        missing.insert(0, "timestamp (unnamed first column, or Date/Datetime/Timestamp/Time/ts)")
    if missing:
        raise DataError(f"{source}: missing column(s): {', '.join(missing)}")
    frame = pl.DataFrame(
        {
            "row": pl.Series(np.arange(1, table.height + 1), dtype=pl.Int64),
            "ts": _parse_timestamp_column(table[ts_column], source),
            **{
                role: _numeric_column(table[names[_normalise_name(name)]], name, source).alias(role)
                for role, name in wanted.items()
            },
        }
    )
    if probability:
        outside = (frame["probability"] < 0) | (frame["probability"] > 1)
        if outside.any():
            index = int(outside.arg_true()[0])
            raise DataError(
                f"{source}: probability {frame['probability'][index]} in column {probability} "
                f"at row {index + 1} is outside [0, 1]"
            )
    repeated = ~frame["ts"].is_first_distinct()
    if repeated.any():
        index = int(repeated.arg_true()[0])
        raise DataError(f"{source}: duplicate timestamp {_format_ts(frame, index)} at row {index + 1}")
    return frame.sort("ts")


def evaluate_prediction_frame(
    bars: pl.DataFrame,
    predictions: pl.DataFrame,
    *,
    timeframe: str,
    horizon: int = 1,
    cost_bps: float = 1.0,
    threshold_bps: float = 0.0,
    kind: str = "return",
    source: str = "predictions",
    rule: str = "sign",
) -> dict:
    """Every ML and trading metric of `predictions` (from `load_predictions`) against `bars`
    (a canonical OHLCV frame of one symbol). Returns a dict with "rows", "scored", "unscored",
    "first_ts", "last_ts" (of the scored predictions), "ml" and "trading"; metrics are floats,
    nan where undefined. A prediction at a time with no bar raises DataError naming the first.
    """
    if kind not in PREDICTION_KINDS:
        raise ValueError(f"kind must be one of {', '.join(PREDICTION_KINDS)}, got {kind!r}")
    if not 0 <= cost_bps < float("inf"):
        raise ValueError(f"cost_bps must be a finite number >= 0, got {cost_bps!r}")
    bars_per_year = periods_per_year(timeframe)
    target, direction = target_name(horizon), direction_name(horizon)
    outcomes = add_direction(add_forward_return(bars.sort("ts"), horizon), horizon, threshold_bps)
    joined = predictions.join(
        outcomes.select("ts", target, "next_ret", direction).with_columns(has_bar=pl.lit(True)),
        on="ts",
        how="left",
    ).sort("ts")
    _check_every_prediction_has_a_bar(joined, source)
    if kind == "class":
        _check_classes(joined, source)
    scored = joined.filter(pl.col(target).is_not_null() & pl.col("next_ret").is_not_null())
    if scored.height == 0:
        raise DataError(
            f"{source}: none of the {joined.height} prediction(s) has a known outcome yet "
            f"(each needs {horizon} later bar(s) in the data)"
        )
    y = scored[target].to_numpy().astype(float)
    p = scored["prediction"].to_numpy().astype(float)
    next_ret = scored["next_ret"].to_numpy().astype(float)
    y_class = scored[direction].to_numpy().astype(float)
    p_class = p if kind == "class" else _direction(p, threshold_bps)
    buy = (y_class == 1).astype(float)

    regression = (
        regression_report(y, p)
        if kind == "return"
        else dict.fromkeys(("mae", "mse", "rmse", "r2"), float("nan"))
    )
    classes = classification_report(y_class, p_class)
    if "probability" in scored.columns:
        probability = scored["probability"].to_numpy().astype(float)
        classes["log_loss"] = log_loss(buy, probability, labels=[0.0, 1.0])
        classes["roc_auc"] = roc_auc(buy, probability)
    else:
        classes["roc_auc"] = roc_auc(buy, p)
    returns = strategy_returns(p, next_ret, cost_bps, rule)
    signal = signal_report(y, p)
    ml = {key: regression[key] for key in ("mae", "mse", "rmse", "r2")}
    ml |= {key: classes[key] for key in ("accuracy", "f1", "log_loss", "roc_auc")}
    trading = trading_report(returns, positions(p, rule), bars_per_year)
    trading |= {key: signal[key] for key in ("hit_rate", "ic", "pearson_ic")}
    return {
        "rows": joined.height,
        "scored": scored.height,
        "unscored": joined.height - scored.height,
        "first_ts": scored["ts"][0],
        "last_ts": scored["ts"][-1],
        "periods_per_year": bars_per_year,
        "ml": ml,
        "trading": trading,
    }


def _direction(values: np.ndarray, threshold_bps: float) -> np.ndarray:
    """The class of a return forecast, by the rule `add_direction` applies to outcomes."""
    return np.where(values > threshold_bps, 1.0, np.where(values < -threshold_bps, -1.0, 0.0))


def _check_every_prediction_has_a_bar(joined: pl.DataFrame, source: str) -> None:
    orphans = joined.filter(pl.col("has_bar").is_null())
    if orphans.height:
        first = orphans.row(0, named=True)
        raise DataError(
            f"{source}: prediction at {_format_ts(orphans, 0)} (row {first['row']}) has no bar in the "
            f"data; {orphans.height} prediction(s) without a bar"
        )


def _check_classes(joined: pl.DataFrame, source: str) -> None:
    bad = joined.filter(~pl.col("prediction").is_in(_CLASSES))
    if bad.height:
        first = bad.row(0, named=True)
        raise DataError(
            f"{source}: class predictions must be -1, 0 or 1; got {first['prediction']:g} "
            f"at row {first['row']}"
        )
