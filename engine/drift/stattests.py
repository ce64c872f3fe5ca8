"""Per-feature drift tests equal to evidently 0.7's (KS, PSI, normalised Wasserstein,
Jensen-Shannon), computed against a reference column that is cleaned and sorted once.

A scheduled check compares many current windows against one fixed reference window, so the
reference's sort, distinct-value count, spread and self-ranks are prepared in `ReferenceColumn`
and reused; the current window is cleaned the way evidently does (NaN and ±inf dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats
from scipy.spatial import distance

from engine.drift import binning

# evidently's defaults (`StatTest(default_threshold=...)` in each stattest module) and the
# direction of each verdict: KS drifts when p <= threshold, the distances when value >= threshold.
DEFAULT_THRESHOLDS = {"ks": 0.05, "psi": 0.1, "wasserstein": 0.1, "jensenshannon": 0.1, "psi_quantile": 0.1}
METHODS = tuple(DEFAULT_THRESHOLDS)
SCIPY_KS_EXACT_MAX_N = 10_000  # scipy's MAX_AUTO_N: exact p-values up to here, asymptotic above
WASSERSTEIN_MIN_NORM = 0.001  # evidently: max(std(reference), 0.001)


def finite_values(values, *, name: str = "column", side: str = "reference") -> np.ndarray:
    """float64 copy of ``values`` without NaN / ±inf (evidently drops them before every test)."""
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        raise ValueError(f"column {name!r} has no finite values in the {side} window")
    return finite


@dataclass
class ReferenceColumn:
    """A reference window's column, cleaned and sorted once for many checks."""

    name: str
    sorted_values: np.ndarray
    integer: bool = False
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_values(cls, values, *, name: str = "column") -> ReferenceColumn:
        raw = np.asarray(values)
        integer = np.issubdtype(raw.dtype, np.integer)
        return cls(name, np.sort(finite_values(raw, name=name)), integer)

    @property
    def size(self) -> int:
        return self.sorted_values.size

    @property
    def n_unique(self) -> int:
        if "n_unique" not in self._cache:
            self._cache["n_unique"] = int(np.count_nonzero(np.diff(self.sorted_values))) + 1
        return self._cache["n_unique"]

    @property
    def std(self) -> float:
        if "std" not in self._cache:
            self._cache["std"] = float(np.std(self.sorted_values))
        return self._cache["std"]

    @property
    def self_ranks(self) -> np.ndarray:
        """``searchsorted(sorted, sorted, side="right")`` via runs of equal values."""
        if "self_ranks" not in self._cache:
            self._cache["self_ranks"] = _right_ranks_of_sorted(self.sorted_values)
        return self._cache["self_ranks"]


def _right_ranks_of_sorted(sorted_values: np.ndarray) -> np.ndarray:
    run_ends = np.append(np.flatnonzero(np.diff(sorted_values)) + 1, sorted_values.size)
    run_lengths = np.diff(run_ends, prepend=0)
    return np.repeat(run_ends, run_lengths)


# ---- the tests: (statistic, p_value or None) ----------------------------------------------------


def ks_test(reference: ReferenceColumn, current: np.ndarray, **_ignored) -> tuple[float, float]:
    """Two-sided two-sample KS: (D, p) equal to ``scipy.stats.ks_2samp(ref, cur)``."""
    ref = reference.sorted_values
    n1, n2 = ref.size, current.size
    if max(n1, n2) <= SCIPY_KS_EXACT_MAX_N:  # scipy's exact path: cheap at this size, use it
        result = stats.ks_2samp(ref, current)
        return float(result.statistic), float(result.pvalue)
    cur = np.sort(current)
    # scipy evaluates both empirical CDFs at every value of both samples; same values, same
    # divisions, so D is bit-for-bit scipy's, without re-sorting the reference.
    diff_at_ref = reference.self_ranks / n1 - np.searchsorted(cur, ref, side="right") / n2
    diff_at_cur = np.searchsorted(ref, cur, side="right") / n1 - _right_ranks_of_sorted(cur) / n2
    max_s = max(diff_at_ref.max(), diff_at_cur.max())
    min_s = float(np.clip(-min(diff_at_ref.min(), diff_at_cur.min()), 0, 1))
    d = min_s if min_s > max_s else float(max_s)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    p = float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))
    return d, p


def binned_shares(
    reference: ReferenceColumn, current: np.ndarray, *, current_integer: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """evidently's bins and shares (before zero filling); see `binning`. ``current_integer``:
    the current column was integer-typed (numpy widens bins to >= 1 only on integer data)."""
    ref = reference.sorted_values
    if reference.n_unique > binning.DISTINCT_VALUES_FOR_HISTOGRAM:
        low = min(ref[0], current.min())
        high = max(ref[-1], current.max())
        edges = binning.sturges_edges(
            ref.size + current.size, low, high, integer=reference.integer and current_integer
        )
        ref_counts = binning.counts_sorted(ref, edges)
        cur_counts = binning.counts_unsorted(current, edges)
        return ref_counts / ref.size, cur_counts / current.size
    return binning.value_shares(ref, current)


def psi_test(
    reference: ReferenceColumn, current: np.ndarray, *, current_integer: bool = False, **_ignored
) -> tuple[float, None]:
    """PSI = Σ (r − c) · ln(r / c) on evidently's bins with its zero filling."""
    ref_shares, cur_shares = binned_shares(reference, current, current_integer=current_integer)
    return _psi(ref_shares, cur_shares), None


def psi_quantile_test(
    reference: ReferenceColumn, current: np.ndarray, *, n_bins: int = 10, **_ignored
) -> tuple[float, None]:
    """PSI on ``n_bins`` reference-quantile bins (not evidently's binning: an explicit option)."""
    key = ("quantile_edges", n_bins)
    if key not in reference._cache:
        reference._cache[key] = binning.quantile_edges(reference.sorted_values, n_bins)
    edges = reference._cache[key]
    ref_shares = binning.quantile_counts(reference.sorted_values, edges) / reference.size
    cur_shares = binning.quantile_counts(current, edges) / current.size
    return _psi(ref_shares, cur_shares), None


def _psi(ref_shares: np.ndarray, cur_shares: np.ndarray) -> float:
    ref_shares = binning.fill_zero_shares(ref_shares)
    cur_shares = binning.fill_zero_shares(cur_shares)
    return float(np.sum((ref_shares - cur_shares) * np.log(ref_shares / cur_shares)))


def wasserstein_test(reference: ReferenceColumn, current: np.ndarray, **_ignored) -> tuple[float, None]:
    """First Wasserstein distance (scipy's CDF integral) over max(std(reference), 0.001)."""
    ref = reference.sorted_values
    cur = np.sort(current)
    all_values = np.concatenate((ref, cur))
    all_values.sort(kind="mergesort")
    deltas = np.diff(all_values)
    ref_cdf = np.searchsorted(ref, all_values[:-1], side="right") / ref.size
    cur_cdf = np.searchsorted(cur, all_values[:-1], side="right") / cur.size
    distance_value = float(np.dot(np.abs(ref_cdf - cur_cdf), deltas))
    return distance_value / max(reference.std, WASSERSTEIN_MIN_NORM), None


def jensenshannon_test(
    reference: ReferenceColumn, current: np.ndarray, *, current_integer: bool = False, **_ignored
) -> tuple[float, None]:
    """scipy's Jensen-Shannon distance (natural log) on evidently's bins, no zero filling."""
    ref_shares, cur_shares = binned_shares(reference, current, current_integer=current_integer)
    return float(distance.jensenshannon(ref_shares, cur_shares)), None


TESTS = {
    "ks": ks_test,
    "psi": psi_test,
    "wasserstein": wasserstein_test,
    "jensenshannon": jensenshannon_test,
    "psi_quantile": psi_quantile_test,
}


def is_drifted(method: str, statistic: float, p_value: float | None, threshold: float) -> bool:
    if method == "ks":
        return bool(p_value <= threshold)
    return bool(statistic >= threshold)
