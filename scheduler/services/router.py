"""Regime-router versions of a slot (issue 17, switching): member versions of the slot, switched per
bar by its causal regime label of one axis, the routing learned on the members' out-of-fold
predictions only (engine.regimes.router) and stored like any version
(scheduler.services.training.store_result), so `huracan ab` compares it (engine.abtest replays a
router from its self-contained manifest), promotion and rollback judge it as they judge every
version, and the live loop serves it with each new bar's label (`router_labels`).

The labels are the slot's stored ones (scheduler.services.regimes.slot_regimes, computed
causally from the bars up to each bar), under the labelling config the router records in its
spec: the labels it is served with are the labels it learned on. The live loop labels each new
bar with a labeller held between ticks (`router_labels`), as slot_regimes would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from brain import Brain
from brain.records import SlotRecord, VersionRecord
from engine.ensembles.version import MemberVersion
from engine.regimes.incremental import RegimeLabeller
from engine.regimes.router import KIND, RouterError, train_router_version
from engine.spec import ROUTER_METHODS

DEFAULT_MIN_ROWS = 30


def router_members(brain: Brain, slot_key: str, members: Sequence[int]) -> list[MemberVersion]:
    """The stored member versions, refused (RouterError, one line naming what) unless a router can
    switch between them: a known slot, at least two distinct versions of it, none a router or
    pruned."""
    if brain.get_slot(slot_key) is None:
        known = ", ".join(s.key for s in brain.list_slots()) or "none yet"
        raise RouterError(f"no slot {slot_key} (slots: {known})")
    if len(members) < 2:
        raise RouterError(f"members: a router needs at least 2 versions, got {len(members)}")
    if len(set(members)) != len(members):
        raise RouterError(f"members: a version repeats ({', '.join(f'v{n}' for n in members)})")
    stored = {version.number: version for version in brain.list_versions(slot_key)}
    found = []
    for number in members:
        version = stored.get(number)
        if version is None:
            raise RouterError(f"members: {slot_key} has no version {number} (versions: {sorted(stored)})")
        if version.model_kind == KIND:
            raise RouterError(f"members: {slot_key} v{number} is a router itself; list its members instead")
        if version.status == "pruned":
            raise RouterError(f"members: {slot_key} v{number} is pruned")
        found.append(MemberVersion(version.number, version.id, version.artifact_sha256, version.manifest))
    return found


def _config(regimes: Any):
    from engine.regimes.labels import RegimeConfig

    if regimes is None:
        return RegimeConfig.model_validate({})  # the defaults
    if isinstance(regimes, RegimeConfig):
        return regimes
    from engine.ensembles.version import _first_line

    try:
        return RegimeConfig.model_validate(dict(regimes))
    except ValueError as error:
        raise RouterError(f"regimes: {_first_line(error)}") from None


def train_router(
    brain: Brain, slot_key: str, members: Sequence[int], *, axis: str | None = None,
    method: str = "select", min_rows: int = DEFAULT_MIN_ROWS, regimes: Any = None, actor: str = "system",
) -> VersionRecord:
    """Train and store a regime-router version of `slot_key` switching between its versions
    `members` by the label of `axis` (None: the labelling config's own axis) under the labelling
    config `regimes` (a RegimeConfig, its JSON, or None for the defaults). RouterError (one line)
    for bad input, before anything is written."""
    from engine.regimes.router import router_spec
    from scheduler.services.regimes import slot_regimes
    from scheduler.services.training import store_result

    if method not in ROUTER_METHODS:
        raise RouterError(f"method {method!r}: one of {', '.join(ROUTER_METHODS)}")
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
        raise RouterError(f"min rows {min_rows!r}: a whole number >= 1")
    config = _config(regimes)
    axis = axis or config.axis
    found = router_members(brain, slot_key, members)
    document = config.model_dump(mode="json")
    spec = router_spec(found, axis=axis, method=method, min_rows=min_rows, regimes=document)
    if axis == "hmm" and config.hmm_states is None:
        raise RouterError("axis hmm: the labelling config has no hmm_states (no hmm labels to route on)")
    slot = brain.get_slot(slot_key)
    assert slot is not None  # router_members refused an unknown slot
    frame = brain.load_bars(slot.symbol, slot.timeframe)
    if frame.is_empty():
        raise RouterError(f"the brain holds no {slot.timeframe} bars for {slot.symbol}")
    try:
        labels = slot_regimes(brain, slot_key, config=config)
    except ValueError as error:
        raise RouterError(f"regime labels of {slot_key}: {str(error).splitlines()[0]}") from None
    alt = {item.kind: brain.load_alt_data(item.kind, slot.symbol) for item in spec.alt}
    result = train_router_version(frame, found, axis=axis, method=method, min_rows=min_rows,
                                  regimes=document, labels=labels, alt=alt)
    return store_result(brain, slot, result, actor=actor, regime_config=config)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The labels of a series' newest bars a router keeps between ticks: a tick asks for its new bars.
HELD_LABELS = 512


@dataclass
class _HeldLabels:
    """A series' labeller under one labelling config, and the labels of its newest bars."""

    labeller: RegimeLabeller
    labels: dict[datetime, dict[str, str | None]]

    def remember(self, labels: pl.DataFrame) -> None:
        for row in labels.tail(HELD_LABELS).iter_rows(named=True):
            self.labels[row.pop("ts")] = row
        for ts in list(self.labels)[: max(len(self.labels) - HELD_LABELS, 0)]:
            del self.labels[ts]


def router_labels(
    brain: Brain, slot: SlotRecord, serving, bars: Sequence[datetime], held_labels: dict | None = None,
    recent: pl.DataFrame | None = None,
) -> dict[datetime, str | None]:
    """The causal label of each of `bars` on a router's axis under the router's own labelling
    config. A labeller is held per series between ticks (engine.regimes.incremental): the first
    tick labels the series whole, each later one steps the labeller over the bars from the newest
    one labelled on (which may have been rewritten), taken from `recent` (the newest bars the live
    loop holds this tick) where they reach back that far, else read. Every label uses the bars up
    to its own only, so these are the labels slot_regimes stores (the leader stores them after
    the tick), without reading or labelling the whole history per tick. `held_labels`: where
    they are held, (symbol, timeframe, label key) -> _HeldLabels (the live loop's LiveState);
    None holds nothing."""
    router = serving.spec.router
    if not bars:
        return {}
    config = _config(router.regimes)
    store: dict = {} if held_labels is None else held_labels
    key = (slot.symbol, slot.timeframe, config.label_key())
    held = store.get(key)
    if held is not None and all(ts in held.labels for ts in bars):
        return {ts: held.labels[ts][router.axis] for ts in bars}
    fresh = None if held is None else _step(brain, slot, held, bars, recent)
    if held is None or fresh is None:  # label the series whole
        held = store[key] = _HeldLabels(RegimeLabeller(config), {})
        fresh = held.labeller.extend(brain.load_bars(slot.symbol, slot.timeframe))
    held.remember(fresh)
    found = {ts: held.labels[ts][router.axis] for ts in bars if ts in held.labels}
    older = [ts for ts in bars if ts not in found]  # the first tick's: the whole history, say
    if older:
        rows = fresh.filter(pl.col("ts").is_in(older))
        found.update(zip(rows["ts"].to_list(), rows[router.axis].to_list(), strict=True))
    return {ts: found.get(ts) for ts in bars}


def _step(brain: Brain, slot: SlotRecord, held: _HeldLabels, bars: Sequence[datetime],
          recent: pl.DataFrame | None) -> pl.DataFrame | None:
    """The held labeller stepped over the bars from its newest one on: `recent`'s where they
    reach back to it and forward to every bar asked for, else read from the brain; None when
    the series changed under it (a bar before its newest one rewritten)."""
    from engine.regimes import RegimeError

    newest = held.labeller.newest
    if newest is None:
        return None
    if recent is not None and not recent.is_empty() and recent["ts"][0] <= newest \
            and recent["ts"][-1] >= max(bars):
        # A binary search on the microseconds: a polars filter on a datetime literal costs more
        # than the labelling it feeds.
        micros = recent["ts"].dt.cast_time_unit("us").to_physical().to_numpy()
        first = int(np.searchsorted(micros, (newest - EPOCH) // timedelta(microseconds=1)))
        new_bars = recent.slice(first)
    else:
        new_bars = brain.load_bars(slot.symbol, slot.timeframe, since=newest)
    try:
        return held.labeller.extend(new_bars)
    except RegimeError:
        return None
