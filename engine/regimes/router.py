"""A regime router as a version of a slot (issue 17, switching): member versions of the same slot,
and per causal regime label of one axis (engine.regimes.labels) the member to follow, or weights
over the members; trained, stored, served, compared and promoted like any version.

Honest evaluation, as for ensembles (engine.ensembles.version), whose member replay this reuses:

- each member's out-of-sample predictions are rebuilt on the slot's bars over one fold layout
  (the newest member's folds), each fold refitted on its training period and the member's own
  spec (engine.abtest.replay_predictions);
- the router's own walk-forward: fold k is predicted with a routing learned on the members'
  predictions of folds before k only; fold 0, with nothing before it, by equal weights;
- the stored routing is learned on every fold's out-of-fold rows.

A routing: per regime label with at least `min_rows` out-of-fold rows, method select follows the
member with the best out-of-fold Sharpe after costs on that regime's rows; method weighted blends
them by engine.ensembles.performance_weights on those rows. A regime with fewer rows, a label the
routing never saw and a null label (not enough history yet) take the fallback: the same rule on
every row. Each bar's label is the causal one (computed from the bars up to it only), so the
label a bar is routed by at serve time is the label it had in training.

The manifest is self-contained: its params hold the routing, each member's number, version id,
artifact sha256 and stored manifest, and each fold's routing; its spec (kind "regime_router")
holds the members, the axis, the method, min_rows and the labelling config, so replays and
serving compute the same labels. The artifact is JSON ("router-json", data only, never a
pickle): the routing and each member's number, version id and artifact sha256.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from engine.ensembles.version import MemberVersion
from engine.spec import ROUTER_KIND as KIND

ARTIFACT_FORMAT = "router-json"
DOCUMENT_FORMAT = "huracan-router/1"
FALLBACK = "fallback"  # how the routing names the rule of a label without a route of its own


class RouterError(ValueError):
    """A router that cannot be trained or loaded; one line naming what."""


@dataclass(frozen=True)
class Routing:
    """Member weights per regime label (forecast columns in member order); `fallback` for any
    other label and for None. `rows`: the out-of-fold rows each label was learned from."""

    method: str
    fallback: tuple[float, ...]
    routes: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    rows: Mapping[str, int] = field(default_factory=dict)

    def weights_for(self, label: str | None) -> tuple[float, ...]:
        return self.fallback if label is None else self.routes.get(label, self.fallback)

    def route_of(self, label: str | None) -> str:
        """The label's own route, or "fallback"."""
        return label if label is not None and label in self.routes else FALLBACK

    def apply(self, forecasts: np.ndarray, labels: Sequence[str | None]) -> np.ndarray:
        """Row i: forecasts[i] @ the weights of labels[i]."""
        forecasts = np.asarray(forecasts, dtype=float).reshape(-1, len(self.fallback))
        if len(labels) != forecasts.shape[0]:
            raise ValueError(f"{forecasts.shape[0]} forecast rows but {len(labels)} labels")
        weights = np.asarray([self.weights_for(label) for label in labels], dtype=float)
        return (forecasts * weights.reshape(forecasts.shape)).sum(axis=1)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "fallback": list(self.fallback),
            "routes": {label: list(weights) for label, weights in sorted(self.routes.items())},
            "rows": dict(sorted(self.rows.items())),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Routing:
        fallback = tuple(float(w) for w in document["fallback"])
        routes = {
            str(label): tuple(float(w) for w in weights) for label, weights in document["routes"].items()
        }
        if any(len(weights) != len(fallback) for weights in routes.values()):
            raise ValueError("a route's weights do not match the members")
        return cls(
            str(document["method"]),
            fallback,
            routes,
            {str(label): int(n) for label, n in (document.get("rows") or {}).items()},
        )

    def describe(self, numbers: Sequence[int]) -> str:
        """ "ranging → v2; trending_up → v1; fallback → v1" (weights where it blends)."""

        def one(weights: tuple[float, ...]) -> str:
            top = max(range(len(weights)), key=lambda i: weights[i])
            if math.isclose(weights[top], 1.0):
                return f"v{numbers[top]}"
            return " ".join(f"v{n} {w:.2f}" for n, w in zip(numbers, weights, strict=True) if w > 0)

        parts = [f"{label} → {one(weights)}" for label, weights in sorted(self.routes.items())]
        return "; ".join([*parts, f"{FALLBACK} → {one(self.fallback)}"])


def _rule(
    method: str, forecasts: np.ndarray, next_ret: np.ndarray, cost_bps: float, bars_per_year: float
) -> tuple[float, ...]:
    """The weights `method` learns from forecasts (n, k) and the next bar's returns."""
    from engine.ensembles import performance_weights
    from engine.metrics import sharpe_ratio, strategy_returns

    k = forecasts.shape[1]
    if forecasts.shape[0] < 2:
        return tuple([1.0 / k] * k)
    if method == "weighted":
        weights = performance_weights(
            forecasts.T, next_ret, metric="sharpe", cost_bps=cost_bps, periods_per_year=bars_per_year
        )
        return tuple(float(w) for w in weights)
    scores = [
        sharpe_ratio(strategy_returns(forecasts[:, j], next_ret, cost_bps), bars_per_year) for j in range(k)
    ]
    finite = [s if np.isfinite(s) else -math.inf for s in scores]
    if all(s == -math.inf for s in finite):
        return tuple([1.0 / k] * k)
    best = max(range(k), key=lambda j: finite[j])  # ties: the first member
    return tuple(1.0 if j == best else 0.0 for j in range(k))


def fit_routing(
    method: str,
    forecasts: np.ndarray,
    labels: Sequence[str | None],
    next_ret: np.ndarray,
    *,
    min_rows: int,
    cost_bps: float,
    bars_per_year: float,
) -> Routing:
    """The routing `method` learns from out-of-fold forecasts (n, k), each row's regime label
    and the next bar's returns (see the module docstring)."""
    forecasts = np.asarray(forecasts, dtype=float)
    next_ret = np.asarray(next_ret, dtype=float)
    labels = list(labels)
    fallback = _rule(method, forecasts, next_ret, cost_bps, bars_per_year)
    routes: dict[str, tuple[float, ...]] = {}
    rows: dict[str, int] = {}
    for label in sorted({label for label in labels if label is not None}):
        mask = np.asarray([one == label for one in labels])
        rows[label] = int(mask.sum())
        if rows[label] >= min_rows:
            routes[label] = _rule(method, forecasts[mask], next_ret[mask], cost_bps, bars_per_year)
    return Routing(method, fallback, routes, rows)


# ---- the walk-forward -----------------------------------------------------------------------


@dataclass(frozen=True)
class RouterFold:
    """One fold's bars that every member predicted, their regime labels, the members' forecasts
    and what they realised, and the routing learned on the folds before it."""

    timestamps: list
    labels: list
    forecasts: np.ndarray
    target: np.ndarray  # the regression target, or direction labels for classifiers
    next_ret: np.ndarray
    fwd: np.ndarray
    routing: Routing

    @property
    def prediction(self) -> np.ndarray:
        return self.routing.apply(self.forecasts, self.labels)


def walk_forward(
    method: str,
    replays: Sequence[Sequence[Any]],
    labels: Mapping[datetime, str | None],
    *,
    task: str,
    threshold_bps: float,
    cost_bps: float,
    bars_per_year: float,
    min_rows: int,
) -> tuple[list[RouterFold], Routing]:
    """The router's folds and its final routing from `replays[member][fold]`
    (engine.abtest.FoldReplay) and each bar's causal label: fold k's routing is learned on folds
    < k only; the final one on every fold. A fold's bars are those every member predicted."""
    from engine.ensembles.version import _direction

    folds: list[RouterFold] = []
    k = len(replays)
    for index in range(len(replays[0])):
        pieces = [member[index] for member in replays]
        bars = sorted(set.intersection(*(set(piece.timestamps) for piece in pieces)))
        positions = [{ts: i for i, ts in enumerate(piece.timestamps)} for piece in pieces]
        forecasts = np.column_stack(
            [
                np.asarray(piece.prediction, dtype=float)[[where[ts] for ts in bars]]
                for piece, where in zip(pieces, positions, strict=True)
            ]
        ).reshape(len(bars), k)
        first, at = pieces[0], [positions[0][ts] for ts in bars]
        fwd = np.asarray(first.fwd, dtype=float)[at]
        target = (
            _direction(fwd, threshold_bps)
            if task == "classification"
            else np.asarray(first.target, dtype=float)[at]
        )
        seen = folds  # the folds before this one, and only those
        routing = fit_routing(
            method,
            np.vstack([f.forecasts for f in seen]) if seen else np.empty((0, k)),
            [label for f in seen for label in f.labels],
            np.concatenate([f.next_ret for f in seen]) if seen else np.empty(0),
            min_rows=min_rows,
            cost_bps=cost_bps,
            bars_per_year=bars_per_year,
        )
        folds.append(
            RouterFold(
                bars,
                [labels.get(ts) for ts in bars],
                forecasts,
                target,
                np.asarray(first.next_ret, dtype=float)[at],
                fwd,
                routing,
            )
        )
    final = fit_routing(
        method,
        np.vstack([f.forecasts for f in folds]),
        [label for f in folds for label in f.labels],
        np.concatenate([f.next_ret for f in folds]),
        min_rows=min_rows,
        cost_bps=cost_bps,
        bars_per_year=bars_per_year,
    )
    return folds, final


# ---- labels ---------------------------------------------------------------------------------


def regime_labels(bars, regimes: Mapping[str, Any], axis: str) -> dict[datetime, str | None]:
    """Each bar's causal label on `axis` (engine.regimes.labels.label_regimes under the config
    `regimes`, the router spec's), by bar time."""
    from engine.ensembles.version import _first_line
    from engine.regimes.labels import RegimeConfig, label_regimes

    try:
        config = RegimeConfig.model_validate(dict(regimes))
    except ValueError as error:
        raise RouterError(f"router regimes config: {_first_line(error)}") from None
    frame = label_regimes(bars, config)
    if axis not in frame.columns:
        raise RouterError(
            f"router axis {axis!r}: the labelling config gives no such labels "
            f"(it gives {', '.join(c for c in frame.columns if c != 'ts')})"
        )
    return dict(zip(frame["ts"].to_list(), frame[axis].to_list(), strict=True))


def labels_by_bar(labels, axis: str) -> dict[datetime, str | None]:
    """A labels frame (ts and one column per axis, as engine.regimes.labels gives) by bar time."""
    if axis not in labels.columns:
        raise RouterError(f"router axis {axis!r}: the labels hold {', '.join(labels.columns)}")
    return dict(zip(labels["ts"].to_list(), labels[axis].to_list(), strict=True))


# ---- training -------------------------------------------------------------------------------


def check_members(members: Sequence[MemberVersion]):
    """The members' specs, refused (RouterError, one line) unless a router can switch between
    them: at least two, distinct, none a router or a sizing agent, one target and timeframe."""
    from engine.pipeline import spec_of_manifest

    if len(members) < 2:
        raise RouterError(f"a router needs at least 2 member versions, got {len(members)}")
    numbers = [member.number for member in members]
    if len(set(numbers)) != len(numbers):
        raise RouterError(f"members repeat a version ({', '.join(f'v{n}' for n in numbers)})")
    specs = []
    for member in members:
        if member.manifest.get("model_kind") == KIND:
            raise RouterError(f"v{member.number} is a router itself; route between plain versions")
        if member.manifest.get("signal") is not None:
            raise RouterError(
                f"v{member.number} is a sizing agent (it predicts a position size, not a "
                "forecast); route between forecasts"
            )
        specs.append(spec_of_manifest(member.manifest))
    for member, spec in zip(members[1:], specs[1:], strict=True):
        if spec.target != specs[0].target:
            raise RouterError(
                f"v{member.number} learns {spec.target.describe()}, v{members[0].number} "
                f"{specs[0].target.describe()}: members must learn the same target"
            )
        if member.manifest.get("timeframe") != members[0].manifest.get("timeframe"):
            raise RouterError(f"v{member.number} is on another timeframe than v{members[0].number}")
    return specs


def router_spec(
    members: Sequence[MemberVersion], *, axis: str, method: str, min_rows: int, regimes: Mapping[str, Any]
):
    """The router's spec: the newest member's recipe, no preprocessing, the shared target, the
    union of the members' alternative data, model kind "regime_router" and the router entry."""
    from engine.ensembles.version import _first_line
    from engine.spec import ModelSpec, RouterSpec, SpecError, VersionSpec

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
            router=RouterSpec.model_validate(
                {
                    "members": [member.number for member in members],
                    "axis": axis,
                    "method": method,
                    "min_rows": min_rows,
                    "regimes": dict(regimes),
                }
            ),
        )
    except (ValueError, SpecError) as error:
        raise RouterError(f"router spec: {_first_line(error)}") from None


def members_of(manifest: Mapping[str, Any]) -> list[MemberVersion]:
    """The member versions a router manifest records."""
    params = manifest.get("params") or {}
    if manifest.get("model_kind") != KIND or "members" not in params:
        raise RouterError("not a router manifest (no members in its params)")
    return [MemberVersion.from_json(document) for document in params["members"]]


def _replay(frame, members: Sequence[MemberVersion], folds, alt: Mapping | None):
    from engine.ensembles.version import EnsembleError, replay_members

    try:
        return replay_members(frame, members, folds, alt)
    except EnsembleError as error:
        raise RouterError(str(error)) from None


def train_router_version(
    frame,
    members: Sequence[MemberVersion],
    *,
    axis: str = "trend",
    method: str = "select",
    min_rows: int = 30,
    regimes: Mapping[str, Any] | None = None,
    labels=None,
    alt: Mapping | None = None,
):
    """A router version of `members` on `frame` (the slot's bars): an engine.training
    TrainingResult the brain stores like any version's. `labels`: the bars' causal labels (a
    frame: ts and the axis' column, e.g. the brain's stored ones); None computes them from
    `frame` under `regimes`. RouterError (one line) when the members cannot be routed."""
    from engine.ensembles.version import combined_result
    from engine.manifest import Manifest
    from engine.metrics import periods_per_year
    from engine.training import checked_single_symbol

    regimes = dict(regimes or {})
    spec = router_spec(members, axis=axis, method=method, min_rows=min_rows, regimes=regimes)
    newest = max(members, key=lambda member: member.number)
    layout = Manifest.from_json(newest.manifest)
    if not layout.folds:
        raise RouterError(f"v{newest.number} has no folds to lay the router's walk-forward on")
    frame = checked_single_symbol(frame)
    by_bar = regime_labels(frame, regimes, axis) if labels is None else labels_by_bar(labels, axis)
    task, cost_bps = layout.task, float(layout.cost_bps)
    bars_per_year = periods_per_year(layout.timeframe)
    replays = _replay(frame, members, layout.folds, alt)
    folds, final = walk_forward(
        method,
        replays,
        by_bar,
        task=task,
        threshold_bps=spec.target.threshold_bps,
        cost_bps=cost_bps,
        bars_per_year=bars_per_year,
        min_rows=min_rows,
    )
    empty = [fold.index for fold, ours in zip(layout.folds, folds, strict=True) if not ours.timestamps]
    if empty:
        raise RouterError(f"fold {empty[0]}: no bar that every member predicted")
    params = {
        **final.to_json(),
        "axis": axis,
        "members": [member.to_json() for member in members],
        # What fold k was routed with: learned on the folds before it only.
        "fold_routings": [fold.routing.to_json() for fold in folds],
    }
    # A RouterFold is scored, and its rows stored, as an EnsembleFold is.
    return combined_result(KIND, params=params, spec=spec, layout=layout, members=members, folds=folds,
                           frame=frame, artifact_format=ARTIFACT_FORMAT,
                           artifact=artifact_bytes(final, axis, members))


def replay_router(frame, manifest, folds, alt: Mapping | None = None) -> list:
    """A router version's out-of-sample predictions over `folds` (engine.abtest.FoldReplay per
    fold), as engine.abtest.replay_predictions gives a plain version's: its members replayed on
    those folds, fold k routed by a routing learned on the folds before it only, each bar by its
    causal label under the router's own labelling config."""
    from engine.abtest import FoldReplay
    from engine.manifest import Manifest
    from engine.metrics import periods_per_year
    from engine.pipeline import spec_of_manifest
    from engine.training import checked_single_symbol

    document = manifest.to_json() if isinstance(manifest, Manifest) else dict(manifest)
    spec = spec_of_manifest(document)
    router = spec.router
    if router is None:
        raise RouterError("not a router manifest (its spec has no router entry)")
    frame = checked_single_symbol(frame)
    replays = _replay(frame, members_of(document), folds, alt)
    ours, _final = walk_forward(
        router.method,
        replays,
        regime_labels(frame, router.regimes, router.axis),
        task=document.get("task", "regression"),
        threshold_bps=spec.target.threshold_bps,
        cost_bps=float(document["cost_bps"]),
        bars_per_year=periods_per_year(document["timeframe"]),
        min_rows=router.min_rows,
    )
    return [
        FoldReplay(
            timestamps=fold.timestamps,
            prediction=fold.prediction,
            target=fold.fwd if spec.target.kind == "direction" else fold.target,
            next_ret=fold.next_ret,
            fwd=fold.fwd,
        )
        for fold in ours
    ]


# ---- the artifact ---------------------------------------------------------------------------


def artifact_bytes(routing: Routing, axis: str, members: Sequence[MemberVersion]) -> bytes:
    """The router's artifact: JSON, keys sorted, so the same router gives the same bytes."""
    document = {
        "format": DOCUMENT_FORMAT,
        "axis": axis,
        **routing.to_json(),
        "members": [member.to_json(with_manifest=False) for member in members],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def read_artifact(data: bytes) -> tuple[Routing, str, list[dict[str, Any]]]:
    """A router artifact back: (routing, axis, [{number, version_id, artifact_sha256}]);
    RouterError for anything that is not one."""
    try:
        document = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RouterError(f"router artifact: not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != DOCUMENT_FORMAT:
        raise RouterError(f"router artifact: not a {DOCUMENT_FORMAT} document")
    try:
        members = [dict(member) for member in document["members"]]
        routing = Routing.from_json(document)
        axis = str(document["axis"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise RouterError(f"router artifact: malformed ({error})") from None
    if len(routing.fallback) != len(members) or len(members) < 2:
        raise RouterError("router artifact: weights and members do not match")
    return routing, axis, members
