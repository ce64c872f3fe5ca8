"""Multivariate drift by reconstruction error: what per-feature PSI / KS cannot see.

A model of the reference window's joint structure (a bottleneck that keeps what the columns
share) reconstructs each row; when the relations between columns change (a correlation flips)
while every column's own distribution stays put, the current rows reconstruct worse. Two models,
one check:

    method "autoencoder": engine.autoencoder's MLP (non-linear), fitted with torch, applied in numpy;
    method "pca":         principal components keeping `variance` of the reference's variance — the
                          linear baseline, NannyML's data-reconstruction drift (nannyml is not a
                          dependency; scikit-learn's PCA does the same).

The autoencoder gets as many latent units as PCA keeps components, so the two differ only in
being non-linear. Both standardise the columns with the reference's mean and spread.

Threshold, without the normal approximation NannyML uses: the model is fitted on a random
`1 - calibration` share of the reference rows and the held-out rows' errors (in time order) are
the null. Circular-block bootstrap samples of the current window's size (blocks of round(n^(1/3))
rows keep the features' persistence) give the distribution of the mean error of an unchanged
window; drift when the current mean error is at or above its `quantile` (0.99).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from engine.drift.check import column_arrays

MULTIVARIATE_METHODS = ("autoencoder", "pca")
DEFAULT_VARIANCE = 0.65  # NannyML's DataReconstructionDriftCalculator default n_components
DEFAULT_QUANTILE = 0.99
DEFAULT_RESAMPLES = 1000
CALIBRATION_SHARE = 0.25  # reference rows held out of the fit, whose errors are the null
MAX_FIT_ROWS = 20_000  # the autoencoder learns from at most this many reference rows (seeded sample)
MIN_ROWS = 20


def pseudo_feature(method: str) -> str:
    """The name a multivariate check's row takes where per-feature rows carry a feature's name."""
    return f"⟨multivariate · {method}⟩"


@dataclass(frozen=True)
class ReconstructionDrift:
    """One multivariate check: the current window's mean reconstruction error (`statistic`)
    against the `threshold` an unchanged window stays under with probability `quantile`."""

    method: str
    statistic: float  # mean per-row squared error of the current window, standardised units
    reference_error: float  # the same mean over the held-out reference rows
    threshold: float
    drifted: bool
    quantile: float
    components: int  # PCA components kept = autoencoder latent units
    columns: tuple[str, ...]
    reference_size: int
    current_size: int
    block_length: int

    @property
    def feature(self) -> str:
        return pseudo_feature(self.method)

    def to_dict(self) -> dict:
        return {**asdict(self), "feature": self.feature, "columns": list(self.columns)}


class ReconstructionDriftCheck:
    """fit(reference) once, check(current) for each window; frames or mappings of numeric columns
    (rows with a missing value in any column are left out of both windows)."""

    def __init__(self, method: str = "autoencoder", *, columns: list[str] | None = None,
                 variance: float = DEFAULT_VARIANCE, quantile: float = DEFAULT_QUANTILE,
                 n_resamples: int = DEFAULT_RESAMPLES, hidden: int | None = None, epochs: int = 30,
                 seed: int = 0):
        if method not in MULTIVARIATE_METHODS:
            raise ValueError(f"unknown multivariate drift method {method!r}; known: "
                             f"{', '.join(MULTIVARIATE_METHODS)}")
        if not 0 < variance <= 1:
            raise ValueError(f"variance must be in (0, 1], got {variance}")
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must be in (0, 1), got {quantile}")
        if n_resamples < 1:
            raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
        self.method = method
        self.columns = columns
        self.variance = variance
        self.quantile = quantile
        self.n_resamples = n_resamples
        self.hidden = hidden
        self.epochs = epochs
        self.seed = seed

    def fit(self, reference) -> ReconstructionDriftCheck:
        X = _matrix(reference, self.columns, "reference")
        self.columns_ = tuple(self.columns or column_arrays(reference, None))
        rng = np.random.default_rng(self.seed)
        held_out = np.zeros(X.shape[0], dtype=bool)
        held_out[rng.choice(X.shape[0], max(1, round(X.shape[0] * CALIBRATION_SHARE)), replace=False)] = True
        fit_rows = X[~held_out]
        self.mean_ = fit_rows.mean(axis=0)
        spread = fit_rows.std(axis=0)
        self.scale_ = np.where(spread > 0, spread, 1.0)
        Z = (fit_rows - self.mean_) / self.scale_
        self.components_ = components_for_variance(Z, self.variance)
        if self.method == "pca":
            from sklearn.decomposition import PCA

            self.model_ = PCA(n_components=self.components_, random_state=self.seed).fit(Z)
        else:
            from engine.autoencoder import Autoencoder

            if Z.shape[0] > MAX_FIT_ROWS:
                Z = Z[np.sort(rng.choice(Z.shape[0], MAX_FIT_ROWS, replace=False))]
            hidden = self.hidden or max(8, 2 * X.shape[1])
            self.model_ = Autoencoder(self.components_, hidden, self.epochs, self.seed).fit(Z)
        self.null_errors_ = self.row_errors(X[held_out])  # held-out rows, in time order
        self.reference_rows_ = int(X.shape[0])
        return self

    def row_errors(self, X: np.ndarray) -> np.ndarray:
        """Mean squared reconstruction error of each row, in the reference's standardised units."""
        Z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        if self.method == "pca":
            rebuilt = self.model_.inverse_transform(self.model_.transform(Z))
            return np.mean((rebuilt - Z) ** 2, axis=1)
        return self.model_.row_errors(Z)

    def check(self, current) -> ReconstructionDrift:
        if not hasattr(self, "null_errors_"):
            raise RuntimeError("ReconstructionDriftCheck.check before fit: give it a reference window first")
        X = _matrix(current, list(self.columns_), "current")
        statistic = float(self.row_errors(X).mean())
        threshold, block = bootstrap_threshold(self.null_errors_, X.shape[0], self.quantile,
                                               self.n_resamples, self.seed)
        return ReconstructionDrift(
            method=self.method, statistic=statistic, reference_error=float(self.null_errors_.mean()),
            threshold=threshold, drifted=statistic >= threshold, quantile=self.quantile,
            components=int(self.components_), columns=self.columns_,
            reference_size=self.reference_rows_, current_size=int(X.shape[0]),
            block_length=block,
        )


def components_for_variance(Z: np.ndarray, variance: float) -> int:
    """How many principal components of standardised rows Z keep `variance` of their variance
    (as scikit-learn's PCA(n_components=share) counts them), at most one fewer than the columns
    so that something is left to reconstruct."""
    eigenvalues = np.sort(np.linalg.eigvalsh(np.cov(Z, rowvar=False).reshape(Z.shape[1], Z.shape[1])))[::-1]
    eigenvalues = np.clip(eigenvalues, 0, None)
    total = eigenvalues.sum()
    if total <= 0:
        return 1
    kept = int(np.searchsorted(np.cumsum(eigenvalues) / total, variance) + 1)
    return max(1, min(kept, Z.shape[1] - 1))


def bootstrap_threshold(errors: np.ndarray, size: int, quantile: float, n_resamples: int,
                        seed: int) -> tuple[float, int]:
    """(the `quantile` of the mean error over circular-block bootstrap samples of `size` rows
    drawn from `errors` in time order, the block length). Each sample is whole blocks, its mean
    computed from prefix sums, so the cost grows with the blocks, not the rows."""
    n = errors.size
    length = max(1, min(n, round(size ** (1 / 3))))
    blocks = max(1, -(-size // length))
    wrapped = np.concatenate((errors, errors[: length - 1]))
    sums = np.concatenate(([0.0], np.cumsum(wrapped)))
    block_sums = sums[length : length + n] - sums[:n]  # the block starting at each row
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, 100):  # bounded memory for large windows
        count = min(100, n_resamples - start)
        starts = rng.integers(0, n, size=(count, blocks))
        means[start : start + count] = block_sums[starts].sum(axis=1) / (blocks * length)
    return float(np.quantile(means, quantile)), length


def _matrix(frame, columns: list[str] | None, side: str) -> np.ndarray:
    arrays = column_arrays(frame, columns)
    if len(arrays) < 2:
        raise ValueError(f"multivariate drift needs at least 2 columns, the {side} window has {len(arrays)}")
    X = np.column_stack([np.asarray(values, dtype=np.float64) for values in arrays.values()])
    X = X[np.isfinite(X).all(axis=1)]
    if X.shape[0] < MIN_ROWS:
        raise ValueError(f"multivariate drift needs at least {MIN_ROWS} complete rows in the {side} "
                         f"window, got {X.shape[0]}")
    return X
