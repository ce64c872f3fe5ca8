"""Two distributions on the same bins, as text bars: a feature's reference window (what the
version was trained on) beside its current window."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EIGHTHS = " ▏▎▍▌▋▊▉"
BAR_WIDTH = 20


@dataclass(frozen=True)
class HistogramPair:
    edges: np.ndarray
    reference: np.ndarray  # share of the reference window per bin
    current: np.ndarray  # share of the current window per bin

    @property
    def scale(self) -> float:
        """The larger share of either side: both bars use it, so their lengths compare."""
        return float(max(self.reference.max(initial=0.0), self.current.max(initial=0.0))) or 1.0


def histogram_pair(reference, current) -> HistogramPair:
    """Shares per bin on `numpy.histogram_bin_edges(concat(ref, cur), bins="sturges")`, the
    equal-width bins evidently's PSI uses when a feature has many distinct values; NaN and
    infinities dropped from each side first."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    if ref.size == 0 or cur.size == 0:
        raise ValueError("both windows need at least one finite value")
    edges = np.histogram_bin_edges(np.concatenate((ref, cur)), bins="sturges")
    ref_counts = np.histogram(ref, edges)[0]
    cur_counts = np.histogram(cur, edges)[0]
    return HistogramPair(edges, ref_counts / ref.size, cur_counts / cur.size)


def bar(share: float, scale: float, width: int = BAR_WIDTH) -> str:
    """A bar of `width` cells at full scale, in eighths of a cell."""
    eighths = round(share / scale * width * 8) if scale > 0 else 0
    full, rest = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[rest] if rest else "")).ljust(width)


def bin_label(low: float, high: float) -> str:
    return f"{low:>9.4g} … {high:<9.4g}"
