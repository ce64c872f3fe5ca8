"""Multivariate drift by reconstruction error (engine.drift.multivariate): a flipped correlation
that leaves every column's own distribution unchanged is invisible to PSI and KS and caught by
both the autoencoder and the PCA check; an unchanged window raises no alarm."""

from __future__ import annotations

import numpy as np
import pytest

from engine.drift import MULTIVARIATE_METHODS, ReconstructionDriftCheck, detect_drift, pseudo_feature
from engine.drift.multivariate import bootstrap_threshold


def window(rows: int, correlation: float, seed: int) -> dict[str, np.ndarray]:
    """a and b standard normal with the given correlation; c and d independent noise."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=rows)
    b = correlation * a + np.sqrt(1 - correlation**2) * rng.normal(size=rows)
    return {"a": a, "b": b, "c": rng.normal(size=rows), "d": rng.normal(size=rows)}


@pytest.fixture(scope="module")
def windows():
    return window(3000, 0.9, 1), window(500, 0.9, 2), window(500, -0.9, 3)


@pytest.fixture(scope="module")
def fitted(windows):
    reference, _, _ = windows
    return {method: ReconstructionDriftCheck(method, seed=1).fit(reference)
            for method in MULTIVARIATE_METHODS}


def test_a_flipped_correlation_is_missed_by_psi_and_ks_and_caught_by_both_reconstructions(windows, fitted):
    reference, _, flipped = windows
    for method in ("psi", "ks"):  # each column's own distribution is unchanged
        assert detect_drift(reference, flipped, method).drifted_features == []
    for method, check in fitted.items():
        result = check.check(flipped)
        assert result.drifted, method
        assert result.statistic > 1.5 * result.threshold  # not a near thing
        assert result.components == 2 and result.current_size == 500 and result.reference_size == 3000
        assert result.feature == pseudo_feature(method) == f"⟨multivariate · {method}⟩"


def test_an_unchanged_window_raises_no_alarm(windows, fitted):
    _, unchanged, _ = windows
    for method, check in fitted.items():
        result = check.check(unchanged)
        assert not result.drifted, method
        assert result.statistic < result.threshold
        assert result.threshold > result.reference_error  # a bound above the null's own mean


def test_the_bootstrap_bound_narrows_with_the_window_and_keeps_persistence():
    rng = np.random.default_rng(0)
    errors = rng.exponential(size=4000)
    small, _ = bootstrap_threshold(errors, 50, 0.99, 1000, seed=0)
    large, _ = bootstrap_threshold(errors, 2000, 0.99, 1000, seed=0)
    assert small > large > errors.mean()
    # Persistent errors (the same value for 40 rows in a row) leave a wider bound than shuffled
    # ones: the blocks keep the persistence an i.i.d. bootstrap would average away.
    persistent = np.repeat(rng.exponential(size=100), 40)
    blocked, length = bootstrap_threshold(persistent, 1000, 0.99, 1000, seed=0)
    shuffled, _ = bootstrap_threshold(rng.permutation(persistent), 1000, 0.99, 1000, seed=0)
    assert length == 10 and blocked > shuffled


def test_bad_input_is_one_clear_line(windows):
    reference, unchanged, _ = windows
    with pytest.raises(ValueError, match="unknown multivariate drift method 'umap'"):
        ReconstructionDriftCheck("umap")
    with pytest.raises(ValueError, match="at least 2 columns"):
        ReconstructionDriftCheck("pca", columns=["a"]).fit(reference)
    with pytest.raises(ValueError, match="at least 20 complete rows in the current window"):
        ReconstructionDriftCheck("pca").fit(reference).check({k: v[:10] for k, v in unchanged.items()})
    with pytest.raises(RuntimeError, match="before fit"):
        ReconstructionDriftCheck("pca").check(unchanged)
