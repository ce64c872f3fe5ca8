"""Shares per bin for PSI and Jensen-Shannon, as evidently 0.7 computes them.

evidently (`legacy/calculations/stattests/utils.py::get_binned_data`): when the reference has
more than 20 distinct values, equal-width bins from ``numpy.histogram_bin_edges(concat(ref, cur),
bins="sturges")``; otherwise one bin per distinct value seen on either side. Its docstring says
"quantiles" and it takes an ``n_bins`` it ignores; we match what it does. Quantile bins are a
separate, explicitly named option (`quantile_shares`).
"""

from __future__ import annotations

import numpy as np

DISTINCT_VALUES_FOR_HISTOGRAM = 20  # evidently: `n_vals > 20` on the reference


def sturges_edges(size: int, low: float, high: float, *, integer: bool) -> np.ndarray:
    """``numpy.histogram_bin_edges(a, bins="sturges")`` from a's size, min and max alone, so the
    combined window never has to be concatenated (numpy 2 `_get_bin_edges`, step for step)."""
    width = (high - low) / (np.log2(size) + 1.0)  # sturges uses the data's own range
    if low == high:
        low, high = low - 0.5, high + 0.5
    if width:
        if integer and width < 1:
            width = 1
        n_bins = int(np.ceil((high - low) / width))
    else:
        n_bins = 1
    return np.linspace(low, high, n_bins + 1, endpoint=True, dtype=np.float64)


def counts_sorted(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``numpy.histogram(values, edges)[0]`` for already sorted values (numpy's own method for
    explicit edges: left-closed bins, the last one closed on both sides)."""
    cuts = np.searchsorted(sorted_values, edges[:-1], side="left")
    cuts = np.append(cuts, np.searchsorted(sorted_values, edges[-1], side="right"))
    return np.diff(cuts)


def counts_unsorted(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Same counts as `counts_sorted` without sorting: a binary search in the (short) edges."""
    n_bins = len(edges) - 1
    index = np.searchsorted(edges, values, side="right") - 1
    index[index == n_bins] = n_bins - 1  # the last edge belongs to the last bin
    inside = (index >= 0) & (index < n_bins)
    if not inside.all():
        index = index[inside]
    return np.bincount(index, minlength=n_bins)


def fill_zero_shares(shares: np.ndarray) -> np.ndarray:
    """evidently's ``feel_zeroes``: empty bins get min_nonzero / 1e6 when the smallest non-zero
    share is ≤ 1e-4, else 1e-4; per side, no renormalisation."""
    nonzero = shares[shares != 0]
    smallest = nonzero.min()
    out = shares.copy()
    out[out == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return out


def value_shares(ref_sorted: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One bin per distinct value seen on either side (evidently's low-cardinality branch)."""
    ref_keys, ref_counts = np.unique(ref_sorted, return_counts=True)
    cur_keys, cur_counts = np.unique(cur, return_counts=True)
    keys = np.union1d(ref_keys, cur_keys)
    ref_full = np.zeros(len(keys))
    cur_full = np.zeros(len(keys))
    ref_full[np.searchsorted(keys, ref_keys)] = ref_counts
    cur_full[np.searchsorted(keys, cur_keys)] = cur_counts
    return ref_full / len(ref_sorted), cur_full / len(cur)


def quantile_edges(ref_sorted: np.ndarray, n_bins: int) -> np.ndarray:
    """Reference-quantile edges (duplicates merged), open at both ends so every value lands."""
    if n_bins < 2:
        raise ValueError(f"quantile PSI needs n_bins >= 2, got {n_bins}")
    inner = np.unique(np.quantile(ref_sorted, np.linspace(0, 1, n_bins + 1)[1:-1]))
    return np.concatenate(([-np.inf], inner, [np.inf]))


def quantile_counts(sorted_or_not: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in right-closed quantile bins (value ≤ q_i goes to bin i)."""
    index = np.searchsorted(edges[1:-1], sorted_or_not, side="left")
    return np.bincount(index, minlength=len(edges) - 1)
