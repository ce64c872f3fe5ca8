"""Per-step progress of a job: one row per event (an epoch of neural training: its loss and
val_loss, which model and fold), so a console can draw the curve while the job runs.

Steps are numbered by the writer (the worker), rising through the whole job even when it trains
several kinds or folds; the values say which model and fold each step belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from brain.column_types import stored_json
from brain.errors import BrainError
from brain.part import BrainPart
from brain.rows import inserted_id
from brain.schema import job_events, jobs


@dataclass(frozen=True)
class JobEventRecord:
    id: int
    job_id: int
    ts: datetime
    step: int
    values: dict[str, Any]


class JobEventsMixin(BrainPart):
    def record_job_event(self, job_id: int, step: int, values: dict[str, Any]) -> JobEventRecord:
        """Store one event of `job_id`; BrainError when the job does not exist."""
        now = datetime.now(UTC)
        with self._write() as conn:
            if conn.execute(select(jobs.c.id).where(jobs.c.id == job_id)).scalar() is None:
                raise BrainError(f"no job {job_id} in the brain")
            event_id = inserted_id(conn.execute(
                insert(job_events).values(job_id=job_id, ts=now, step=int(step), values=values)
            ))
        return JobEventRecord(event_id, job_id, now, int(step), stored_json(values))

    def job_events(self, job_id: int, *, after_step: int | None = None) -> list[JobEventRecord]:
        """The job's events in step order; with `after_step` only the later ones (a live view
        asks for what is new since its last poll)."""
        query = select(job_events).where(job_events.c.job_id == job_id)
        if after_step is not None:
            query = query.where(job_events.c.step > after_step)
        with self._read() as conn:
            rows = conn.execute(query.order_by(job_events.c.step, job_events.c.id)).all()
        return [JobEventRecord(**row._mapping) for row in rows]

    def record_job_device(self, job_id: int, device: str) -> bool:
        """What a running job actually trains on (e.g. "cuda:0" when it asked for "auto");
        False when the job is no longer running."""
        with self._write() as conn:
            result = conn.execute(
                update(jobs).where(jobs.c.id == job_id, jobs.c.state == "running").values(device=device)
            )
            return result.rowcount == 1
