"""Scheduled drift checks: each slot's latest version, its training window as the reference,
the most recent bars as the current window, one row per feature and method in `drift_results`,
and one row per multivariate check (reconstruction error by autoencoder and by PCA, over every
feature at once) under its pseudo-feature name, `⟨multivariate · autoencoder⟩`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from brain import Brain
from brain.records import VersionRecord

DRIFT_METHODS = ("psi", "ks")
CURRENT_BARS = 500  # the current window: the newest bars after the features' warm-up


@dataclass(frozen=True)
class DriftWindows:
    """What one drift computation compares: a version's training window (the reference) and a
    current window of the same features, computed by the engine from the brain's bars."""

    version: VersionRecord
    features: tuple[str, ...]
    reference: pl.DataFrame  # ts and the features, rows without nulls
    current: pl.DataFrame

    @property
    def empty(self) -> bool:
        return self.reference.is_empty() or self.current.is_empty()

    def checks(self, methods: tuple[str, ...] = DRIFT_METHODS) -> list[tuple[str, Any]]:
        """(method, the engine's drift report) per method: current against reference."""
        from engine.drift import DriftCheck

        columns = list(self.features)
        return [(method, DriftCheck(method=method, columns=columns).fit(self.reference).check(self.current))
                for method in methods]

    def multivariate_checks(self, methods: tuple[str, ...] | None = None) -> list[Any]:
        """The engine's reconstruction-error checks (engine.drift.ReconstructionDrift), one per
        method (None: every one), over every feature at once; none for a version with one feature
        or a window too short to calibrate on."""
        from engine.drift import MULTIVARIATE_METHODS, ReconstructionDriftCheck
        from engine.drift.multivariate import MIN_ROWS

        short = min(self.reference.height, self.current.height) < MIN_ROWS
        if len(self.features) < 2 or short:
            return []
        methods = MULTIVARIATE_METHODS if methods is None else methods
        columns = list(self.features)
        return [ReconstructionDriftCheck(method, columns=columns).fit(self.reference).check(self.current)
                for method in methods]


def drift_windows(brain: Brain, slot_key: str, features: tuple[str, ...] | None = None, *,
                  version_number: int | None = None,
                  current_between: tuple[datetime, datetime] | None = None,
                  current_bars: int = CURRENT_BARS) -> DriftWindows | None:
    """The reference and current windows of a slot's version (`version_number`, else its latest)
    over `features` (else the version's own). The current window is the bars `current_between`
    bounds (what a stored check used), else the newest `current_bars`. None when the slot or the
    version is not in the brain; ValueError when the engine does not compute a feature."""
    from engine.manifest import Manifest
    from engine.pipeline import spec_of_manifest, version_features

    slot = brain.get_slot(slot_key)
    version = (brain.get_version(slot_key, version_number) if version_number
               else brain.latest_version(slot_key))
    if slot is None or version is None:
        return None
    manifest = Manifest.from_json(version.manifest)
    features = tuple(manifest.features if features is None else features)
    # The version's own inputs, from its spec: its recipe and its alternative data.
    spec = spec_of_manifest(version.manifest)
    alt: dict[str, pl.DataFrame] = {
        item.kind: brain.load_alt_data(item.kind, slot.symbol) for item in spec.alt
    }
    frame = version_features(brain.load_bars(slot.symbol, slot.timeframe), spec, alt)
    missing = [feature for feature in features if feature not in frame.columns]
    if missing:
        raise ValueError(f"{slot_key}: version {version.number} has no feature {missing[0]!r}")
    frame = frame.select("ts", *features).drop_nulls(list(features))
    reference = frame.filter(pl.col("ts").is_between(manifest.data_start, manifest.data_end))
    if current_between is not None:
        current = frame.filter(pl.col("ts").is_between(*current_between))
    else:
        current = frame.tail(current_bars)
    return DriftWindows(version, features, reference, current)


def check_slot_drift(brain: Brain, slot_key: str, *, current_bars: int = CURRENT_BARS,
                     methods: tuple[str, ...] = DRIFT_METHODS,
                     multivariate: tuple[str, ...] | None = None) -> int:
    """Run the drift checks of one slot and store them, per-feature (`methods`) and multivariate
    (`multivariate`, None: every method, () none) in one transaction, so they share one check
    time; returns the rows stored (0 when the slot has no version or no bars after its warm-up)."""
    windows = drift_windows(brain, slot_key, current_bars=current_bars)
    if windows is None or windows.empty:
        return 0
    reference, current = windows.reference, windows.current
    window = {
        "reference_start": reference["ts"][0], "reference_end": reference["ts"][-1],
        "current_start": current["ts"][0], "current_end": current["ts"][-1],
    }
    rows = []
    for method, report in windows.checks(methods):
        rows += [
            {"feature": result.feature, "method": method, "statistic": result.statistic,
             "p_value": result.p_value, "threshold": result.threshold, "drifted": int(result.drifted),
             "details": {"version": windows.version.number,
                         "dataset_drift": report.to_dict().get("dataset_drift")},
             **window}
            for result in report.features
        ]
    rows += [
        {"feature": result.feature, "method": result.method, "statistic": result.statistic,
         "p_value": None, "threshold": result.threshold, "drifted": int(result.drifted),
         "details": {"version": windows.version.number, "multivariate": True,
                     "reference_error": result.reference_error, "quantile": result.quantile,
                     "components": result.components, "features": len(result.columns),
                     "block_length": result.block_length},
         **window}
        for result in windows.multivariate_checks(multivariate)
    ]
    return brain.record_drift_results(rows, slot_key=slot_key)


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's drift up close: its two windows' values and the checks run again on them."""

    version: int
    reference_window: tuple[datetime, datetime, int]  # first bar, last bar, bars
    current_window: tuple[datetime, datetime, int]
    reference_values: np.ndarray
    current_values: np.ndarray
    statistics: list[tuple[str, float, float | None, float, bool]]  # method, stat, p, threshold, drifted


def feature_drift(brain: Brain, slot_key: str, feature: str, *, version_number: int | None = None,
                  current_between: tuple[datetime, datetime] | None = None,
                  methods: tuple[str, ...] = DRIFT_METHODS) -> FeatureDrift:
    """The windows a stored check compared for one feature (its version, its current bounds),
    rebuilt, and that feature's checks run again on them. ValueError when they cannot be."""
    windows = drift_windows(brain, slot_key, (feature,), version_number=version_number,
                            current_between=current_between)
    if windows is None:
        raise ValueError(f"{slot_key}: no such slot or no version in the brain")
    if windows.empty:
        raise ValueError(f"{slot_key} {feature}: no bars in the reference or the current window")
    reference, current = windows.reference, windows.current
    statistics = []
    for method, report in windows.checks(methods):
        result = report.features[0]
        statistics.append((method, result.statistic, result.p_value, result.threshold, result.drifted))
    return FeatureDrift(
        version=windows.version.number,
        reference_window=(reference["ts"][0], reference["ts"][-1], reference.height),
        current_window=(current["ts"][0], current["ts"][-1], current.height),
        reference_values=reference[feature].to_numpy(), current_values=current[feature].to_numpy(),
        statistics=statistics,
    )
