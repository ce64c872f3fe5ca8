"""Feedback policies: what the live numbers make the scheduler do.

- RetrainPolicy: the champion underperforms live (Sharpe below a threshold, or MAE above k times
  its out-of-sample MAE) over enough matured forecasts -> an item in the retrain queue.
- PrunePolicy: a non-champion version forecasting beside the champion (a shadow) was worse on the
  same bars for N consecutive windows, or earns a near-zero weight in the optimised ensemble of
  the versions that forecast the same bars, fitted on their realised outcomes -> prune queue.
- RegimePolicy: the slot's regime changed within its newest bars and the champion is weak in the
  new one (the regime map's metric below a threshold there, or another version significantly
  better on the bars they share) -> retrain queue.
- AutoRollbackPolicy: a new champion whose live errors are significantly worse than its
  predecessor's on the same bars (paired test, p < alpha) within the window after its promotion
  -> rolled back at once, with the evidence.

Cooldowns of queue items are enforced by brain.enqueue (in the insert's transaction); the
rollback's by looking at the slot's rollback log. Each evaluation is cheap when there is
nothing to judge, so the live loop runs them after every tick that matured an outcome.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import numpy as np
import polars as pl

from brain import Brain
from brain.live import PredictionRecord
from brain.records import PromotionRecord, QueueItemRecord, RollbackRecord, SlotRecord, VersionRecord
from engine.policies_config import (
    PrunePolicyConfig,
    RegimePolicyConfig,
    RetrainPolicyConfig,
    RollbackPolicyConfig,
)
from engine.regimes import RegimeConfig
from scheduler.config import RegimeMapConfig
from scheduler.services.live_metrics import metrics_of, recent_live_metrics

ACTOR = "scheduler"
log = logging.getLogger(__name__)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3g}"


def _oos_metric(brain: Brain, version: VersionRecord, name: str) -> float | None:
    values = [
        m.value for m in brain.version_metrics(version.id, scope="oos") if m.fold is None and m.name == name
    ]
    return values[-1] if values else None


def paired_rows(
    brain: Brain, slot_key: str, first: VersionRecord, second: VersionRecord, since: datetime | None = None
) -> tuple[list[PredictionRecord], list[PredictionRecord]]:
    """Matured forecasts of two versions on the same bars, in bar order."""
    a = {r.ts: r for r in brain.list_predictions(slot_key, version=first.number, matured=True, since=since)}
    b = {r.ts: r for r in brain.list_predictions(slot_key, version=second.number, matured=True, since=since)}
    common = sorted(set(a) & set(b))
    return [a[ts] for ts in common], [b[ts] for ts in common]


def live_ensemble_weights(
    brain: Brain,
    slot_key: str,
    champion: VersionRecord,
    others: list[VersionRecord],
    *,
    window: int,
    min_samples: int,
) -> dict[str, Any] | None:
    """The optimised ensemble weights of the champion and the versions that forecast the same
    bars beside it (shadows), learned from live outcomes only.

    engine.ensembles.optimise_weights (MSE objective; weights non-negative, summing to one) is
    fitted on the blended forecasts and realised outcomes of the newest `window` matured bars
    that every member forecast. A version sharing fewer than `min_samples` bars with the
    champion takes no part; while the members together share too few bars, the one sharing
    the fewest leaves. None when no other version is left. Returns {"champion": number,
    "weights": {"v1": w, ...}, "n", "start", "end", "objective"}.
    """
    from engine.ensembles import optimise_weights

    def matured(version: VersionRecord) -> dict[datetime, PredictionRecord]:
        return {r.ts: r for r in brain.list_predictions(slot_key, version=version.number, matured=True)}

    rows = {champion.number: matured(champion)}
    shared = {}
    for version in others:
        rows[version.number] = matured(version)
        shared[version.number] = len(rows[version.number].keys() & rows[champion.number].keys())
    members = sorted((n for n, count in shared.items() if count >= min_samples), key=lambda n: -shared[n])
    while members:
        bars = set(rows[champion.number]).intersection(*(rows[n] for n in members))
        if len(bars) >= min_samples:
            break
        members.pop()  # the one sharing the fewest bars with the champion
    if not members:
        return None
    numbers = [champion.number, *sorted(members)]
    bars_used = sorted(bars)[-window:]
    forecasts = np.array([[rows[n][ts].blended for n in numbers] for ts in bars_used])
    realised = np.array([rows[champion.number][ts].realised for ts in bars_used])
    try:
        weights = optimise_weights(forecasts, realised, objective="mse")
    except ValueError as error:  # SLSQP did not converge: no verdict this time
        log.warning("%s: live ensemble weights not found: %s", slot_key, error)
        return None
    return {
        "champion": champion.number,
        "weights": {f"v{n}": float(w) for n, w in zip(numbers, weights, strict=True)},
        "n": len(bars_used),
        "start": bars_used[0].isoformat(),
        "end": bars_used[-1].isoformat(),
        "objective": "mse",
    }


class RetrainPolicy:
    rule = "live_underperformance"

    def __init__(self, config: RetrainPolicyConfig):
        self.config = config

    def evaluate(
        self, brain: Brain, slot: SlotRecord, *, now: datetime | None = None,
        champion: VersionRecord | None = None, live: dict | None = None,
    ) -> QueueItemRecord | None:
        """`champion` and its `live` metrics over this policy's window, when the caller has
        them (the live tick has just recorded them); read from the brain otherwise."""
        champion = champion or brain.champion(slot.key)
        if champion is None:
            return None
        if live is None:
            live = recent_live_metrics(brain, slot.key, champion, window=self.config.window)
        if live["n"] < self.config.min_samples:
            return None
        reasons = []
        sharpe = live["sharpe"]
        if math.isfinite(sharpe) and sharpe < self.config.sharpe_below:
            reasons.append(f"live Sharpe {_fmt(sharpe)} < {_fmt(self.config.sharpe_below)}")
        oos_mae = _oos_metric(brain, champion, "mae")
        # A classifier's out-of-sample MAE is on the direction scale (-1..1), not in bps.
        if champion.manifest.get("task", "regression") == "regression" and oos_mae:
            limit = self.config.mae_ratio_above * oos_mae
            if math.isfinite(live["mae"]) and live["mae"] > limit:
                reasons.append(
                    f"live MAE {_fmt(live['mae'])} > {_fmt(self.config.mae_ratio_above)} × "
                    f"out-of-sample MAE {_fmt(oos_mae)}"
                )
        if not reasons:
            return None
        evidence = {
            "version": champion.number,
            "live": {k: live[k] for k in ("n", "mae", "mse", "sharpe", "win_rate")},
            "oos_mae": oos_mae,
            "window": self.config.window,
            "thresholds": {
                "sharpe_below": self.config.sharpe_below,
                "mae_ratio_above": self.config.mae_ratio_above,
            },
        }
        reason = f"v{champion.number} over its last {live['n']} live forecasts: " + "; ".join(reasons)
        return brain.enqueue(
            "retrain",
            slot.key,
            rule=self.rule,
            reason=reason,
            evidence=evidence,
            cooldown=timedelta(seconds=self.config.cooldown),
            now=now,
        )


class PrunePolicy:
    rule = "worse_than_champion"
    weight_rule = "ensemble_weight_near_zero"

    def __init__(self, config: PrunePolicyConfig):
        self.config = config

    def evaluate(
        self, brain: Brain, slot: SlotRecord, *, now: datetime | None = None,
        champion: VersionRecord | None = None, versions: list[VersionRecord] | None = None,
    ) -> list[QueueItemRecord]:
        """`champion` and the slot's `versions`, when the caller has read them this tick."""
        champion = champion or brain.champion(slot.key)
        if champion is None:
            return []
        versions = brain.list_versions(slot.key) if versions is None else versions
        others = [v for v in versions if v.id != champion.id and v.status != "pruned"]
        if not others:
            return []
        cooldown = timedelta(seconds=self.config.cooldown)
        blend = live_ensemble_weights(
            brain, slot.key, champion, others, window=self.config.window, min_samples=self.config.min_samples
        )
        added = []
        for version in others:
            item = self._worse_for_windows(
                brain, slot, champion, version, cooldown, now
            ) or self._near_zero_weight(brain, slot, version, blend, cooldown, now)
            if item is not None:
                added.append(item)
        return added

    def _near_zero_weight(self, brain, slot, version, blend, cooldown, now) -> QueueItemRecord | None:
        name = f"v{version.number}"
        if blend is None or name not in blend["weights"]:
            return None
        weight = blend["weights"][name]
        if weight > self.config.min_ensemble_weight:
            return None
        return brain.enqueue(
            "prune",
            slot.key,
            version=version.number,
            rule=self.weight_rule,
            cooldown=cooldown,
            now=now,
            reason=(
                f"{name} ensemble weight {_fmt(weight)} ≤ {self.config.min_ensemble_weight} in the "
                f"optimised blend with champion v{blend['champion']} over {blend['n']} shared live bars"
            ),
            evidence={**blend, "ensemble_weight": weight, "threshold": self.config.min_ensemble_weight},
        )

    def _worse_for_windows(self, brain, slot, champion, version, cooldown, now) -> QueueItemRecord | None:
        ours, theirs = paired_rows(brain, slot.key, version, champion)
        size, needed = self.config.window, self.config.windows
        full = len(ours) // size
        if full < needed:
            return None
        windows = []
        for index in range(full - needed, full):  # the newest `needed` full windows
            part = slice(index * size, (index + 1) * size)
            mine = metrics_of(ours[part], version, slot.timeframe, slot.horizon)
            champ = metrics_of(theirs[part], champion, slot.timeframe, slot.horizon)
            windows.append(
                {"start": mine["start"], "end": mine["end"], "mae": mine["mae"], "champion_mae": champ["mae"]}
            )
        if not all(w["mae"] > w["champion_mae"] for w in windows):
            return None
        return brain.enqueue(
            "prune",
            slot.key,
            version=version.number,
            rule=self.rule,
            cooldown=cooldown,
            now=now,
            reason=(
                f"v{version.number} had a higher live MAE than champion v{champion.number} in each of "
                f"the last {needed} windows of {size} shared bars"
            ),
            evidence={
                "champion": champion.number,
                "window": size,
                "windows": [
                    {**w, "start": w["start"].isoformat(), "end": w["end"].isoformat()} for w in windows
                ],
            },
        )


class AutoRollbackPolicy:
    def __init__(self, config: RollbackPolicyConfig):
        self.config = config

    def judged_promotion(self, brain: Brain, slot_key: str) -> PromotionRecord | None:
        """The slot's newest change of champion if it is a promotion with a predecessor (the
        one a rollback would undo)."""
        history = brain.promotion_history(slot_key, limit=1)
        if not history or history[0].kind != "promote" or history[0].previous_version is None:
            return None
        return history[0]

    def shadow_wanted(self, brain: Brain, slot_key: str) -> VersionRecord | None:
        """The previous champion while the newest promotion is still inside its judging window."""
        promotion = self.judged_promotion(brain, slot_key)
        if promotion is None:
            return None
        new = brain.get_version(slot_key, promotion.version)
        made = brain.list_predictions(
            slot_key, version=new.number, since=promotion.ts, limit=self.config.window
        )
        if len(made) >= self.config.window:
            return None
        return brain.get_version(slot_key, cast(int, promotion.previous_version))  # judged: has one

    def evaluate(
        self, brain: Brain, slot: SlotRecord, *, now: datetime | None = None
    ) -> RollbackRecord | None:
        now = now or datetime.now(UTC)
        promotion = self.judged_promotion(brain, slot.key)
        if promotion is None:
            return None
        recent = brain.list_rollbacks(slot.key, limit=1)
        if recent and recent[0].automatic and recent[0].ts > now - timedelta(seconds=self.config.cooldown):
            return None
        new = brain.get_version(slot.key, promotion.version)
        previous = brain.get_version(slot.key, cast(int, promotion.previous_version))  # judged: has one
        new_rows, old_rows = paired_rows(brain, slot.key, new, previous, since=promotion.ts)
        new_rows, old_rows = new_rows[: self.config.window], old_rows[: self.config.window]
        n = len(new_rows)
        if n < self.config.min_samples:
            return None
        # Matured rows: every one has its realised outcome.
        new_errors = np.abs([r.blended - cast(float, r.realised) for r in new_rows])
        old_errors = np.abs([r.blended - cast(float, r.realised) for r in old_rows])
        statistic, p = self._test(old_errors, new_errors)
        # statistic < 0: the new champion's errors are larger than its predecessor's.
        if not (math.isfinite(statistic) and statistic < 0 and p < self.config.alpha):
            return None
        metrics = {
            f"v{new.number}": metrics_of(new_rows, new, slot.timeframe, slot.horizon),
            f"v{previous.number}": metrics_of(old_rows, previous, slot.timeframe, slot.horizon),
        }
        for values in metrics.values():
            values["start"], values["end"] = values["start"].isoformat(), values["end"].isoformat()
        evidence: dict[str, Any] = {
            "test": self.config.test,
            "statistic": statistic,
            "p": p,
            "n": n,
            "alpha": self.config.alpha,
            "loss": "absolute error (bps)",
            "live_metrics": metrics,
        }
        reason = (
            f"live errors of v{new.number} significantly worse than v{previous.number} on {n} shared bars "
            f"({self.config.test} {_fmt(statistic)}, p={_fmt(p)} < {self.config.alpha}; MAE "
            f"{_fmt(float(new_errors.mean()))} vs {_fmt(float(old_errors.mean()))})"
        )
        return brain.rollback(
            slot.key,
            actor=ACTOR,
            reason=reason,
            to=previous.number,
            automatic=True,
            evidence=evidence,
            at=now,
        )

    def _test(self, old_errors: np.ndarray, new_errors: np.ndarray) -> tuple[float, float]:
        """engine.abtest's tests take per-bar *gains* (champion first, challenger second) and a
        positive statistic favours the challenger; errors are losses, so they go in negated."""
        from engine.abtest import diebold_mariano, paired_t

        if self.config.test == "paired_t":
            if np.all(new_errors - old_errors == new_errors[0] - old_errors[0]):
                return math.nan, 1.0  # a constant difference: t is undefined
            return paired_t(-old_errors, -new_errors)
        return diebold_mariano(-old_errors, -new_errors)


def regime_change(labels: pl.DataFrame, axis: str, recent_bars: int) -> tuple[str, str, int] | None:
    """(previous regime, current regime, bars since the change) when the slot's newest labelled
    bar on `axis` is in a regime that began within its newest `recent_bars` labelled bars; None
    otherwise (no change that recent, or never a change)."""
    known = labels[axis].drop_nulls().to_list() if axis in labels.columns else []
    if not known:
        return None
    current, run = known[-1], 0
    for label in reversed(known):
        if label != current:
            break
        run += 1
    if run == len(known) or run > recent_bars:
        return None
    return known[-run - 1], current, run


class RegimePolicy:
    """A slot's regime changed and its champion is weak in the new one -> retrain queue, with the
    regime map's ranking there as the evidence (an operator may promote the winner instead)."""

    rule = "regime_weak_champion"

    def __init__(self, config: RegimePolicyConfig, settings: RegimeMapConfig | None = None,
                 regime_config: RegimeConfig | None = None):
        self.config = config
        self.settings = settings or RegimeMapConfig()
        self.regime_config = regime_config  # engine.regimes.RegimeConfig, None: its defaults

    @property
    def axis(self) -> str:
        return self.config.axis or (self.regime_config.axis if self.regime_config is not None else "trend")

    def evaluate(
        self, brain: Brain, slot: SlotRecord, *, now: datetime | None = None,
        labels: pl.DataFrame | None = None, judged: dict[str, tuple] | None = None,
    ) -> QueueItemRecord | None:
        """`labels`: the slot's regime labels when the caller has them (scheduler.services.regimes).
        `judged`: slot key -> the change last judged, where the caller keeps it between ticks
        (the live loop): a change is judged once per champion, on the first tick that sees it,
        not on every tick of its `recent_bars` (each judgement reads the whole series)."""
        from scheduler.services.regime_map import recent_labels, regime_map

        if not self.config.enabled:
            return None
        champion = brain.champion(slot.key)
        if champion is None or self._cooling(brain, slot, now):
            return None
        # The newest bars tell whether the regime just changed: the whole series is read only then.
        recent = labels if labels is not None else recent_labels(
            brain, slot.key, self.config.recent_bars + 1, self.regime_config)
        change = regime_change(recent, self.axis, self.config.recent_bars)
        if change is None:
            return None
        previous, current, since = change
        if judged is not None:
            began = recent.filter(pl.col(self.axis).is_not_null())["ts"][-since]
            change_seen = (champion.number, previous, current, began)
            if judged.get(slot.key) == change_seen:
                return None
            judged[slot.key] = change_seen
        ranking = regime_map(
            brain, slot.key, axis=self.axis, settings=self.settings, source=self.config.source,
            regimes=[current], regime_config=self.regime_config, labels=labels,
        ).regimes[0]
        mine = next((s for s in ranking.standings if s.champion), None)
        if mine is None:
            return None
        metric = self.settings.metric
        reasons = []
        if mine.enough and mine.value is not None and mine.value < self.config.metric_below:
            reasons.append(f"its {self.config.source} {metric} there is {_fmt(mine.value)} < "
                           f"{_fmt(self.config.metric_below)} over {mine.n} bars")
        better = [s for s in ranking.standings
                  if s.against_champion is not None and s.against_champion.verdict == "better"]
        if better:
            reasons.append(", ".join(
                f"v{s.version} is better there ({metric} {_fmt(s.value)} vs {_fmt(mine.value)}, "
                f"p={_fmt(s.against_champion.p_adjusted)} on {s.against_champion.n} shared bars)"
                for s in better if s.against_champion is not None))
        if not reasons:
            return None
        evidence = {
            "version": champion.number, "axis": self.axis, "previous": previous, "regime": current,
            "bars_since_change": since, "source": self.config.source, "metric": metric,
            "min_samples": self.settings.min_samples, "alpha": self.settings.alpha,
            "threshold": self.config.metric_below,
            "ranking": [
                {"version": s.version, "n": s.n, "value": s.value, "rank": s.rank, "champion": s.champion,
                 "verdict": None if s.against_champion is None else s.against_champion.verdict,
                 "p_adjusted": None if s.against_champion is None else s.against_champion.p_adjusted}
                for s in ranking.standings
            ],
        }
        reason = (f"{slot.key} moved from {previous} to {current} ({self.axis}); champion v{champion.number} "
                  f"is weak there: " + "; ".join(reasons))
        return brain.enqueue("retrain", slot.key, rule=self.rule, reason=reason, evidence=evidence,
                             cooldown=timedelta(seconds=self.config.cooldown), now=now)

    def _cooling(self, brain: Brain, slot: SlotRecord, now: datetime | None) -> bool:
        """A retrain item of the slot is open, or this rule fired within its cooldown: brain.enqueue
        would add nothing, so the map is not worth reading (enqueue still decides, atomically)."""
        since = (now or datetime.now(UTC)) - timedelta(seconds=self.config.cooldown)
        for item in brain.list_queue("retrain", slot_key=slot.key, limit=20):
            if item.state in ("pending", "approved") or (item.rule == self.rule and item.created_at > since):
                return True
        return False
