"""Training a slot: engine results written to the brain, one version per model kind.

Shared by the CLI (`huracan train`), the worker process (demo and scheduled retrains) and the
headless leader, so a version looks the same whoever made it. Fitting and storing are separate
steps so a caller can fit everything first and write nothing if any model fails.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

import polars as pl

from brain import Brain, BrainError
from brain.records import OutOfSampleRecord, SlotRecord, VersionRecord
from engine.cadence import Cadence
from engine.manifest import Manifest
from engine.models import model_tags
from engine.pipeline import check_spec, input_columns, make_spec
from engine.regimes import RegimeConfig
from engine.spec import TargetSpec, VersionSpec
from engine.training import TrainingResult, needs_signal, train_model
from scheduler.config import HuracanConfig, TrainingConfig

# progress(fraction, message) as work advances, progress(fraction, message, values) after each
# epoch of a neural kind: values = the epoch's record with model_kind, fold and slot.
Progress = Callable[..., None]

log = logging.getLogger(__name__)


def train_run_key(kind: str, slot_key: str | None, params: Mapping[str, Any]) -> str:
    """What a train job and its requeues have in common (brain.requeue_job copies kind, slot and
    params): the key their checkpoints are stored under, so a requeue finds the killed attempt's.
    `params["run_key"]`, when a caller sets one, wins."""
    if params.get("run_key"):
        return str(params["run_key"])
    identity = json.dumps({"kind": kind, "slot": slot_key, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class BrainCheckpoints:
    """The engine's CheckpointStore (engine.models.neural.checkpoints) over the brain's
    training_checkpoints, for one job of a run: its stages are named `prefix` + the engine's
    stage ("GOOG:1d:fwd_ret_1 lstm fold 2"). A checkpoint whose bytes fail their sha256 is
    refused (logged, and the fit starts over): no tampered bytes reach torch.load."""

    brain: Brain
    run_key: str
    job_id: int
    prefix: str = ""

    def scoped(self, name: str) -> BrainCheckpoints:
        return replace(self, prefix=f"{self.prefix}{name} ")

    def load(self, stage: str) -> bytes | None:
        try:
            found = self.brain.load_checkpoint(self.run_key, self.prefix + stage, job_id=self.job_id)
        except BrainError as error:
            log.warning("not resuming: %s", error)
            return None
        return None if found is None else found[1]

    def save(self, stage: str, epoch: int, data: bytes) -> None:
        self.brain.save_checkpoint(self.run_key, self.prefix + stage, job_id=self.job_id, epoch=epoch,
                                   data=data)

    def clear(self) -> int:
        """Drop this scope's checkpoints (its version is stored: nothing is left to resume)."""
        return self.brain.delete_checkpoints(self.run_key, stage_prefix=self.prefix)


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


def out_of_sample_of(result: TrainingResult) -> OutOfSampleRecord | None:
    """The walk-forward's out-of-sample rows as the brain stores them with the version."""
    rows = result.out_of_sample
    if rows is None:
        return None
    return OutOfSampleRecord(fold=tuple(rows.fold.tolist()), ts=rows.timestamps,
                             prediction=tuple(rows.prediction.tolist()),
                             next_ret=tuple(rows.next_ret.tolist()))


def manifest_of(result: TrainingResult, slot_key: str) -> dict:
    """Everything needed to know what a version is and to rebuild it, artifact aside, as the
    brain stores it (a JSON document; the brain adds the artifact's sha256)."""
    return result.manifest.for_slot(slot_key).to_json()


def kind_params(config: TrainingConfig, kind: str) -> dict[str, Any]:
    """The hyperparameters `kind` trains with: `params.<kind>`, and for a kind that trains data
    parallel (it takes `processes`), `distributed:`'s processes and backend where params.<kind>
    does not set them. One process adds nothing, so a single-process version's spec is unchanged;
    a distributed one's spec (in its manifest) records how it was trained."""
    from engine.models import model_class
    from engine.models.base import Model

    params = dict(config.params.get(kind, {}))
    spread = config.distributed
    kind_class = cast("type[Model]", model_class(kind))
    if spread.processes > 1 and "processes" in kind_class.param_names():
        params.setdefault("processes", spread.processes)
        params.setdefault("backend", spread.backend)
    return params


def spec_for(config: TrainingConfig, kind: str, *, columns: tuple[str, ...] | None = None) -> VersionSpec:
    """The spec a retrain of `kind` under `config` asks for (engine.spec); SpecError names the key.
    `columns`: the recipe columns a selection policy kept (None: all)."""
    return make_spec(
        kind,
        recipe=config.recipe,
        target=config.target,
        horizon=config.horizon,
        threshold_bps=config.threshold_bps,
        preprocessing=config.preprocessing,
        alt=config.alt,
        params=kind_params(config, kind),
        seed=config.seed,
        columns=columns,
    )


def slot_training(config: HuracanConfig, brain: Brain, slot: SlotRecord) -> TrainingConfig:
    """How a retrain of `slot` trains: the `training:` defaults, then what the slot's champion
    (else newest version) was trained on (recipe, preprocessing, alternative data, target and its
    threshold, from its spec; for an ensemble champion, its newest member's, and its method),
    then the config's overrides for this slot id (`slots:`). The slot's own horizon and target
    kind always hold: they are part of its id, and so does the labelling config (`regimes:`),
    which its versions' metrics by regime are stored under."""
    from engine.pipeline import spec_of_manifest

    training = config.training.model_dump()
    version = brain.champion(slot.key) or brain.latest_version(slot.key)
    if version is not None:
        manifest = version.manifest
        if manifest.get("model_kind") == "ensemble":
            # A blend retrains as one: fresh members on its newest member's spec, then the
            # ensemble of them by the same method.
            from engine.ensembles.version import members_of

            training["ensemble"] = manifest["spec"]["ensemble"]["method"]
            manifest = dict(max(members_of(manifest), key=lambda member: member.number).manifest)
        spec = spec_of_manifest(manifest)
        training.update(
            recipe=spec.features.recipe,
            preprocessing=[step.model_dump(mode="json") for step in spec.preprocessing],
            alt=[item.model_dump(mode="json") for item in spec.alt],
        )
        if spec.target.kind == "direction":
            training["threshold_bps"] = spec.target.threshold_bps
    training.update(config.slots.get(slot.key, {}))
    training.update(horizon=slot.horizon, target="net_edge" if slot.target.startswith("net_edge_") else None,
                    regimes=config.regimes.model_dump())
    return TrainingConfig.model_validate(training)


def slot_target(config: TrainingConfig, kind: str) -> TargetSpec:
    """The target a kind learns under `config` (its slot follows from it)."""
    return spec_for(config, kind).target


def fit_models(
    frame: pl.DataFrame,
    timeframe: str,
    config: TrainingConfig,
    *,
    progress: Progress | None = None,
    label: str = "",
    previous: dict[str, PreviousVersion] | None = None,
    alt: dict[str, pl.DataFrame] | None = None,
    columns: tuple[str, ...] | None = None,
    signals: Mapping[str, Any] | None = None,
    checkpoints: BrainCheckpoints | None = None,
) -> list[TrainingResult]:
    """Walk-forward evaluate and fit every configured model kind; nothing is stored.
    `signals`: each sizing kind's signal (scheduler.services.sizing.signals_for).
    `checkpoints`: where the neural kinds' fits save each epoch and resume from (one scope per kind).

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

        spec = spec_for(config, kind, columns=columns)
        cadence, warm = config.cadence, previous.get(kind)
        if cadence == Cadence.INCREMENTAL and (
            warm is None or not model_tags(kind).supports_warm_start or spec.preprocessing
        ):
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
                params=kind_params(config, kind),
                progress=report,
                cadence=cadence,
                previous=None if warm is None or cadence != "incremental" else warm.model,
                previous_data_end=None if warm is None or cadence != "incremental" else warm.data_end,
                threshold_bps=config.threshold_bps,
                spec=spec,
                alt=alt,
                importance=config.importance,
                signal=(signals or {}).get(kind),
                checkpoints=None if checkpoints is None else checkpoints.scoped(kind),
            )
        )
    return results


def store_result(
    brain: Brain, slot: SlotRecord, result: TrainingResult, *, actor: str = "system",
    regime_config: RegimeConfig | None = None,
) -> VersionRecord:
    """Artifact, manifest, version row, metrics, out-of-sample predictions and audit entry: one
    transaction in the brain. Then the model's own feature importance, so importance trends grow
    with every retrain, and its out-of-sample metrics by regime under `regime_config` (the
    training's `regimes`; None: the defaults)."""
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
        companions=[] if result.preprocessor is None else [(result.preprocessor, "skops")],
        out_of_sample=out_of_sample_of(result),
    )
    record_importance(brain, version, result)
    record_regime_performance(brain, slot, version, regime_config)
    return version


def record_regime_performance(brain: Brain, slot: SlotRecord, version: VersionRecord,
                              regime_config: RegimeConfig | None = None) -> None:
    """The version's out-of-sample metrics split by the regime of each bar (scope oos_regime,
    scheduler.services.regime_map), labelled by `regime_config` (None: the defaults), the one the
    regime map and `huracan regimes` label by. Derived data like importance: a slot whose bars
    cannot be labelled stores none, and says so in the log."""
    from engine.regimes import RegimeError
    from scheduler.services.regime_map import record_regime_metrics

    try:
        record_regime_metrics(brain, slot.key, version, "oos", regime_config=regime_config)
    except RegimeError as error:
        log.warning("%s v%d: no metrics by regime: %s", slot.key, version.number, error)


def record_importance(brain: Brain, version: VersionRecord, result: TrainingResult) -> None:
    """Each importance method the training computed (native: the learner's own; permutation: on
    the out-of-sample folds; shap: TreeSHAP), stored with its method; kinds without one store
    nothing for it. Derived data, so it is written after the version's transaction: losing it to
    a crash loses nothing the version needs."""
    found = result.importances
    if found is None and result.feature_importances is not None:
        found = {"native": result.feature_importances}
    for method, values in (found or {}).items():
        brain.record_feature_importance(version.id, method, values)


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


def slot_for(brain: Brain, symbol: str, timeframe: str, target: TargetSpec | int) -> SlotRecord:
    """The slot of a target (its kind and horizon are part of the slot id: GOOG:1d:net_edge_5); a
    bare horizon is the forward return's slot."""
    if isinstance(target, int):
        target = TargetSpec(horizon=target)
    return brain.ensure_slot(symbol, timeframe, target.slot_target, target.horizon)


def alt_frames(brain: Brain, symbol: str, spec: VersionSpec) -> dict[str, pl.DataFrame]:
    """The brain's alternative data of each kind the spec joins, for the symbol; SpecError (naming
    the key) for a kind the brain holds no rows of for it."""
    frames: dict[str, pl.DataFrame] = {item.kind: brain.load_alt_data(item.kind, symbol) for item in spec.alt}
    check_spec(spec, alt_rows={kind: frame.height for kind, frame in frames.items()}, symbol=symbol)
    return frames


def train_slot(
    brain: Brain,
    symbol: str,
    timeframe: str,
    config: TrainingConfig,
    *,
    progress: Progress | None = None,
    actor: str = "system",
    checkpoints: BrainCheckpoints | None = None,
) -> list[VersionRecord]:
    """Train every configured model kind on the slot's bars in the brain, storing each version
    as soon as it is ready so a watching console fills as versions land.

    `checkpoints`: the neural kinds save each epoch there and resume from what an earlier attempt
    of the run left; a kind's checkpoints are deleted once its version is stored (nothing is left
    to resume, and a brain should not grow by a network's optimizer state per retrain)."""
    frame = brain.load_bars(symbol, timeframe)
    if frame.is_empty():
        raise ValueError(f"the brain holds no {timeframe} bars for {symbol}; import data first")
    kinds = list(config.models)
    specs = {kind: spec_for(config, kind) for kind in kinds}  # bad specs fail before any work
    alt = {kind: alt_frames(brain, symbol, spec) for kind, spec in specs.items()}
    signals = sizing_signals(brain, symbol, timeframe, config, specs)  # no champion: refused now
    versions = []
    for position, kind in enumerate(kinds):
        slot = slot_for(brain, symbol, timeframe, specs[kind].target)
        previous = previous_versions(brain, slot.key, [kind]) if config.cadence == "incremental" else {}
        columns = None
        if config.selection is not None:
            from scheduler.services.selection import selected_columns

            recipe_columns = [c for c in input_columns(specs[kind]) if c not in specs[kind].alt_columns]
            columns = selected_columns(brain, slot.key, config.selection, recipe_columns)
        one_kind = config.model_copy(update={"models": [kind]})

        def report(fraction: float, message: str, values: dict | None = None, position=position,
                   key=slot.key) -> None:
            if progress is not None:
                _forward(progress, (position + fraction) / len(kinds), message,
                         None if values is None else {**values, "slot": key})

        scope = None if checkpoints is None else checkpoints.scoped(slot.key)
        (result,) = fit_models(
            frame, timeframe, one_kind, progress=report, label=f"{slot.key} ", previous=previous,
            alt=alt[kind], columns=columns, signals=signals, checkpoints=scope,
        )
        versions.append(store_result(brain, slot, result, actor=actor, regime_config=config.regimes))
        if scope is not None:
            scope.scoped(kind).clear()
    if config.ensemble is not None:
        versions += blend_fresh_versions(brain, versions, config.ensemble, progress=progress, actor=actor,
                                         regime_config=config.regimes)
    return versions


def sizing_signals(
    brain: Brain, symbol: str, timeframe: str, config: TrainingConfig, specs: Mapping[str, VersionSpec]
) -> dict[str, Any]:
    """Each sizing kind's signal (scheduler.services.sizing): the member of its slot it sizes on,
    with that member's out-of-sample forecasts; SignalError (one line) before anything is fitted."""
    from brain.registry import slot_key
    from scheduler.services.sizing import sizing_signal

    return {
        kind: sizing_signal(brain, slot_key(symbol, timeframe, spec.target.slot_target),
                            config.params.get(kind, {}), kind)
        for kind, spec in specs.items() if needs_signal(kind)
    }


def blend_fresh_versions(
    brain: Brain, versions: list[VersionRecord], method: str, *, progress: Progress | None = None,
    actor: str = "system", regime_config: RegimeConfig | None = None,
) -> list[VersionRecord]:
    """The meta-layer of a retrain: for each slot that got two or more fresh versions, an
    ensemble of them by `method` (scheduler.services.ensembles), stored like any version (its
    metrics by regime under `regime_config`)."""
    from scheduler.services.ensembles import train_ensemble

    by_slot: dict[str, list[int]] = {}
    for version in versions:
        by_slot.setdefault(version.slot_key, []).append(version.number)
    blends = []
    for slot_key, numbers in by_slot.items():
        if len(numbers) < 2:
            continue
        if progress is not None:
            progress(1.0, f"{slot_key} ensemble ({method}) of {', '.join(f'v{n}' for n in numbers)}")
        blends.append(train_ensemble(brain, slot_key, numbers, method, actor=actor,
                                     regime_config=regime_config))
    return blends


def _forward(progress: Progress, fraction: float, message: str, values: dict | None) -> None:
    """Pass a report on; epoch values only where there are some, so a caller's two-argument
    progress keeps working for kinds that have no epochs."""
    if values is None:
        progress(fraction, message)
    else:
        progress(fraction, message, values)
