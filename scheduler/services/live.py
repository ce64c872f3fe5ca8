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

Every version forecasts on its own spec's features (engine.pipeline: its recipe, its alternative
data joined as of each bar) through its own fitted preprocessing (engine.serving.Servable). A
series' features are computed over a bounded tail window sized from the recipe's warm-up
(engine.features.tail.TailFeatures), which gives the numbers a batch computation over the whole
history gives; a fresh state computes the whole history once. The window's bars are held
between ticks, and a tick reads only the bars from the newest one held on. A bar a version cannot forecast
because an alternative-data value is missing or too old is recorded as a serve gap (named state
and detail), never forecast on a made-up value.

Loaded versions (sha256 verified) and online learners live in a LiveState kept between ticks
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

from brain import Brain, BrainError
from brain.records import SlotRecord, VersionRecord
from engine.manifest import Manifest
from scheduler.config import HuracanConfig, LiveConfig
from scheduler.services.feeds import Feed
from scheduler.services.live_metrics import record_live_metrics
from scheduler.services.policies import ACTOR, AutoRollbackPolicy, PrunePolicy, RegimePolicy, RetrainPolicy

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

        if self.model is None or self.model.n_features_in_ != X.shape[1]:
            # New, or the champion's inputs changed (a router or an ensemble, which feed it their
            # members' forecasts, rolled back to a plain version): it learns them afresh.
            self.model = make_model(ONLINE_KIND).fit(X, y)
        else:
            self.model.learn_more(X, y)


@dataclass
class LiveState:
    servables: dict[int, Any] = field(default_factory=dict)  # version id -> engine.serving.Servable
    learners: dict[str, OnlineLearner] = field(default_factory=dict)  # slot key -> learner
    caught_up: set[tuple[str, str]] = field(default_factory=set)  # series handled at least once
    # (symbol, timeframe, features key) -> the recipe's TailFeatures for that series
    tails: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    # (symbol, timeframe) -> the feed's state and its detail, as last recorded in the brain
    feeds: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    # (symbol, timeframe) -> the newest bars held for tail windows, and how many it may hold
    windows: dict[tuple[str, str], tuple[pl.DataFrame, int]] = field(default_factory=dict)
    # (symbol, timeframe, label key) -> a series' regime labeller and newest labels, for routers
    labels: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    # slot key -> the regime change the regime policy last judged (scheduler.services.policies)
    regime_changes: dict[str, tuple] = field(default_factory=dict)

    def tail_bars(self, brain: Brain, series: tuple[str, str], window: int) -> pl.DataFrame:
        """The series' newest `window` bars, as brain.load_bars(last=window) gives them, reading
        only the bars from the newest one held on (it may have been rewritten) once a window is
        held. The live loop's bars only move on: a bar rewritten further back than the newest
        one held is not seen (nor by TailFeatures, whose windows carry state forward)."""
        held = self.windows.get(series)
        symbol, timeframe = series
        if held is None or held[1] < window or held[0].is_empty():
            bars = brain.load_bars(symbol, timeframe, last=window)
        else:
            frame, capacity = held
            fresh = brain.load_bars(symbol, timeframe, since=frame["ts"][-1])
            bars = pl.concat([frame.slice(0, frame.height - 1), fresh]).tail(capacity)
            window = capacity
        self.windows[series] = (bars, window)
        return bars

    def servable(self, brain: Brain, version: VersionRecord):
        if version.id not in self.servables:
            from engine.serving import load_servable

            self.servables[version.id] = load_servable(
                version.manifest,
                brain.load_artifact(version.artifact_sha256),
                sha256=version.artifact_sha256,
                load_artifact=brain.load_artifact,
            )
        return self.servables[version.id]


class SeriesFeatures:
    """One tick's features of one series, per features key (versions with the same recipe and alt
    data share them), computed on first use over the tail window."""

    def __init__(self, brain: Brain, series: tuple[str, str], new_bars: int, state: LiveState):
        self.brain, self.series, self.new_bars, self.state = brain, series, new_bars, state
        self._frames: dict[str, pl.DataFrame] = {}

    def of(self, spec) -> pl.DataFrame:
        from engine.pipeline import features_key

        key = features_key(spec)
        if key not in self._frames:
            self._frames[key] = self._compute(spec, key)
        return self._frames[key]

    def _compute(self, spec, key: str) -> pl.DataFrame:
        from engine.features.tail import TailFeatures
        from engine.pipeline import join_alt_features, spec_recipe

        symbol, timeframe = self.series
        tail = self.state.tails.get((symbol, timeframe, key))
        if tail is None:
            tail = self.state.tails[(symbol, timeframe, key)] = TailFeatures(spec_recipe(spec))
        needed = tail.bars_needed()
        if needed is None:
            frame = tail.compute(self.brain.load_bars(symbol, timeframe))
        else:
            # The warm-up, the new bars, and room for the outcomes maturing behind them.
            window = needed + max(self.new_bars, 1) + TAIL_MARGIN
            bars = self.state.tail_bars(self.brain, self.series, window).tail(window)
            frame = tail.compute(bars)
            # The warm-up rows are not batch's numbers, unless the window reached back to the
            # series' first bar (a history shorter than the window): then it is the batch.
            if bars.height == window:
                frame = frame.slice(needed)
        alt = None
        if spec.alt:
            first = frame["ts"].min() if frame.height else None
            # From the oldest value the window's first bar may still read (the stamp of a stale
            # one too, which words its gap): a bounded read whatever the table's length.
            alt = {
                item.kind: self.brain.load_alt_data(
                    item.kind, symbol, start=None if first is None else first - ALT_LOOKBACK * item.staleness
                )
                for item in spec.alt
            }
        return join_alt_features(frame, spec, alt, keep_alt_ts=bool(spec.alt))


@dataclass
class TickReport:
    new_bars: int = 0
    predictions: int = 0
    matured: int = 0
    promoted: list[str] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)
    rollbacks: list[int] = field(default_factory=list)


_STATES: dict[str, LiveState] = {}
# Bars past the new ones kept in a tick's window: outcomes mature `horizon` bars behind the
# newest bar, and the online learner reads those bars' features.
TAIL_MARGIN = 64
# How far back of a window's first bar (in max_staleness units) alt data is read: far enough to
# name how old a stale value is.
ALT_LOOKBACK = 30


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
        try:
            new = feed.poll(brain)
        except BrainError:
            raise
        except Exception as error:  # the feed's source failed: its state, not the loop's end
            log.warning("feed %s %s failed: %s", *feed.series, error)
            _feed_state(brain, state, feed, "failing", str(error).splitlines()[0] if str(error) else
                        type(error).__name__, now)
            continue
        _feed_state(brain, state, feed, "ended" if feed.ended else "running", "", now)
        report.new_bars += new
        if not new and feed.series in state.caught_up:
            continue
        slots = [s for s in brain.list_slots() if (s.symbol, s.timeframe) == feed.series]
        features = SeriesFeatures(brain, feed.series, new, state)
        for slot in slots:
            versions = [v for v in brain.list_versions(slot.key) if v.status != "pruned"]
            if not versions:
                continue
            _tick_slot(brain, config, slot, versions, features, state, report, now)
        state.caught_up.add(feed.series)
    return report


def _feed_state(brain: Brain, state: LiveState, feed: Feed, condition: str, detail: str,
                now: datetime) -> None:
    """Record a feed's state where it changed (one write per change, not per tick)."""
    if state.feeds.get(feed.series) == (condition, detail):
        return
    brain.record_feed_state(*feed.series, condition, detail, at=now)
    state.feeds[feed.series] = (condition, detail)


def _tick_slot(
    brain: Brain,
    config: HuracanConfig,
    slot: SlotRecord,
    versions: list[VersionRecord],
    features: SeriesFeatures,
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
    champion_serving = state.servable(brain, champion)
    candidates = champion_serving.candidates(features.of)
    wanted = _bars_to_forecast(brain, slot, champion, candidates, config.live.max_backfill)
    rows = _forecast(brain, slot, champion, features, wanted, learner, state, config.live, now)
    # The champion's forecast is stored first: it is the one acted on, and serving the shadow
    # (another whole forecast) would only delay it. A kill in between loses the shadow's
    # forecast of these bars, never the champion's.
    report.predictions += brain.record_predictions(rows)
    if shadow is not None and shadow.status != "pruned":
        rows = _forecast(brain, slot, shadow, features, wanted, learner, state, config.live, now)
        report.predictions += brain.record_predictions(rows)
    # Forecast first, then mature: a forecast never sees an outcome learned in its own tick.
    matured = brain.mature_predictions(slot.key, slot.horizon, now=now)
    report.matured += matured
    _learn_outcomes(brain, slot, champion_serving, features, learner)

    if not matured:
        return
    window = config.policies.retrain.window
    live = record_live_metrics(brain, slot.key, champion, window=window, regime_config=config.regimes)
    if shadow is not None:
        record_live_metrics(brain, slot.key, shadow, window=window, regime_config=config.regimes)
    rollback = rollback_policy.evaluate(brain, slot, now=now)
    if rollback is not None:
        log.warning("auto-rollback %s: %s", slot.key, rollback.reason)
        report.rollbacks.append(rollback.id)
    # The champion's numbers just recorded are the retrain policy's, unless a rollback replaced it.
    retrain_policy = RetrainPolicy(config.policies.retrain)
    if rollback is None:
        retrain = retrain_policy.evaluate(brain, slot, now=now, champion=champion, live=live)
    else:
        retrain = retrain_policy.evaluate(brain, slot, now=now)
    # A rollback changed the champion: the prune policy reads the slot afresh.
    prune_policy = PrunePolicy(config.policies.prune)
    if rollback is None:
        prunes = prune_policy.evaluate(brain, slot, now=now, champion=champion, versions=versions)
    else:
        prunes = prune_policy.evaluate(brain, slot, now=now)
    regime_policy = RegimePolicy(config.policies.regime, config.regime_map, config.regimes)
    regime = regime_policy.evaluate(brain, slot, now=now, judged=state.regime_changes)
    report.queued += [item.id for item in [retrain, *prunes, regime] if item is not None]


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


def _bars_to_forecast(
    brain: Brain, slot: SlotRecord, champion: VersionRecord, bars: list[datetime], max_backfill: int
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
    candidates = [ts for ts in bars if ts > max(after)] if after else list(bars)
    return candidates[-max_backfill:] if max_backfill else []


def _forecast(
    brain: Brain,
    slot: SlotRecord,
    version: VersionRecord,
    features: SeriesFeatures,
    wanted: list[datetime],
    learner: OnlineLearner,
    state: LiveState,
    live: LiveConfig,
    now: datetime,
) -> list[dict[str, Any]]:
    if not wanted:
        return []
    from engine.models.online import blend_forecasts

    serving = state.servable(brain, version)
    forecast = _serve(brain, slot, serving, features, wanted, state)
    if forecast.gaps:
        brain.record_serve_gaps([
            {"slot_key": slot.key, "version_id": version.id, "ts": gap.ts, "state": gap.state,
             "detail": gap.detail}
            for gap in forecast.gaps
        ])
    if not forecast.ts:
        return []
    batch = forecast.batch
    details = agent_choices(serving, features.of, forecast.ts)
    if details is not None and len(details) != len(forecast.ts):
        details = None  # a rollout that did not cover every bar served: no choices, not wrong ones
    # The learner has no imputer of its own: a missing alt value (allowed when the spec imputes)
    # is 0 to it. An agent's forecast is a position, not a return: nothing is blended into it.
    fits = details is None and _learner_fits(learner, forecast.X.shape[1])
    online = learner.predict(np.nan_to_num(forecast.X)) if fits else None
    blended = batch if online is None else blend_forecasts(batch, online, live.blend_weight)
    return [
        {
            "slot_key": slot.key,
            "version_id": version.id,
            "ts": ts,
            "predicted_at": now,
            "batch": float(batch[k]),
            "online": None if online is None else float(online[k]),
            "blended": float(blended[k]),
            "details": None if details is None else details[k],
        }
        for k, ts in enumerate(forecast.ts)
    ]


def _serve(brain: Brain, slot: SlotRecord, serving, features: SeriesFeatures, wanted: list[datetime],
           state: LiveState):
    """A version's forecast of `wanted`; a regime router's routed by each bar's causal label."""
    from engine.serving import RouterServable

    if isinstance(serving, RouterServable):
        from scheduler.services.router import router_labels

        held = state.windows.get(features.series)  # this tick's newest bars, where a recipe reads a window
        labels = router_labels(brain, slot, serving, wanted, state.labels, None if held is None else held[0])
        return serving.forecast(features.of, wanted, labels=labels)
    return serving.forecast(features.of, wanted)


def agent_choices(serving, features_of, bars: list[datetime]) -> list[dict] | None:
    """What an agent chose on each of `bars` (engine.serving's `choices`: action and Q-values,
    or size); None for a version that is not an agent (an ensemble has no choices)."""
    choices = getattr(serving, "choices", None)
    return None if choices is None else choices(features_of, bars)


def _learner_fits(learner: OnlineLearner, n_features: int) -> bool:
    return learner.model is not None and learner.model.n_features_in_ == n_features


def _online_target(manifest: Manifest, spec, realised: np.ndarray) -> np.ndarray:
    """Regression champions forecast bps, so the learner does too (the net edge after the
    manifest's costs for a net-edge champion); classifiers forecast the expected direction
    (-1..1), so the learner learns the realised direction."""
    if manifest.task != "regression":
        return np.sign(realised)
    if spec.target.kind == "net_edge":
        round_trip = 2.0 * float(manifest.cost_bps)
        return np.sign(realised) * np.clip(np.abs(realised) - round_trip, 0.0, None) + 0.0
    return realised


def _learn_outcomes(
    brain: Brain, slot: SlotRecord, champion, features: SeriesFeatures, learner: OnlineLearner
) -> None:
    """Teach the slot's online learner every outcome realised since it last learned, once per bar."""
    outcomes = brain.list_predictions(
        slot.key, matured=True, after=learner.learned_until, limit=RELEARN_LIMIT
    )
    by_bar = {record.ts: record.realised for record in outcomes}
    if not by_bar:
        return
    bars, X = champion.learner_inputs(features.of, list(by_bar))
    if not bars:
        return
    realised = np.asarray([by_bar[ts] for ts in bars], dtype=float)
    learner.learn(np.nan_to_num(X), _online_target(champion.manifest, champion.spec, realised))
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
