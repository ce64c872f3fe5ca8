"""Performance by regime and the regime map: which version wins in which market regime, on how
many bars, and whether it beats the champion there beyond noise.

A version's per-bar returns are engine.metrics' own `strategy_returns` after costs, by its position
rule: on its walk-forward out-of-sample rows (brain.oos_predictions; an ensemble's folds each
traded from flat, as engine.ensembles scores them) with Sharpe annualised by its timeframe, or on
its matured live forecasts (realised forward return in bps, Sharpe annualised by the bars per year
over the horizon), exactly as scheduler.services.equity and live_metrics score them. Each bar
takes the causal regime label of the bar its forecast was made on (scheduler.services.regimes:
from data up to that bar only); bars without a label yet (too little history) are left out.

Split by regime they give, per (axis, regime): `sharpe`, `win_rate`, `mean_bps` (mean return per
bar in basis points) and `n` (bars). They are stored with the version as model_metrics rows of
scope `oos_regime` (when the version is stored) and `live_regime` (refreshed by the live loop),
named `METRIC|AXIS=REGIME`, e.g. `sharpe|trend=ranging`. A family name stands for the union of
its labels: `trending` is trending_up ∪ trending_down.

The map ranks the slot's unpruned versions in each regime by the configured metric; a version
with fewer than `min_samples` bars there is listed as too few and not ranked. Each ranked
version is tested against the champion on the bars of that regime they both traded: for Sharpe
engine.abtest's paired circular block bootstrap of the Sharpe difference, for the other metrics
its Diebold-Mariano test on the per-bar returns; p-values Holm-corrected across the versions of a
regime (the Diebold-Mariano test compares mean returns, so for `win_rate` it is a test of the
returns the wins came with).

    from scheduler.services.regime_map import models_for_regime
    models_for_regime(brain, "GOOG:1d:fwd_ret_1", "trending")   # ranked RegimeStanding rows
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
import polars as pl

from brain import Brain, BrainError
from brain.records import VersionRecord
from engine.regimes import RegimeConfig
from scheduler.config import RegimeMapConfig
from scheduler.services.live_metrics import BASIS_POINTS, _cost_bps, position_rule

log = logging.getLogger(__name__)

OOS_SCOPE = "oos_regime"
LIVE_SCOPE = "live_regime"
SOURCES = {"oos": OOS_SCOPE, "live": LIVE_SCOPE}
REGIME_METRICS = ("sharpe", "win_rate", "mean_bps", "n")
# A family name and the labels it stands for (exact labels stand for themselves).
FAMILIES: dict[str, tuple[str, ...]] = {"trending": ("trending_up", "trending_down")}
# The order labels are shown in; labels not listed (hmm states) follow in name order.
LABEL_ORDER = ("low", "normal", "high", "trending_up", "trending_down", "ranging")
KNOWN_AXES = ("vol", "trend", "hmm")
BOOTSTRAP_SAMPLES = 1000


def regime_metric_name(metric: str, axis: str, regime: str) -> str:
    return f"{metric}|{axis}={regime}"


def parse_regime_metric_name(name: str) -> tuple[str, str, str] | None:
    """`sharpe|trend=ranging` -> ("sharpe", "trend", "ranging"); None for any other name."""
    metric, bar, rest = name.partition("|")
    axis, equals, regime = rest.partition("=")
    if not (bar and equals and metric and axis and regime):
        return None
    return metric, axis, regime


def family_members(regime: str) -> tuple[str, ...]:
    return FAMILIES.get(regime, (regime,))


def label_sort_key(label: str) -> tuple[int, str]:
    return (LABEL_ORDER.index(label), label) if label in LABEL_ORDER else (len(LABEL_ORDER), label)


# ---- per-bar returns ------------------------------------------------------------------------


@dataclass(frozen=True)
class BarReturns:
    """One version's traded bars: each bar's return after costs (a fraction), keyed by the bar
    its forecast was made on, with the annualisation its Sharpe uses."""

    version: int
    ts: tuple[datetime, ...]
    returns: np.ndarray
    periods_per_year: float


def utc(ts: datetime) -> datetime:
    """One key for a bar whichever way it was read (a frame's naive UTC or an aware datetime)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def oos_bar_returns(brain: Brain, version: VersionRecord) -> BarReturns | None:
    """The version's walk-forward out-of-sample bars, scored as its stored Sharpe is; None when
    the brain holds no out-of-sample rows of it."""
    from engine.ensembles.version import KIND as ENSEMBLE
    from engine.metrics import periods_per_year, strategy_returns

    # The fold-by-fold trading an ensemble's stored Sharpe uses, shared with its equity curve.
    from scheduler.services.equity import _returns_fold_by_fold

    rows = brain.oos_predictions(version.id)
    if rows is None:
        return None
    prediction = np.asarray(rows.prediction, dtype=float)
    next_ret = np.asarray(rows.next_ret, dtype=float)
    cost, rule = _cost_bps(version), position_rule(version)
    if version.model_kind == ENSEMBLE:
        returns = _returns_fold_by_fold(prediction, next_ret, np.asarray(rows.fold), cost, rule)
    else:
        returns = strategy_returns(prediction, next_ret, cost, rule)
    return BarReturns(version.number, tuple(utc(ts) for ts in rows.ts), returns,
                      periods_per_year(version.manifest["timeframe"]))


def live_bar_returns(brain: Brain, slot_key: str, version: VersionRecord) -> BarReturns | None:
    """The version's matured live forecasts, scored as scheduler.services.live_metrics scores
    them; None when none has matured."""
    from engine.metrics import periods_per_year, strategy_returns

    slot = brain.get_slot(slot_key)
    if slot is None:
        raise BrainError(f"no slot {slot_key}")
    matured = brain.list_predictions(slot_key, version=version.number, matured=True)
    if not matured:
        return None
    realised = np.asarray([record.realised for record in matured], dtype=float) / BASIS_POINTS
    returns = strategy_returns([record.blended for record in matured], realised, _cost_bps(version),
                               position_rule(version))
    return BarReturns(version.number, tuple(utc(record.ts) for record in matured), returns,
                      periods_per_year(slot.timeframe) / slot.horizon)


def bar_returns(brain: Brain, slot_key: str, version: VersionRecord, source: str) -> BarReturns | None:
    if source == "oos":
        return oos_bar_returns(brain, version)
    if source == "live":
        return live_bar_returns(brain, slot_key, version)
    raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")


# ---- labels ---------------------------------------------------------------------------------


def label_axes(labels: pl.DataFrame) -> tuple[str, ...]:
    return tuple(column for column in labels.columns if column != "ts")


def labels_by_bar(labels: pl.DataFrame, axis: str) -> dict[datetime, str]:
    """{bar: label} of one axis, bars without a label left out. ValueError naming the axes there
    are when `axis` is not one of them."""
    if axis not in label_axes(labels):
        known = ", ".join(label_axes(labels)) or "none"
        raise ValueError(f"no regime axis {axis!r} for this slot; axes: {known}")
    known_rows = labels.select("ts", axis).drop_nulls()
    return {utc(ts): label for ts, label in zip(known_rows["ts"].to_list(), known_rows[axis].to_list(),
                                               strict=True)}


def regimes_of(labels: Mapping[datetime, str]) -> list[str]:
    """The labels seen, in display order."""
    return sorted(set(labels.values()), key=label_sort_key)


def families_of(seen: Iterable[str]) -> list[str]:
    """The family names any of whose labels were seen."""
    seen = set(seen)
    return [name for name, members in FAMILIES.items() if seen & set(members)]


def regime_returns(bars: BarReturns, labels: Mapping[datetime, str], regime: str) -> dict[datetime, float]:
    """{bar: return} of the bars labelled `regime` (or any label of its family) that have one
    (a forecast stored as NaN earns nothing to score)."""
    members = set(family_members(regime))
    return {ts: float(value) for ts, value in zip(bars.ts, bars.returns, strict=True)
            if labels.get(ts) in members and math.isfinite(value)}


def summary(returns: Sequence[float] | np.ndarray, periods_per_year: float) -> dict[str, float]:
    """sharpe, win_rate, mean_bps and n of per-bar returns (engine.metrics); nan where undefined."""
    from engine.metrics import sharpe_ratio, win_rate

    values = np.asarray(returns, dtype=float)
    return {
        "sharpe": sharpe_ratio(values, periods_per_year) if values.size else math.nan,
        "win_rate": win_rate(values) if values.size else math.nan,
        "mean_bps": float(np.nanmean(values) * BASIS_POINTS) if values.size else math.nan,
        "n": float(values.size),
    }


def regime_metric_rows(bars: BarReturns, labels: pl.DataFrame, scope: str) -> list[dict[str, Any]]:
    """The brain's metric rows of `bars` split by every axis and regime of `labels` (each label
    seen on a traded bar, and each family of them)."""
    rows = []
    for axis in label_axes(labels):
        by_bar = labels_by_bar(labels, axis)
        traded = regimes_of({ts: by_bar[ts] for ts in bars.ts if ts in by_bar})
        for regime in [*traded, *families_of(traded)]:
            values = summary(list(regime_returns(bars, by_bar, regime).values()), bars.periods_per_year)
            rows += [{"name": regime_metric_name(metric, axis, regime), "scope": scope,
                      "value": value if math.isfinite(value) else None} for metric, value in values.items()]
    return rows


def slot_labels(brain: Brain, slot_key: str, regime_config: RegimeConfig | None = None) -> pl.DataFrame:
    """Every stored bar's regime labels of the slot (scheduler.services.regimes.slot_regimes)."""
    from scheduler.services.regimes import slot_regimes

    return slot_regimes(brain, slot_key, config=regime_config)


def recent_labels(brain: Brain, slot_key: str, bars: int,
                  regime_config: RegimeConfig | None = None) -> pl.DataFrame:
    """The stored labels of the slot's newest labelled bars, at most `bars` of them. Read, never
    computed: the live tick calls this for every slot, and labelling a series' whole history
    there cost each tick hundreds of milliseconds (benchmarks/bench_live_tick_router.py). The
    leader labels the new bars after each tick (scheduler.services.regimes.refresh_regimes), so
    the labels trail the newest bar by at most that tick."""
    config = regime_config or RegimeConfig()
    slot = brain.get_slot(slot_key)
    if slot is None:
        raise BrainError(f"no slot {slot_key!r} in the brain")
    return brain.load_regime_labels(slot.symbol, slot.timeframe, config.label_key(), last=bars)


def record_regime_metrics(
    brain: Brain, slot_key: str, version: VersionRecord, source: str, *,
    labels: pl.DataFrame | None = None, regime_config: RegimeConfig | None = None,
) -> int:
    """Store the version's `source` ('oos' or 'live') metrics split by regime (scope oos_regime or
    live_regime); returns the rows stored (0 when it has no such bars or the slot no labels)."""
    bars = bar_returns(brain, slot_key, version, source)
    if bars is None:
        return 0
    labels = slot_labels(brain, slot_key, regime_config) if labels is None else labels
    if labels.is_empty():
        return 0
    return brain.record_metrics(version.id, regime_metric_rows(bars, labels, SOURCES[source]))


# brain -> {version id: the newest matured bar when its live metrics by regime were last stored}.
# In memory: a restarted leader stores them once more on its first tick, then every window.
_LIVE_REFRESHED: WeakKeyDictionary[Brain, dict[int, datetime]] = WeakKeyDictionary()


def refresh_live_regime_metrics(
    brain: Brain, slot_key: str, version: VersionRecord, *, oldest_in_window: datetime | None,
    regime_config: RegimeConfig | None = None, labels: pl.DataFrame | None = None,
) -> int:
    """What the live loop runs after storing a version's newest live window (its oldest bar
    `oldest_in_window`): the version's live metrics by regime over all its matured forecasts, when
    none were stored by this process yet or the whole window matured since (the read covers
    every forecast and label, so not every tick). Returns the rows stored."""
    from engine.regimes import RegimeError

    refreshed = _LIVE_REFRESHED.setdefault(brain, {})
    last = refreshed.get(version.id)
    if last is not None and (oldest_in_window is None or utc(oldest_in_window) <= last):
        return 0
    try:
        bars = live_bar_returns(brain, slot_key, version)
        if bars is None:
            return 0
        labels = slot_labels(brain, slot_key, regime_config) if labels is None else labels
        stored = 0 if labels.is_empty() else brain.record_metrics(
            version.id, regime_metric_rows(bars, labels, LIVE_SCOPE))
    except RegimeError as error:
        log.warning("%s v%d: no live metrics by regime: %s", slot_key, version.number, error)
        return 0
    refreshed[version.id] = bars.ts[-1]
    return stored


def stored_regime_metrics(brain: Brain, version: VersionRecord, source: str = "oos"
                          ) -> dict[tuple[str, str], dict[str, float | None]]:
    """{(axis, regime): {metric: value}} as last stored with the version (newest wins)."""
    found: dict[tuple[str, str], dict[str, float | None]] = {}
    for record in brain.version_metrics(version.id, scope=SOURCES[source]):
        parsed = parse_regime_metric_name(record.name)
        if parsed is not None:
            metric, axis, regime = parsed
            found.setdefault((axis, regime), {})[metric] = record.value
    return found


# ---- the map --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChampionTest:
    """A version against the champion on the bars of one regime they both traded."""

    test: str  # sharpe_bootstrap or diebold_mariano
    n: int  # shared bars
    difference: float  # the version's metric minus the champion's, on the shared bars
    p_value: float
    p_adjusted: float  # Holm-corrected across the versions of the regime
    verdict: str  # better, worse (than the champion), no_difference
    low: float | None = None  # the bootstrap's interval of the difference, where there is one
    high: float | None = None


@dataclass(frozen=True)
class RegimeStanding:
    """One version in one regime."""

    version: int
    model_kind: str
    champion: bool
    n: int  # its bars in the regime
    metrics: dict[str, float | None]
    value: float | None  # the ranking metric
    enough: bool  # at least min_samples bars: ranked when it has a value
    rank: int | None  # 1 = best; None: too few bars, or no value
    against_champion: ChampionTest | None  # None: the champion itself, too few shared bars, no champion


@dataclass(frozen=True)
class RegimeRanking:
    regime: str
    bars: int  # labelled bars of the slot in this regime
    standings: tuple[RegimeStanding, ...]  # ranked first (best first), then the rest

    @property
    def best(self) -> RegimeStanding | None:
        return next((s for s in self.standings if s.rank == 1), None)


@dataclass(frozen=True)
class RegimeMap:
    slot: str
    axis: str
    metric: str
    source: str  # oos or live
    min_samples: int
    alpha: float
    champion: int | None
    current: str | None  # the slot's newest label on the axis
    regimes: tuple[RegimeRanking, ...]

    def ranking(self, regime: str) -> RegimeRanking | None:
        return next((r for r in self.regimes if r.regime == regime), None)


def axis_of(regime: str, labels: pl.DataFrame | None = None) -> str:
    """The axis a regime name belongs to: a trend or volatility label, a family, an hmm state
    (`state_K`), else the axis of `labels` that has it. ValueError naming the known names."""
    from engine.regimes.labels import TREND_LABELS, VOL_LABELS

    members = set(family_members(regime))
    if members <= set(TREND_LABELS):
        return "trend"
    if members <= set(VOL_LABELS):
        return "vol"
    if regime.startswith("state_") and regime.removeprefix("state_").isdigit():
        return "hmm"
    if labels is not None:
        for axis in label_axes(labels):
            if regime in set(labels[axis].drop_nulls().to_list()):
                return axis
    known = [*VOL_LABELS, *TREND_LABELS, *FAMILIES, "state_0 …"]
    raise ValueError(f"unknown regime {regime!r}; known: {', '.join(known)}")


def regime_map(
    brain: Brain,
    slot_key: str,
    *,
    axis: str | None = None,
    settings: RegimeMapConfig | None = None,
    source: str = "oos",
    regimes: Sequence[str] | None = None,
    regime_config: RegimeConfig | None = None,
    labels: pl.DataFrame | None = None,
) -> RegimeMap:
    """Per regime of `axis` (default: the regimes config's axis, else trend), the slot's unpruned
    versions ranked by `settings.metric` on their `source` bars; `regimes` names the rows
    (families allowed; default every label seen). BrainError for an unknown slot; ValueError for
    an axis the slot has no labels on."""
    settings = settings or RegimeMapConfig()
    if brain.get_slot(slot_key) is None:
        raise BrainError(f"no slot {slot_key!r} in the brain")
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    axis = axis or (regime_config.axis if regime_config is not None else "trend")
    labels = slot_labels(brain, slot_key, regime_config) if labels is None else labels
    by_bar = labels_by_bar(labels, axis)
    versions = [v for v in brain.list_versions(slot_key) if v.status != "pruned"]
    champion = brain.champion(slot_key)
    traded = {v.number: bar_returns(brain, slot_key, v, source) for v in versions}
    names = list(regimes) if regimes is not None else regimes_of(by_bar)
    rankings = []
    for regime in names:
        members = set(family_members(regime))
        bars = sum(1 for label in by_bar.values() if label in members)
        rankings.append(_ranking(regime, bars, versions, traded, by_bar, champion, settings))
    newest = labels.select("ts", axis).drop_nulls()
    return RegimeMap(
        slot=slot_key, axis=axis, metric=settings.metric, source=source, min_samples=settings.min_samples,
        alpha=settings.alpha, champion=None if champion is None else champion.number,
        current=str(newest[axis][-1]) if newest.height else None, regimes=tuple(rankings),
    )


def models_for_regime(
    brain: Brain, slot_key: str, regime: str, *, settings: RegimeMapConfig | None = None,
    source: str = "oos", regime_config: RegimeConfig | None = None, labels: pl.DataFrame | None = None,
) -> list[RegimeStanding]:
    """The slot's versions in `regime` (an exact label, or a family such as `trending`), best
    first; those with too few bars there come last, unranked. The seeds'
    `get_models_for_regime("trending")`; `labels` as slot_regimes gives them (default: read)."""
    labels = slot_labels(brain, slot_key, regime_config) if labels is None else labels
    axis = axis_of(regime, labels)
    found = regime_map(brain, slot_key, axis=axis, settings=settings, source=source, regimes=[regime],
                       regime_config=regime_config, labels=labels)
    return list(found.regimes[0].standings)


def _ranking(
    regime: str,
    bars: int,
    versions: list[VersionRecord],
    traded: Mapping[int, BarReturns | None],
    by_bar: Mapping[datetime, str],
    champion: VersionRecord | None,
    settings: RegimeMapConfig,
) -> RegimeRanking:
    in_regime: dict[int, dict[datetime, float]] = {}
    metrics: dict[int, dict[str, float]] = {}
    for version in versions:
        mine = traded[version.number]
        in_regime[version.number] = {} if mine is None else regime_returns(mine, by_bar, regime)
        ppy = mine.periods_per_year if mine is not None else 1.0
        metrics[version.number] = summary(list(in_regime[version.number].values()), ppy)
    enough = [v for v in versions if metrics[v.number]["n"] >= settings.min_samples
              and math.isfinite(metrics[v.number][settings.metric])]
    order = sorted(enough, key=lambda v: (-metrics[v.number][settings.metric], -v.number))
    ranks = {v.number: index + 1 for index, v in enumerate(order)}
    tests = _champion_tests(versions, traded, in_regime, champion, settings)
    standings = []
    for v in versions:
        shown = {name: _finite(value) for name, value in metrics[v.number].items()}
        standings.append(RegimeStanding(
            version=v.number, model_kind=v.model_kind,
            champion=champion is not None and v.number == champion.number,
            n=int(metrics[v.number]["n"]), metrics=shown, value=shown[settings.metric],
            enough=metrics[v.number]["n"] >= settings.min_samples,
            rank=ranks.get(v.number), against_champion=tests.get(v.number),
        ))
    standings.sort(key=lambda s: (s.rank is None, s.rank or 0, -s.version))
    return RegimeRanking(regime, bars, tuple(standings))


def _champion_tests(
    versions: list[VersionRecord],
    traded: Mapping[int, BarReturns | None],
    in_regime: Mapping[int, dict[datetime, float]],
    champion: VersionRecord | None,
    settings: RegimeMapConfig,
) -> dict[int, ChampionTest]:
    from engine.abtest import diebold_mariano, sharpe_bootstrap

    if champion is None or traded.get(champion.number) is None:
        return {}
    theirs = in_regime[champion.number]
    ppy = traded[champion.number].periods_per_year  # type: ignore[union-attr]  # checked above
    raw: dict[int, dict[str, Any]] = {}
    for version in versions:
        if version.number == champion.number:
            continue
        shared = sorted(set(in_regime[version.number]) & set(theirs))
        if len(shared) < settings.min_samples:
            continue
        mine = np.array([in_regime[version.number][ts] for ts in shared])
        base = np.array([theirs[ts] for ts in shared])
        mine_summary, base_summary = summary(mine, ppy), summary(base, ppy)
        difference = mine_summary[settings.metric] - base_summary[settings.metric]
        if settings.metric == "sharpe":
            boot = sharpe_bootstrap(base, mine, periods_per_year=ppy, n_boot=BOOTSTRAP_SAMPLES, seed=0)
            raw[version.number] = {"test": "sharpe_bootstrap", "n": len(shared), "difference": difference,
                                   "p": boot["p_value"], "low": boot["low"], "high": boot["high"]}
        else:
            _statistic, p = diebold_mariano(base, mine)
            raw[version.number] = {"test": "diebold_mariano", "n": len(shared), "difference": difference,
                                   "p": p, "low": None, "high": None}
    if not raw:
        return {}
    adjusted = holm([row["p"] for row in raw.values()])
    tests = {}
    for (number, row), p_adjusted in zip(raw.items(), adjusted, strict=True):
        difference = row["difference"]
        significant = math.isfinite(p_adjusted) and p_adjusted <= settings.alpha and math.isfinite(difference)
        verdict = "no_difference"
        if significant and difference:
            verdict = "better" if difference > 0 else "worse"
        tests[number] = ChampionTest(
            test=row["test"], n=row["n"], difference=row["difference"], p_value=row["p"],
            p_adjusted=float(p_adjusted), verdict=verdict, low=_finite(row["low"]), high=_finite(row["high"]),
        )
    return tests


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, equal to statsmodels' multipletests(p, method="holm")
    (engine.abtest.adjust), which runs a full gc.collect() per call: most of a map's time in a
    process holding the console or the live loop."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    stepped = np.minimum(1.0, np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1)))
    adjusted = np.empty_like(p)
    adjusted[order] = stepped
    return adjusted


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
