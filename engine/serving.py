"""A stored version, ready to forecast: what training fitted is what serving applies.

`load_servable` takes a version's manifest, its model artifact and a way to fetch other
artifacts by address (the brain's `load_artifact`, which refuses bytes that no longer hash to
their address), and gives a `Servable`: the spec, the model (engine.models.load_model, sha256
and format checked) and the fitted preprocessing (engine.preprocessing.load_steps, skops with a
trust list, its sha256 checked against the manifest before loading). Its `predict` turns a
version's raw inputs (engine.pipeline.version_features) into forecasts as training's folds did:
the fitted steps, then the model, with the rows before as context for sequence models.

`huracan predict`, the live loop and A/B replays all forecast through a Servable.

A sizing version (ppo_sizing, whose manifest records a `signal` member) loads as a
`SizingServable`: its member is loaded through load_servable too (the artifact address the
manifest records, sha256-checked), forecasts the same bars on its own spec, and that forecast is
column 0 of what the agent reads, after the agent's own fitted preprocessing of its features;
then the agent's rollout gives the size per bar. Same protocol as a Servable, so the live loop
serves it as it serves any version; it offers no inputs to an online learner (a size is not
blended with a forecast of returns).
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
from engine.spec import ROUTER_KIND, ImputeStep, VersionSpec

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

    def choices(self, features_of: FeaturesOf, bars: Sequence[datetime]) -> list[dict[str, Any]] | None:
        """What an agent chose on each of `bars` (bars `forecast` served: its action and Q-values,
        or its size), from the same rollout its forecast came from (the block of ready rows from
        the first bar's context to the last bar, as `predict` reads it); None for a model that is
        not an agent."""
        model = self.model
        if not hasattr(model, "predict_details") or not bars:
            return None
        ready = self.ready(features_of(self.spec))
        positions = [ready.index[ts] for ts in bars]
        first, last = positions[0], positions[-1]
        start = max(first - model.context_rows, 0)
        block = np.asarray(ready.X[start:last + 1], dtype=float)
        inputs = block if self.steps is None else np.asarray(self.steps.transform(block), dtype=float)
        chosen = model.predict_details(inputs, last=last - first + 1)
        return [chosen[position - first] for position in positions]

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


@dataclass(frozen=True)
class SizingServable:
    """A sizing agent and the member version whose forecast it sizes on (see the module docstring)."""

    agent: Servable  # the agent's own model and fitted preprocessing, over its features
    member: Any  # the member's Servable (or EnsembleServable)
    member_number: int

    @property
    def manifest(self) -> Manifest:
        return self.agent.manifest

    @property
    def spec(self) -> VersionSpec:
        return self.agent.spec

    @property
    def inputs(self) -> list[str]:
        return self.agent.inputs

    def candidates(self, features_of: FeaturesOf) -> list[datetime]:
        return self.agent.candidates(features_of)

    @property
    def model(self) -> None:
        """None: no one model reads the raw inputs (the agent also reads the member's forecast),
        so a caller that would roll a model out itself asks `choices` instead."""
        return None

    def agent_inputs(self, X: np.ndarray, signal: np.ndarray) -> np.ndarray:
        """What the agent reads for raw feature rows X: its fitted preprocessing of them, with the
        member's forecast per row in front as column 0."""
        steps = self.agent.steps
        inputs = np.asarray(X, dtype=float) if steps is None else np.asarray(steps.transform(X), dtype=float)
        return np.column_stack([np.asarray(signal, dtype=float), inputs])

    def sizes(self, X: np.ndarray, signal: np.ndarray) -> np.ndarray:
        """The agent's sizes over raw feature rows X (ts order) with the member's forecast per row:
        one rollout from flat at the first row."""
        return np.asarray(self.agent.model.predict(self.agent_inputs(X, signal)), dtype=float)

    def _block(self, features_of: FeaturesOf, wanted: Sequence[datetime]):
        """(ready rows, the rows of one rollout: from `context_rows` ready bars before the first
        wanted bar to the last, those with a member forecast; the forecasts; which of the rows
        are wanted; the gaps of wanted bars without ready features or a member forecast)."""
        features = features_of(self.spec)
        ready = self.agent.ready(features)
        index = ready.index
        inside = [ts for ts in wanted if ts in index]
        unready = [ts for ts in wanted if ts not in index]
        gaps = {gap.ts: gap for gap in describe_gaps(self.spec, features, unready)}
        if not inside:
            return ready, [], np.empty(0), [], sorted(gaps.values(), key=_ts)
        start = max(index[inside[0]] - self.agent.model.context_rows, 0)
        block = ready.ts[start : index[inside[-1]] + 1]
        member = self.member.forecast(features_of, block)
        wanted_set = set(inside)
        for gap in member.gaps:
            if gap.ts in wanted_set:
                gaps.setdefault(gap.ts, Gap(gap.ts, gap.state, f"v{self.member_number}: {gap.detail}"))
        served = dict(zip(member.ts, np.asarray(member.batch, dtype=float).tolist(), strict=True))
        rows = [start + i for i, ts in enumerate(block) if ts in served]
        signal = np.asarray([served[ready.ts[row]] for row in rows], dtype=float)
        keep = [k for k, row in enumerate(rows) if ready.ts[row] in wanted_set]
        return ready, rows, signal, keep, sorted(gaps.values(), key=_ts)

    def forecast(self, features_of: FeaturesOf, wanted: Sequence[datetime]) -> Forecast:
        """Sizes of the `wanted` bars that have ready features and a member forecast; the rollout
        starts flat `context_rows` ready bars before the first of them, as training's folds did.
        A bar the member cannot serve is a gap worded with the member."""
        ready, rows, signal, keep, gaps = self._block(features_of, wanted)
        if not keep:
            return Forecast([], np.empty(0), np.empty((0, len(self.inputs) + 1)), gaps)
        sizes = self.sizes(ready.X[rows], signal)
        chosen = [rows[k] for k in keep]
        # X: the member's forecast, then the raw features (one column more than any plain
        # version's inputs), so no online learner fitted beside another version fits it.
        X = np.column_stack([signal[keep], ready.X[chosen]])
        return Forecast([ready.ts[row] for row in chosen], sizes[keep], X, gaps)

    def choices(self, features_of: FeaturesOf, bars: Sequence[datetime]) -> list[dict[str, Any]]:
        """What the agent chose on each of `bars` it forecast ({"size", "action"} per bar, in
        order), from the same rollout as `forecast`."""
        ready, rows, signal, keep, _gaps = self._block(features_of, bars)
        if not keep:
            return []
        details = self.agent.model.predict_details(self.agent_inputs(ready.X[rows], signal), last=len(rows))
        return [details[k] for k in keep]

    def learner_inputs(
        self, features_of: FeaturesOf, bars: Sequence[datetime]
    ) -> tuple[list[datetime], np.ndarray]:
        """Nothing: a size and an online learner's forecast (bps) are different units, so a
        sizing agent's sizes are served unblended and no learner learns beside it."""
        return [], np.empty((0, len(self.inputs) + 1))

    def predict_frame(
        self, bars: pl.DataFrame, alt: Mapping[str, pl.DataFrame] | None = None
    ) -> pl.DataFrame:
        """(ts, prediction = size) for every bar of a one-symbol OHLCV frame with ready features
        and a member forecast: one rollout over all of them."""
        from engine.training import checked_single_symbol

        bars = checked_single_symbol(bars)
        ready = self.agent.ready(version_features(bars, self.spec, alt))
        member = self.member.predict_frame(bars, alt)
        served = dict(zip(member["ts"].to_list(), member["prediction"].to_list(), strict=True))
        rows = [i for i, ts in enumerate(ready.ts) if ts in served]
        if not rows:
            raise ValueError(
                f"no bar of the file has both the agent's {len(self.inputs)} features and a forecast of "
                f"its member v{self.member_number} ({bars.height} bars)"
            )
        sizes = self.sizes(ready.X[rows], np.asarray([served[ready.ts[i]] for i in rows], dtype=float))
        return pl.DataFrame({"ts": [ready.ts[i] for i in rows], "prediction": sizes},
                            schema={"ts": bars.schema["ts"], "prediction": pl.Float64})


def _ts(gap: Gap) -> datetime:
    return gap.ts


@dataclass(frozen=True)
class RouterServable:
    """A regime router (engine.regimes.router): its members, served together as an ensemble's
    are (engine.ensembles.serving: the bars every member can forecast, a member's gap worded with
    it), and the routing that weighs their forecasts per bar by the bar's causal regime label.
    The labels come from the caller (the live loop reads the slot's stored ones); a file given to
    `predict_frame` is labelled from its own bars under the router's labelling config. The online
    learner beside a router reads the members' forecasts, one column per member."""

    manifest: Manifest
    spec: VersionSpec
    routing: Any  # engine.regimes.router.Routing
    members: Any  # engine.ensembles.serving.EnsembleServable over the member versions

    @property
    def axis(self) -> str:
        assert self.spec.router is not None  # load_router loads router specs only
        return self.spec.router.axis

    @property
    def inputs(self) -> list[str]:
        return self.members.inputs

    def candidates(self, features_of: FeaturesOf) -> list[datetime]:
        return self.members.candidates(features_of)

    def forecast(
        self, features_of: FeaturesOf, wanted: Sequence[datetime],
        labels: Mapping[datetime, str | None] | None = None,
    ) -> Forecast:
        """Forecasts of the `wanted` bars every member can serve, each routed by its label in
        `labels` (a bar without one, or with None, takes the routing's fallback)."""
        if labels is None:
            raise ValueError("a regime router forecasts with each bar's regime label; none were given")
        bars, X, gaps = self.members.member_forecasts(features_of, wanted)
        batch = self.routing.apply(X, [labels.get(ts) for ts in bars]) if bars else np.empty(0)
        return Forecast(bars, batch, X, gaps)

    def learner_inputs(
        self, features_of: FeaturesOf, bars: Sequence[datetime]
    ) -> tuple[list[datetime], np.ndarray]:
        return self.members.learner_inputs(features_of, bars)

    def predict_frame(
        self, bars: pl.DataFrame, alt: Mapping[str, pl.DataFrame] | None = None
    ) -> pl.DataFrame:
        """(ts, prediction) for every bar of a one-symbol OHLCV frame all members can forecast,
        each routed by its causal label computed from the frame's bars up to it."""
        from engine.regimes.router import regime_labels
        from engine.training import checked_single_symbol

        bars = checked_single_symbol(bars)
        frames = [member.serving.predict_frame(bars, alt) for member in self.members.members]
        joined = frames[0].rename({"prediction": "m0"})
        for index, frame in enumerate(frames[1:], start=1):
            joined = joined.join(frame.rename({"prediction": f"m{index}"}), on="ts", how="inner")
        if joined.is_empty():
            raise ValueError("no bar of the file can be forecast by every member of the router")
        assert self.spec.router is not None
        labels = regime_labels(bars, self.spec.router.regimes, self.axis)
        X = joined.select([f"m{i}" for i in range(len(frames))]).to_numpy().astype(float)
        prediction = self.routing.apply(X, [labels.get(ts) for ts in joined["ts"].to_list()])
        return pl.DataFrame({"ts": joined["ts"], "prediction": prediction})


def load_router(
    manifest: Mapping[str, Any], artifact: bytes, *, load_artifact: Callable[[str], bytes]
) -> RouterServable:
    """A router version's servable (its artifact's sha256 already checked); RouterError when the
    artifact and the manifest disagree on the members."""
    from engine.ensembles.serving import EnsembleServable, ServedMember
    from engine.ensembles.version import Combination
    from engine.regimes.router import RouterError, members_of, read_artifact

    routing, _axis, recorded = read_artifact(artifact)
    members = members_of(manifest)
    if [(m["number"], m["artifact_sha256"]) for m in recorded] != [
        (m.number, m.artifact_sha256) for m in members
    ]:
        raise RouterError("router artifact: its members are not the ones its manifest records")
    loaded = tuple(
        ServedMember(member.number, load_servable(
            member.manifest, load_artifact(member.artifact_sha256), sha256=member.artifact_sha256,
            load_artifact=load_artifact,
        ))
        for member in members
    )
    document, spec = Manifest.from_json(manifest), spec_of_manifest(manifest)
    if spec.router is None:
        raise RouterError("router manifest: its spec has no router entry")
    # The members forecast together as an ensemble's do; the routing, not this combination, weighs them.
    equal = Combination("members", tuple([1.0 / len(loaded)] * len(loaded)))
    together = EnsembleServable(document, spec, equal, loaded)
    return RouterServable(document, spec, routing, together)


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
    if manifest.get("model_kind") == ROUTER_KIND:
        if hashlib.sha256(artifact).hexdigest() != sha256:
            raise ValueError(f"router artifact {sha256[:12]} failed its sha256 check")
        return load_router(manifest, artifact, load_artifact=load_artifact)
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
    servable = Servable(manifest=document, spec=spec, model=model, steps=steps)
    if document.signal is None:
        return servable
    from engine.rl.signal import member_of

    member = member_of(document.signal)
    try:
        member_servable = load_servable(
            member.manifest, load_artifact(member.artifact_sha256), sha256=member.artifact_sha256,
            load_artifact=load_artifact,
        )
    except ValueError as error:
        raise ValueError(f"signal member v{member.number}: {str(error).splitlines()[0]}") from None
    return SizingServable(agent=servable, member=member_servable, member_number=member.number)


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
