"""Feature preprocessing as a scikit-learn Pipeline, fitted on training rows only.

Steps, in this order, each optional: impute missing values (SimpleImputer) -> tame outliers
(clip at learned quantiles, or winsorize at learned order statistics) -> scale (Standard /
MinMax / Robust scaler) -> PCA keeping a share of the variance. Everything is scikit-learn's
own except `QuantileClipper`, a small transformer that learns per-column bounds in `fit`
(scikit-learn has no transformer that learns clip bounds).

Honest evaluation: call `fit_preprocessor` on a fold's training rows and only `transform` its
test rows, so no statistic of the test period reaches the model.

Outlier removal ("remove") drops rows, which a Pipeline's `transform` cannot do, so it is not a
pipeline step: `fit_preprocessor` drops the training rows that break the rule (z-score or IQR,
with centre and spread learned from the training rows) before fitting the pipeline, and
returns which training rows it kept so that the caller drops the same targets. Test rows are
never dropped: a model must predict every bar it is asked about.

This module imports scikit-learn at import time (its transformer subclasses sklearn's base
classes); import it only where preprocessing is wanted.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, validate_data

DEFAULT_PCA_VARIANCE = 0.95

# Types that a saved preprocessor may contain beyond skops' default trust list. Loading refuses
# anything else. numpy.dtype is what SimpleImputer keeps of its training data.
TRUSTED_TYPES: frozenset[str] = frozenset({"engine.preprocessing.QuantileClipper", "numpy.dtype"})


class PreprocessingConfig(BaseModel):
    """What to do to the features before a model sees them. Unknown keys are refused.

    - imputation: mean | median | most_frequent | constant (with `fill_value`, default 0).
    - outliers: none | clip (at the `clip_quantiles` of each training column) | winsorize
      (the lowest and highest `winsorize_limits` shares of each training column are set to
      the nearest kept value, as scipy.stats.mstats.winsorize does) | remove (training rows
      beyond `z_threshold` standard deviations from the mean, or beyond `iqr_multiplier`
      IQRs outside the quartiles, per `removal_rule`, are dropped; test rows never are).
    - scaling: none | standard | minmax | robust.
    - pca: null (off), true (keep 95% of the variance) or the share of variance to keep,
      between 0 and 1 exclusive.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    imputation: Literal["mean", "median", "most_frequent", "constant"] = "mean"
    fill_value: float | None = None
    outliers: Literal["none", "clip", "winsorize", "remove"] = "none"
    clip_quantiles: tuple[float, float] = (0.01, 0.99)
    winsorize_limits: tuple[float, float] = (0.01, 0.01)
    removal_rule: Literal["zscore", "iqr"] = "zscore"
    z_threshold: float = Field(default=3.0, gt=0)
    iqr_multiplier: float = Field(default=1.5, gt=0)
    scaling: Literal["none", "standard", "minmax", "robust"] = "standard"
    pca: float | None = None

    @field_validator("pca", mode="before")
    @classmethod
    def _pca_switch(cls, value):
        if value is True:
            return DEFAULT_PCA_VARIANCE
        if value is False:
            return None
        return value

    @field_validator("pca")
    @classmethod
    def _pca_share(cls, value):
        if value is not None and not 0 < value < 1:
            raise ValueError("pca must be a share of variance between 0 and 1 (e.g. 0.95), true or null")
        return value

    @field_validator("clip_quantiles")
    @classmethod
    def _ordered_quantiles(cls, value):
        low, high = value
        if not 0 <= low < high <= 1:
            raise ValueError("clip_quantiles must be [low, high] with 0 <= low < high <= 1")
        return value

    @field_validator("winsorize_limits")
    @classmethod
    def _limits(cls, value):
        low, high = value
        if not (0 <= low < 1 and 0 <= high < 1 and low + high < 1):
            raise ValueError("winsorize_limits must be [low share, high share], each in [0, 1), sum < 1")
        return value

    @model_validator(mode="after")
    def _fill_value_needs_constant(self):
        if self.fill_value is not None and self.imputation != "constant":
            raise ValueError("fill_value only applies to imputation: constant")
        return self


class QuantileClipper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clip each column to bounds learned from the rows it is fitted on.

    method="quantile": bounds are numpy's (linearly interpolated) `lower` and `upper`
    quantiles of each column. method="winsorize": `lower` and `upper` are the shares cut at
    each end, and the bounds are the order statistics that scipy.stats.mstats.winsorize keeps
    (sorted[int(lower * n)] and sorted[n - int(upper * n) - 1]), so transforming the training
    rows equals winsorizing them. NaN are ignored when learning and pass through.
    """

    def __init__(self, lower: float = 0.01, upper: float = 0.99, method: str = "quantile"):
        self.lower = lower
        self.upper = upper
        self.method = method

    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=float, ensure_all_finite="allow-nan", reset=True)
        if self.method == "quantile":
            self.lower_bounds_ = np.nanquantile(X, self.lower, axis=0)
            self.upper_bounds_ = np.nanquantile(X, self.upper, axis=0)
        elif self.method == "winsorize":
            self.lower_bounds_, self.upper_bounds_ = _winsorize_bounds(X, self.lower, self.upper)
        else:
            raise ValueError(f"method must be 'quantile' or 'winsorize', got {self.method!r}")
        return self

    def transform(self, X):
        check_is_fitted(self, ["lower_bounds_", "upper_bounds_"])
        X = validate_data(self, X, dtype=float, ensure_all_finite="allow-nan", reset=False)
        return np.clip(X, self.lower_bounds_, self.upper_bounds_)


def build_preprocessor(config: PreprocessingConfig | None = None) -> Pipeline:
    """An unfitted Pipeline for `config` (default: mean imputation + standard scaling).

    Outlier removal is not a step (see the module docstring); `fit_preprocessor` applies it.
    """
    from sklearn.decomposition import PCA
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

    config = config or PreprocessingConfig()
    fill_value = config.fill_value if config.fill_value is not None else 0.0
    # keep_empty_features: a column that is all-missing in a training fold stays a column, so
    # every fold's output lines up with the feature names.
    steps: list[tuple[str, object]] = [
        (
            "impute",
            SimpleImputer(
                strategy=config.imputation,
                fill_value=fill_value if config.imputation == "constant" else None,
                keep_empty_features=True,
            ),
        )
    ]
    if config.outliers == "clip":
        steps.append(("clip", QuantileClipper(*config.clip_quantiles, method="quantile")))
    elif config.outliers == "winsorize":
        steps.append(("winsorize", QuantileClipper(*config.winsorize_limits, method="winsorize")))
    scalers = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}
    if config.scaling in scalers:
        steps.append(("scale", scalers[config.scaling]()))
    if config.pca is not None:
        steps.append(("pca", PCA(n_components=config.pca, svd_solver="full")))
    return Pipeline(steps)


def training_rows_kept(X_train, config: PreprocessingConfig) -> np.ndarray:
    """Boolean mask of the training rows that survive outlier removal (all True unless
    config.outliers == "remove"). Missing values never make a row an outlier."""
    X_train = np.asarray(X_train, dtype=float)
    if X_train.ndim != 2:
        raise ValueError(f"X_train must be 2-D (rows x features), got {X_train.ndim}-D")
    if config.outliers != "remove" or X_train.shape[0] == 0:
        return np.ones(X_train.shape[0], dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        if config.removal_rule == "zscore":
            centre = np.nanmean(X_train, axis=0)
            spread = np.nanstd(X_train, axis=0)
            distance = np.abs(X_train - centre) / np.where(spread > 0, spread, np.inf)
            outlier = distance > config.z_threshold
        else:
            q1, q3 = np.nanquantile(X_train, [0.25, 0.75], axis=0)
            reach = config.iqr_multiplier * (q3 - q1)
            outlier = (X_train < q1 - reach) | (X_train > q3 + reach)
    return ~np.any(outlier, axis=1)


def fit_preprocessor(X_train, config: PreprocessingConfig | None = None) -> tuple[Pipeline, np.ndarray]:
    """Fit the preprocessing for `config` on training rows; return it and the mask of training
    rows kept (drop y_train[~kept] too). Raises ValueError if outlier removal leaves no row."""
    config = config or PreprocessingConfig()
    X_train = np.asarray(X_train, dtype=float)
    kept = training_rows_kept(X_train, config)
    if not kept.any():
        raise ValueError("outlier removal dropped every training row; loosen z_threshold / iqr_multiplier")
    return build_preprocessor(config).fit(X_train[kept]), kept


def preprocessor_to_bytes(pipeline: Pipeline) -> bytes:
    """The fitted pipeline in skops format (never pickle)."""
    import skops.io

    from engine.models.archives import canonical_skops  # same pipeline, same bytes

    return canonical_skops(skops.io.dumps(pipeline))


def preprocessor_from_bytes(data: bytes) -> Pipeline:
    """Load a pipeline saved by `preprocessor_to_bytes`, refusing types outside TRUSTED_TYPES."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=data)
    unexpected = sorted(set(untrusted) - TRUSTED_TYPES)
    if unexpected:
        raise ValueError(f"refusing preprocessing artifact: unexpected types {', '.join(unexpected)}")
    return skops.io.loads(data, trusted=list(untrusted))


def _winsorize_bounds(X: np.ndarray, lower: float, upper: float) -> tuple[np.ndarray, np.ndarray]:
    lows, highs = np.empty(X.shape[1]), np.empty(X.shape[1])
    for column in range(X.shape[1]):
        values = np.sort(X[:, column][~np.isnan(X[:, column])])
        n = values.size
        if n == 0:
            lows[column], highs[column] = -np.inf, np.inf
            continue
        lows[column] = values[int(lower * n)]
        highs[column] = values[n - int(upper * n) - 1]
    return lows, highs


# ---- a spec's ordered steps (engine.spec), fitted inside each fold ---------------------------

# Trees ranking the columns for "select by importance": enough to rank, few enough to be cheap.
SELECTION_TREES = 100


class ColumnSelector(TransformerMixin, BaseEstimator):
    """Keep the columns `indices` (learned by fit_steps from the rows of a fold's training period)."""

    def __init__(self, indices: tuple[int, ...] = ()):
        self.indices = indices

    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=float, ensure_all_finite="allow-nan", reset=True)
        self.indices_ = np.asarray(self.indices, dtype=np.int64)
        return self

    def transform(self, X):
        check_is_fitted(self, ["indices_"])
        X = validate_data(self, X, dtype=float, ensure_all_finite="allow-nan", reset=False)
        return X[:, self.indices_]


TRUSTED_TYPES = TRUSTED_TYPES | {"engine.preprocessing.ColumnSelector"}


class AutoencoderFactors(TransformerMixin, BaseEstimator):
    """The latent units of an MLP autoencoder (engine.autoencoder) fitted on the rows of a fold's
    training period: torch only inside `fit`; `transform` is numpy, and the fitted state is arrays
    (skops, both classes on the trust list)."""

    def __init__(self, latent: int = 4, hidden: int = 16, epochs: int = 50, seed: int = 0):
        self.latent = latent
        self.hidden = hidden
        self.epochs = epochs
        self.seed = seed

    def fit(self, X, y=None):
        from engine.autoencoder import Autoencoder

        X = validate_data(self, X, dtype=float, reset=True)
        self.autoencoder_ = Autoencoder(self.latent, self.hidden, self.epochs, self.seed).fit(X)
        return self

    def transform(self, X):
        check_is_fitted(self, ["autoencoder_"])
        X = validate_data(self, X, dtype=float, reset=False)
        return self.autoencoder_.encode(X)

    def output_names(self) -> list[str]:
        return [f"ae_{i}" for i in range(self.latent)]


TRUSTED_TYPES = TRUSTED_TYPES | {"engine.preprocessing.AutoencoderFactors", "engine.autoencoder.Autoencoder"}


class FittedSteps:
    """A spec's preprocessing fitted on one period's rows: a scikit-learn Pipeline (None without
    steps), the training rows outlier removal kept, and the names of the columns in and out."""

    def __init__(self, steps, pipeline: Pipeline | None, kept: np.ndarray, input_names, output_names):
        self.steps = tuple(steps)
        self.pipeline = pipeline
        self.kept = kept
        self.input_names = tuple(input_names)
        self.output_names = tuple(output_names)

    def transform(self, X):
        """The model's inputs for raw rows X: X itself without steps (the same object, so its
        bits cannot move), else the fitted pipeline's output."""
        return X if self.pipeline is None else self.pipeline.transform(X)

    def to_bytes(self) -> bytes | None:
        return None if self.pipeline is None else preprocessor_to_bytes(self.pipeline)


def fit_steps(steps, X, y, names, *, task: str, seed: int) -> FittedSteps:
    """Fit `steps` (engine.spec preprocessing steps, in order) on training rows X (and their
    target y, which selection ranks against). Outlier removal judges the raw rows and drops
    those that break its rule before anything else is fitted (`kept`); every other step is fitted
    on the output of the steps before it. ValueError for missing values without an impute step,
    or a selection of more columns than reach it."""
    from engine.spec import AutoencoderStep, ImputeStep, OutlierStep, PcaStep, SelectStep

    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    names = input_names = list(names)
    if not steps:
        return FittedSteps((), None, np.ones(X.shape[0], dtype=bool), names, names)
    if np.isnan(X).any() and not any(isinstance(step, ImputeStep) for step in steps):
        raise ValueError(
            "preprocessing: the inputs have missing values (alternative data); add an impute step"
        )
    kept = np.ones(X.shape[0], dtype=bool)
    for step in steps:
        if isinstance(step, OutlierStep) and step.method == "remove":
            rule = PreprocessingConfig(
                outliers="remove", removal_rule=step.rule, z_threshold=step.z_threshold,
                iqr_multiplier=step.iqr_multiplier,
            )
            kept = training_rows_kept(X, rule)
            if not kept.any():
                raise ValueError("preprocessing: outlier removal dropped every training row")
    current, target = X[kept], y[kept]
    fitted: list[tuple[str, object]] = []
    for index, step in enumerate(steps):
        if isinstance(step, OutlierStep) and step.method == "remove":
            continue
        if isinstance(step, SelectStep):
            chosen = _selected(step, current, target, task, seed, len(names), index)
            estimator = ColumnSelector(tuple(chosen)).fit(current)
            names = [names[i] for i in chosen]
        elif isinstance(step, AutoencoderStep):
            if step.latent > len(names):
                raise ValueError(f"preprocessing[{index}].latent: {step.latent} latent units but only "
                                 f"{len(names)} features reach it")
            estimator = AutoencoderFactors(step.latent, step.hidden, step.epochs,
                                           seed if step.seed is None else step.seed).fit(current)
            names = estimator.output_names()
        else:
            estimator = _estimator(step, seed)
            estimator.fit(current)
            if isinstance(step, PcaStep):
                names = [f"pc_{i + 1}" for i in range(int(estimator.n_components_))]
        current = estimator.transform(current)
        fitted.append((step.step, estimator))  # a spec holds each step kind at most once
    return FittedSteps(steps, Pipeline(fitted), kept, input_names, names)


def load_steps(data: bytes, steps, input_names) -> FittedSteps:
    """The steps a version's training fitted, from their skops bytes (types outside TRUSTED_TYPES
    refused); the output names follow from the fitted steps."""
    pipeline = preprocessor_from_bytes(data)
    names = list(input_names)
    for _name, estimator in pipeline.steps:
        if isinstance(estimator, ColumnSelector):
            names = [names[i] for i in estimator.indices_]
        elif isinstance(estimator, AutoencoderFactors):
            names = estimator.output_names()
        elif hasattr(estimator, "n_components_"):
            names = [f"pc_{i + 1}" for i in range(int(estimator.n_components_))]
    return FittedSteps(steps, pipeline, np.ones(0, dtype=bool), input_names, names)


def steps_from_config(config: PreprocessingConfig) -> tuple:
    """The seeds' flat preprocessing config (ml_framework.yaml) as ordered spec steps: impute,
    outliers, scale, pca."""
    from engine.spec import ImputeStep, OutlierStep, PcaStep, ScaleStep

    steps: list = [ImputeStep(step="impute", strategy=config.imputation, fill_value=config.fill_value or 0.0)]
    if config.outliers == "clip":
        steps.append(OutlierStep(step="outliers", method="clip", lower=config.clip_quantiles[0],
                                 upper=config.clip_quantiles[1]))
    elif config.outliers == "winsorize":
        steps.append(OutlierStep(step="outliers", method="winsorize", lower=config.winsorize_limits[0],
                                 upper=config.winsorize_limits[1]))
    elif config.outliers == "remove":
        steps.append(OutlierStep(step="outliers", method="remove", rule=config.removal_rule,
                                 z_threshold=config.z_threshold, iqr_multiplier=config.iqr_multiplier))
    if config.scaling != "none":
        steps.append(ScaleStep(step="scale", method=config.scaling))
    if config.pca is not None:
        steps.append(PcaStep(step="pca", variance=config.pca))
    return tuple(steps)


def _estimator(step, seed: int):
    from sklearn.decomposition import PCA
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

    from engine.spec import ImputeStep, OutlierStep, PcaStep, ScaleStep

    if isinstance(step, ImputeStep):
        fill = step.fill_value if step.strategy == "constant" else None
        return SimpleImputer(strategy=step.strategy, fill_value=fill, keep_empty_features=True)
    if isinstance(step, OutlierStep):
        if step.method == "clip":
            return QuantileClipper(_or(step.lower, 0.01), _or(step.upper, 0.99), method="quantile")
        return QuantileClipper(_or(step.lower, 0.01), _or(step.upper, 0.01), method="winsorize")
    if isinstance(step, ScaleStep):
        return {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}[step.method]()
    if isinstance(step, PcaStep):
        return PCA(n_components=None if step.variance >= 1 else step.variance, svd_solver="full")
    raise TypeError(f"not a preprocessing step: {step!r}")


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _selected(step, X: np.ndarray, y: np.ndarray, task: str, seed: int, width: int, index: int) -> list[int]:
    """The columns a select step keeps, in their order, ranked on these rows only."""
    if step.top_k is not None and step.top_k > width:
        raise ValueError(
            f"preprocessing[{index}].top_k: selects {step.top_k} features but only {width} reach it"
        )
    scores = _selection_scores(step.by, X, y, task, seed)
    order = np.argsort(-scores, kind="stable")  # ties: the earlier column first
    if step.top_k is not None:
        chosen = order[: step.top_k]
    else:
        total = scores.sum()
        share = scores / total if total > 0 else np.full(scores.size, 1 / scores.size)
        chosen = [i for i in order if share[i] >= step.threshold] or order[:1]
    return sorted(int(i) for i in chosen)


def _selection_scores(by: str, X: np.ndarray, y: np.ndarray, task: str, seed: int) -> np.ndarray:
    classify = task == "classification"
    if by == "mutual_info":
        from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

        measure = mutual_info_classif if classify else mutual_info_regression
        return np.asarray(measure(X, y, random_state=seed), dtype=float)
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

    trees = (ExtraTreesClassifier if classify else ExtraTreesRegressor)(
        n_estimators=SELECTION_TREES, random_state=seed, n_jobs=1, min_samples_leaf=5
    )
    return np.asarray(trees.fit(X, y).feature_importances_, dtype=float)
