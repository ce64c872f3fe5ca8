"""The live loop: new bars in, forecasts out, outcomes back, policies acting on them.

`live_tick(brain, config, feeds)` is one pass, safe to call every few seconds: a feed with no new
bar costs one small query and nothing else happens for its series. For each series with new bars,
for each slot of it:

1. a slot with versions but no champion gets its best out-of-sample Sharpe version as its first
   champion;
2. the champion forecasts every bar it has not forecast yet, after its training window and
   after the slot's newest forecast (a new champion takes over from the bar its predecessor
   reached; at most `live.max_backfill` bars back), blended (1 - w) · champion + w · online learner as
   engine.models.online.OnlineBlend mixes them; while a promotion is being judged the previous
   champion forecasts the same bars as a shadow (its own rows, the same blend);
3. forecasts whose horizon has passed get their realised outcome (brain.mature_predictions), and
   the slot's online learner (River, engine.models.online) learns from them, for the next tick;
4. the live metrics of the newest window are stored and the policies run (auto-rollback first:
   the retrain and prune policies should judge the champion that stays).

Loaded artifacts (sha256 verified) and online learners live in a LiveState kept between ticks
(one per brain by default). A fresh state relearns its online learners from the stored outcomes,
so a restarted leader carries on where the brain stands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from brain import Brain
from brain.records import SlotRecord, VersionRecord
from engine.manifest import Manifest
from scheduler.config import HuracanConfig, LiveConfig
from scheduler.services.feeds import Feed
from scheduler.services.live_metrics import record_live_metrics
from scheduler.services.policies import ACTOR, AutoRollbackPolicy, PrunePolicy, RetrainPolicy

log = logging.getLogger(__name__)

ONLINE_KIND = "river_linear"
# A fresh state relearns the online learner from at most this many stored outcomes.
RELEARN_LIMIT = 2000
FIRST_CHAMPION_REASON = "first champion: best out-of-sample Sharpe"


@dataclass
class OnlineLearner:
    """The slot's River learner and the newest bar whose outcome it has learned."""

    model: Any = None
    learned_until: datetime | None = None

    def predict(self, X: np.ndarray) -> np.ndarray | None:
        return self.model.predict(X) if self.model is not None else None

    def learn(self, X: np.ndarray, y: np.ndarray) -> None:
        if not len(y):
            return
        from engine.models import make_model

        if self.model is None:
            self.model = make_model(ONLINE_KIND).fit(X, y)
        else:
            self.model.learn_more(X, y)


@dataclass
class LiveState:
    models: dict[int, Any] = field(default_factory=dict)  # version id -> loaded model
    learners: dict[str, OnlineLearner] = field(default_factory=dict)  # slot key -> learner
    caught_up: set[tuple[str, str]] = field(default_factory=set)  # series handled at least once

    def model(self, brain: Brain, version: VersionRecord):
        if version.id not in self.models:
            from engine.models import load_model

            data = brain.load_artifact(version.artifact_sha256)
            self.models[version.id] = load_model(
                version.model_kind,
                data,
                sha256=version.artifact_sha256,
                # The format the version declares; a missing one is refused like a wrong one.
                artifact_format=version.manifest.get("artifact_format", ""),
            )
        return self.models[version.id]


@dataclass
class TickReport:
    new_bars: int = 0
    predictions: int = 0
    matured: int = 0
    promoted: list[str] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)
    rollbacks: list[int] = field(default_factory=list)


_STATES: dict[str, LiveState] = {}


def live_tick(
    brain: Brain,
    config: HuracanConfig,
    feeds: list[Feed],
    *,
    state: LiveState | None = None,
    now: datetime | None = None,
) -> TickReport:
    """One pass of the live loop over `feeds` (see the module docstring)."""
    state = state if state is not None else _STATES.setdefault(brain.url, LiveState())
    now = now or datetime.now(UTC)
    report = TickReport()
    for feed in feeds:
        new = feed.poll(brain)
        report.new_bars += new
        if not new and feed.series in state.caught_up:
            continue
        slots = [s for s in brain.list_slots() if (s.symbol, s.timeframe) == feed.series]
        features = None
        for slot in slots:
            versions = [v for v in brain.list_versions(slot.key) if v.status != "pruned"]
            if not versions:
                continue
            if features is None:
                features = _ready_features(brain, slot)
            _tick_slot(brain, config, slot, versions, features, state, report, now)
        state.caught_up.add(feed.series)
    return report


def _ready_features(brain: Brain, slot: SlotRecord) -> pl.DataFrame:
    """Every bar of the series with its causal features (warm-up rows included, as null)."""
    from engine.features import add_features

    return add_features(brain.load_bars(slot.symbol, slot.timeframe))


def _tick_slot(
    brain: Brain,
    config: HuracanConfig,
    slot: SlotRecord,
    versions: list[VersionRecord],
    features: pl.DataFrame,
    state: LiveState,
    report: TickReport,
    now: datetime,
) -> None:
    champion = brain.champion(slot.key)
    if champion is None:
        champion = promote_first_champion(brain, slot, versions, now=now)
        report.promoted.append(f"{slot.key} v{champion.number}")
    learner = state.learners.setdefault(slot.key, OnlineLearner())
    rollback_policy = AutoRollbackPolicy(config.policies.rollback)
    shadow = rollback_policy.shadow_wanted(brain, slot.key)
    wanted = _bars_to_forecast(brain, slot, champion, features, config.live.max_backfill)
    rows = _forecast(brain, slot, champion, features, wanted, learner, state, config.live, now)
    if shadow is not None and shadow.status != "pruned":
        rows += _forecast(brain, slot, shadow, features, wanted, learner, state, config.live, now)
    report.predictions += brain.record_predictions(rows)
    # Forecast first, then mature: a forecast never sees an outcome learned in its own tick.
    matured = brain.mature_predictions(slot.key, slot.horizon, now=now)
    report.matured += matured
    _learn_outcomes(brain, slot, champion, features, learner)

    if not matured:
        return
    for version in (champion, shadow):
        if version is not None:
            record_live_metrics(brain, slot.key, version, window=config.policies.retrain.window)
    rollback = rollback_policy.evaluate(brain, slot, now=now)
    if rollback is not None:
        log.warning("auto-rollback %s: %s", slot.key, rollback.reason)
        report.rollbacks.append(rollback.id)
    retrain = RetrainPolicy(config.policies.retrain).evaluate(brain, slot, now=now)
    report.queued += [
        item.id
        for item in [retrain, *PrunePolicy(config.policies.prune).evaluate(brain, slot, now=now)]
        if item is not None
    ]


def promote_first_champion(
    brain: Brain, slot: SlotRecord, versions: list[VersionRecord], *, now: datetime | None = None
) -> VersionRecord:
    """Make the best out-of-sample Sharpe version (the newest when none has a Sharpe) the slot's
    first champion."""

    def sharpe(version: VersionRecord) -> float:
        values = [
            m.value
            for m in brain.version_metrics(version.id, scope="oos")
            if m.fold is None and m.name == "sharpe" and m.value is not None
        ]
        return values[-1] if values else float("-inf")

    best = max(reversed(versions), key=sharpe)  # reversed: ties go to the newest
    brain.promote_version(slot.key, best.number, actor=ACTOR, reason=FIRST_CHAMPION_REASON, at=now)
    return best


def _ready(features: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    return features.drop_nulls(names).filter(pl.all_horizontal(pl.col(names).is_finite()))


def _bars_to_forecast(
    brain: Brain, slot: SlotRecord, champion: VersionRecord, features: pl.DataFrame, max_backfill: int
) -> list[datetime]:
    """Bars after the champion's training window, its own newest forecast and the slot's newest
    forecast bar. The last: a champion promoted (or put back) after another one was live does
    not forecast the bars that were live under its predecessor after the fact; such forecasts
    would mature at once, count as live numbers they never were, and fill the judged window
    after a promotion with bars the previous champion never shadowed."""
    newest = brain.list_predictions(slot.key, limit=1)
    after = [
        ts
        for ts in (
            champion.data_end,
            brain.last_prediction_ts(slot.key, champion.id),
            newest[0].ts if newest else None,
        )
        if ts is not None
    ]
    candidates = features["ts"]
    if after:
        candidates = candidates.filter(candidates > max(after))
    return candidates.tail(max_backfill).to_list() if max_backfill else []


def _forecast(
    brain: Brain,
    slot: SlotRecord,
    version: VersionRecord,
    features: pl.DataFrame,
    wanted: list[datetime],
    learner: OnlineLearner,
    state: LiveState,
    live: LiveConfig,
    now: datetime,
) -> list[dict[str, Any]]:
    if not wanted:
        return []
    from engine.models.online import blend_forecasts
    from engine.training import predict_rows

    names = list(Manifest.from_json(version.manifest).features)
    ready = _ready(features, names)
    X = ready.select(names).to_numpy().astype(float)
    index = {ts: i for i, ts in enumerate(ready["ts"].to_list())}
    positions = [index[ts] for ts in wanted if ts in index]
    if not positions:
        return []
    # Sequence models read the rows before as context, so predict the contiguous block.
    batch, _ = predict_rows(state.model(brain, version), X, range(positions[0], positions[-1] + 1))
    batch = batch[np.asarray(positions) - positions[0]]
    online = learner.predict(X[positions]) if _learner_fits(learner, len(names)) else None
    blended = batch if online is None else blend_forecasts(batch, online, live.blend_weight)
    timestamps = ready["ts"].to_list()
    return [
        {
            "slot_key": slot.key,
            "version_id": version.id,
            "ts": timestamps[p],
            "predicted_at": now,
            "batch": float(batch[k]),
            "online": None if online is None else float(online[k]),
            "blended": float(blended[k]),
        }
        for k, p in enumerate(positions)
    ]


def _learner_fits(learner: OnlineLearner, n_features: int) -> bool:
    return learner.model is not None and learner.model.n_features_in_ == n_features


def _online_target(manifest: Manifest, realised: np.ndarray) -> np.ndarray:
    """Regression champions forecast bps, so the learner does too; classifiers forecast the
    expected direction (-1..1), so the learner learns the realised direction."""
    return realised if manifest.task == "regression" else np.sign(realised)


def _learn_outcomes(
    brain: Brain, slot: SlotRecord, champion: VersionRecord, features: pl.DataFrame, learner: OnlineLearner
) -> None:
    """Teach the slot's online learner every outcome realised since it last learned, once per bar."""
    outcomes = brain.list_predictions(
        slot.key, matured=True, after=learner.learned_until, limit=RELEARN_LIMIT
    )
    by_bar = {record.ts: record.realised for record in outcomes}
    if not by_bar:
        return
    manifest = Manifest.from_json(champion.manifest)
    names = list(manifest.features)
    ready = _ready(features, names).filter(pl.col("ts").is_in(list(by_bar)))
    if ready.is_empty():
        return
    X = ready.select(names).to_numpy().astype(float)
    y = _online_target(manifest, np.asarray([by_bar[ts] for ts in ready["ts"].to_list()], dtype=float))
    learner.learn(X, y)
    learner.learned_until = max(by_bar)


def demo_live_config(speed: int = 1) -> LiveConfig:
    """Replay feeds over the bundled series: the bars the demo import held back play in live."""
    from engine.datasets import BUNDLED, bundled_path
    from scheduler.config import FeedConfig

    return LiveConfig(
        feeds=[
            FeedConfig(
                kind="replay", path=str(bundled_path(symbol)), symbol=symbol, timeframe=timeframe, speed=speed
            )
            for symbol, (_, timeframe) in BUNDLED.items()
        ]
    )


def demo_feeds(speed: int = 1) -> list:
    """The demo's replay feeds, which only continue series the demo import stored: a leader may
    start before the demo is accepted (or with it declined) without replaying anything on its own."""
    from scheduler.services.feeds import ReplayFeed

    return [ReplayFeed(str(feed.path), feed.symbol, feed.timeframe, feed.speed, follow_only=True)
            for feed in demo_live_config(speed).feeds]
