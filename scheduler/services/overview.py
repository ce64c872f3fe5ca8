"""What one refresh of the console reads from the brain, as plain data."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

from brain import Brain
from brain.leader import LeaderRecord
from brain.records import JobRecord, RollbackRecord

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
class BrainSnapshot:
    slots: list[dict]
    jobs: list[JobRecord]
    taken_at: datetime
    leader: LeaderRecord | None = None  # the live headless leader, if any
    newest_rollback: RollbackRecord | None = None  # so a console can tell of each new one
    marks: tuple = ()  # brain.change_marks() when `slots` was read
    read_whole_at: float = field(default_factory=time.monotonic)  # when every slot was last read

    @property
    def active_jobs(self) -> list[JobRecord]:
        return [job for job in self.jobs if job.state in ("queued", "running")]


def read_snapshot(brain: Brain, clock: Clock = utc_now,
                  previous: BrainSnapshot | None = None) -> BrainSnapshot:
    """One refresh. The per-slot overview is the costly part (tens of ms at hundreds of slots),
    so it is read in part when it can be: not at all when the brain's change marks equal those of
    `previous`, only the slots that changed when the marks can name them. A slot whose overview is
    unchanged keeps the very dict of `previous`, so the screens can skip it by identity."""
    marks = brain.change_marks()
    whole = (previous is None or previous.marks == ()
             or time.monotonic() - previous.read_whole_at >= WHOLE_READ_SECONDS)
    if whole:
        slots, read_whole_at = slot_summaries(brain), time.monotonic()
    else:
        slots, read_whole_at = updated_slots(brain, previous, marks), previous.read_whole_at
    if previous is not None:
        slots = keep_unchanged(slots, previous.slots)
    newest = brain.list_rollbacks(limit=1)
    return BrainSnapshot(slots=slots, jobs=brain.list_jobs(limit=JOBS_SHOWN), taken_at=clock(),
                         leader=brain.current_leader(), newest_rollback=newest[0] if newest else None,
                         marks=marks, read_whole_at=read_whole_at)


def slot_summaries(brain: Brain, slot_keys: Collection[str] | None = None,
                   side: tuple[dict, dict] | None = None) -> list[dict]:
    """brain.status() with each slot's live metrics, newest drift check and open queue items;
    with `slot_keys`, those slots' only. `side`: drift flags and queue counts already read."""
    live = brain.live_summaries(slot_keys)
    trend = brain.live_history("sharpe", points=TREND_POINTS, slot_keys=slot_keys)
    drift, queues = side or side_parts(brain)
    return [{**slot, "live": live.get(slot["slot"]) or {}, "live_trend": trend.get(slot["slot"], []),
             "drift": drift.get(slot["slot"]), "queue": queues.get(slot["slot"], {})}
            for slot in brain.status(slot_keys)]


def side_parts(brain: Brain) -> tuple[dict, dict]:
    """Drift flags and open queue counts of every slot: small tables, always read whole."""
    return brain.drift_flags(), brain.open_queue_counts()


def updated_slots(brain: Brain, previous: BrainSnapshot, marks: tuple) -> list[dict]:
    """`previous.slots` brought up to date: the slots overview_changes names are read again,
    drift flags and queue counts are read (once) when their marks moved."""
    if marks == previous.marks:
        return previous.slots
    changed = brain.overview_changes(previous.marks)
    if changed is None:
        return slot_summaries(brain)
    side_marks_moved = marks[4:] != previous.marks[4:]  # drift checks, queue items
    side = side_parts(brain) if side_marks_moved else None
    fresh = {slot["slot"]: slot for slot in slot_summaries(brain, changed, side)} if changed else {}
    slots = []
    for slot in previous.slots:
        slot = fresh.get(slot["slot"], slot)
        if side is not None:
            drift, queues = side
            slot = {**slot, "drift": drift.get(slot["slot"]), "queue": queues.get(slot["slot"], {})}
        slots.append(slot)
    return slots


def keep_unchanged(slots: list[dict], before: list[dict]) -> list[dict]:
    """Each slot equal to its previous summary is replaced by that very dict."""
    earlier = {slot["slot"]: slot for slot in before}
    return [earlier[slot["slot"]] if earlier.get(slot["slot"]) == slot else slot for slot in slots]
