"""Training a slot: engine results written to the brain, one version per model kind.

Shared by the CLI (`huracan train`), the worker process (demo and scheduled retrains) and the
headless leader, so a version looks the same whoever made it. Fitting and storing are separate
steps so a caller can fit everything first and write nothing if any model fails.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from brain import Brain
from brain.records import SlotRecord, VersionRecord
from engine.cadence import Cadence
from engine.manifest import Manifest
from engine.models import model_tags
from engine.targets import target_name
from engine.training import TrainingResult, train_model
from scheduler.config import TrainingConfig

# progress(fraction, message) as work advances, progress(fraction, message, values) after each
# epoch of a neural kind: values = the epoch's record with model_kind, fold and slot.
Progress = Callable[..., None]


@dataclass(frozen=True)
class PreviousVersion:
    """What an incremental retrain continues from: the model and the last bar it learned."""

    number: int
    model: object
    data_end: datetime


def _finite_or_none(value: float | int | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def metric_rows(result: TrainingResult) -> list[dict]:
    """Overall and per-fold out-of-sample metrics in the brain's long format."""
    manifest = result.manifest
    rows = [{"name": name, "value": _finite_or_none(value)} for name, value in manifest.metrics.items()]
    for fold in manifest.folds:
        rows += [
            {"name": name, "value": _finite_or_none(value), "fold": fold.index}
            for name, value in fold.metrics.items()
        ]
    return rows


def manifest_of(result: TrainingResult, slot_key: str) -> dict:
    """Everything needed to know what a version is and to rebuild it, artifact aside, as the
    brain stores it (a JSON document; the brain adds the artifact's sha256)."""
    return result.manifest.for_slot(slot_key).to_json()


def fit_models(
    frame: pl.DataFrame,
    timeframe: str,
    config: TrainingConfig,
    *,
    progress: Progress | None = None,
    label: str = "",
    previous: dict[str, PreviousVersion] | None = None,
) -> list[TrainingResult]:
    """Walk-forward evaluate and fit every configured model kind; nothing is stored.

    With `config.cadence == "incremental"` each kind continues from `previous[kind]`; a kind
    without a previous version (the slot's first) or that cannot warm start (linear, knn, svm,
    trees, forests) is trained in full, and its manifest's `cadence` says so."""
    kinds = list(config.models)
    previous = previous or {}
    results = []
    for position, kind in enumerate(kinds):

        def report(fraction: float, message: str, values: dict | None = None, position=position,
                   kind=kind) -> None:
            if progress is not None:
                _forward(progress, (position + fraction) / len(kinds), f"{label}{kind}: {message}", values)

        cadence, warm = config.cadence, previous.get(kind)
        if cadence == Cadence.INCREMENTAL and (warm is None or not model_tags(kind).supports_warm_start):
            cadence = Cadence.FULL
        results.append(
            train_model(
                frame,
                kind,
                timeframe=timeframe,
                horizon=config.horizon,
                cost_bps=config.cost_bps,
                n_folds=config.n_folds,
                seed=config.seed,
                params=dict(config.params.get(kind, {})),
                progress=report,
                cadence=cadence,
                previous=None if warm is None or cadence != "incremental" else warm.model,
                previous_data_end=None if warm is None or cadence != "incremental" else warm.data_end,
                threshold_bps=config.threshold_bps,
            )
        )
    return results


def store_result(
    brain: Brain, slot: SlotRecord, result: TrainingResult, *, actor: str = "system"
) -> VersionRecord:
    """Artifact, manifest, version row, metrics and audit entry: one transaction in the brain.
    Then the model's own feature importance, so importance trends grow with every retrain."""
    manifest = result.manifest
    version = brain.add_version(
        slot.key,
        model_kind=manifest.model_kind,
        manifest=manifest_of(result, slot.key),
        artifact=result.artifact,
        artifact_format=manifest.artifact_format,
        metrics=metric_rows(result),
        data_start=manifest.data_start,
        data_end=manifest.data_end,
        actor=actor,
    )
    record_native_importance(brain, version, result)
    return version


def record_native_importance(brain: Brain, version: VersionRecord, result: TrainingResult) -> None:
    """The learner's own importance (gain or impurity shares, |coef| on scaled inputs), stored as
    method "native"; kinds without one (KNN, SVM, neural) store nothing. Derived data, so it is
    written after the version's transaction: losing it to a crash loses nothing the version needs."""
    if result.feature_importances is not None:
        brain.record_feature_importance(version.id, "native", result.feature_importances)


def previous_versions(brain: Brain, slot_key: str, kinds: list[str]) -> dict[str, PreviousVersion]:
    """The slot's latest version of each kind, loaded from its sha256-verified artifact."""
    from engine.models import load_model

    latest: dict[str, VersionRecord] = {}
    for version in brain.list_versions(slot_key):  # in version order: the last one wins
        if version.model_kind in kinds:
            latest[version.model_kind] = version
    return {
        kind: PreviousVersion(
            number=version.number,
            model=load_model(
                kind,
                brain.load_artifact(version.artifact_sha256),
                sha256=version.artifact_sha256,
                artifact_format=version.manifest.get("artifact_format", ""),
            ),
            data_end=version.data_end or Manifest.from_json(version.manifest).data_end,
        )
        for kind, version in latest.items()
    }


def slot_for(brain: Brain, symbol: str, timeframe: str, horizon: int) -> SlotRecord:
    return brain.ensure_slot(symbol, timeframe, target_name(horizon), horizon)


def train_slot(
    brain: Brain,
    symbol: str,
    timeframe: str,
    config: TrainingConfig,
    *,
    progress: Progress | None = None,
    actor: str = "system",
) -> list[VersionRecord]:
    """Train every configured model kind on the slot's bars in the brain, storing each version
    as soon as it is ready so a watching console fills as versions land."""
    frame = brain.load_bars(symbol, timeframe)
    if frame.is_empty():
        raise ValueError(f"the brain holds no {timeframe} bars for {symbol}; import data first")
    slot = slot_for(brain, symbol, timeframe, config.horizon)
    versions = []
    kinds = list(config.models)
    previous = previous_versions(brain, slot.key, kinds) if config.cadence == "incremental" else {}
    for position, kind in enumerate(kinds):
        one_kind = config.model_copy(update={"models": [kind]})

        def report(fraction: float, message: str, values: dict | None = None, position=position) -> None:
            if progress is not None:
                _forward(progress, (position + fraction) / len(kinds), message,
                         None if values is None else {**values, "slot": slot.key})

        (result,) = fit_models(
            frame, timeframe, one_kind, progress=report, label=f"{slot.key} ", previous=previous
        )
        versions.append(store_result(brain, slot, result, actor=actor))
    return versions


def _forward(progress: Progress, fraction: float, message: str, values: dict | None) -> None:
    """Pass a report on; epoch values only where there are some, so a caller's two-argument
    progress keeps working for kinds that have no epochs."""
    if values is None:
        progress(fraction, message)
    else:
        progress(fraction, message, values)
