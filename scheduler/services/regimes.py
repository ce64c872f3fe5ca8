"""Market regimes of a slot's bars: labelled causally by the engine (engine.regimes), stored in
the brain (brain/regimes.py) and kept fresh by the leader after each live tick.

Labels are kept per series (symbol, timeframe) and labelling configuration (its `label_key`): two
slots of one series share them. Every label at a bar uses bars up to that bar only, so a stored
label never changes when bars are added; only bars the brain has no label for are computed and
written. (A bar revised in place after it was labelled keeps its old label; `refresh=True`
rewrites a series' labels whole.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from brain import Brain
from engine.regimes import RegimeConfig, RegimeError

if TYPE_CHECKING:
    import polars as pl

    from engine.regimes.events import RegimeEvent
    from engine.regimes.incremental import RegimeLabeller

# polars, numpy and the labellers are imported where labels are made: a console that imports
# this module to show a slot's regime loads them only when it asks for one.
log = logging.getLogger(__name__)


def _series(brain: Brain, slot_key: str) -> tuple[str, str]:
    slot = brain.get_slot(slot_key)
    if slot is None:
        known = ", ".join(record.key for record in brain.list_slots()) or "none"
        raise RegimeError(f"no slot {slot_key!r} in the brain (slots: {known})")
    return slot.symbol, slot.timeframe


def _empty(config: RegimeConfig) -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC"), **{axis: pl.Utf8 for axis in config.axes()}})


def series_regimes(
    brain: Brain, symbol: str, timeframe: str, *, config: RegimeConfig | None = None, refresh: bool = False,
    labeller: RegimeLabeller | None = None,
) -> pl.DataFrame:
    """Labels for every stored bar of one series (ts, vol, trend[, hmm]); computes the bars the
    brain has no label for and stores them, reads the rest. `labeller`: a new one to label the
    series with (it carries on from the newest bar: refresh_regimes)."""
    import polars as pl

    from engine.regimes.labels import label_regimes

    config = config or RegimeConfig()
    key, axes = config.label_key(), config.axes()
    bars = brain.load_bars(symbol, timeframe)
    if bars.is_empty():
        return _empty(config)
    newest_bar = bars["ts"][-1]
    extent = brain.regime_labels_extent(symbol, timeframe, key)
    stored = [extent.get(axis) for axis in axes]
    if not refresh and all(entry is not None and entry == (bars.height, newest_bar) for entry in stored):
        if labeller is not None:
            labeller.extend(bars)
        return brain.load_regime_labels(symbol, timeframe, key).select("ts", *axes)
    labels = label_regimes(bars, config) if labeller is None else labeller.extend(bars)
    fresh = labels
    # Write only what is missing: the bars after the newest labelled one, when every earlier bar
    # is labelled (a series stored in one piece); otherwise, or on refresh, the whole series.
    if not refresh and all(entry is not None for entry in stored):
        newest_common = min(entry[1] for entry in stored if entry is not None)
        older = labels.filter(pl.col("ts") <= newest_common).height
        if all(entry is not None and entry[0] == older for entry in stored):
            fresh = labels.filter(pl.col("ts") > newest_common)
    if not fresh.is_empty():
        brain.store_regime_labels(symbol, timeframe, key, fresh)
    return labels


def slot_regimes(brain: Brain, slot_key: str, *, config: RegimeConfig | None = None) -> pl.DataFrame:
    """Labels for every stored bar of the slot's symbol/timeframe (ts, vol, trend[, hmm]); computes the
    missing ones and stores them (brain/regimes.py), reads the rest."""
    symbol, timeframe = _series(brain, slot_key)
    return series_regimes(brain, symbol, timeframe, config=config)


def current_regimes(
    brain: Brain, slot_key: str, *, config: RegimeConfig | None = None
) -> dict[str, str | None]:
    """axis -> the label of the slot's newest bar (None: no bars, or too little history)."""
    config = config or RegimeConfig()
    labels = slot_regimes(brain, slot_key, config=config)
    if labels.is_empty():
        return dict.fromkeys(config.axes())
    newest = labels.row(-1, named=True)
    return {axis: newest[axis] for axis in config.axes()}


def refresh_regimes(
    brain: Brain, series: Iterable[tuple[str, str]], *, config: RegimeConfig | None = None,
    labellers: dict | None = None,
) -> int:
    """Label the new bars of each (symbol, timeframe) series once; returns the series labelled.
    What the leader runs after a live tick that stored new bars. A series whose labels cannot
    be computed (RegimeError: too few bars for its HMM, say) is logged and skipped.

    `labellers`: where a labeller per series is held between calls, (symbol, timeframe, label
    key) -> RegimeLabeller (the leader's): a series whose stored labels end where its labeller
    does is stepped over the bars from there on (engine.regimes.incremental), not labelled
    whole; any other is labelled whole, and its labeller started again."""
    config = config or RegimeConfig()
    done = 0
    for symbol, timeframe in dict.fromkeys(series):
        try:
            if labellers is None or not _step_series(brain, symbol, timeframe, config, labellers):
                labeller = None
                if labellers is not None:
                    from engine.regimes.incremental import RegimeLabeller

                    labeller = labellers[(symbol, timeframe, config.label_key())] = RegimeLabeller(config)
                series_regimes(brain, symbol, timeframe, config=config, labeller=labeller)
        except RegimeError as error:
            log.warning("regime labels of %s %s skipped: %s", symbol, timeframe, error)
            continue
        done += 1
    return done


def _step_series(brain: Brain, symbol: str, timeframe: str, config: RegimeConfig, labellers: dict) -> bool:
    """Label and store a series' new bars with its held labeller, when the labels stored end
    where the labeller does (the same count of bars, the same newest one); False otherwise.
    Bars written before the newest labelled one (a backfill) are not seen here: a leader labels
    them whole when it starts, as `series_regimes(refresh=True)` does at any time."""
    import polars as pl

    key = config.label_key()
    labeller = labellers.get((symbol, timeframe, key))
    if labeller is None or (newest := labeller.newest) is None:
        return False
    extent = brain.regime_labels_extent(symbol, timeframe, key)
    if any(extent.get(axis) != (labeller.seen, newest) for axis in config.axes()):
        return False
    try:
        labels = labeller.extend(brain.load_bars(symbol, timeframe, since=newest))
    except RegimeError:
        return False
    fresh = labels.filter(pl.col("ts") > newest)  # a bar revised in place keeps its old label
    if not fresh.is_empty():
        brain.store_regime_labels(symbol, timeframe, key, fresh)
    return True


def slot_events(
    brain: Brain,
    slot_key: str,
    *,
    config: RegimeConfig | None = None,
    cascade_multiple: float = 3.0,
    cascade_window: int = 24,
) -> list[RegimeEvent]:
    """The slot's labelled events: volatility clusters (runs of the high vol regime) and, where
    the brain holds liquidation data for its symbol, liquidation cascades. RegimeError (one
    line) for a cascade rule on a symbol without liquidation data is raised by
    `slot_cascades`; here a symbol without it simply has no cascades."""
    from engine.regimes.events import liquidation_cascades, volatility_clusters

    symbol, _timeframe = _series(brain, slot_key)
    events = volatility_clusters(slot_regimes(brain, slot_key, config=config))
    liquidations = brain.load_alt_data("liquidations", symbol)
    if not liquidations.is_empty():
        events.extend(liquidation_cascades(liquidations, multiple=cascade_multiple, window=cascade_window))
    return sorted(events, key=lambda event: event.start)


def slot_cascades(
    brain: Brain, slot_key: str, *, multiple: float = 3.0, window: int = 24
) -> list[RegimeEvent]:
    """Liquidation cascades of the slot's symbol; RegimeError (one line) when the brain holds no
    liquidation data for it."""
    from engine.regimes.events import liquidation_cascades

    symbol, _timeframe = _series(brain, slot_key)
    liquidations = brain.load_alt_data("liquidations", symbol)
    if liquidations.is_empty():
        raise RegimeError(
            f"no liquidation data for {symbol} in the brain: a cascade rule needs its liquidations "
            "(long_usd, short_usd); import them with `huracan data import-alt liquidations FILE`"
        )
    return liquidation_cascades(liquidations, multiple=multiple, window=window)
