"""What one refresh of the console reads from the brain, as plain data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from brain import Brain
from brain.records import JobRecord

Clock = Callable[[], datetime]

JOBS_SHOWN = 8


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class BrainSnapshot:
    slots: list[dict]
    jobs: list[JobRecord]
    taken_at: datetime

    @property
    def active_jobs(self) -> list[JobRecord]:
        return [job for job in self.jobs if job.state in ("queued", "running")]


def read_snapshot(brain: Brain, clock: Clock = utc_now) -> BrainSnapshot:
    return BrainSnapshot(slots=brain.status(), jobs=brain.list_jobs(limit=JOBS_SHOWN), taken_at=clock())
