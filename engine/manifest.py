"""The manifest of a trained version: what it is and everything needed to rebuild it, artifact aside.

Training makes one (`TrainingResult.manifest`); the brain stores it as a plain JSON document (the
brain knows nothing of the engine) and readers get it back with `Manifest.from_json`. Inside, times
are UTC datetimes; they become ISO-8601 strings only in `to_json`, the very strings stored since
the first release, so stored rows, CLI output and snapshots do not change.

`from_json` reads every manifest written so far: the keys that came with the zoo (task, cadence,
threshold_bps, early_stopping, warm_start_from), determinism and position_rule take their
defaults where missing, a sizing agent's signal member and the brain's artifact_sha256 and the
scheduler's slot are optional, and keys it does not know (written by a newer Huracan) are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from engine.models.base import Determinism


def _time(value: str | datetime) -> datetime:
    """A stored ISO-8601 string (or a datetime) as a UTC-aware datetime; naive times are UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class FoldRecord:
    """One walk-forward fold: its row positions (half-open ranges over the usable rows), its
    out-of-sample metrics, and the first / last bar of its training and test periods."""

    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int
    metrics: dict[str, float]
    train_start_ts: datetime
    train_end_ts: datetime
    test_start_ts: datetime
    test_end_ts: datetime

    @property
    def train_rows(self) -> int:
        return self.train_end - self.train_start

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "train_start": self.train_start,
            "train_end": self.train_end,
            "test_start": self.test_start,
            "test_end": self.test_end,
            "metrics": dict(self.metrics),
            "train_start_ts": self.train_start_ts.isoformat(),
            "train_end_ts": self.train_end_ts.isoformat(),
            "test_start_ts": self.test_start_ts.isoformat(),
            "test_end_ts": self.test_end_ts.isoformat(),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> FoldRecord:
        return cls(
            index=int(document["index"]),
            train_start=int(document["train_start"]),
            train_end=int(document["train_end"]),
            test_start=int(document["test_start"]),
            test_end=int(document["test_end"]),
            metrics=dict(document["metrics"]),
            train_start_ts=_time(document["train_start_ts"]),
            train_end_ts=_time(document["train_end_ts"]),
            test_start_ts=_time(document["test_start_ts"]),
            test_end_ts=_time(document["test_end_ts"]),
        )


@dataclass(frozen=True)
class Manifest:
    """How a version was made. Field order is the stored document's key order."""

    model_kind: str
    params: dict[str, Any]
    features: tuple[str, ...]
    target: str  # e.g. "fwd_ret_1" (regression) or "direction_1" (classification)
    horizon: int
    timeframe: str
    cost_bps: float
    seed: int
    folds: tuple[FoldRecord, ...]
    metrics: dict[str, float]  # over the concatenation of every fold's out-of-sample predictions
    data_start: datetime  # first usable bar
    data_end: datetime  # last usable bar
    data_fingerprint: str  # of the whole input frame (warm-up rows feed the features too)
    n_rows: int  # usable rows: no warm-up nulls, known target
    library_versions: dict[str, str]
    artifact_format: str
    task: str = "regression"
    cadence: str = "full"
    threshold_bps: float | None = None  # classifiers: the direction label's threshold
    early_stopping: bool = False
    warm_start_from: datetime | None = None  # incremental: the previous version's data_end
    # Whether the same training gives the same artifact bytes (unrecorded in older manifests).
    determinism: Determinism = Determinism.UNRECORDED
    # The version's spec (engine.spec.VersionSpec.to_json()) and its sha256; None in manifests
    # written before specs existed (engine.pipeline.spec_of_manifest says what they were).
    spec: dict[str, Any] | None = None
    spec_sha256: str | None = None
    # The fitted preprocessing artifact: {"sha256", "format", "outputs"}; None without steps.
    preprocessor: dict[str, Any] | None = None
    # How a prediction becomes a position (engine.metrics.POSITION_RULES): "sign" for forecasts,
    # "size" for a sizing agent; stored only when not "sign", so older documents read the same.
    position_rule: str = "sign"
    # The member version a sizing agent reads its signal from (engine.rl.signal): number,
    # version_id, artifact_sha256 and its stored manifest; None for every other version.
    signal: dict[str, Any] | None = None
    slot: str | None = None  # set when stored (scheduler.services.training)
    artifact_sha256: str | None = None  # set by the brain when stored

    def for_slot(self, slot_key: str) -> Manifest:
        return replace(self, slot=slot_key)

    def to_json(self) -> dict[str, Any]:
        """The JSON document the brain stores; slot and artifact_sha256 only once they are set."""
        document: dict[str, Any] = {
            "model_kind": self.model_kind,
            "params": dict(self.params),
            "features": list(self.features),
            "target": self.target,
            "horizon": self.horizon,
            "timeframe": self.timeframe,
            "cost_bps": self.cost_bps,
            "seed": self.seed,
            "folds": [fold.to_json() for fold in self.folds],
            "metrics": dict(self.metrics),
            "data_start": self.data_start.isoformat(),
            "data_end": self.data_end.isoformat(),
            "data_fingerprint": self.data_fingerprint,
            "n_rows": self.n_rows,
            "library_versions": dict(self.library_versions),
            "artifact_format": self.artifact_format,
            "task": self.task,
            "cadence": self.cadence,
            "threshold_bps": self.threshold_bps,
            "early_stopping": self.early_stopping,
            "warm_start_from": None if self.warm_start_from is None else self.warm_start_from.isoformat(),
            "determinism": str(self.determinism),
        }
        if self.spec is not None:
            document["spec"] = self.spec
            document["spec_sha256"] = self.spec_sha256
        if self.preprocessor is not None:
            document["preprocessor"] = dict(self.preprocessor)
        if self.position_rule != "sign":
            document["position_rule"] = self.position_rule
        if self.signal is not None:
            document["signal"] = dict(self.signal)
        if self.slot is not None:
            document["slot"] = self.slot
        if self.artifact_sha256 is not None:
            document["artifact_sha256"] = self.artifact_sha256
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Manifest:
        """A stored manifest; KeyError names a missing key that every manifest has."""
        warm = document.get("warm_start_from")
        threshold = document.get("threshold_bps")
        return cls(
            model_kind=document["model_kind"],
            params=dict(document["params"]),
            features=tuple(document["features"]),
            target=document["target"],
            horizon=int(document["horizon"]),
            timeframe=document["timeframe"],
            cost_bps=document["cost_bps"],
            seed=document["seed"],
            folds=tuple(FoldRecord.from_json(fold) for fold in document["folds"]),
            metrics=dict(document["metrics"]),
            data_start=_time(document["data_start"]),
            data_end=_time(document["data_end"]),
            data_fingerprint=document["data_fingerprint"],
            n_rows=int(document["n_rows"]),
            library_versions=dict(document["library_versions"]),
            artifact_format=document["artifact_format"],
            task=document.get("task", "regression"),
            cadence=document.get("cadence", "full"),
            threshold_bps=None if threshold is None else float(threshold),
            early_stopping=bool(document.get("early_stopping", False)),
            warm_start_from=None if warm is None else _time(warm),
            determinism=Determinism(document.get("determinism", Determinism.UNRECORDED)),
            spec=document.get("spec"),
            spec_sha256=document.get("spec_sha256"),
            preprocessor=document.get("preprocessor"),
            position_rule=position_rule_of(document),
            signal=document.get("signal"),
            slot=document.get("slot"),
            artifact_sha256=document.get("artifact_sha256"),
        )


def position_rule_of(document: Mapping[str, Any]) -> str:
    """A stored manifest's position rule (engine.metrics.POSITION_RULES); "sign" where it has none."""
    return str(document.get("position_rule") or "sign")
