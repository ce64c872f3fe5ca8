"""Drift tests equal evidently 0.7's own stattest functions (to 1e-12) on normal, heavy-tailed,
low-cardinality and NaN/inf columns; the dataset verdict, quantile PSI, the block bootstrap and
the concept-drift helpers behave as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evidently.legacy.calculations.stattests.jensenshannon import _jensenshannon
from evidently.legacy.calculations.stattests.ks_stattest import _ks_stat_test
from evidently.legacy.calculations.stattests.psi import _psi
from evidently.legacy.calculations.stattests.wasserstein_distance_norm import _wasserstein_distance_norm
from evidently.legacy.core import ColumnType

from engine.drift import (
    DEFAULT_THRESHOLDS,
    DriftCheck,
    StreamingErrorDetector,
    block_bootstrap_ks,
    detect_drift,
    performance_degradation,
)
from engine.drift.binning import sturges_edges

EVIDENTLY = {
    "ks": _ks_stat_test,
    "psi": _psi,
    "wasserstein": _wasserstein_distance_norm,
    "jensenshannon": _jensenshannon,
}


def _windows(n_ref: int, n_cur: int, seed: int = 7):
    rng = np.random.default_rng(seed)

    def dirty(x, share, value):
        x = x.copy()
        x[rng.random(x.size) < share] = value
        return x

    reference = {
        "normal": rng.normal(size=n_ref),
        "heavy": rng.standard_t(2, size=n_ref),
        "low_card": rng.integers(0, 6, n_ref),
        "dirty": dirty(dirty(rng.normal(size=n_ref), 0.05, np.nan), 0.02, np.inf),
        "narrow_int": rng.integers(0, 21, n_ref),  # 21 distinct values: histogram branch, integer width
    }
    current = {
        "normal": rng.normal(0.1, 1.05, size=n_cur),
        "heavy": rng.standard_t(2, size=n_cur) * 1.2,
        "low_card": rng.integers(1, 8, n_cur),  # values the reference never saw
        "dirty": dirty(dirty(rng.normal(0.2, size=n_cur), 0.1, -np.inf), 0.03, np.nan),
        "narrow_int": rng.integers(0, 21, n_cur),
    }
    return reference, current


def _evidently(method, ref, cur, threshold):
    # evidently's column cleaning (legacy/calculations/data_drift.py::get_one_column_drift)
    ref = pd.Series(ref).replace([-np.inf, np.inf], np.nan).dropna()
    cur = pd.Series(cur).replace([-np.inf, np.inf], np.nan).dropna()
    return EVIDENTLY[method](ref, cur, ColumnType.Numerical, threshold)


@pytest.mark.parametrize("sizes", [(3_000, 2_000), (30_000, 24_000)], ids=["exact_ks", "asymptotic_ks"])
@pytest.mark.parametrize("method", list(EVIDENTLY))
def test_every_column_equals_evidently(method, sizes):
    reference, current = _windows(*sizes)
    report = detect_drift(reference, current, method)
    assert report.threshold == DEFAULT_THRESHOLDS[method]
    assert [f.feature for f in report.features] == list(reference)
    for feature in report.features:
        value, drifted = _evidently(
            method, reference[feature.feature], current[feature.feature], report.threshold
        )
        ours = feature.p_value if method == "ks" else feature.statistic
        assert ours == pytest.approx(float(value), abs=1e-12, rel=0), feature.feature
        assert feature.drifted == bool(drifted), feature.feature
        if method == "ks":
            assert 0 <= feature.statistic <= 1
        else:
            assert feature.p_value is None


def test_defaults_match_evidentlys_registered_thresholds():
    from evidently.legacy.calculations.stattests import (
        jensenshannon_stat_test,
        ks_stat_test,
        psi_stat_test,
        wasserstein_stat_test,
    )

    for test in (ks_stat_test, psi_stat_test, wasserstein_stat_test, jensenshannon_stat_test):
        assert DEFAULT_THRESHOLDS[test.name] == test.default_threshold


def test_sturges_edges_equal_numpys_without_concatenating():
    rng = np.random.default_rng(3)
    for data in (
        rng.normal(size=1_234),
        rng.integers(-3, 18, 900_000),
        rng.integers(0, 40, 50),
        np.full(30, 2.5),
    ):
        expected = np.histogram_bin_edges(data, bins="sturges")
        ours = sturges_edges(data.size, data.min(), data.max(), integer=np.issubdtype(data.dtype, np.integer))
        np.testing.assert_array_equal(ours, expected)


def test_reference_is_prepared_once_and_reused():
    reference, current = _windows(4_000, 3_000)
    check = DriftCheck("ks", columns=["normal", "heavy"]).fit(reference)
    sorted_before = check.reference_["normal"].sorted_values
    first = check.check(current)
    second = check.check({name: values[::-1] for name, values in current.items()})  # order is irrelevant
    assert check.reference_["normal"].sorted_values is sorted_before
    assert [f.p_value for f in first.features] == [f.p_value for f in second.features]


def test_dataset_verdict_is_the_share_of_drifted_columns():
    rng = np.random.default_rng(0)
    reference = {name: rng.normal(size=5_000) for name in "abcd"}
    current = {
        "a": rng.normal(1, size=5_000),
        "b": rng.normal(1, size=5_000),
        "c": rng.normal(size=5_000),
        "d": rng.normal(size=5_000),
    }
    report = detect_drift(reference, current, "psi")
    assert report.drifted_features == ["a", "b"] and report.share_drifted == 0.5 and report.dataset_drift
    assert not detect_drift(reference, current, "psi", drift_share=0.75).dataset_drift
    strict = detect_drift(reference, current, "psi", threshold=10.0)
    assert strict.drifted_features == [] and not strict.dataset_drift
    assert report.to_dict()["features"][0]["threshold"] == 0.1


def test_quantile_psi_is_a_separate_named_option():
    rng = np.random.default_rng(1)
    reference, same, shifted = rng.normal(size=20_000), rng.normal(size=20_000), rng.normal(0.5, size=20_000)
    check = DriftCheck("psi_quantile", n_bins=10).fit({"x": reference})
    edges = check.reference_["x"]
    same_psi = check.check({"x": same}).features[0].statistic
    assert same_psi < 0.01 and check.check({"x": shifted}).features[0].drifted
    assert ("quantile_edges", 10) in edges._cache and len(edges._cache[("quantile_edges", 10)]) == 11
    # equal reference shares: each decile holds a tenth of the reference
    shifted_evidently = detect_drift({"x": reference}, {"x": shifted}, "psi").features[0].statistic
    assert shifted_evidently != pytest.approx(check.check({"x": shifted}).features[0].statistic)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown drift method 'chi2'"):
        DriftCheck("chi2")
    with pytest.raises(ValueError, match="no finite values in the current window"):
        detect_drift({"x": np.arange(50.0)}, {"x": np.array([np.nan, np.inf])}, "ks")
    with pytest.raises(ValueError, match=r"column\(s\) \['y'\] not in the data"):
        DriftCheck("psi", columns=["y"]).fit({"x": np.arange(5.0)})
    with pytest.raises(RuntimeError, match="before fit"):
        DriftCheck("psi").check({"x": np.arange(5.0)})


def _ar1(n, phi, rng, mean=0.0):
    x = np.empty(n)
    x[0] = rng.normal()
    noise = rng.normal(size=n)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + noise[i]
    return x + mean


def test_block_bootstrap_discounts_persistence_but_keeps_real_shifts():
    rng = np.random.default_rng(11)
    series = _ar1(3_000, 0.97, rng)  # one persistent series, no change of distribution
    persistent = block_bootstrap_ks(series[:1_500], series[1_500:], block_length=100, n_resamples=199)
    assert persistent.asymptotic_p_value < 0.05 < persistent.p_value  # iid KS cries wolf, blocks don't
    shifted = block_bootstrap_ks(rng.normal(size=1_500), rng.normal(1.0, size=1_500), n_resamples=199)
    assert shifted.p_value == 1 / 200 and shifted.block_length == round(3_000 ** (1 / 3))
    again = block_bootstrap_ks(series[:1_500], series[1_500:], block_length=100, n_resamples=199)
    assert again == persistent  # seeded: reproducible


def test_performance_degradation_against_the_training_baseline():
    sharpe = performance_degradation(1.5, 1.1, metric="sharpe")
    assert sharpe.degraded and sharpe.relative_change == pytest.approx(-0.4 / 1.5)
    assert not performance_degradation(1.5, 1.3, metric="sharpe").degraded
    rmse = performance_degradation(0.010, 0.013, metric="rmse", higher_is_better=False)
    assert rmse.degraded and not performance_degradation(0.010, 0.008, higher_is_better=False).degraded


@pytest.mark.parametrize("detector", ["adwin", "page_hinkley"])
def test_streaming_detector_flags_a_jump_in_the_live_error(detector):
    rng = np.random.default_rng(5)
    errors = np.concatenate([np.abs(rng.normal(0, 0.1, 1_000)), np.abs(rng.normal(0, 0.1, 1_000)) + 1.0])
    stream = StreamingErrorDetector(detector)
    points = stream.update_many(errors)
    assert stream.n_seen_ == 2_000
    assert points and 1_000 <= points[0] < 1_200
    assert not StreamingErrorDetector(detector).update_many(errors[:1_000])
    with pytest.raises(ValueError, match="unknown streaming detector"):
        StreamingErrorDetector("ddm")
