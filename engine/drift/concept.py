"""Concept drift: the model's live performance against its training baseline, and a streaming
detector (River's ADWIN or Page-Hinkley) on the live error."""

from __future__ import annotations

from dataclasses import dataclass

DETECTORS = ("adwin", "page_hinkley")


@dataclass(frozen=True)
class PerformanceDegradation:
    metric: str
    baseline: float
    live: float
    change: float  # live − baseline
    relative_change: float  # change / |baseline| (inf when the baseline is 0 and live differs)
    higher_is_better: bool
    tolerance: float
    degraded: bool


def performance_degradation(
    baseline: float,
    live: float,
    *,
    metric: str = "metric",
    higher_is_better: bool = True,
    tolerance: float = 0.2,
) -> PerformanceDegradation:
    """Degraded when the live metric is worse than the training baseline by more than
    ``tolerance`` of the baseline's magnitude (e.g. Sharpe 1.5 → 1.1 is a 27% drop)."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    baseline, live = float(baseline), float(live)
    change = live - baseline
    if baseline != 0:
        relative = change / abs(baseline)
    else:
        relative = 0.0 if change == 0 else float("inf") if change > 0 else float("-inf")
    worse_by = -relative if higher_is_better else relative
    return PerformanceDegradation(
        metric, baseline, live, change, relative, higher_is_better, tolerance, bool(worse_by > tolerance)
    )


class StreamingErrorDetector:
    """Feed the live error one value at a time; `update` returns True where a change is detected.

    detector: "adwin" (river.drift.ADWIN) or "page_hinkley" (river.drift.PageHinkley); params go
    to River's constructor unchanged. Learned state: ``n_seen_``, ``drift_points_`` (0-based
    indices of the updates that signalled).
    """

    def __init__(self, detector: str = "adwin", **params):
        if detector not in DETECTORS:
            raise ValueError(f"unknown streaming detector {detector!r}; known: {', '.join(DETECTORS)}")
        self.detector = detector
        self.params = params
        from river import drift  # River is imported only when a detector is built

        factory = drift.ADWIN if detector == "adwin" else drift.PageHinkley
        self.detector_ = factory(**params)
        self.n_seen_ = 0
        self.drift_points_: list[int] = []

    def update(self, error: float) -> bool:
        self.detector_.update(float(error))
        detected = bool(self.detector_.drift_detected)
        if detected:
            self.drift_points_.append(self.n_seen_)
        self.n_seen_ += 1
        return detected

    def update_many(self, errors) -> list[int]:
        """Feed a sequence; returns the indices (within this call's sequence) that signalled."""
        start = self.n_seen_
        for error in errors:
            self.update(error)
        return [point - start for point in self.drift_points_ if point >= start]
