"""A stored version, ready to forecast: what training fitted is what serving applies.

`load_servable` takes a version's manifest, its model artifact and a way to fetch other
artifacts by address (the brain's `load_artifact`, which refuses bytes that no longer hash to
their address), and gives a `Servable`: the spec, the model (engine.models.load_model, sha256
and format checked) and the fitted preprocessing (engine.preprocessing.load_steps, skops with a
trust list, its sha256 checked against the manifest before loading). Its `predict` turns a
version's raw inputs (engine.pipeline.version_features) into forecasts as training's folds did:
the fitted steps, then the model, with the rows before as context for sequence models.

`huracan predict`, the live loop and A/B replays all forecast through a Servable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from engine.manifest import Manifest
from engine.pipeline import alt_stamp_column, spec_of_manifest, version_features
from engine.spec import ImputeStep, VersionSpec

# A spec's features over the series being served (the live loop computes each once per tick).
FeaturesOf = Callable[[VersionSpec], pl.DataFrame]


@dataclass(frozen=True)
class Gap:
    """A bar a version was asked to forecast and could not, and why: alt_missing (no value at
    or before the bar), alt_stale (the newest one is older than max_staleness) or
    features_not_ready."""

    ts: datetime
    state: str
    detail: str


@dataclass(frozen=True)
class Forecast:
    """A version's forecasts of the bars it could serve (`ts`, in order), the inputs an online
    learner beside it reads for them (`X`), and the bars it could not serve (`gaps`)."""

    ts: list[datetime]
    batch: np.ndarray
    X: np.ndarray
    gaps: list[Gap] = field(default_factory=list)


@dataclass(frozen=True)
class ReadyRows:
    """The bars a version can forecast (`ts`, in order) and their raw inputs (`X`, a row each)."""

    ts: list[datetime]
    X: np.ndarray

    @cached_property
    def index(self) -> dict[datetime, int]:
        return {ts: i for i, ts in enumerate(self.ts)}


@dataclass(frozen=True)
class Servable:
    manifest: Manifest
    spec: VersionSpec
    model: Any
    steps: Any = None  # engine.preprocessing.FittedSteps, or None for a spec without steps
    _ready: list = field(default_factory=list, compare=False, repr=False)  # [features, its ReadyRows]

    @property
    def inputs(self) -> list[str]:
        """The raw input columns, in the order the model was trained on."""
        return list(self.manifest.features)

    @property
    def missing_allowed(self) -> tuple[str, ...]:
        """Inputs that may be missing on a bar: alt-data columns, when the spec imputes."""
        imputes = any(isinstance(step, ImputeStep) for step in self.spec.preprocessing)
        return self.spec.alt_columns if imputes else ()

    def ready(self, features: pl.DataFrame) -> ReadyRows:
        """The rows of a version_features frame that this version can forecast: every input
        finite (an alt column the spec imputes may be missing, never infinite), as a matrix in
        the model's input order. ValueError when the frame lacks an input the model was trained
        on (a manifest its spec does not explain). The live tick asks for one frame several
        times: the last answer is kept for it."""
        memo = self._ready
        if memo and memo[0] is features:
            return memo[1]
        missing = [name for name in self.inputs if name not in features.columns]
        if missing:
            raise ValueError(
                f"the features do not match the model's manifest: missing {', '.join(missing)} "
                f"(its spec computes {len(features.columns)} columns from recipe {self.spec.features.recipe})"
            )
        # One matrix, judged in numpy (nulls arrive as NaN): what engine.pipeline.usable_feature_rows
        # keeps, without filtering every column of the frame in polars.
        X = features.select(self.inputs).to_numpy().astype(float)
        loose = np.isin(self.inputs, self.missing_allowed)
        keep = np.isfinite(X[:, ~loose]).all(axis=1) & ~np.isinf(X[:, loose]).any(axis=1)
        rows = np.flatnonzero(keep)
        timestamps = features["ts"].to_list()
        ready = ReadyRows([timestamps[i] for i in rows], X[rows])
        memo[:] = [features, ready]
        return ready

    def predict(self, X: np.ndarray, rows: range) -> np.ndarray:
        """Forecasts for raw inputs X[rows] (X: ready rows in ts order, the rows before serving
        sequence models as context)."""
        from engine.training import predict_rows

        start = max(rows.start - self.model.context_rows, 0)
        block = np.asarray(X[start : rows.stop], dtype=float)
        inputs = block if self.steps is None else np.asarray(self.steps.transform(block), dtype=float)
        prediction, _proba = predict_rows(self.model, inputs, range(rows.start - start, rows.stop - start))
        return prediction

    def candidates(self, features_of: FeaturesOf) -> list[datetime]:
        """The bars of the series this version could be asked to forecast."""
        return features_of(self.spec)["ts"].to_list()

    def forecast(self, features_of: FeaturesOf, wanted: Sequence[datetime]) -> Forecast:
        """Forecasts of the `wanted` bars whose inputs are ready; the others are gaps."""
        features = features_of(self.spec)
        ready = self.ready(features)
        index = ready.index
        positions = [index[ts] for ts in wanted if ts in index]
        gaps = describe_gaps(self.spec, features, [ts for ts in wanted if ts not in index])
        if not positions:
            return Forecast([], np.empty(0), np.empty((0, len(self.inputs))), gaps)
        # Sequence models read the rows before as context, so predict the contiguous block.
        block = self.predict(ready.X, range(positions[0], positions[-1] + 1))
        batch = block[np.asarray(positions) - positions[0]]
        return Forecast([ready.ts[p] for p in positions], batch, ready.X[positions], gaps)

    def learner_inputs(
        self, features_of: FeaturesOf, bars: Sequence[datetime]
    ) -> tuple[list[datetime], np.ndarray]:
        """(the bars of `bars` this version has inputs for, those inputs): what an online learner
        beside the version learns from once their outcomes are known."""
        ready = self.ready(features_of(self.spec))
        positions = [ready.index[ts] for ts in sorted(bars) if ts in ready.index]
        return [ready.ts[p] for p in positions], ready.X[positions]

    def predict_frame(
        self, bars: pl.DataFrame, alt: Mapping[str, pl.DataFrame] | None = None
    ) -> pl.DataFrame:
        """(ts, prediction) for every bar of a one-symbol OHLCV frame whose inputs are ready."""
        from engine.training import checked_single_symbol

        bars = checked_single_symbol(bars)
        ready = self.ready(version_features(bars, self.spec, alt))
        if not ready.ts:
            raise ValueError(
                f"no bar of the file has all {len(self.inputs)} features warmed up ({bars.height} bars)"
            )
        prediction = self.predict(ready.X, range(0, ready.X.shape[0]))
        return pl.DataFrame({"ts": ready.ts, "prediction": prediction.astype(float)},
                            schema={"ts": bars.schema["ts"], "prediction": pl.Float64})


def describe_gaps(spec: VersionSpec, features: pl.DataFrame, bars: Sequence[datetime]) -> list[Gap]:
    """Why each of `bars` has no ready inputs (see Gap)."""
    if not bars:
        return []
    found = []
    for record in features.filter(pl.col("ts").is_in(list(bars))).iter_rows(named=True):
        gap = Gap(record["ts"], "features_not_ready", "features not warmed up or not finite")
        for item in spec.alt:
            if all(record.get(column) is not None for column in item.columns):
                continue
            stamp = record.get(alt_stamp_column(item.kind))
            if stamp is None:
                gap = Gap(record["ts"], "alt_missing", f"{item.kind}: no value at or before the bar")
            else:
                gap = Gap(
                    record["ts"],
                    "alt_stale",
                    f"{item.kind}: last value {stamp:%Y-%m-%d %H:%M} is {_age(record['ts'] - stamp)} old "
                    f"(max {item.max_staleness})",
                )
            break
        found.append(gap)
    return found


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f}d" if hours >= 48 else f"{hours:.1f}h"


def load_servable(
    manifest: Mapping[str, Any],
    artifact: bytes,
    *,
    sha256: str,
    load_artifact: Callable[[str], bytes],
) -> Servable:
    """A version's Servable (see the module docstring). ValueError when an artifact does not hash
    to the address the manifest gives, or is not in the declared format."""
    from engine.models import load_model

    if manifest.get("model_kind") == "ensemble":
        from engine.ensembles.serving import load_ensemble

        if hashlib.sha256(artifact).hexdigest() != sha256:
            raise ValueError(f"ensemble artifact {sha256[:12]} failed its sha256 check")
        return load_ensemble(manifest, artifact, load_artifact=load_artifact)
    document = Manifest.from_json(manifest)
    spec = spec_of_manifest(manifest)
    model = load_model(
        document.model_kind, artifact, sha256=sha256, artifact_format=manifest.get("artifact_format", "")
    )
    steps = None
    if document.preprocessor is not None:
        from engine.preprocessing import load_steps

        address = str(document.preprocessor["sha256"])
        data = load_artifact(address)
        if hashlib.sha256(data).hexdigest() != address:
            raise ValueError(f"preprocessing artifact {address[:12]} failed its sha256 check")
        steps = load_steps(data, spec.preprocessing, document.features)
    return Servable(manifest=document, spec=spec, model=model, steps=steps)


def servable_from_result(result) -> Servable:
    """A Servable of a training run still in memory (engine.training.TrainingResult): its bytes
    go through the same loading checks as a stored version's."""
    artifacts = (
        {}
        if result.preprocessor is None
        else {hashlib.sha256(result.preprocessor).hexdigest(): result.preprocessor}
    )
    return load_servable(
        result.manifest.to_json(),
        result.artifact,
        sha256=hashlib.sha256(result.artifact).hexdigest(),
        load_artifact=artifacts.__getitem__,
    )
