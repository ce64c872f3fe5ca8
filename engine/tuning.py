"""Hyperparameter and model search with Optuna over the walk-forward objective.

The usable rows of one symbol are split in time into a tuning region and a final holdout block
(the last `holdout_fraction` of the rows). The tuning region ends `horizon` rows before the
holdout (purge: its last targets would otherwise reach into the holdout), and every trial is
given only the tuning region's rows, so no trial can see the holdout. A trial picks a model
kind (a categorical parameter) and that kind's parameters from SEARCH_SPACES, runs walk-forward
folds over the tuning region, reports the running mean score after each fold (MedianPruner
stops hopeless trials early) and returns the mean of the folds' out-of-sample `metric`.
The best trial's kind and parameters are then fitted once on the whole tuning region and scored
on the holdout: that number, reported separately, is the honest estimate.

The study lives in any SQLAlchemy database (Optuna's RDBStorage, its own tables): pass the
brain's URL as `storage` and several workers calling `tune` with the same `study_name` share one
study. Optuna is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from engine.metrics import periods_per_year
from engine.models import make_model, model_class
from engine.training import (
    checked_single_symbol,
    fit_and_predict,
    fit_final,
    folds_or_explain,
    is_classifier,
    model_defaults,
    needs_signal,
    predict_rows,
    prepare_data,
    score,
    with_signal,
)

# Metrics a study can optimise, and which way is better.
METRIC_DIRECTIONS = {
    "sharpe": "maximize",
    "ic": "maximize",
    "hit_rate": "maximize",
    "accuracy": "maximize",
    "f1": "maximize",
    "mae": "minimize",
    "rmse": "minimize",
    "log_loss": "minimize",
}

# One small, sensible search space per kind: (type, low, high) for "int" / "float" / "log"
# (log-uniform float), ("choice", options) for categorical. Kinds absent here run with their
# defaults (the model choice still applies).
_BOOSTED = {
    "n_estimators": ("int", 50, 400),
    "learning_rate": ("log", 0.01, 0.3),
}
_NEURAL = {
    "lookback": ("int", 8, 64),
    "hidden_size": ("choice", (16, 32, 64)),
    "lr": ("log", 1e-4, 1e-2),
    "dropout": ("float", 0.0, 0.3),
}
# The CNN's width and depth are its own (it reads no hidden_size): channels per level, and
# levels with kernel_size set how many bars it sees (kinds.receptive_field).
_CNN = {
    "lookback": ("int", 8, 64),
    "channels": ("choice", (16, 32, 64)),
    "kernel_size": ("int", 2, 5),
    "levels": ("int", 2, 5),
    "lr": ("log", 1e-4, 1e-2),
    "dropout": ("float", 0.0, 0.3),
}
_TREE = {"max_depth": ("int", 2, 8), "min_samples_leaf": ("int", 10, 100)}
_FOREST = {
    "n_estimators": ("int", 50, 300),
    "max_depth": ("int", 3, 10),
    "min_samples_leaf": ("int", 5, 50),
    "max_features": ("float", 0.3, 1.0),
}
_XGBOOST = {
    **_BOOSTED,
    "max_depth": ("int", 2, 8),
    "subsample": ("float", 0.5, 1.0),
    "colsample_bytree": ("float", 0.5, 1.0),
    "reg_lambda": ("log", 0.1, 10.0),
}
_LIGHTGBM = {
    **_BOOSTED,
    "num_leaves": ("int", 4, 63),
    "min_child_samples": ("int", 5, 100),
    "subsample": ("float", 0.5, 1.0),
    "colsample_bytree": ("float", 0.5, 1.0),
}
_CATBOOST = {**_BOOSTED, "depth": ("int", 3, 8), "l2_leaf_reg": ("log", 1.0, 10.0)}
_AGENT: dict[str, tuple] = {
    "learning_rate": ("log", 1e-4, 3e-3),
    "gamma": ("float", 0.8, 0.99),
    "window": ("int", 5, 30),
    "total_timesteps": ("int", 2000, 20000),
}
SEARCH_SPACES: dict[str, dict[str, tuple]] = {
    "linear": {"alpha": ("log", 1e-3, 100.0)},
    "logistic": {"C": ("log", 1e-3, 10.0)},
    "knn": {"n_neighbors": ("int", 5, 100)},
    "knn_classifier": {"n_neighbors": ("int", 5, 100)},
    "svm": {"C": ("log", 0.01, 10.0), "epsilon": ("log", 0.01, 1.0)},
    "svm_classifier": {"C": ("log", 0.01, 10.0)},
    "decision_tree": _TREE,
    "decision_tree_classifier": _TREE,
    "random_forest": _FOREST,
    "random_forest_classifier": _FOREST,
    "xgboost": _XGBOOST,
    "xgboost_classifier": _XGBOOST,
    "lightgbm": _LIGHTGBM,
    "lightgbm_classifier": _LIGHTGBM,
    "catboost": _CATBOOST,
    "catboost_classifier": _CATBOOST,
    **{kind: _NEURAL for kind in ("lstm", "gru", "bilstm_attention", "transformer")},
    **{f"{kind}_classifier": _NEURAL for kind in ("lstm", "gru", "bilstm_attention", "transformer")},
    "cnn": _CNN,
    "cnn_classifier": _CNN,
    "river_linear": {"learning_rate": ("log", 1e-3, 0.1)},
    "river_logistic": {"learning_rate": ("log", 1e-3, 0.1)},
    # The agents: a trial's cost is its timesteps, so the search stays where a fit takes seconds.
    "dqn": {**_AGENT, "exploration_fraction": ("float", 0.1, 0.5)},
    "ppo_sizing": {**_AGENT, "ent_coef": ("log", 1e-4, 0.05)},
}


@dataclass
class TuningResult:
    study_name: str
    metric: str
    direction: str  # "maximize" or "minimize"
    best_kind: str
    best_params: dict  # the kind's parameters, searched and fixed, without the seed
    best_score: float  # mean out-of-sample `metric` over the tuning region's folds
    holdout_score: float  # `metric` of the best kind + params, fitted on the tuning region
    holdout_metrics: dict
    trials_run: int  # by this call
    trials_total: int  # in the study, every worker's
    trials_complete: int
    trials_pruned: int
    tuning_rows: int
    holdout_rows: int
    tuning_start: str  # ISO-8601 UTC, first / last bar of each region
    tuning_end: str
    holdout_start: str
    holdout_end: str
    search_space: dict = field(default_factory=dict)


def tune(
    frame: pl.DataFrame,
    *,
    timeframe: str,
    horizon: int = 1,
    cost_bps: float = 1.0,
    kinds: list[str],
    n_trials: int = 20,
    storage: str | None = None,
    study_name: str | None = None,
    seed: int = 42,
    timeout: float | None = None,
    n_folds: int = 3,
    holdout_fraction: float = 0.2,
    metric: str = "sharpe",
    threshold_bps: float = 0.0,
    fixed_params: dict[str, dict[str, Any]] | None = None,
    signal=None,
) -> TuningResult:
    """Search model kind and parameters on the tuning region; score the best on the holdout.

    `storage`: a SQLAlchemy URL (the brain's) or None for an in-memory study. `fixed_params`
    pins parameters per kind (taken out of the search). `signal` (engine.rl.signal.SizingSignal):
    the member forecast a sizing kind (ppo_sizing) reads, required when one is searched; then
    every kind is tuned and held out on the same bars, those the member forecast out of sample,
    and only the sizing kinds read the forecast. Raises ValueError for unknown or unavailable
    kinds, an unknown metric, a sizing kind without a signal, or too few rows.
    """
    import optuna

    kinds = _checked_kinds(kinds)
    if metric not in METRIC_DIRECTIONS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRIC_DIRECTIONS)}")
    # Regressors and classifiers compete on the trading metrics; these exist for classifiers only.
    regressors = [kind for kind in kinds if not is_classifier(kind)]
    if metric in ("accuracy", "f1", "log_loss") and regressors:
        raise ValueError(f"metric {metric!r} needs classifier kinds only; not: {', '.join(regressors)}")
    if not 0 < holdout_fraction < 1:
        raise ValueError(f"holdout_fraction must be between 0 and 1, got {holdout_fraction!r}")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"n_trials must be a whole number >= 1, got {n_trials!r}")
    fixed_params = {kind: dict(values) for kind, values in (fixed_params or {}).items()}
    bars_per_year = periods_per_year(timeframe)
    frame = checked_single_symbol(frame)
    data = prepare_data(frame, horizon, threshold_bps)
    sizing = [kind for kind in kinds if needs_signal(kind)]
    if sizing and signal is None:
        raise ValueError(f"{sizing[0]} sizes on a member version's out-of-sample forecast: tune it on a "
                         "brain's slot that has one (the champion, or --signal-version N)")
    if signal is not None:
        data = with_signal(data, signal, sizing[0] if sizing else kinds[0])
    holdout_start = data.n_rows - math.ceil(data.n_rows * holdout_fraction)
    tuning = data.rows(0, max(holdout_start - horizon, 0))  # purged: no target reaches the holdout
    folds = folds_or_explain(tuning.n_rows, frame.height, n_folds, horizon)
    if data.n_rows - holdout_start < 2:
        raise ValueError(f"too few rows for a holdout: {data.n_rows} usable rows")
    direction = METRIC_DIRECTIONS[metric]
    worst = -math.inf if direction == "maximize" else math.inf

    started: list[int] = []  # this call's trials (other workers add theirs to the same study)

    def objective(trial) -> float:
        started.append(trial.number)
        kind = trial.suggest_categorical("model", kinds)
        params = {**_suggest(trial, kind, fixed_params.get(kind, {})), **fixed_params.get(kind, {})}
        trial.set_user_attr("params", params)
        model_params = model_defaults(kind, params, horizon, seed, cost_bps)
        scores = []
        for fold in folds:
            train, test = range(fold.train_start, fold.train_end), range(fold.test_start, fold.test_end)
            _model, prediction, proba = fit_and_predict(kind, model_params, reading(kind, tuning), train,
                                                        test, horizon)
            value = score(kind, tuning, test, prediction, proba, cost_bps, bars_per_year)[metric]
            # An undefined fold score (e.g. a flat strategy's Sharpe) counts as no edge / worst error.
            scores.append(value if math.isfinite(value) else (0.0 if metric == "sharpe" else -worst))
            trial.report(float(np.mean(scores)), step=fold.index)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(np.mean(scores))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _open_study(optuna, storage, study_name or "huracan", direction, seed)
    study.optimize(objective, n_trials=n_trials, timeout=timeout)
    trials = study.get_trials(deepcopy=False)
    states = [trial.state for trial in trials]
    complete = states.count(optuna.trial.TrialState.COMPLETE)
    if complete == 0:
        raise ValueError(f"study {study.study_name!r} has no completed trial yet")
    best = study.best_trial
    best_kind = best.params["model"]
    best_params = dict(best.user_attrs.get("params", {}))

    # The one look at the holdout: the best kind and params, fitted on the whole tuning region.
    model = fit_final(best_kind, model_defaults(best_kind, best_params, horizon, seed, cost_bps),
                      reading(best_kind, tuning), horizon)
    holdout_rows = range(holdout_start, data.n_rows)
    # Sequence models read the rows before the holdout as context: features only, the past.
    prediction, proba = predict_rows(model, reading(best_kind, data).model_inputs, holdout_rows)
    holdout_metrics = score(best_kind, data, holdout_rows, prediction, proba, cost_bps, bars_per_year)
    return TuningResult(
        study_name=study.study_name,
        metric=metric,
        direction=direction,
        best_kind=best_kind,
        best_params=best_params,
        best_score=float(best.value),
        holdout_score=float(holdout_metrics[metric]),
        holdout_metrics=holdout_metrics,
        trials_run=len(started),
        trials_total=len(trials),
        trials_complete=complete,
        trials_pruned=states.count(optuna.trial.TrialState.PRUNED),
        tuning_rows=tuning.n_rows,
        holdout_rows=len(holdout_rows),
        tuning_start=tuning.timestamps[0].isoformat(),
        tuning_end=tuning.timestamps[-1].isoformat(),
        holdout_start=data.timestamps[holdout_start].isoformat(),
        holdout_end=data.timestamps[-1].isoformat(),
        search_space={
            kind: _describe(SEARCH_SPACES.get(kind, {}), fixed_params.get(kind, {})) for kind in kinds
        },
    )


def reading(kind: str, data):
    """`data` as `kind` reads it: a sizing kind reads the member's forecast as its first column,
    the other kinds only the features (on the same bars)."""
    return data if needs_signal(kind) else replace(data, signal=None)


def _checked_kinds(kinds: list[str]) -> list[str]:
    kinds = list(dict.fromkeys(kinds))
    if not kinds:
        raise ValueError("kinds: name at least one model kind to search")
    for kind in kinds:
        model_class(kind)  # unknown: ValueError naming the known kinds
        make_model(kind)  # unavailable here: ValueError saying what to install
    return kinds


def _suggest(trial, kind: str, fixed: dict[str, Any]) -> dict[str, Any]:
    """The kind's parameters for this trial; names carry the kind ("lightgbm.num_leaves") so
    kinds with a parameter of the same name keep separate distributions in one study."""
    params = {}
    for name, spec in SEARCH_SPACES.get(kind, {}).items():
        if name in fixed:
            continue
        key = f"{kind}.{name}"
        if spec[0] == "int":
            params[name] = trial.suggest_int(key, spec[1], spec[2])
        elif spec[0] == "float":
            params[name] = trial.suggest_float(key, spec[1], spec[2])
        elif spec[0] == "log":
            params[name] = trial.suggest_float(key, spec[1], spec[2], log=True)
        else:
            params[name] = trial.suggest_categorical(key, list(spec[1]))
    return params


def _describe(space: dict[str, tuple], fixed: dict[str, Any]) -> dict[str, Any]:
    described: dict[str, Any] = {name: list(spec[1:]) for name, spec in space.items() if name not in fixed}
    described.update({name: f"fixed {value!r}" for name, value in fixed.items()})
    return described


def _open_study(optuna, storage: str | None, study_name: str, direction: str, seed: int):
    sampler = optuna.samplers.TPESampler(seed=seed)
    # Pruning starts with the second fold and after five finished trials: one fold is too noisy.
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    rdb = None if storage is None else _rdb_storage(optuna, storage)
    return optuna.create_study(
        storage=rdb,
        study_name=study_name,
        direction=direction,
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )


def _rdb_storage(optuna, url: str):
    """Optuna's tables in the database at `url`. Two workers starting together may both try to
    create the tables; the loser's error goes away on a second look."""
    from sqlalchemy.exc import DBAPIError

    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for attempt in range(3):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
        except DBAPIError:
            if attempt == 2:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")
