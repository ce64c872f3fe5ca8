"""Preprocessing is scikit-learn's, fitted on training rows only, and stored with skops."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io
from pydantic import ValidationError
from scipy.stats import mstats
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

from engine.preprocessing import (
    TRUSTED_TYPES,
    PreprocessingConfig,
    QuantileClipper,
    build_preprocessor,
    fit_preprocessor,
    preprocessor_from_bytes,
    preprocessor_to_bytes,
    training_rows_kept,
)

SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}


def train_and_test(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Heavy-tailed features with gaps; the test period has moved (as markets do), so any
    statistic learned from it would differ visibly from the training one."""
    rng = np.random.default_rng(seed)
    train = rng.standard_t(3, size=(300, 5)) @ rng.normal(size=(5, 5))
    test = rng.standard_t(3, size=(80, 5)) @ rng.normal(size=(5, 5)) * 3.0 + 7.0
    for block in (train, test):
        block[rng.random(block.shape) < 0.05] = np.nan
    return train, test


def reference(config: PreprocessingConfig, fit_rows: np.ndarray) -> list:
    """The same steps built by hand from scikit-learn / numpy and fitted on `fit_rows` only."""
    steps = []
    imputer = SimpleImputer(
        strategy=config.imputation,
        keep_empty_features=True,
        fill_value=config.fill_value if config.imputation == "constant" else None,
    )
    data = imputer.fit_transform(fit_rows)
    steps.append(imputer.transform)
    if config.outliers == "clip":
        low, high = np.quantile(data, config.clip_quantiles, axis=0)
        steps.append(lambda X, low=low, high=high: np.clip(X, low, high))
        data = steps[-1](data)
    if config.scaling != "none":
        scaler = SCALERS[config.scaling]().fit(data)
        steps.append(scaler.transform)
        data = scaler.transform(data)
    if config.pca is not None:
        steps.append(PCA(n_components=config.pca, svd_solver="full").fit(data).transform)
    return steps


def apply(steps, X):
    for step in steps:
        X = step(X)
    return X


CONFIGS = [
    PreprocessingConfig(),
    PreprocessingConfig(imputation="median", scaling="robust"),
    PreprocessingConfig(imputation="most_frequent", scaling="minmax"),
    PreprocessingConfig(imputation="constant", fill_value=-1.0, outliers="clip", clip_quantiles=(0.05, 0.9)),
    PreprocessingConfig(imputation="median", outliers="clip", scaling="standard", pca=True),
    PreprocessingConfig(scaling="none", pca=0.8),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.imputation}-{c.outliers}-{c.scaling}-{c.pca}")
def test_fitted_on_training_rows_only(config):
    train, test = train_and_test()
    pipeline, kept = fit_preprocessor(train, config)
    assert kept.all()
    got = pipeline.transform(test)
    expected = apply(reference(config, train), test)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    assert not np.isnan(got).any()
    # Had the test rows leaked into the fit, the numbers would be different:
    leaked = apply(reference(config, np.vstack([train, test])), test)
    assert leaked.shape != got.shape or np.abs(leaked - got).max() > 1e-3


def test_missing_test_values_get_the_training_statistic():
    train = np.array([[1.0, 10.0], [3.0, np.nan], [5.0, 30.0]])
    test = np.array([[np.nan, np.nan], [100.0, 100.0]])
    pipeline, _ = fit_preprocessor(train, PreprocessingConfig(scaling="none"))
    np.testing.assert_array_equal(pipeline.transform(test), [[3.0, 20.0], [100.0, 100.0]])
    # a column with no training value stays a column (filled with 0 by SimpleImputer)
    empty_column = np.array([[1.0, np.nan], [2.0, np.nan]])
    pipeline, _ = fit_preprocessor(empty_column, PreprocessingConfig(scaling="none"))
    assert pipeline.transform(test).shape == (2, 2)


def test_winsorize_equals_scipy_on_the_training_rows_and_reuses_its_bounds_on_test_rows():
    rng = np.random.default_rng(3)
    train, test = rng.standard_t(2, size=(101, 3)), rng.standard_t(2, size=(40, 3)) * 5
    limits = (0.07, 0.29)  # int(0.29 * 101) = 29, int(0.07 * 101) = 7
    config = PreprocessingConfig(outliers="winsorize", winsorize_limits=limits, scaling="none")
    pipeline, _ = fit_preprocessor(train, config)
    winsorized = np.column_stack([np.asarray(mstats.winsorize(train[:, j], limits=limits)) for j in range(3)])
    np.testing.assert_array_equal(pipeline.transform(train), winsorized)
    low, high = winsorized.min(axis=0), winsorized.max(axis=0)
    np.testing.assert_array_equal(pipeline.transform(test), np.clip(test, low, high))


def test_remove_drops_training_rows_never_test_rows():
    train = np.zeros((40, 2))
    train[:, 0] = np.tile([-1.0, 1.0], 20)
    train[7, 0], train[20, 1] = 50.0, -30.0
    config = PreprocessingConfig(outliers="remove", scaling="standard")
    pipeline, kept = fit_preprocessor(train, config)
    assert np.flatnonzero(~kept).tolist() == [7, 20]
    # the scaler saw only the kept rows
    np.testing.assert_allclose(pipeline[-1].mean_, train[kept].mean(axis=0))
    test = np.array([[50.0, -30.0], [0.0, 0.0], [1e6, 1e6]])
    assert pipeline.transform(test).shape == (3, 2)


def test_iqr_rule_by_hand():
    column = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 30.0, -20.0, np.nan])
    # numpy's (linear) quartiles of the 10 present values: 2.25 and 6.75, fences -4.5 and 13.5
    q1, q3 = np.nanquantile(column, [0.25, 0.75])
    outside = (column < q1 - 1.5 * (q3 - q1)) | (column > q3 + 1.5 * (q3 - q1))
    assert outside.tolist() == [False] * 8 + [True, True, False]
    kept = training_rows_kept(column[:, None], PreprocessingConfig(outliers="remove", removal_rule="iqr"))
    assert kept.tolist() == [True] * 8 + [False, False, True]  # a gap is not an outlier


def test_removing_every_row_is_refused():
    with pytest.raises(ValueError, match="every training row"):
        fit_preprocessor(np.array([[0.0], [10.0]]), PreprocessingConfig(outliers="remove", z_threshold=0.5))


def test_pca_keeps_the_smallest_number_of_components_reaching_the_share():
    train, _ = train_and_test(seed=5)
    pipeline, _ = fit_preprocessor(train, PreprocessingConfig(pca=0.9))
    pca = pipeline[-1]
    shares = np.cumsum(pca.explained_variance_ratio_)
    assert shares[-1] >= 0.9 and (pca.n_components_ == 1 or shares[-2] < 0.9)
    assert pca.n_components_ < train.shape[1]


def test_config_is_validated_and_names_the_key():
    assert PreprocessingConfig(pca=True).pca == 0.95
    assert PreprocessingConfig(pca=False).pca is None
    assert PreprocessingConfig.model_validate({"scaling": "robust", "pca": 0.5}).scaling == "robust"
    for document, key in [
        ({"imputaton": "mean"}, "imputaton"),
        ({"scaling": "zscore"}, "scaling"),
        ({"pca": 1.0}, "pca"),
        ({"pca": 0}, "pca"),
        ({"clip_quantiles": [0.9, 0.1]}, "clip_quantiles"),
        ({"winsorize_limits": [0.6, 0.5]}, "winsorize_limits"),
        ({"imputation": "mean", "fill_value": 3}, "fill_value"),
        ({"z_threshold": 0}, "z_threshold"),
    ]:
        with pytest.raises(ValidationError, match=key):
            PreprocessingConfig.model_validate(document)


def test_pipeline_steps_are_scikit_learns():
    pipeline = build_preprocessor(PreprocessingConfig(outliers="clip", scaling="robust", pca=True))
    assert [type(step).__name__ for _, step in pipeline.steps] == [
        "SimpleImputer",
        "QuantileClipper",
        "RobustScaler",
        "PCA",
    ]
    assert pipeline[-1].n_components == 0.95 and pipeline[-1].svd_solver == "full"
    assert isinstance(pipeline, Pipeline)


@pytest.mark.parametrize("config", [CONFIGS[0], CONFIGS[4], PreprocessingConfig(outliers="winsorize")])
def test_round_trips_with_skops(config):
    train, test = train_and_test()
    pipeline, _ = fit_preprocessor(train, config)
    data = preprocessor_to_bytes(pipeline)
    assert set(skops.io.get_untrusted_types(data=data)) <= TRUSTED_TYPES
    loaded = preprocessor_from_bytes(data)
    np.testing.assert_array_equal(loaded.transform(test), pipeline.transform(test))
    # and plain skops with the same trusted list reads it too
    plain = skops.io.loads(data, trusted=sorted(TRUSTED_TYPES))
    np.testing.assert_array_equal(plain.transform(test), pipeline.transform(test))


class Sneaky(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X


def test_loading_refuses_types_it_does_not_expect():
    pipeline = Pipeline([("clip", QuantileClipper()), ("sneaky", Sneaky())]).fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="Sneaky"):
        preprocessor_from_bytes(skops.io.dumps(pipeline))
