"""Block-bootstrap p-value for KS on autocorrelated series.

Market features are persistent: two adjacent windows of an AR(1) series differ by more than
two i.i.d. samples would, so the textbook KS p-value flags "drift" that is only persistence.
Here the null distribution of D comes from circular block resamples of the pooled series
(reference then current, in time order), which keeps the short-range dependence inside blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.drift.stattests import ReferenceColumn, finite_values, ks_test


@dataclass(frozen=True)
class BootstrapKS:
    statistic: float
    p_value: float  # block-bootstrap p-value
    asymptotic_p_value: float  # scipy's (i.i.d.) p-value, for comparison
    block_length: int
    n_resamples: int


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided KS distance sup |F_a − F_b|."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate((a, b))
    return float(
        np.max(
            np.abs(np.searchsorted(a, grid, "right") / a.size - np.searchsorted(b, grid, "right") / b.size)
        )
    )


def block_bootstrap_ks(
    reference, current, *, block_length: int | None = None, n_resamples: int = 499, seed: int = 0
) -> BootstrapKS:
    """KS D of reference vs current with a circular block-bootstrap p-value.

    block_length: None means round(n ** (1/3)) of the pooled length (the usual rate for the
    block bootstrap of a distribution statistic). p = (1 + #{D* >= D}) / (1 + n_resamples).
    """
    ref = finite_values(reference, side="reference")
    cur = finite_values(current, side="current")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    pooled = np.concatenate((ref, cur))
    n = pooled.size
    length = max(1, round(n ** (1 / 3))) if block_length is None else int(block_length)
    if not 1 <= length <= n:
        raise ValueError(f"block_length must be in [1, {n}], got {block_length}")
    observed, asymptotic_p = ks_test(ReferenceColumn.from_values(ref), cur)
    rng = np.random.default_rng(seed)
    n_blocks = -(-n // length)
    offsets = np.arange(length)
    exceed = 0
    for _ in range(n_resamples):
        starts = rng.integers(0, n, size=n_blocks)
        sample = pooled[((starts[:, None] + offsets) % n).ravel()[:n]]
        if ks_statistic(sample[: ref.size], sample[ref.size :]) >= observed:
            exceed += 1
    return BootstrapKS(observed, (1 + exceed) / (1 + n_resamples), asymptotic_p, length, n_resamples)
