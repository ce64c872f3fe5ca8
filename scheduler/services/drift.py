"""Scheduled drift checks: each slot's latest version, its training window as the reference,
the most recent bars as the current window, one row per feature and method in `drift_results`."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from brain import Brain

DRIFT_METHODS = ("psi", "ks")


def check_slot_drift(brain: Brain, slot_key: str, *, current_bars: int = 500,
                     methods: tuple[str, ...] = DRIFT_METHODS) -> int:
    """Run the drift checks of one slot and store them; returns the rows stored (0 when the
    slot has no version or no bars after its warm-up)."""
    from engine.drift import DriftCheck
    from engine.features import add_features

    version = brain.latest_version(slot_key)
    slot = brain.get_slot(slot_key)
    if version is None or slot is None:
        return 0
    features = list(version.manifest.get("features", []))
    frame = add_features(brain.load_bars(slot.symbol, slot.timeframe)).drop_nulls(features)
    start = datetime.fromisoformat(version.manifest["data_start"])
    end = datetime.fromisoformat(version.manifest["data_end"])
    reference = frame.filter(pl.col("ts").is_between(start, end))
    current = frame.tail(current_bars)
    if reference.is_empty() or current.is_empty():
        return 0
    window = {
        "reference_start": reference["ts"][0], "reference_end": reference["ts"][-1],
        "current_start": current["ts"][0], "current_end": current["ts"][-1],
    }
    rows = []
    for method in methods:
        report = DriftCheck(method=method, columns=features).fit(reference).check(current)
        rows += [
            {"feature": result.feature, "method": method, "statistic": result.statistic,
             "p_value": result.p_value, "threshold": result.threshold, "drifted": int(result.drifted),
             "details": {"version": version.number, "dataset_drift": report.to_dict().get("dataset_drift")},
             **window}
            for result in report.features
        ]
    return brain.record_drift_results(rows, slot_key=slot_key)
