"""What one refresh of the console reads from the brain, as plain data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from brain import Brain
from brain.leader import LeaderRecord
from brain.records import JobRecord, RollbackRecord

Clock = Callable[[], datetime]

JOBS_SHOWN = 8
TREND_POINTS = 12  # live Sharpe values in the Models view's trend sparkline


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

    @property
    def active_jobs(self) -> list[JobRecord]:
        return [job for job in self.jobs if job.state in ("queued", "running")]


def read_snapshot(brain: Brain, clock: Clock = utc_now,
                  previous: BrainSnapshot | None = None) -> BrainSnapshot:
    """One refresh. The per-slot overview is the costly part (tens of ms at hundreds of slots);
    when the brain's change marks equal those of `previous`, its slots are reused as they are."""
    marks = brain.change_marks()
    unchanged = previous is not None and previous.marks == marks
    newest = brain.list_rollbacks(limit=1)
    return BrainSnapshot(slots=previous.slots if unchanged else slot_summaries(brain),
                         jobs=brain.list_jobs(limit=JOBS_SHOWN), taken_at=clock(),
                         leader=brain.current_leader(), newest_rollback=newest[0] if newest else None,
                         marks=marks)


def slot_summaries(brain: Brain) -> list[dict]:
    """brain.status() with each slot's live metrics, newest drift check and open queue items."""
    live, trend = brain.live_summaries(), brain.live_history("sharpe", points=TREND_POINTS)
    drift, queues = brain.drift_flags(), brain.open_queue_counts()
    return [{**slot, "live": live.get(slot["slot"]) or {}, "live_trend": trend.get(slot["slot"], []),
             "drift": drift.get(slot["slot"]), "queue": queues.get(slot["slot"], {})}
            for slot in brain.status()]
