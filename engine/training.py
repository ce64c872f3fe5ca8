"""Train one model on one symbol: features, target, walk-forward evaluation, final refit.

Every kind of the zoo goes through the same pipeline:

- regression kinds learn `fwd_ret_{h}` (bps) and their prediction is that forecast;
- classification kinds learn `direction_{h}` (engine.targets.add_direction with `threshold_bps`:
  0 gives two classes, down -1 / up 1, and bars that did not move at all are left out of the
  classifier's training rows; a positive threshold gives three, sell -1 / hold 0 / buy 1). Their
  prediction, the number the trading metrics trade on, is the expected direction
  P(buy) - P(sell), in [-1, 1]. Their mae / rmse compare that expected direction with the
  realised direction label (both in -1..1), and accuracy, f1 (macro) and log_loss are added;
  hit_rate, ic and sharpe use the bps forward return as for every other kind.

Cadences: "full" (walk-forward over `n_folds`, then a refit on every usable row), "quick" (the
same with at most QUICK_FOLDS folds: fewer fits, a coarser out-of-sample estimate) and
"incremental" (warm start from the previous version on the rows after its data_end only; see
`train_model`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from engine.cadence import Cadence
from engine.data import CANONICAL_COLUMNS, data_fingerprint
from engine.features import add_features, feature_columns
from engine.manifest import FoldRecord, Manifest
from engine.metrics import accuracy, evaluate_predictions, f1, log_loss, mae, periods_per_year, rmse
from engine.models import MODEL_CLASSES, FitProgress, load_model, make_model, model_class, model_tags
from engine.targets import add_direction, add_forward_return, direction_name, target_name
from engine.validation import Fold, walk_forward_folds

# Below these a fold's numbers are noise; the bundled monthly BTC (135 usable rows) clears both.
MIN_TRAIN_ROWS = 30
MIN_TEST_ROWS_PER_FOLD = 5
MIN_TRAIN_FRACTION = 0.5
CADENCES = tuple(Cadence)
QUICK_FOLDS = 2
# Early stopping (opt-in) and the incremental cadence hold out the last 15% of the rows they
# train on, in time order and purged by the horizon, as validation data.
VALIDATION_FRACTION = 0.15
# Options of the training run that may sit among a kind's params (YAML: params.xgboost.early_stopping).
RUN_OPTIONS = ("early_stopping",)
# progress(fraction, message) after each fold; progress(fraction, message, values) after each
# epoch of a neural kind (see train_model).
Progress = Callable[..., None]


@dataclass(frozen=True)
class TrainingResult:
    """What one training run made: how (the manifest), the model, and what the model itself says
    of its inputs, read from the final refit while it is still in memory."""

    manifest: Manifest
    artifact: bytes  # the final model, refitted on all usable rows
    # feature -> the learner's own importance share (gain, impurity, |coef| on scaled inputs);
    # None for kinds without one (KNN, SVM, neural)
    feature_importances: dict[str, float] | None = None


@dataclass
class PreparedData:
    """The usable rows of one symbol as arrays, with what each kind's target needs."""

    features: list[str]
    X: np.ndarray
    fwd: np.ndarray  # forward return in bps
    direction: np.ndarray  # -1 / 0 / 1 under `threshold_bps`
    next_ret: np.ndarray
    timestamps: list[datetime]
    threshold_bps: float

    @property
    def n_rows(self) -> int:
        return self.X.shape[0]

    def rows(self, start: int, stop: int) -> PreparedData:
        """Rows [start, stop) only: whoever holds the result cannot reach the others."""
        return PreparedData(
            features=self.features,
            X=self.X[start:stop],
            fwd=self.fwd[start:stop],
            direction=self.direction[start:stop],
            next_ret=self.next_ret[start:stop],
            timestamps=self.timestamps[start:stop],
            threshold_bps=self.threshold_bps,
        )


def is_classifier(kind: str) -> bool:
    return model_class(kind).task == "classification"


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
    progress: Progress | None = None,
    cadence: str = "full",
    previous: Any = None,
    previous_data_end: str | datetime | None = None,
    threshold_bps: float = 0.0,
    early_stopping: bool = False,
) -> TrainingResult:
    """Walk-forward evaluate `model_kind` on a canonical OHLCV frame of one symbol, then refit.

    Each fold's model sees only its training rows (purged by `horizon`); metrics are out of
    sample, Sharpe annualised by `timeframe` and net of `cost_bps` per unit of turnover.
    `progress(fraction, message)` is called after each fold and once more at the end; neural
    kinds also report each epoch as `progress(fraction, message, values)`, values being the
    model's epoch record (epoch, loss, val_loss, device, ...) plus model_kind and fold (the fold
    index, or "final" for the refit on every row), so a job can draw loss curves.

    `early_stopping` (or `early_stopping: true` in params), for boosted and neural kinds: each
    fit holds out the last 15% of its training rows (purged by `horizon`) as validation data.
    `cadence="incremental"` needs `previous` (a fitted model of the same kind, or its artifact
    bytes) and `previous_data_end` (the previous version's data_end): only the usable rows after
    it are used; the model continues from `previous` (boosters add trees, torch models continue
    from its weights, online models keep learning) on the first 85% of them (purged) and is
    scored on the last 15% (one fold), then the artifact continues from `previous` on all of
    them. Raises ValueError for a bad frame, unknown kind / parameters / cadence, or too few rows.
    """
    model_class(model_kind)  # unknown kinds: ValueError naming the known ones
    if cadence not in CADENCES:
        raise ValueError(f"unknown cadence {cadence!r}; known: {', '.join(CADENCES)}")
    model_params = dict(params or {})
    if "seed" in model_params:
        raise ValueError("pass the seed as train_model(seed=...), not inside params")
    early_stopping = bool(model_params.pop("early_stopping", early_stopping))
    if early_stopping and not model_tags(model_kind).accepts_eval_set:
        raise ValueError(f"early_stopping: model kind {model_kind!r} has no early stopping")
    model_params = model_defaults(model_kind, model_params, horizon, seed)
    make_model(model_kind, **model_params)  # bad parameters fail before any work
    bars_per_year = periods_per_year(timeframe)
    frame = checked_single_symbol(frame)
    data = prepare_data(frame, horizon, threshold_bps)
    classifier = is_classifier(model_kind)

    if cadence == "incremental":
        previous_model = _previous_model(model_kind, previous)
        data, folds, warm_from = _incremental_rows(data, previous_data_end, horizon)
    else:
        previous_model, warm_from = None, None
        folds_wanted = min(n_folds, QUICK_FOLDS) if cadence == "quick" else n_folds
        folds = folds_or_explain(data.n_rows, frame.height, folds_wanted, horizon)
    n_steps = len(folds)

    fold_records, pieces = [], []
    for fold in folds:
        train, test = range(fold.train_start, fold.train_end), range(fold.test_start, fold.test_end)
        _model, predictions, proba = fit_and_predict(
            model_kind,
            model_params,
            data,
            train,
            test,
            horizon,
            early_stopping=early_stopping,
            init_model=previous_model,
            fit_progress=_epoch_reporter(progress, model_kind, fold.index, fold.index, n_steps),
        )
        fold_records.append(
            FoldRecord(
                **fold.to_dict(),
                metrics=score(model_kind, data, test, predictions, proba, cost_bps, bars_per_year),
                train_start_ts=data.timestamps[fold.train_start],
                train_end_ts=data.timestamps[fold.train_end - 1],
                test_start_ts=data.timestamps[fold.test_start],
                test_end_ts=data.timestamps[fold.test_end - 1],
            )
        )
        pieces.append((test, predictions, proba))
        if progress:
            progress((fold.index + 1) / (n_steps + 1), f"fold {fold.index + 1}/{n_steps} done")

    final_model = fit_final(
        model_kind,
        model_params,
        data,
        horizon,
        early_stopping=early_stopping,
        init_model=previous_model,
        fit_progress=_epoch_reporter(progress, model_kind, "final", n_steps, n_steps),
    )
    rows = np.concatenate([np.arange(test.start, test.stop) for test, _, _ in pieces])
    overall = score(
        model_kind,
        data,
        rows,
        np.concatenate([p for _, p, _ in pieces]),
        None if not classifier else _stack_proba([q for _, _, q in pieces]),
        cost_bps,
        bars_per_year,
    )
    manifest = Manifest(
        model_kind=model_kind,
        params=final_model.get_params(),
        features=tuple(data.features),
        target=direction_name(horizon) if classifier else target_name(horizon),
        horizon=horizon,
        timeframe=timeframe,
        cost_bps=float(cost_bps),
        seed=seed,
        folds=tuple(fold_records),
        metrics=overall,
        data_start=data.timestamps[0],
        data_end=data.timestamps[-1],
        data_fingerprint=data_fingerprint(frame),
        n_rows=data.n_rows,
        library_versions=final_model.library_versions(),
        artifact_format=final_model.artifact_format,
        task="classification" if classifier else "regression",
        cadence=cadence,
        threshold_bps=float(threshold_bps) if classifier else None,
        early_stopping=early_stopping,
        warm_start_from=warm_from,
        determinism=final_model.determinism(),
    )
    result = TrainingResult(
        manifest=manifest,
        artifact=final_model.to_bytes(),
        feature_importances=_importances(final_model, data.features),
    )
    if progress:
        progress(1.0, "done")
    return result


# ---- pieces shared with engine.tuning ------------------------------------------------------


def model_defaults(kind: str, params: dict, horizon: int, seed: int) -> dict:
    """`params` plus the seed, and for kinds that purge internally (neural) the horizon."""
    merged = {**params, "seed": seed}
    if "horizon" in model_class(kind).param_names() and "horizon" not in params:
        merged["horizon"] = horizon
    return merged


def prepare_data(frame: pl.DataFrame, horizon: int, threshold_bps: float = 0.0) -> PreparedData:
    """Features, both targets and next-bar returns of the usable rows of a checked frame."""
    features = feature_columns()
    usable = _usable_rows(frame, features, horizon, threshold_bps)
    return PreparedData(
        features=features,
        X=usable.select(features).to_numpy().astype(float),
        fwd=usable[target_name(horizon)].to_numpy().astype(float),
        direction=usable[direction_name(horizon)].to_numpy().astype(int),
        next_ret=usable["next_ret"].to_numpy().astype(float),
        timestamps=usable["ts"].to_list(),
        threshold_bps=float(threshold_bps),
    )


def fit_and_predict(
    kind: str,
    params: dict,
    data: PreparedData,
    train: range,
    test: range,
    horizon: int,
    *,
    early_stopping: bool = False,
    init_model=None,
    fit_progress: FitProgress | None = None,
):
    """Fit a fresh `kind` on rows `train` and predict rows `test`: (model, prediction, proba).

    The prediction is the forecast (regressors) or the expected direction (classifiers, whose
    class probabilities come back as `proba` over the classes (-1, 0, 1), else None).
    `fit_progress` goes to the model's fit (neural kinds call it after each epoch)."""
    model = _fit(kind, params, data, train, horizon, early_stopping, init_model, fit_progress)
    prediction, proba = predict_rows(model, data.X, test)
    return model, prediction, proba


def fit_final(
    kind: str,
    params: dict,
    data: PreparedData,
    horizon: int,
    *,
    early_stopping=False,
    init_model=None,
    fit_progress: FitProgress | None = None,
):
    return _fit(kind, params, data, range(0, data.n_rows), horizon, early_stopping, init_model, fit_progress)


def predict_rows(model, X: np.ndarray, rows: range):
    """Predictions for X[rows]; sequence models get the rows before as context (the past)."""
    start = max(rows.start - model.context_rows, 0)
    block = X[start : rows.stop]
    keep = rows.start - start
    if model.task == "classification":
        raw = np.asarray(model.predict_proba(block), dtype=float)[keep:]
        proba = _aligned_proba(raw, np.asarray(model.classes_))
        return proba[:, 2] - proba[:, 0], proba
    return np.asarray(model.predict(block), dtype=float)[keep:], None


def score(kind, data: PreparedData, rows, prediction, proba, cost_bps: float, bars_per_year: float) -> dict:
    """Out-of-sample metrics of `prediction` on `rows` (see the module docstring)."""
    rows = np.asarray(list(rows) if isinstance(rows, range) else rows)
    metrics = evaluate_predictions(data.fwd[rows], prediction, data.next_ret[rows], cost_bps, bars_per_year)
    if proba is None:
        return metrics
    labels = data.direction[rows]
    metrics["mae"] = mae(labels, prediction)
    metrics["rmse"] = rmse(labels, prediction)
    label_set = _label_set(data.threshold_bps)
    scored = np.isin(labels, label_set)  # threshold 0: a bar that did not move has no class
    columns = [index for index, label in enumerate((-1, 0, 1)) if label in label_set]
    chosen = np.array(label_set)[np.argmax(proba[scored][:, columns], axis=1)]
    metrics["accuracy"] = accuracy(labels[scored], chosen)
    metrics["f1"] = f1(labels[scored], chosen)
    clipped = np.clip(proba[scored][:, columns], 1e-15, None)
    metrics["log_loss"] = (
        log_loss(labels[scored], clipped / clipped.sum(axis=1, keepdims=True), labels=list(label_set))
        if scored.any()
        else math.nan
    )
    return metrics


# ---- internals -----------------------------------------------------------------------------


def _fit(kind, params, data: PreparedData, rows: range, horizon, early_stopping, init_model,
         fit_progress=None):
    model = make_model(kind, **params)
    target = data.direction if is_classifier(kind) else data.fwd
    fit_rows, val_rows = rows, None
    if early_stopping:
        fit_rows, val_rows = _validation_split(rows, horizon)
    fit_index = _trainable(kind, data, fit_rows)
    kwargs: dict[str, Any] = {}
    if fit_progress is not None:
        kwargs["progress"] = fit_progress
    if val_rows is not None:
        val_index = _trainable(kind, data, val_rows)
        kwargs.update(X_val=data.X[val_index], y_val=target[val_index])
    X, y = data.X[fit_index], target[fit_index]
    if init_model is None:
        return model.fit(X, y, **kwargs)
    if not model_tags(kind).learns_online:
        return model.fit(X, y, init_model=init_model, **kwargs)
    # Online learners keep learning where the previous model stopped (a copy, not the original).
    # learn_more takes no progress: a row-by-row learner has no epochs to report.
    continued = type(init_model).from_bytes(init_model.to_bytes())
    continued.learn_more(X, y)
    return continued


def _epoch_reporter(progress: Progress | None, kind: str, fold: int | str, step: int, n_steps: int):
    """The fit progress of one fit (fold or final refit) of a kind that reports epochs, or None:
    each epoch moves the overall fraction within the fit's share of the run and passes the
    epoch's values on, labelled with the kind and the fold. Other kinds get None, so their fits
    stay exactly as they were (no per-round callbacks in the boosters)."""
    if progress is None or not model_tags(kind).reports_epochs:
        return None

    def report(fraction: float, message: str, values: dict) -> None:
        overall = (step + min(max(float(fraction), 0.0), 1.0)) / (n_steps + 1)
        where = "final fit" if fold == "final" else f"fold {int(fold) + 1}/{n_steps}"
        progress(overall, f"{where}: {message}", {**values, "model_kind": kind, "fold": fold})

    return report


def _trainable(kind: str, data: PreparedData, rows: range) -> slice | np.ndarray:
    """The rows of `rows` a model learns from: a slice where that is all of them, because a
    slice is a view and a copied block can shift BLAS results in the last bits (and the
    regression kinds' stored numbers must not move)."""
    if is_classifier(kind) and data.threshold_bps == 0:
        index = np.arange(rows.start, rows.stop)
        return index[data.direction[index] != 0]  # no move, no direction to learn
    return slice(rows.start, rows.stop)


def _validation_split(rows: range, horizon: int) -> tuple[range, range]:
    n_val = max(1, math.ceil(len(rows) * VALIDATION_FRACTION))
    val_start = rows.stop - n_val
    fit_end = val_start - horizon
    if fit_end - rows.start < 2:
        raise ValueError(
            f"too few rows for early stopping: {len(rows)} training rows leave {fit_end - rows.start} "
            f"after holding out the last {n_val} and purging {horizon}"
        )
    return range(rows.start, fit_end), range(val_start, rows.stop)


def _label_set(threshold_bps: float) -> tuple[int, ...]:
    return (-1, 1) if threshold_bps == 0 else (-1, 0, 1)


def _aligned_proba(raw: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Probabilities as columns (-1, 0, 1); a class the model never saw gets 0."""
    aligned = np.zeros((raw.shape[0], 3))
    for column, label in enumerate(classes.tolist()):
        aligned[:, int(label) + 1] = raw[:, column]
    return aligned


def _stack_proba(blocks: list) -> np.ndarray:
    return np.concatenate(blocks, axis=0)


def _importances(model, features: list[str]) -> dict[str, float] | None:
    values = model.feature_importances()
    return None if values is None else dict(zip(features, map(float, values), strict=True))


def _previous_model(kind: str, previous):
    if previous is None:
        raise ValueError("cadence 'incremental' needs the previous version's model (previous=...)")
    if not model_tags(kind).supports_warm_start:
        can = ", ".join(k for k in MODEL_CLASSES if model_tags(k).supports_warm_start)
        raise ValueError(
            f"cadence 'incremental': model kind {kind!r} cannot warm start (kinds that can: {can})"
        )
    if isinstance(previous, bytes | bytearray | memoryview):
        return load_model(kind, bytes(previous))
    if type(previous) is not model_class(kind):
        raise ValueError(
            f"cadence 'incremental': previous model is a {type(previous).__name__}, not a {kind}"
        )
    return previous


def _incremental_rows(data: PreparedData, previous_data_end, horizon: int):
    """The rows after the previous data_end, and their one fold (last 15% scored, purged)."""
    if previous_data_end is None:
        raise ValueError(
            "cadence 'incremental' needs the previous version's data_end (previous_data_end=...)"
        )
    end = (
        datetime.fromisoformat(previous_data_end) if isinstance(previous_data_end, str) else previous_data_end
    )
    if end.tzinfo is None:  # a naive time from a database is UTC, as every time in Huracan
        end = end.replace(tzinfo=UTC)
    first_new = next((i for i, ts in enumerate(data.timestamps) if ts > end), data.n_rows)
    n_new = data.n_rows - first_new
    n_test = max(MIN_TEST_ROWS_PER_FOLD, math.ceil(n_new * VALIDATION_FRACTION))
    if n_new - n_test - horizon < MIN_TEST_ROWS_PER_FOLD:
        raise ValueError(
            f"too few new rows for an incremental retrain: {n_new} usable rows after {end.isoformat()}; "
            f"need at least {2 * MIN_TEST_ROWS_PER_FOLD + horizon} ({MIN_TEST_ROWS_PER_FOLD} to learn, "
            f"a purge of {horizon}, {MIN_TEST_ROWS_PER_FOLD} to score)"
        )
    new = data.rows(first_new, data.n_rows)
    test_start = n_new - n_test
    fold = Fold(0, 0, test_start - horizon, test_start, n_new)
    return new, [fold], end


def checked_single_symbol(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [name for name in CANONICAL_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"train_model needs a canonical OHLCV frame; missing columns: {missing}")
    symbols = frame["symbol"].unique().to_list()
    if len(symbols) != 1:
        raise ValueError(f"train_model trains on one symbol at a time, got {sorted(symbols)}")
    return frame.select(CANONICAL_COLUMNS).sort("ts")


def _usable_rows(
    frame: pl.DataFrame, features: list[str], horizon: int, threshold_bps: float
) -> pl.DataFrame:
    """Rows whose features are warmed up and whose target is already known."""
    target = target_name(horizon)
    prepared = add_direction(add_forward_return(add_features(frame), horizon), horizon, threshold_bps)
    needed = [*features, target, "next_ret"]
    return prepared.drop_nulls(needed).filter(pl.all_horizontal(pl.col(needed).is_finite()))


def folds_or_explain(n_usable: int, n_input: int, n_folds: int, horizon: int):
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


def predict_frame(frame: pl.DataFrame, model, features: list[str]) -> pl.DataFrame:
    """(ts, prediction) for every bar of a one-symbol OHLCV frame whose `features` (a version's
    manifest list, in its order) are warmed up; classifiers give the expected direction.
    ValueError when the frame's features are not the ones the model was trained on."""
    frame = checked_single_symbol(frame)
    features = list(features)  # a Manifest's tuple or a stored manifest's list
    computed = add_features(frame)
    missing = [name for name in features if name not in computed.columns]
    if missing:
        raise ValueError(
            f"the file's features do not match the model's manifest: missing {', '.join(missing)} "
            f"(this engine computes {', '.join(feature_columns())})"
        )
    ready = computed.drop_nulls(features).filter(pl.all_horizontal(pl.col(features).is_finite()))
    if ready.is_empty():
        raise ValueError(
            f"no bar of the file has all {len(features)} features warmed up ({frame.height} bars)"
        )
    X = ready.select(features).to_numpy().astype(float)
    prediction, _proba = predict_rows(model, X, range(0, X.shape[0]))
    return pl.DataFrame({"ts": ready["ts"], "prediction": prediction.astype(float)})
