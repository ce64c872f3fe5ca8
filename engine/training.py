"""Train one model on one symbol: features, target, walk-forward evaluation, final refit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.data import CANONICAL_COLUMNS, data_fingerprint
from engine.features import add_features, feature_columns
from engine.metrics import evaluate_predictions, periods_per_year
from engine.models import MODEL_KINDS, make_model
from engine.targets import add_forward_return, target_name
from engine.validation import walk_forward_folds

# Below these a fold's numbers are noise; the bundled monthly BTC (135 usable rows) clears both.
MIN_TRAIN_ROWS = 30
MIN_TEST_ROWS_PER_FOLD = 5
MIN_TRAIN_FRACTION = 0.5


@dataclass
class TrainingResult:
    model_kind: str
    params: dict
    features: list[str]
    target: str  # e.g. "fwd_ret_1"
    horizon: int
    timeframe: str
    cost_bps: float
    seed: int
    # each: Fold.to_dict() + "metrics" + test_start_ts / test_end_ts (first / last test bar)
    # + train_start_ts / train_end_ts (first / last training bar), ISO-8601 UTC
    folds: list[dict]
    metrics: dict  # over the concatenation of every fold's out-of-sample predictions
    data_start: str  # ISO-8601 UTC of the first usable bar
    data_end: str  # ISO-8601 UTC of the last usable bar
    data_fingerprint: str  # of the whole input frame (warm-up rows feed the features too)
    n_rows: int  # usable rows: no warm-up nulls, known target
    library_versions: dict
    artifact: bytes  # the final model, refitted on all usable rows
    artifact_format: str


def train_model(
    frame: pl.DataFrame,
    model_kind: str,
    *,
    timeframe: str,
    horizon: int = 1,
    cost_bps: float = 1.0,
    n_folds: int = 5,
    seed: int = 42,
    params: dict | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> TrainingResult:
    """Walk-forward evaluate `model_kind` on a canonical OHLCV frame of one symbol, then refit.

    Each fold's model sees only its training rows (purged by `horizon`); metrics are out of
    sample, Sharpe annualised by `timeframe` and net of `cost_bps` per unit of turnover.
    `progress(fraction, message)` is called after each fold and once more at the end.
    Raises ValueError for a bad frame, unknown kind / parameters, or too few rows.
    """
    if model_kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {model_kind!r}; known kinds: {', '.join(MODEL_KINDS)}")
    if params and "seed" in params:
        raise ValueError("pass the seed as train_model(seed=...), not inside params")
    bars_per_year = periods_per_year(timeframe)
    frame = _checked_single_symbol(frame)
    features = feature_columns()
    target = target_name(horizon)
    usable = _usable_rows(frame, features, horizon)
    folds = _folds_or_explain(usable.height, frame.height, n_folds, horizon)

    X = usable.select(features).to_numpy().astype(float)
    y = usable[target].to_numpy().astype(float)
    next_ret = usable["next_ret"].to_numpy().astype(float)
    timestamps = usable["ts"].to_list()
    model_params = {**(params or {}), "seed": seed}

    fold_records, all_true, all_pred, all_next = [], [], [], []
    for fold in folds:
        model = make_model(model_kind, **model_params)
        model.fit(X[fold.train_start : fold.train_end], y[fold.train_start : fold.train_end])
        test = slice(fold.test_start, fold.test_end)
        predictions = model.predict(X[test])
        fold_records.append(
            {
                **fold.to_dict(),
                "metrics": evaluate_predictions(
                    y[test], predictions, next_ret[test], cost_bps, bars_per_year
                ),
                "train_start_ts": timestamps[fold.train_start].isoformat(),
                "train_end_ts": timestamps[fold.train_end - 1].isoformat(),
                "test_start_ts": timestamps[fold.test_start].isoformat(),
                "test_end_ts": timestamps[fold.test_end - 1].isoformat(),
            }
        )
        all_true.append(y[test])
        all_pred.append(predictions)
        all_next.append(next_ret[test])
        if progress:
            progress((fold.index + 1) / (n_folds + 1), f"fold {fold.index + 1}/{n_folds} done")

    final_model = make_model(model_kind, **model_params).fit(X, y)
    overall = evaluate_predictions(
        np.concatenate(all_true),
        np.concatenate(all_pred),
        np.concatenate(all_next),
        cost_bps,
        bars_per_year,
    )
    result = TrainingResult(
        model_kind=model_kind,
        params=final_model.get_params(),
        features=features,
        target=target,
        horizon=horizon,
        timeframe=timeframe,
        cost_bps=float(cost_bps),
        seed=seed,
        folds=fold_records,
        metrics=overall,
        data_start=timestamps[0].isoformat(),
        data_end=timestamps[-1].isoformat(),
        data_fingerprint=data_fingerprint(frame),
        n_rows=usable.height,
        library_versions=final_model.library_versions(),
        artifact=final_model.to_bytes(),
        artifact_format=final_model.artifact_format,
    )
    if progress:
        progress(1.0, "done")
    return result


def _checked_single_symbol(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [name for name in CANONICAL_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"train_model needs a canonical OHLCV frame; missing columns: {missing}")
    symbols = frame["symbol"].unique().to_list()
    if len(symbols) != 1:
        raise ValueError(f"train_model trains on one symbol at a time, got {sorted(symbols)}")
    return frame.select(CANONICAL_COLUMNS).sort("ts")


def _usable_rows(frame: pl.DataFrame, features: list[str], horizon: int) -> pl.DataFrame:
    """Rows whose features are warmed up and whose target is already known."""
    target = target_name(horizon)
    prepared = add_forward_return(add_features(frame), horizon)
    needed = [*features, target, "next_ret"]
    return prepared.drop_nulls(needed).filter(pl.all_horizontal(pl.col(needed).is_finite()))


def _folds_or_explain(n_usable: int, n_input: int, n_folds: int, horizon: int):
    """Walk-forward folds, or a ValueError that says how many rows were missing."""
    explanation = (
        f"too few rows to train: {n_input} bars leave {n_usable} usable rows after the "
        f"feature warm-up and the last {horizon} bar(s) with unknown target; {n_folds} folds "
        f"need at least {MIN_TRAIN_ROWS} training rows and {MIN_TEST_ROWS_PER_FOLD} test "
        "rows per fold"
    )
    try:
        folds = walk_forward_folds(
            n_usable, n_folds=n_folds, horizon=horizon, min_train_fraction=MIN_TRAIN_FRACTION
        )
    except ValueError as error:
        if n_usable < 1 or "not enough rows" in str(error):
            raise ValueError(explanation) from None
        raise
    first_train_rows = folds[0].train_end - folds[0].train_start
    smallest_test = min(fold.test_end - fold.test_start for fold in folds)
    if first_train_rows < MIN_TRAIN_ROWS or smallest_test < MIN_TEST_ROWS_PER_FOLD:
        raise ValueError(explanation)
    return folds
