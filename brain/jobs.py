"""The job queue: workers claim jobs atomically and report progress through the brain.

States: queued -> running -> succeeded | failed | interrupted | cancelled. A transition only
happens from the state it expects (UPDATE … WHERE state = …), so a worker that was declared
dead, or whose job was cancelled, learns it from a False return instead of overwriting.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Float, case, cast, extract, func, insert, select, update
from sqlalchemy.engine import Connection, Row

from brain.errors import BrainError
from brain.part import BrainPart
from brain.records import ACTIVE_JOB_STATES, JobRecord
from brain.rows import inserted_id
from brain.schema import jobs


class JobTally(NamedTuple):
    """The jobs of one kind in one state (brain.job_tallies): how many; how many of them ran (a
    start and an end, so a duration), the sum of those durations in seconds, how many lasted at
    most each bound asked for (cumulative, as a Prometheus histogram counts), and when the newest
    of them ended."""

    kind: str
    state: str
    jobs: int
    timed: int
    duration_sum: float
    within: tuple[int, ...]
    last_finished_at: datetime | None


def _duration_seconds(dialect: str):
    """A job's running time in seconds, in SQL: SQLite keeps times as text, PostgreSQL as timestamptz."""
    if dialect == "sqlite":
        return (func.julianday(jobs.c.finished_at) - func.julianday(jobs.c.started_at)) * 86400.0
    return cast(extract("epoch", jobs.c.finished_at - jobs.c.started_at), Float)


def _job_record(row: Row) -> JobRecord:
    return JobRecord(**row._mapping)


def _now() -> datetime:
    return datetime.now(UTC)


def insert_job(conn: Connection, kind: str, slot_key, params, device, message) -> int:
    """A queued job, inside the caller's transaction (a queue decision creates its job with it)."""
    return inserted_id(conn.execute(
        insert(jobs).values(
            kind=kind,
            slot_key=slot_key,
            params=params or {},
            state="queued",
            progress=0.0,
            message=message,
            device=device,
            created_at=_now(),
        )
    ))


def _fetch_job(conn: Connection, job_id: int) -> JobRecord:
    row = conn.execute(select(jobs).where(jobs.c.id == job_id)).one_or_none()
    if row is None:
        raise BrainError(f"no job {job_id} in the brain")
    return _job_record(row)


def _transition(conn: Connection, job_id: int, from_states: tuple[str, ...], **values) -> bool:
    """Apply values if the job is in one of from_states; False if it is elsewhere."""
    result = conn.execute(
        update(jobs).where(jobs.c.id == job_id, jobs.c.state.in_(from_states)).values(**values)
    )
    if result.rowcount == 1:
        return True
    _fetch_job(conn, job_id)  # raises BrainError when the job does not exist at all
    return False


class JobsMixin(BrainPart):
    def create_job(
        self,
        kind: str,
        *,
        slot_key: str | None = None,
        params: dict[str, Any] | None = None,
        device: str = "cpu",
    ) -> JobRecord:
        with self._write() as conn:
            job_id = insert_job(conn, kind, slot_key, params, device, "queued")
            return _fetch_job(conn, job_id)

    def claim_job(self, job_id: int, *, worker: str, pid: int) -> bool:
        """queued -> running for this worker; False if someone else got it first."""
        now = _now()
        with self._write() as conn:
            return _transition(
                conn,
                job_id,
                ("queued",),
                state="running",
                worker=worker,
                pid=pid,
                started_at=now,
                heartbeat_at=now,
                message="running",
            )

    def claim_next_job(self, *, worker: str, pid: int, kinds: list[str] | None = None) -> JobRecord | None:
        """Claim the oldest queued job (optionally of the given kinds), or None if there is none."""
        query = select(jobs.c.id).where(jobs.c.state == "queued").order_by(jobs.c.id).limit(1)
        if kinds is not None:
            query = query.where(jobs.c.kind.in_(kinds))
        # SKIP LOCKED lets concurrent claimers on PostgreSQL pass over a job another one is
        # taking; SQLite drops the clause, and BEGIN IMMEDIATE serialises claimers instead.
        query = query.with_for_update(skip_locked=True)
        now = _now()
        with self._write() as conn:
            job_id = conn.execute(query).scalar()
            if job_id is None:
                return None
            claimed = _transition(
                conn,
                job_id,
                ("queued",),
                state="running",
                worker=worker,
                pid=pid,
                started_at=now,
                heartbeat_at=now,
                message="running",
            )
            return _fetch_job(conn, job_id) if claimed else None

    def update_job(self, job_id: int, *, progress: float | None = None, message: str | None = None) -> bool:
        """Report progress (clamped to 0..1) and beat the heartbeat; False if no longer running."""
        values: dict[str, Any] = {"heartbeat_at": _now()}
        if progress is not None:
            values["progress"] = min(1.0, max(0.0, float(progress)))
        if message is not None:
            values["message"] = message
        with self._write() as conn:
            return _transition(conn, job_id, ("running",), **values)

    def finish_job(self, job_id: int, result: dict[str, Any]) -> bool:
        now = _now()
        with self._write() as conn:
            return _transition(
                conn,
                job_id,
                ("running",),
                state="succeeded",
                progress=1.0,
                message="succeeded",
                result=result,
                heartbeat_at=now,
                finished_at=now,
            )

    def fail_job(self, job_id: int, error: str) -> bool:
        """A job may fail before it ran (e.g. its parameters were refused) or while running."""
        with self._write() as conn:
            return _transition(
                conn,
                job_id,
                ACTIVE_JOB_STATES,
                state="failed",
                message="failed",
                error=error,
                finished_at=_now(),
            )

    def interrupt_job(self, job_id: int, reason: str) -> bool:
        with self._write() as conn:
            return _transition(
                conn,
                job_id,
                ("running",),
                state="interrupted",
                message=reason,
                finished_at=_now(),
            )

    def interrupt_running_jobs(
        self,
        *,
        worker: str | None = None,
        stale_after_seconds: float | None = None,
        reason: str | None = None,
    ) -> list[int]:
        """Mark running jobs interrupted (all, one worker's, or those with a stale heartbeat).

        Used at start-up for jobs a crashed process left behind, and by the leader to reap
        jobs whose worker stopped beating. Returns the ids it interrupted.
        """
        now = _now()
        query = select(jobs.c.id).where(jobs.c.state == "running").order_by(jobs.c.id)
        if worker is not None:
            query = query.where(jobs.c.worker == worker)
        if stale_after_seconds is not None:
            cutoff = now - timedelta(seconds=stale_after_seconds)
            query = query.where(jobs.c.heartbeat_at.is_(None) | (jobs.c.heartbeat_at < cutoff))
            reason = reason or f"interrupted: no heartbeat for {stale_after_seconds:g}s"
        reason = reason or "interrupted: its worker stopped"
        with self._write() as conn:
            ids = list(conn.execute(query.with_for_update()).scalars())
            if ids:
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id.in_(ids), jobs.c.state == "running")
                    .values(state="interrupted", message=reason, finished_at=now)
                )
        return ids

    def requeue_job(self, job_id: int) -> JobRecord:
        """Queue a NEW job with the same kind, slot, params and device.

        The old row keeps its final state, so the history shows what happened to each attempt.
        """
        with self._write() as conn:
            old = _fetch_job(conn, job_id)
            if old.state in ACTIVE_JOB_STATES:
                raise BrainError(f"job {job_id} is {old.state}; only a finished job can be requeued")
            new_id = insert_job(
                conn, old.kind, old.slot_key, old.params, old.device, f"requeue of job {job_id}"
            )
            return _fetch_job(conn, new_id)

    def cancel_job(self, job_id: int) -> bool:
        """queued/running -> cancelled; a running worker sees False from its next update_job."""
        with self._write() as conn:
            return _transition(
                conn,
                job_id,
                ACTIVE_JOB_STATES,
                state="cancelled",
                message="cancelled",
                finished_at=_now(),
            )

    def get_job(self, job_id: int) -> JobRecord:
        with self._read() as conn:
            return _fetch_job(conn, job_id)

    def list_jobs(self, *, limit: int = 50, states: list[str] | None = None) -> list[JobRecord]:
        """Newest first."""
        query = select(jobs).order_by(jobs.c.id.desc()).limit(limit)
        if states is not None:
            query = query.where(jobs.c.state.in_(states))
        with self._read() as conn:
            return [_job_record(row) for row in conn.execute(query)]

    def job_tallies(self, bounds: Sequence[float] = ()) -> list[JobTally]:
        """Every job counted by kind and state in one grouped query, whatever the table's size:
        what monitoring reads (counts that survive a leader restart, durations observed once per
        job), by kind then state."""
        with self._read() as conn:
            ran = jobs.c.started_at.is_not(None) & jobs.c.finished_at.is_not(None)
            duration = _duration_seconds(conn.dialect.name)
            timed = case((ran, duration))  # NULL for a job that never ran or runs still
            query = (
                select(jobs.c.kind, jobs.c.state, func.count(), func.count(timed),
                       func.coalesce(func.sum(timed), 0.0), func.max(jobs.c.finished_at),
                       *[func.sum(case((ran & (duration <= bound), 1), else_=0)) for bound in bounds])
                .group_by(jobs.c.kind, jobs.c.state)
                .order_by(jobs.c.kind, jobs.c.state)
            )
            return [JobTally(kind, state, count, timed_count, float(total), tuple(int(n) for n in within),
                             last)
                    for kind, state, count, timed_count, total, last, *within in conn.execute(query)]
