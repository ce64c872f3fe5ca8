"""What one refresh of the console reads from the brain, as typed records: one SlotOverview per
slot, built in `slot_overview` from brain.status(), the live summaries and trend, the drift flags
and the open queue counts."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from brain import Brain
from brain.alerts import AlertsSummary
from brain.lease import LeaderRecord
from brain.records import ChangeMarks, FeedStateRecord, JobRecord, RollbackRecord, SlotStatus

Clock = Callable[[], datetime]

JOBS_SHOWN = 8
TREND_POINTS = 12  # live Sharpe values in the Models view's trend sparkline
# Reading only the slots the change marks name relies on new rows getting higher ids than the
# marks. PostgreSQL can commit a lower id after a higher one, so the whole overview is read again
# this often, whatever the marks say.
WHOLE_READ_SECONDS = 30.0


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OosMetrics:
    """A version's overall out-of-sample numbers (None: not measured, or NaN)."""

    sharpe: float | None = None
    hit_rate: float | None = None
    ic: float | None = None
    rmse: float | None = None
    mae: float | None = None

    @classmethod
    def of(cls, values: Mapping[str, float | None] | None) -> OosMetrics:
        if not values:
            return NOT_MEASURED
        get = values.get
        return cls(get("sharpe"), get("hit_rate"), get("ic"), get("rmse"), get("mae"))


NOT_MEASURED = OosMetrics()


@dataclass(frozen=True)
class LiveSummary:
    """The champion's newest live numbers (brain.live_summaries)."""

    version: int
    ts: datetime
    sharpe: float | None = None
    win_rate: float | None = None
    mae: float | None = None
    mse: float | None = None
    n: float | None = None


@dataclass(frozen=True)
class DriftFlag:
    """A slot's newest drift check with one method: how many features drifted of how many."""

    ts: datetime
    features: int
    drifted: int
    method: str


@dataclass(frozen=True)
class SlotOverview:
    """One slot as the console shows it. Frozen, so equal overviews compare (and hash) equal and a
    view can keep the cells it formatted from one."""

    slot: str  # the slot key
    symbol: str
    timeframe: str
    target: str
    horizon: int
    versions: int = 0
    latest_version: int | None = None
    model_kind: str | None = None  # the latest version's
    trained_at: datetime | None = None  # when the latest version was stored
    metrics: OosMetrics = NOT_MEASURED  # the latest version's
    champion: int | None = None
    champion_kind: str | None = None
    champion_metrics: OosMetrics = NOT_MEASURED
    live: LiveSummary | None = None
    live_trend: tuple[float | None, ...] = ()  # the champion's last live Sharpe values, oldest first
    drift: DriftFlag | None = None
    queue: tuple[tuple[str, int], ...] = ()  # (queue, open items), by queue name
    last_forecast: datetime | None = None  # when the slot's newest forecast was made
    last_forecast_bar: datetime | None = None  # the bar it was made for

    @property
    def shown_metrics(self) -> OosMetrics:
        """The champion's out-of-sample numbers where the slot has one, else its latest version's."""
        return self.champion_metrics if self.champion else self.metrics

    @property
    def shown_kind(self) -> str | None:
        return self.champion_kind if self.champion else self.model_kind

    def queued(self, queue: str) -> int:
        return dict(self.queue).get(queue, 0)


def slot_overview(status: SlotStatus, live: Mapping[str, Any] | None,
                  trend: list[float | None] | None, drift: Mapping[str, Any] | None,
                  queue: Mapping[str, int] | None,
                  forecast: tuple[datetime, datetime] | None = None) -> SlotOverview:
    """The one place a slot's overview is made from what the brain returns (`forecast`: the
    newest forecast's bar and when it was made, brain.last_forecasts)."""
    return SlotOverview(
        slot=status.slot, symbol=status.symbol, timeframe=status.timeframe,
        target=status.target, horizon=status.horizon, versions=status.versions,
        latest_version=status.latest_version, model_kind=status.model_kind,
        trained_at=status.trained_at,
        metrics=OosMetrics.of(status.metrics), champion=status.champion,
        champion_kind=status.champion_kind,
        champion_metrics=OosMetrics.of(status.champion_metrics),
        live=LiveSummary(**live) if live else None, live_trend=tuple(trend or ()),
        drift=drift_flag(drift), queue=queue_counts(queue),
        last_forecast=forecast[1] if forecast else None, last_forecast_bar=forecast[0] if forecast else None,
    )


def drift_flag(flag: Mapping[str, Any] | None) -> DriftFlag | None:
    return DriftFlag(**flag) if flag else None


def queue_counts(counts: Mapping[str, int] | None) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((counts or {}).items()))


@dataclass(frozen=True)
class BrainSnapshot:
    slots: tuple[SlotOverview, ...]
    jobs: list[JobRecord]
    taken_at: datetime
    leader: LeaderRecord | None = None  # the live headless leader, if any
    newest_rollback: RollbackRecord | None = None  # so a console can tell of each new one
    marks: ChangeMarks | None = None  # brain.change_marks() when `slots` was read
    feeds: tuple[FeedStateRecord, ...] = ()  # what the live loop last knew of each feed
    alerts: AlertsSummary = AlertsSummary()  # alerts a sink never got: how many, the newest
    read_whole_at: float = field(default_factory=time.monotonic)  # when every slot was last read

    @property
    def active_jobs(self) -> list[JobRecord]:
        return [job for job in self.jobs if job.is_active]


def read_snapshot(brain: Brain, clock: Clock = utc_now,
                  previous: BrainSnapshot | None = None) -> BrainSnapshot:
    """One refresh. The per-slot overview is the costly part (tens of ms at hundreds of slots),
    so it is read in part when it can be: not at all when the brain's change marks equal those of
    `previous`, only the slots that changed when the marks can name them (the others keep their
    records of `previous`)."""
    marks = brain.change_marks()
    if (previous is None or previous.marks is None
            or time.monotonic() - previous.read_whole_at >= WHOLE_READ_SECONDS):
        slots, read_whole_at = slot_overviews(brain), time.monotonic()
    else:
        slots = updated_slots(brain, previous.slots, previous.marks, marks)
        read_whole_at = previous.read_whole_at
    newest = brain.list_rollbacks(limit=1)
    return BrainSnapshot(slots=slots, jobs=brain.list_jobs(limit=JOBS_SHOWN), taken_at=clock(),
                         leader=brain.current_leader(), newest_rollback=newest[0] if newest else None,
                         marks=marks, read_whole_at=read_whole_at, feeds=tuple(brain.feed_states()),
                         alerts=brain.alerts_summary())


def slot_overviews(brain: Brain, slot_keys: Collection[str] | None = None,
                   side: tuple[dict, dict] | None = None) -> tuple[SlotOverview, ...]:
    """Every slot's overview (with `slot_keys`, those slots' only), ordered by key. `side`: drift
    flags and queue counts already read."""
    live = brain.live_summaries(slot_keys)
    trend = brain.live_history("sharpe", points=TREND_POINTS, slot_keys=slot_keys)
    forecasts = brain.last_forecasts(slot_keys)
    drift, queues = side or side_parts(brain, slot_keys)
    return tuple(slot_overview(status, live.get(status.slot), trend.get(status.slot),
                               drift.get(status.slot), queues.get(status.slot), forecasts.get(status.slot))
                 for status in brain.status(slot_keys))


def side_parts(brain: Brain, slot_keys: Collection[str] | None = None) -> tuple[dict, dict]:
    """Drift flags and open queue counts of every slot (with `slot_keys`, those slots' only: a
    scrape after one slot's new forecast read every slot's drift checks)."""
    return brain.drift_flags(slot_keys=slot_keys), brain.open_queue_counts(slot_keys)


def updated_slots(brain: Brain, before: tuple[SlotOverview, ...], before_marks: ChangeMarks,
                  marks: ChangeMarks) -> tuple[SlotOverview, ...]:
    """`before` (read at `before_marks`) brought up to date: the slots overview_changes names are
    read again, drift flags and queue counts are read (once) when their marks moved. A slot nothing
    changed keeps its very record."""
    if marks == before_marks:
        return before
    changed = brain.overview_changes(before_marks)
    if changed is None:
        return slot_overviews(brain)
    side_marks_moved = marks.side_parts != before_marks.side_parts  # drift checks, queue items
    side = side_parts(brain) if side_marks_moved else None
    fresh = {slot.slot: slot for slot in slot_overviews(brain, changed, side)} if changed else {}
    slots = []
    for slot in before:
        slot = fresh.get(slot.slot, slot)
        if side is not None:
            drift, queue = drift_flag(side[0].get(slot.slot)), queue_counts(side[1].get(slot.slot))
            if drift != slot.drift or queue != slot.queue:
                slot = replace(slot, drift=drift, queue=queue)
        slots.append(slot)
    return tuple(slots)
