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

Positions: a kind's `position_rule` (engine.metrics.POSITION_RULES, see `position_rule`) says how
its prediction is traded, "sign" for forecasts and "size" for a sizing agent; every trading
metric here uses it and the manifest records it. A sizing kind (`needs_signal`, ppo_sizing)
reads a member version's stored out-of-sample forecast as X's first column (`signal=`,
engine.rl.signal): only bars with one are used, the walk-forward runs over those, the column is
put in front of the features after the fold's preprocessing (which never sees it), and the
manifest records the member (`Manifest.signal`) and, beside the agent's metrics, a fixed-size
and a volatility-targeting rule's Sharpe on the same bars.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from engine.cadence import Cadence
from engine.data import CANONICAL_COLUMNS, data_fingerprint
from engine.manifest import FoldRecord, Manifest
from engine.metrics import accuracy, evaluate_predictions, f1, log_loss, mae, periods_per_year, rmse
from engine.models import MODEL_CLASSES, FitProgress, load_model, make_model, model_class, model_tags
from engine.models.neural.checkpoints import CheckpointStore, StageCheckpoints
from engine.pipeline import input_columns, make_spec, usable_feature_rows, version_features
from engine.spec import ImputeStep, SpecError, VersionSpec
from engine.targets import (
    add_direction,
    add_forward_return,
    add_net_edge,
    direction_name,
    net_edge_name,
    target_name,
)
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


@dataclass(frozen=True, eq=False)  # numpy fields: == compares identity, not an ambiguous array
class OutOfSample:
    """A version's walk-forward out-of-sample rows, fold after fold in bar order: what the overall
    out-of-sample metrics were computed from. `prediction` is what the trading metrics trade on
    (the forecast, or a classifier's expected direction), `next_ret` the next bar's realised
    return it was scored against (a fraction), as engine.metrics.strategy_returns takes them."""

    timestamps: tuple[datetime, ...]
    prediction: np.ndarray
    next_ret: np.ndarray
    fold: np.ndarray  # the index of the fold that predicted each bar

    def __post_init__(self) -> None:
        lengths = {len(self.timestamps), len(self.prediction), len(self.next_ret), len(self.fold)}
        if len(lengths) != 1:
            raise ValueError(f"out-of-sample rows of unequal lengths: {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.timestamps)


@dataclass(frozen=True)
class TrainingResult:
    """What one training run made: how (the manifest), the model, and what the model itself says
    of its inputs, read from the final refit while it is still in memory."""

    manifest: Manifest
    artifact: bytes  # the final model, refitted on all usable rows
    # feature -> the learner's own importance share (gain, impurity, |coef| on scaled inputs);
    # None for kinds without one (KNN, SVM, neural)
    feature_importances: dict[str, float] | None = None
    # method (native, permutation, shap) -> feature -> value, for the methods asked for that
    # apply to the kind
    importances: dict[str, dict[str, float]] | None = None
    # The fitted preprocessing (skops bytes), None for a spec without steps; its sha256 is in the
    # manifest, and serving loads it only when the bytes still hash to it.
    preprocessor: bytes | None = None
    # The walk-forward's out-of-sample rows, stored with the version so its equity curve is drawn
    # without a refit; None for a result made before they were kept.
    out_of_sample: OutOfSample | None = None


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
    # What regression kinds learn and are scored against: fwd (the forward return) or the net
    # edge after costs; None means fwd.
    learned: np.ndarray | None = None
    # Rows a fold's outlier removal dropped from learning (never from predicting); None: none.
    excluded: np.ndarray | None = None
    # A sizing kind's signal per row (a member's out-of-sample forecast), put in front of the
    # inputs after preprocessing (`model_inputs`); None for every other kind.
    signal: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return self.X.shape[0]

    @property
    def regression_target(self) -> np.ndarray:
        return self.fwd if self.learned is None else self.learned

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
            learned=None if self.learned is None else self.learned[start:stop],
            excluded=None if self.excluded is None else self.excluded[start:stop],
            signal=None if self.signal is None else self.signal[start:stop],
        )

    def with_inputs(self, X: np.ndarray, features: list[str], excluded: np.ndarray | None) -> PreparedData:
        """The same rows and targets with the inputs a fold's fitted preprocessing made."""
        return replace(self, X=X, features=features, excluded=excluded)

    def take(self, index: np.ndarray) -> PreparedData:
        """The rows at `index` (in order) only."""
        return PreparedData(
            features=self.features, X=self.X[index], fwd=self.fwd[index], direction=self.direction[index],
            next_ret=self.next_ret[index], timestamps=[self.timestamps[i] for i in index],
            threshold_bps=self.threshold_bps,
            learned=None if self.learned is None else self.learned[index],
            excluded=None if self.excluded is None else self.excluded[index],
            signal=None if self.signal is None else self.signal[index],
        )

    @property
    def model_inputs(self) -> np.ndarray:
        """What the model reads: X, with the signal as column 0 for a sizing kind."""
        return self.X if self.signal is None else np.column_stack([self.signal, self.X])


def position_rule(kind: str) -> str:
    """How `kind`'s prediction becomes a position (engine.metrics.POSITION_RULES): its class's
    `position_rule`, "sign" unless it says otherwise (and for ensembles, which blend forecasts)."""
    if kind == "ensemble":
        return "sign"
    return str(getattr(model_class(kind), "position_rule", "sign"))


def needs_signal(kind: str) -> bool:
    """Whether `kind` sizes on a member's forecast (X's first column, engine.rl.signal)."""
    return kind != "ensemble" and bool(getattr(model_class(kind), "needs_signal", False))


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
    spec: VersionSpec | None = None,
    alt: Mapping[str, pl.DataFrame] | None = None,
    importance: Sequence[str] = ("native",),
    signal: Any = None,
    checkpoints: CheckpointStore | None = None,
) -> TrainingResult:
    """Walk-forward evaluate `model_kind` on a canonical OHLCV frame of one symbol, then refit.

    `spec` (engine.spec) says everything chosen about the version: recipe, preprocessing, target,
    alternative data, kind, params and seed; when given it is authoritative (horizon,
    threshold_bps, params and seed come from it). Without one, the spec is built from the other
    arguments: the core recipe, no preprocessing, the kind's own target. `alt` maps each alt-data
    kind of the spec to its frame (as the brain stores it). Preprocessing steps are fitted inside
    each fold on that fold's training rows only, and on every row for the final refit; the fitted
    steps travel as `TrainingResult.preprocessor`. `importance` names the methods computed
    (native, permutation on the out-of-sample folds, shap for tree kinds).

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

    `signal` (engine.rl.signal.SizingSignal): for a sizing kind (ppo_sizing), required, the member
    version and its out-of-sample forecast per bar (see the module docstring); refused for others.

    `checkpoints` (engine.models.neural.checkpoints.CheckpointStore): for kinds tagged
    resumes_from_checkpoint, each fit saves its state there after every epoch under its stage
    ("fold N", "final fit") and resumes from the stage's checkpoint when it has one of the same
    inputs, so a run killed and started again continues where it was; other kinds ignore it.
    """
    model_class(model_kind)  # unknown kinds: ValueError naming the known ones
    if cadence not in CADENCES:
        raise ValueError(f"unknown cadence {cadence!r}; known: {', '.join(CADENCES)}")
    if spec is None:
        spec = make_spec(model_kind, horizon=horizon, threshold_bps=threshold_bps, params=params, seed=seed)
    elif spec.model.kind != model_kind:
        raise SpecError(f"model.kind: the spec is for {spec.model.kind}, not {model_kind}")
    horizon, threshold_bps, seed = spec.target.horizon, spec.target.threshold_bps, spec.model.seed
    params = spec.model.params
    if cadence == "incremental" and spec.preprocessing:
        raise SpecError(
            "cadence: an incremental retrain continues the previous model on its inputs; a spec with "
            "preprocessing steps refits them, so train it in full"
        )
    model_params = dict(params or {})
    if "seed" in model_params:
        raise ValueError("pass the seed as train_model(seed=...), not inside params")
    early_stopping = bool(model_params.pop("early_stopping", early_stopping))
    spec, signal = _signal_spec(model_kind, spec, model_params, signal)
    if early_stopping and not model_tags(model_kind).accepts_eval_set:
        raise ValueError(f"early_stopping: model kind {model_kind!r} has no early stopping")
    model_params = model_defaults(model_kind, model_params, horizon, seed, cost_bps)
    probe = make_model(model_kind, **model_params)  # bad parameters fail before any work
    bars_per_year = periods_per_year(timeframe)
    frame = checked_single_symbol(frame)
    data = prepare_data(frame, horizon, threshold_bps, spec=spec, alt=alt, cost_bps=cost_bps)
    if signal is not None:
        data = with_signal(data, signal, model_kind)
    classifier = is_classifier(model_kind)
    rule = position_rule(model_kind)
    steps = spec.preprocessing

    if cadence == "incremental":
        previous_model = _previous_model(model_kind, previous)
        data, folds, warm_from = _incremental_rows(data, previous_data_end, horizon)
    else:
        previous_model, warm_from = None, None
        folds_wanted = min(n_folds, QUICK_FOLDS) if cadence == "quick" else n_folds
        try:
            folds = folds_or_explain(data.n_rows, frame.height, folds_wanted, horizon)
        except ValueError as error:
            if signal is None:
                raise
            raise ValueError(
                f"{model_kind} learns on the {data.n_rows} usable bars with an out-of-sample forecast of "
                f"v{signal.member.number} only: {error}"
            ) from None
    n_steps = len(folds)
    if hasattr(probe, "check_training_rows"):  # an agent's window must fit every fold's rows
        smallest = min(folds, key=lambda fold: fold.train_end - fold.train_start)
        probe.check_training_rows(smallest.train_end - smallest.train_start,
                                  f"of fold {smallest.index + 1}/{n_steps}")

    fold_records, pieces, fitted_folds = [], [], []
    for fold in folds:
        train, test = range(fold.train_start, fold.train_end), range(fold.test_start, fold.test_end)
        fold_data, fold_steps = fold_inputs(data, steps, train, model_kind, seed)
        fold_model, predictions, proba = fit_and_predict(
            model_kind,
            model_params,
            fold_data,
            train,
            test,
            horizon,
            early_stopping=early_stopping,
            init_model=previous_model,
            fit_progress=_epoch_reporter(progress, model_kind, fold.index, fold.index, n_steps),
            checkpoints=_stage(checkpoints, model_kind, f"fold {fold.index + 1}"),
        )
        fitted_folds.append((fold_model, fold_steps, test))
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

    final_data, final_steps = fold_inputs(data, steps, range(0, data.n_rows), model_kind, seed)
    final_model = fit_final(
        model_kind,
        model_params,
        final_data,
        horizon,
        early_stopping=early_stopping,
        init_model=previous_model,
        fit_progress=_epoch_reporter(progress, model_kind, "final", n_steps, n_steps),
        checkpoints=_stage(checkpoints, model_kind, "final fit"),
    )
    rows = np.concatenate([np.arange(test.start, test.stop) for test, _, _ in pieces])
    out_of_sample = OutOfSample(
        timestamps=tuple(data.timestamps[row] for row in rows),
        prediction=np.concatenate([p for _, p, _ in pieces]),
        next_ret=data.next_ret[rows],
        fold=np.concatenate([np.full(len(test), fold.index) for (test, _, _), fold in
                             zip(pieces, folds, strict=True)]),
    )
    overall = score(
        model_kind,
        data,
        rows,
        out_of_sample.prediction,
        None if not classifier else _stack_proba([q for _, _, q in pieces]),
        cost_bps,
        bars_per_year,
    )
    if signal is not None:
        from engine.rl.signal import baseline_metrics

        overall.update(baseline_metrics(
            data.signal, data.next_ret, int(rows[0]), cost_bps=cost_bps, bars_per_year=bars_per_year,
            vol_window=int(model_params.get("vol_window", 20)),
            leverage_cap=float(model_params.get("leverage_cap", 1.0)),
        ))
    manifest = Manifest(
        model_kind=model_kind,
        params=final_model.get_params(),
        features=tuple(data.features),
        target=spec.target.column,
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
        spec=spec.to_json(),
        spec_sha256=spec.digest(),
        preprocessor=None if final_steps is None else preprocessor_record(final_steps),
        position_rule=rule,
        signal=None if signal is None else _member_record(signal),
    )
    native = _importances(final_model, final_data.features)
    result = TrainingResult(
        manifest=manifest,
        artifact=final_model.to_bytes(),
        feature_importances=native,
        importances=_importance_methods(
            # Permutation and SHAP permute the features alone; a sizing agent also reads its signal.
            importance if signal is None else ("native",),
            native, final_model, final_data, data, fitted_folds, model_kind, seed,
        ),
        preprocessor=None if final_steps is None else final_steps.to_bytes(),
        out_of_sample=out_of_sample,
    )
    if progress:
        progress(1.0, "done")
    return result


# ---- pieces shared with engine.tuning ------------------------------------------------------


def model_defaults(kind: str, params: dict, horizon: int, seed: int, cost_bps: float | None = None) -> dict:
    """`params` plus the seed; for kinds that purge internally (neural) the horizon; for kinds
    whose learning pays costs (the agents' reward) the run's `cost_bps`, so an agent learns under
    the costs it is scored with."""
    merged = {**params, "seed": seed}
    names = model_class(kind).param_names()
    if "horizon" in names and "horizon" not in params:
        merged["horizon"] = horizon
    if cost_bps is not None and "cost_bps" in names and "cost_bps" not in params:
        merged["cost_bps"] = cost_bps
    return merged


def prepare_data(
    frame: pl.DataFrame,
    horizon: int,
    threshold_bps: float = 0.0,
    *,
    spec: VersionSpec | None = None,
    alt: Mapping[str, pl.DataFrame] | None = None,
    cost_bps: float = 1.0,
) -> PreparedData:
    """The spec's inputs (engine.pipeline.version_features), the targets and next-bar returns of
    the usable rows of a checked frame (no spec: the core recipe and the forward return)."""
    spec = spec if spec is not None else make_spec("linear", horizon=horizon, threshold_bps=threshold_bps)
    features = input_columns(spec)
    usable = _usable_rows(frame, spec, alt, features, horizon, threshold_bps, cost_bps)
    learned = None
    if spec.target.kind == "net_edge":
        learned = usable[net_edge_name(horizon)].to_numpy().astype(float)
    return PreparedData(
        features=features,
        X=usable.select(features).to_numpy().astype(float),
        fwd=usable[target_name(horizon)].to_numpy().astype(float),
        direction=usable[direction_name(horizon)].to_numpy().astype(int),
        next_ret=usable["next_ret"].to_numpy().astype(float),
        timestamps=usable["ts"].to_list(),
        threshold_bps=float(threshold_bps),
        learned=learned,
    )


def fold_inputs(data: PreparedData, steps: Sequence, rows: range, kind: str, seed: int):
    """(the data as the fold's model sees it, the fitted steps): the spec's preprocessing fitted
    on rows `rows` only (a fold's training rows, or every row for the final refit), then applied
    to every row, which is row by row and so leaks nothing from the rows it was not fitted on.
    No steps: the data itself, untouched, and None."""
    if not steps:
        return data, None
    from engine.preprocessing import fit_steps

    target = data.direction if is_classifier(kind) else data.regression_target
    fitted = fit_steps(
        steps,
        data.X[rows.start : rows.stop],
        target[rows.start : rows.stop],
        data.features,
        task=model_class(kind).task,
        seed=seed,
    )
    excluded = None
    if not fitted.kept.all():
        excluded = np.zeros(data.n_rows, dtype=bool)
        excluded[rows.start : rows.stop] = ~fitted.kept
    inputs = np.asarray(fitted.transform(data.X), dtype=float)
    return data.with_inputs(inputs, list(fitted.output_names), excluded), fitted


def preprocessor_record(fitted) -> dict[str, Any]:
    """What the manifest says of the fitted preprocessing artifact: its address and format, and the
    names of the columns it hands the model."""
    import hashlib

    data = fitted.to_bytes()
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "format": "skops",
        "outputs": list(fitted.output_names),
    }


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
    checkpoints: StageCheckpoints | None = None,
):
    """Fit a fresh `kind` on rows `train` and predict rows `test`: (model, prediction, proba).

    The prediction is the forecast (regressors) or the expected direction (classifiers, whose
    class probabilities come back as `proba` over the classes (-1, 0, 1), else None).
    `fit_progress` goes to the model's fit (neural kinds call it after each epoch)."""
    model = _fit(kind, params, data, train, horizon, early_stopping, init_model, fit_progress, checkpoints)
    prediction, proba = predict_rows(model, data.model_inputs, test)
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
    checkpoints: StageCheckpoints | None = None,
):
    return _fit(kind, params, data, range(0, data.n_rows), horizon, early_stopping, init_model, fit_progress,
                checkpoints)


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
    metrics = evaluate_predictions(
        data.regression_target[rows], prediction, data.next_ret[rows], cost_bps, bars_per_year,
        position_rule(kind),
    )
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


def _signal_spec(kind: str, spec: VersionSpec, model_params: dict, signal):
    """(the run's spec, its signal): a sizing kind needs a signal, and its spec names the member
    (params.signal_version, popped from `model_params`: the model itself never sees it); other
    kinds take none."""
    from engine.rl.signal import SIGNAL_PARAM

    chosen = model_params.pop(SIGNAL_PARAM, None)
    if not needs_signal(kind):
        if signal is not None or chosen is not None:
            raise ValueError(f"{kind} reads no signal: {SIGNAL_PARAM} is for sizing kinds (ppo_sizing)")
        return spec, None
    if signal is None:
        raise ValueError(
            f"{kind} needs a member version's out-of-sample forecast as its signal "
            "(train_model(signal=engine.rl.signal.SizingSignal)); train it on a slot with a champion"
        )
    number = signal.member.number
    if chosen is not None and chosen != number:
        raise ValueError(f"{kind} parameter {SIGNAL_PARAM} {chosen} is not the signal given (v{number})")
    if chosen is None:
        model = spec.model.model_copy(update={"params": {**spec.model.params, SIGNAL_PARAM: number}})
        spec = spec.model_copy(update={"model": model})
    return spec, signal


def with_signal(data: PreparedData, signal, kind: str) -> PreparedData:
    """The usable rows that have the member's out-of-sample forecast, with it as their signal."""
    keep, values = signal.on(data.timestamps)
    if not keep.size:
        raise ValueError(
            f"{kind}: v{signal.member.number}'s out-of-sample forecasts cover none of the {data.n_rows} "
            "usable bars; train it on the same bars first"
        )
    return replace(data.take(keep), signal=values)


def _member_record(signal) -> dict[str, Any]:
    from engine.rl.signal import member_record

    return member_record(signal.member)


def _fit(kind, params, data: PreparedData, rows: range, horizon, early_stopping, init_model,
         fit_progress=None, checkpoints=None):
    model = make_model(kind, **params)
    target = data.direction if is_classifier(kind) else data.regression_target
    fit_rows, val_rows = rows, None
    if early_stopping:
        fit_rows, val_rows = _validation_split(rows, horizon)
    fit_index = _trainable(kind, data, fit_rows)
    kwargs: dict[str, Any] = {}
    if fit_progress is not None:
        kwargs["progress"] = fit_progress
    if checkpoints is not None:
        kwargs["checkpoints"] = checkpoints
    inputs = data.model_inputs
    if val_rows is not None:
        val_index = _trainable(kind, data, val_rows)
        kwargs.update(X_val=inputs[val_index], y_val=target[val_index])
    X, y = inputs[fit_index], target[fit_index]
    if init_model is None:
        return model.fit(X, y, **kwargs)
    if not model_tags(kind).learns_online:
        return model.fit(X, y, init_model=init_model, **kwargs)
    # Online learners keep learning where the previous model stopped (a copy, not the original).
    # learn_more takes no progress: a row-by-row learner has no epochs to report.
    continued = type(init_model).from_bytes(init_model.to_bytes())
    continued.learn_more(X, y)
    return continued


def _stage(store: CheckpointStore | None, kind: str, stage: str) -> StageCheckpoints | None:
    """The store bound to one fit, for kinds that resume from checkpoints; None for the rest."""
    if store is None or not model_tags(kind).resumes_from_checkpoint:
        return None
    return StageCheckpoints(store, stage)


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
    keep = None
    if is_classifier(kind) and data.threshold_bps == 0:
        keep = data.direction[rows.start : rows.stop] != 0  # no move, no direction to learn
    if data.excluded is not None:
        kept = ~data.excluded[rows.start : rows.stop]  # the fold's outlier removal
        keep = kept if keep is None else keep & kept
    if keep is None:
        return slice(rows.start, rows.stop)
    return np.arange(rows.start, rows.stop)[keep]


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


# Rows the shap method explains: the newest training rows, enough for stable means at any size.
SHAP_ROWS = 5000


def _importance_methods(methods, native, final_model, final_data, data, fitted_folds, kind, seed):
    """{method: {feature: value}} for each asked-for method that applies to the kind: native (the
    learner's own, on the model's inputs), shap (tree kinds: mean |TreeSHAP| over the newest
    training rows, on the model's inputs), permutation (on the raw inputs, over each fold's
    out-of-sample rows with that fold's own preprocessing and model)."""
    found: dict[str, dict[str, float]] = {}
    if "native" in methods and native is not None:
        found["native"] = native
    if "shap" in methods:
        from engine.importance import shap_importance

        values = shap_importance(final_model, final_data.X[-SHAP_ROWS:], final_data.features)
        if values:
            found["shap"] = values
    if "permutation" in methods and fitted_folds:
        from engine.importance import permutation_oos

        target = data.direction if is_classifier(kind) else data.regression_target
        blocks = [
            (_raw_predictor(model, steps, data, t), data.X[t.start : t.stop], target[t.start : t.stop])
            for model, steps, t in fitted_folds
        ]
        found["permutation"] = permutation_oos(blocks, data.features, seed=seed)
    return found or None


def _raw_predictor(model, steps, data: PreparedData, test: range):
    """Raw inputs of a fold's test rows -> that fold's predictions: its own fitted preprocessing,
    then its model, with the rows before as context for sequence models."""
    start = max(test.start - model.context_rows, 0)
    context = data.X[start : test.start]

    def predict(X_test: np.ndarray) -> np.ndarray:
        raw = np.vstack([context, X_test]) if len(context) else X_test
        inputs = raw if steps is None else np.asarray(steps.transform(raw), dtype=float)
        prediction, _proba = predict_rows(model, inputs, range(len(context), inputs.shape[0]))
        return prediction

    return predict


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
    frame: pl.DataFrame,
    spec: VersionSpec,
    alt: Mapping[str, pl.DataFrame] | None,
    features: list[str],
    horizon: int,
    threshold_bps: float,
    cost_bps: float,
) -> pl.DataFrame:
    """Rows whose features are warmed up and whose target is already known. A missing alt-data
    value drops its row, unless the spec imputes (then the impute step, fitted per fold, fills it)."""
    prepared = add_direction(
        add_forward_return(version_features(frame, spec, alt), horizon), horizon, threshold_bps
    )
    targets = [target_name(horizon), "next_ret"]
    if spec.target.kind == "net_edge":
        prepared = add_net_edge(prepared, horizon, cost_bps)
        targets.append(net_edge_name(horizon))
    imputes = any(isinstance(step, ImputeStep) for step in spec.preprocessing)
    inputs = usable_feature_rows(prepared, features, allow_missing=spec.alt_columns if imputes else ())
    return prepared.filter(inputs & usable_feature_rows(prepared, targets))


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
