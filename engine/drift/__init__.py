"""Data and concept drift: per-feature tests equal to evidently 0.7 (KS, PSI, normalised
Wasserstein, Jensen-Shannon), a dataset verdict, a block-bootstrap KS p-value for autocorrelated
series, multivariate drift by reconstruction error (autoencoder, PCA), performance degradation and
streaming detectors on the live error."""

from engine.drift.bootstrap import block_bootstrap_ks
from engine.drift.check import DriftCheck, DriftReport, FeatureDrift, detect_drift
from engine.drift.concept import PerformanceDegradation, StreamingErrorDetector, performance_degradation
from engine.drift.multivariate import (
    MULTIVARIATE_METHODS,
    ReconstructionDrift,
    ReconstructionDriftCheck,
    pseudo_feature,
)
from engine.drift.stattests import DEFAULT_THRESHOLDS, METHODS, ReferenceColumn

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "MULTIVARIATE_METHODS",
    "DriftCheck",
    "DriftReport",
    "FeatureDrift",
    "PerformanceDegradation",
    "ReconstructionDrift",
    "ReconstructionDriftCheck",
    "ReferenceColumn",
    "StreamingErrorDetector",
    "block_bootstrap_ks",
    "detect_drift",
    "performance_degradation",
    "pseudo_feature",
]
