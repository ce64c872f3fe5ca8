"""An ensemble as a version of a slot (seeds 000 / 003: the meta-layer blending models): member
versions of the same slot, combined by a method (average, performance_weighted, optimised,
stacking), trained, stored, served, compared and promoted like any version.

Honest evaluation, everywhere the weights are learned from out-of-fold predictions only:

- each member's out-of-sample predictions are rebuilt on the slot's bars over one fold layout
  (the newest member's folds), each fold refitted on its training period and the member's own
  spec (engine.abtest.replay_predictions, as an A/B replays a version);
- the ensemble's own walk-forward: fold k is predicted with weights (or a stacking meta-learner)
  fitted on the members' predictions of folds before k only; fold 0 uses equal weights;
- the stored combination is fitted on every fold's out-of-fold predictions.

Methods: average (equal weights); performance_weighted (engine.ensembles.performance_weights:
each member's out-of-fold Sharpe after costs); optimised (engine.ensembles.optimise_weights:
non-negative weights summing to one minimising the out-of-fold MSE); stacking (a ridge regression
of the target on the members' out-of-fold forecasts, with an unpenalised intercept). Members
combine their forecasts (regressors: bps; classifiers: the expected direction), so every member
must learn the same target; classifier ensembles are scored like classifiers on mae / rmse
against the direction labels (there are no blended class probabilities, so no accuracy / f1).

The version's manifest is self-contained (everything needed to rebuild it): its params hold the
method, each member's number, version id, artifact sha256 and stored manifest, the final weights
and each fold's weights. Its spec is the newest member's recipe, no preprocessing, the shared
target and the union of the members' alternative data, so `version_features` of the ensemble's
spec computes what the console and drift checks read (`features`). The artifact is JSON (format
"ensemble-json", data only, never a pickle): method, weights and intercept, and each member's
number, version id and artifact sha256 (engine.ensembles.serving loads it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ARTIFACT_FORMAT = "ensemble-json"
DOCUMENT_FORMAT = "huracan-ensemble/1"
KIND = "ensemble"
# The stacking meta-learner's ridge term, relative to the scale of the members' forecasts.
STACKING_RIDGE = 1e-3


class EnsembleError(ValueError):
    """An ensemble that cannot be trained or loaded; one line naming what."""


@dataclass(frozen=True)
class Combination:
    """How member forecasts (columns, in member order) become one: forecasts @ weights + intercept."""

    method: str
    weights: tuple[float, ...]
    intercept: float = 0.0

    def apply(self, forecasts: np.ndarray) -> np.ndarray:
        forecasts = np.asarray(forecasts, dtype=float).reshape(-1, len(self.weights))
        return forecasts @ np.asarray(self.weights, dtype=float) + self.intercept

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "weights": list(self.weights), "intercept": self.intercept}


@dataclass(frozen=True)
class MemberVersion:
    """A stored member version: what the ensemble records of it and replays it from."""

    number: int
    version_id: int
    artifact_sha256: str
    manifest: Mapping[str, Any]

    def to_json(self, *, with_manifest: bool = True) -> dict[str, Any]:
        document: dict[str, Any] = {
            "number": self.number, "version_id": self.version_id, "artifact_sha256": self.artifact_sha256,
        }
        if with_manifest:
            document["manifest"] = dict(self.manifest)
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> MemberVersion:
        return cls(int(document["number"]), int(document["version_id"]), str(document["artifact_sha256"]),
                   dict(document["manifest"]))


def fit_combination(
    method: str, forecasts: np.ndarray, target: np.ndarray, next_ret: np.ndarray,
    cost_bps: float, bars_per_year: float,
) -> Combination:
    """The combination `method` learns from out-of-fold forecasts (n, k) of `target` (next_ret:
    the next bar's return, which the performance weights trade on); equal weights where there is
    nothing to learn from yet (fewer than two rows)."""
    from engine.ensembles import optimise_weights, performance_weights

    forecasts = np.asarray(forecasts, dtype=float)
    k = forecasts.shape[1]
    if forecasts.shape[0] < 2 or method == "average":
        return Combination(method, tuple([1.0 / k] * k))
    if method == "performance_weighted":
        weights = performance_weights(forecasts.T, next_ret, metric="sharpe", cost_bps=cost_bps,
                                      periods_per_year=bars_per_year)
        return Combination(method, tuple(float(w) for w in weights))
    if method == "optimised":
        return Combination(method, tuple(float(w) for w in optimise_weights(forecasts, target, "mse")))
    if method == "stacking":
        # Ridge on the members' forecasts, the intercept unpenalised: a small linear meta-learner.
        centre_x, centre_y = forecasts.mean(axis=0), float(np.mean(target))
        Xc, yc = forecasts - centre_x, np.asarray(target, dtype=float) - centre_y
        penalty = STACKING_RIDGE * float(np.mean(Xc**2) or 1.0) * forecasts.shape[0]
        coef = np.linalg.solve(Xc.T @ Xc + penalty * np.eye(k), Xc.T @ yc)
        return Combination(method, tuple(float(c) for c in coef), float(centre_y - centre_x @ coef))
    raise EnsembleError(
        f"ensemble method {method!r}: one of average, performance_weighted, optimised, stacking"
    )


@dataclass(frozen=True)
class EnsembleFold:
    """One fold of the ensemble's walk-forward: the bars every member predicted, the members'
    out-of-fold forecasts there (n, k), what the bars realised, the combination fitted on the
    folds before this one, and the ensemble's forecasts."""

    timestamps: list
    forecasts: np.ndarray
    target: np.ndarray  # what the combination learns: the regression target, or direction labels
    next_ret: np.ndarray
    fwd: np.ndarray
    combination: Combination

    @property
    def prediction(self) -> np.ndarray:
        return self.combination.apply(self.forecasts)


def walk_forward(method: str, replays: Sequence[Sequence[Any]], *, task: str, threshold_bps: float,
                 cost_bps: float, bars_per_year: float) -> tuple[list[EnsembleFold], Combination]:
    """The ensemble's folds and its final combination from `replays[member][fold]`
    (engine.abtest.FoldReplay): fold k's combination is fitted on folds < k only; the final one
    on every fold. A fold's bars are those every member predicted."""
    n_folds = len(replays[0])
    folds: list[EnsembleFold] = []
    for index in range(n_folds):
        pieces = [member[index] for member in replays]
        bars = sorted(set.intersection(*(set(piece.timestamps) for piece in pieces)))
        positions = [{ts: i for i, ts in enumerate(piece.timestamps)} for piece in pieces]
        forecasts = np.column_stack([
            np.asarray(piece.prediction, dtype=float)[[where[ts] for ts in bars]]
            for piece, where in zip(pieces, positions, strict=True)
        ]).reshape(len(bars), len(pieces))
        first, at = pieces[0], [positions[0][ts] for ts in bars]
        fwd = np.asarray(first.fwd, dtype=float)[at]
        target = (_direction(fwd, threshold_bps) if task == "classification"
                  else np.asarray(first.target, dtype=float)[at])
        seen = folds  # the folds before this one, and only those
        combination = fit_combination(
            method,
            np.vstack([f.forecasts for f in seen]) if seen else np.empty((0, len(pieces))),
            np.concatenate([f.target for f in seen]) if seen else np.empty(0),
            np.concatenate([f.next_ret for f in seen]) if seen else np.empty(0),
            cost_bps, bars_per_year,
        )
        folds.append(EnsembleFold(bars, forecasts, target, np.asarray(first.next_ret, dtype=float)[at], fwd,
                                  combination))
    final = fit_combination(
        method, np.vstack([f.forecasts for f in folds]), np.concatenate([f.target for f in folds]),
        np.concatenate([f.next_ret for f in folds]), cost_bps, bars_per_year,
    )
    return folds, final


def _direction(fwd: np.ndarray, threshold_bps: float) -> np.ndarray:
    """engine.targets.add_direction's labels: 1 above the threshold, -1 below minus it, else 0."""
    return np.where(fwd > threshold_bps, 1.0, np.where(fwd < -threshold_bps, -1.0, 0.0))


def fold_metrics(fold: EnsembleFold | Sequence[EnsembleFold], *, task: str, target_kind: str,
                 cost_bps: float, bars_per_year: float) -> dict[str, float]:
    """Out-of-sample metrics as training reports them (engine.metrics.evaluate_predictions; a
    classifier ensemble's mae / rmse against the direction labels). Each fold's trading starts
    flat, as in training's per-fold metrics, so several folds are scored fold by fold for the
    Sharpe and together for the rest."""
    from engine.metrics import evaluate_predictions, mae, rmse, sharpe_ratio, strategy_returns

    folds = [fold] if isinstance(fold, EnsembleFold) else list(fold)
    prediction = np.concatenate([f.prediction for f in folds])
    truth = np.concatenate([f.fwd if target_kind == "direction" else f.target for f in folds])
    next_ret = np.concatenate([f.next_ret for f in folds])
    metrics = evaluate_predictions(truth, prediction, next_ret, cost_bps, bars_per_year)
    if len(folds) > 1:
        returns = np.concatenate([strategy_returns(f.prediction, f.next_ret, cost_bps) for f in folds])
        metrics["sharpe"] = sharpe_ratio(returns, bars_per_year)
    if task == "classification":
        labels = np.concatenate([f.target for f in folds])
        metrics["mae"], metrics["rmse"] = mae(labels, prediction), rmse(labels, prediction)
    return metrics


# ---- training -------------------------------------------------------------------------------


def check_members(members: Sequence[MemberVersion]):
    """The members' specs, refused (EnsembleError, one line) unless they can be combined: at least
    two, none an ensemble, distinct, the same target (kind, horizon, threshold) and timeframe."""
    from engine.pipeline import spec_of_manifest

    if len(members) < 2:
        raise EnsembleError(f"an ensemble needs at least 2 member versions, got {len(members)}")
    numbers = [member.number for member in members]
    if len(set(numbers)) != len(numbers):
        raise EnsembleError(f"members repeat a version ({', '.join(f'v{n}' for n in numbers)})")
    specs = []
    for member in members:
        if member.manifest.get("model_kind") == KIND:
            raise EnsembleError(f"v{member.number} is an ensemble itself; combine plain versions")
        if member.manifest.get("signal") is not None:  # engine.rl.signal: its prediction is a size
            raise EnsembleError(f"v{member.number} is a sizing agent (it predicts a position size, not a "
                                "forecast); combine forecasts")
        specs.append(spec_of_manifest(member.manifest))
    first = specs[0]
    for member, spec in zip(members[1:], specs[1:], strict=True):
        if spec.target != first.target:
            raise EnsembleError(
                f"v{member.number} learns {spec.target.describe()}, v{members[0].number} "
                f"{first.target.describe()}: members must learn the same target"
            )
        if member.manifest.get("timeframe") != members[0].manifest.get("timeframe"):
            raise EnsembleError(f"v{member.number} is on another timeframe than v{members[0].number}")
    return specs


def ensemble_spec(members: Sequence[MemberVersion], method: str):
    """The ensemble's spec: the newest member's recipe, no preprocessing, the shared target, the
    union of the members' alternative data (first staleness of a kind kept), model kind
    "ensemble" and the members by number (see the module docstring)."""
    from engine.spec import EnsembleSpec, ModelSpec, SpecError, VersionSpec

    specs = check_members(members)
    newest = specs[max(range(len(members)), key=lambda i: members[i].number)]
    alt: dict[str, Any] = {}
    for spec in specs:
        for item in spec.alt:
            alt.setdefault(item.kind, item)
    try:
        return VersionSpec(
            features=newest.features,
            target=newest.target,
            alt=tuple(alt.values()),
            model=ModelSpec(kind=KIND, params={}, seed=newest.model.seed),
            ensemble=EnsembleSpec(members=tuple(member.number for member in members), method=method),
        )
    except (ValueError, SpecError) as error:
        raise EnsembleError(f"ensemble spec: {_first_line(error)}") from None


def _first_line(error: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        from engine.spec import describe_validation

        return describe_validation(error)
    return str(error).splitlines()[0]


def members_of(manifest: Mapping[str, Any]) -> list[MemberVersion]:
    """The member versions an ensemble manifest records."""
    params = manifest.get("params") or {}
    if manifest.get("model_kind") != KIND or "members" not in params:
        raise EnsembleError("not an ensemble manifest (no members in its params)")
    return [MemberVersion.from_json(document) for document in params["members"]]


def replay_members(frame, members: Sequence[MemberVersion], folds, alt: Mapping | None):
    """Each member's out-of-fold predictions over `folds`, refitted per fold on its own spec."""
    from engine.abtest import replay_predictions

    replays = []
    for member in members:
        try:
            replays.append(replay_predictions(frame, member.manifest, folds, alt))
        except (ValueError, KeyError) as error:
            raise EnsembleError(f"member v{member.number}: {error}") from None
    return replays


def train_ensemble_version(
    frame, members: Sequence[MemberVersion], method: str, *, alt: Mapping | None = None,
):
    """An ensemble version of `members` on `frame` (the slot's bars): an
    engine.training.TrainingResult whose manifest and artifact the brain stores like any version's.
    EnsembleError (one line) when the members cannot be combined or replayed."""
    from engine.manifest import Manifest
    from engine.metrics import periods_per_year
    from engine.training import checked_single_symbol

    spec = ensemble_spec(members, method)
    newest = max(members, key=lambda member: member.number)
    layout = Manifest.from_json(newest.manifest)
    if not layout.folds:
        raise EnsembleError(f"v{newest.number} has no folds to lay the ensemble's walk-forward on")
    frame = checked_single_symbol(frame)
    task, cost_bps = layout.task, float(layout.cost_bps)
    bars_per_year = periods_per_year(layout.timeframe)
    replays = replay_members(frame, members, layout.folds, alt)
    folds, final = walk_forward(method, replays, task=task, threshold_bps=spec.target.threshold_bps,
                                cost_bps=cost_bps, bars_per_year=bars_per_year)
    empty = [fold.index for fold, ours in zip(layout.folds, folds, strict=True) if not ours.timestamps]
    if empty:
        raise EnsembleError(f"fold {empty[0]}: no bar that every member predicted")
    params = {
        **final.to_json(),
        "members": [member.to_json() for member in members],
        # What fold k was predicted with: fitted on the folds before it only.
        "fold_weights": [fold.combination.to_json() for fold in folds],
    }
    return combined_result(KIND, params=params, spec=spec, layout=layout, members=members, folds=folds,
                           frame=frame, artifact_format=ARTIFACT_FORMAT,
                           artifact=artifact_bytes(final, members))


def combined_result(
    kind: str, *, params: dict, spec, layout, members: Sequence[MemberVersion], folds: Sequence[Any], frame,
    artifact_format: str, artifact: bytes,
):
    """The engine.training.TrainingResult of a version that combines stored members' forecasts
    (an ensemble; engine.regimes.router's router): `folds` (EnsembleFold or RouterFold, one per
    fold of `layout`, the newest member's Manifest) its own walk-forward, each fold scored as
    training scores one (fold_metrics); the manifest of `kind` with `params` and the combined
    `spec`; the out-of-sample rows its metrics were computed from (fold k by the combination
    learned on the folds before it); `frame` the slot's bars it was trained on."""
    from dataclasses import replace

    import numpy

    from engine.data import data_fingerprint
    from engine.manifest import FoldRecord, Manifest
    from engine.metrics import periods_per_year
    from engine.models.base import Determinism
    from engine.pipeline import input_columns
    from engine.training import OutOfSample, TrainingResult

    task, cost_bps = layout.task, float(layout.cost_bps)
    scoring = {"task": task, "target_kind": spec.target.kind, "cost_bps": cost_bps,
               "bars_per_year": periods_per_year(layout.timeframe)}
    records = tuple(
        replace(record, metrics=fold_metrics([ours], **scoring)) for record, ours in zip(
            (FoldRecord.from_json(f.to_json()) for f in layout.folds), folds, strict=True)
    )
    ends = [Manifest.from_json(member.manifest).data_end for member in members]
    manifest = Manifest(
        model_kind=kind,
        params=params,
        features=tuple(input_columns(spec)),
        target=spec.target.column,
        horizon=spec.target.horizon,
        timeframe=layout.timeframe,
        cost_bps=cost_bps,
        seed=spec.model.seed,
        folds=records,
        metrics=fold_metrics(folds, **scoring),
        data_start=layout.data_start,
        data_end=max(ends),
        data_fingerprint=data_fingerprint(frame),
        n_rows=layout.n_rows,
        library_versions={"numpy": numpy.__version__},
        artifact_format=artifact_format,
        task=task,
        cadence="full",
        threshold_bps=layout.threshold_bps,
        determinism=Determinism.BITWISE,
        spec=spec.to_json(),
        spec_sha256=spec.digest(),
    )
    out_of_sample = OutOfSample(
        timestamps=tuple(ts for fold in folds for ts in fold.timestamps),
        prediction=numpy.concatenate([fold.prediction for fold in folds]),
        next_ret=numpy.concatenate([fold.next_ret for fold in folds]),
        fold=numpy.concatenate([numpy.full(len(ours.timestamps), record.index)
                                for record, ours in zip(records, folds, strict=True)]),
    )
    return TrainingResult(manifest=manifest, artifact=artifact, out_of_sample=out_of_sample)


def replay_ensemble(frame, manifest, folds, alt: Mapping | None = None) -> list:
    """An ensemble version's out-of-sample predictions over `folds` (engine.abtest.FoldReplay per
    fold), as engine.abtest.replay_predictions gives a plain version's: its members replayed on
    those folds, fold k combined with weights fitted on the folds before it only."""
    from engine.abtest import FoldReplay
    from engine.manifest import Manifest
    from engine.metrics import periods_per_year
    from engine.pipeline import spec_of_manifest

    document = manifest.to_json() if isinstance(manifest, Manifest) else dict(manifest)
    spec = spec_of_manifest(document)
    members = members_of(document)
    replays = replay_members(frame, members, folds, alt)
    ours, _final = walk_forward(
        spec.ensemble.method, replays, task=document.get("task", "regression"),
        threshold_bps=spec.target.threshold_bps, cost_bps=float(document["cost_bps"]),
        bars_per_year=periods_per_year(document["timeframe"]),
    )
    return [
        FoldReplay(timestamps=fold.timestamps, prediction=fold.prediction,
                   target=fold.fwd if spec.target.kind == "direction" else fold.target,
                   next_ret=fold.next_ret, fwd=fold.fwd)
        for fold in ours
    ]


# ---- the artifact ---------------------------------------------------------------------------


def artifact_bytes(combination: Combination, members: Sequence[MemberVersion]) -> bytes:
    """The ensemble's artifact: JSON, keys sorted, so the same ensemble gives the same bytes."""
    document = {
        "format": DOCUMENT_FORMAT,
        **combination.to_json(),
        "members": [member.to_json(with_manifest=False) for member in members],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def read_artifact(data: bytes) -> tuple[Combination, list[dict[str, Any]]]:
    """An ensemble artifact back: (combination, [{number, version_id, artifact_sha256}]);
    EnsembleError for anything that is not one."""
    try:
        document = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EnsembleError(f"ensemble artifact: not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != DOCUMENT_FORMAT:
        raise EnsembleError(f"ensemble artifact: not a {DOCUMENT_FORMAT} document")
    try:
        members = [dict(member) for member in document["members"]]
        weights = tuple(float(w) for w in document["weights"])
        combination = Combination(str(document["method"]), weights, float(document.get("intercept", 0.0)))
    except (KeyError, TypeError, ValueError) as error:
        raise EnsembleError(f"ensemble artifact: malformed ({error})") from None
    if len(weights) != len(members) or len(members) < 2:
        raise EnsembleError("ensemble artifact: weights and members do not match")
    return combination, members
