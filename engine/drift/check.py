"""`DriftCheck`: per-feature drift of a current window against a fixed reference window, and
the dataset-level verdict (evidently's: share of drifted features >= drift_share)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np

from engine.drift import stattests
from engine.drift.stattests import DEFAULT_THRESHOLDS, ReferenceColumn

DEFAULT_DRIFT_SHARE = 0.5  # evidently's DataDriftOptions.drift_share


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    reference_size: int
    current_size: int
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DriftReport:
    method: str
    threshold: float
    drift_share: float
    features: list[FeatureDrift]

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    @property
    def share_drifted(self) -> float:
        return len(self.drifted_features) / len(self.features) if self.features else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.features) and self.share_drifted >= self.drift_share

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "threshold": self.threshold,
            "drift_share": self.drift_share,
            "share_drifted": self.share_drifted,
            "dataset_drift": self.dataset_drift,
            "features": [asdict(f) for f in self.features],
        }


def column_arrays(frame, columns: list[str] | None = None) -> dict[str, np.ndarray]:
    """Numeric columns of a polars / pandas DataFrame or a mapping of arrays, as numpy arrays."""
    names = list(frame.keys() if isinstance(frame, Mapping) else frame.columns)
    wanted = names if columns is None else list(columns)
    missing = [name for name in wanted if name not in names]
    if missing:
        raise ValueError(f"column(s) {missing} not in the data (it has {names})")
    arrays = {}
    for name in wanted:
        column = frame[name]
        array = np.asarray(column.to_numpy() if hasattr(column, "to_numpy") else column)
        if array.dtype == np.bool_:
            array = array.astype(np.int64)
        if not (np.issubdtype(array.dtype, np.number)):
            raise ValueError(f"column {name!r} is not numeric (dtype {array.dtype})")
        arrays[name] = array
    return arrays


class DriftCheck:
    """Compare current windows with one reference window, feature by feature.

    method: "ks" (p-value, drift when p <= threshold), "psi", "wasserstein" (normalised),
    "jensenshannon" (statistic >= threshold), all equal to evidently 0.7; or "psi_quantile"
    (PSI on ``n_bins`` reference-quantile bins, not evidently's binning). threshold: None means
    evidently's default for the method. The reference is cleaned and sorted once in `fit`;
    `check` runs the features on ``n_jobs`` threads (numpy releases the GIL in sort/search).
    """

    def __init__(
        self,
        method: str = "psi",
        *,
        threshold: float | None = None,
        columns: list[str] | None = None,
        drift_share: float = DEFAULT_DRIFT_SHARE,
        n_bins: int = 10,
        n_jobs: int | None = None,
    ):
        if method not in stattests.TESTS:
            raise ValueError(f"unknown drift method {method!r}; known: {', '.join(stattests.METHODS)}")
        if not 0 < drift_share <= 1:
            raise ValueError(f"drift_share must be in (0, 1], got {drift_share}")
        self.method = method
        self.threshold = threshold
        self.columns = columns
        self.drift_share = drift_share
        self.n_bins = n_bins
        self.n_jobs = n_jobs

    @property
    def threshold_(self) -> float:
        return DEFAULT_THRESHOLDS[self.method] if self.threshold is None else float(self.threshold)

    def fit(self, reference) -> DriftCheck:
        arrays = column_arrays(reference, self.columns)
        prepared = self._map(
            lambda item: ReferenceColumn.from_values(item[1], name=item[0]), list(arrays.items())
        )
        self.reference_ = dict(zip(arrays, prepared, strict=True))
        return self

    def check(self, current) -> DriftReport:
        if not hasattr(self, "reference_"):
            raise RuntimeError("DriftCheck.check before fit: give it a reference window first")
        arrays = column_arrays(current, list(self.reference_))
        features = self._map(lambda name: self._one(name, arrays[name]), list(self.reference_))
        return DriftReport(self.method, self.threshold_, self.drift_share, features)

    def _one(self, name: str, raw: np.ndarray) -> FeatureDrift:
        reference = self.reference_[name]
        current = stattests.finite_values(raw, name=name, side="current")
        statistic, p_value = stattests.TESTS[self.method](
            reference, current, current_integer=np.issubdtype(raw.dtype, np.integer), n_bins=self.n_bins
        )
        threshold = self.threshold_
        return FeatureDrift(
            feature=name,
            method=self.method,
            statistic=float(statistic),
            p_value=None if p_value is None else float(p_value),
            threshold=threshold,
            drifted=stattests.is_drifted(self.method, statistic, p_value, threshold),
            reference_size=reference.size,
            current_size=int(current.size),
        )

    def _map(self, function, items: list) -> list:
        workers = min(self.n_jobs or os.cpu_count() or 1, len(items)) or 1
        if workers == 1:
            return [function(item) for item in items]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(function, items))


def detect_drift(reference, current, method: str = "psi", **options) -> DriftReport:
    """One-off check: `DriftCheck(method, **options).fit(reference).check(current)`."""
    return DriftCheck(method, **options).fit(reference).check(current)
