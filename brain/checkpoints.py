"""Training checkpoints: a neural fit's state after its newest epoch, so a killed train job that
is requeued resumes where it got to instead of starting over.

One row per (run, stage): a run is a train job and its requeues (they share `run_key`), a stage
one fit of it (a fold or the final refit of one kind on one slot). Saving an epoch replaces the
stage's row in one transaction, so the table holds each stage's newest checkpoint only and a kill
at any moment leaves either the old row or the new one. The bytes are verified against their
sha256 before anyone gets them; what they hold is the engine's business (a torch file loaded
with weights_only=True: no code runs from them).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, delete, func, insert, or_, select

from brain.errors import BrainError
from brain.part import BrainPart
from brain.records import ACTIVE_JOB_STATES
from brain.schema import jobs, training_checkpoints


@dataclass(frozen=True)
class CheckpointRecord:
    """A stored checkpoint without its bytes (brain.checkpoints lists these)."""

    run_key: str
    stage: str
    job_id: int
    epoch: int
    created_at: datetime
    sha256: str
    size: int


class CheckpointsMixin(BrainPart):
    def save_checkpoint(self, run_key: str, stage: str, *, job_id: int, epoch: int, data: bytes) -> str:
        """Replace the stage's checkpoint with `data` (epoch `epoch`, written by `job_id`) in one
        transaction; returns its sha256."""
        if not data:
            raise BrainError(f"refusing an empty checkpoint for stage {stage!r} of run {run_key}")
        sha256 = hashlib.sha256(data).hexdigest()
        where = and_(training_checkpoints.c.run_key == run_key, training_checkpoints.c.stage == stage)
        with self._write() as conn:
            conn.execute(delete(training_checkpoints).where(where))
            conn.execute(insert(training_checkpoints).values(
                run_key=run_key, stage=stage, job_id=int(job_id), epoch=int(epoch),
                created_at=datetime.now(UTC), sha256=sha256, data=bytes(data),
            ))
        return sha256

    def load_checkpoint(
        self, run_key: str, stage: str, *, job_id: int
    ) -> tuple[CheckpointRecord, bytes] | None:
        """The stage's checkpoint for job `job_id` to resume from: one it wrote itself, or one an
        earlier attempt of the run left (a job no longer queued or running: never the state of
        another job still training). None when there is none; BrainError when its bytes do not
        hash to their sha256."""
        writer_done = ~select(jobs.c.id).where(
            jobs.c.id == training_checkpoints.c.job_id, jobs.c.state.in_(ACTIVE_JOB_STATES)
        ).exists()
        query = select(training_checkpoints).where(
            training_checkpoints.c.run_key == run_key,
            training_checkpoints.c.stage == stage,
            or_(training_checkpoints.c.job_id == int(job_id), writer_done),
        )
        with self._read() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            return None
        data = bytes(row.data)
        if hashlib.sha256(data).hexdigest() != row.sha256:
            raise BrainError(
                f"checkpoint of stage {stage!r} (run {run_key}, epoch {row.epoch}) does not hash to its "
                "sha256; refusing it"
            )
        return _record(row._mapping, len(data)), data

    def checkpoints(self, run_key: str | None = None) -> list[CheckpointRecord]:
        """Stored checkpoints (of one run, or all), without their bytes, by run then stage."""
        columns = [column for column in training_checkpoints.c if column.name != "data"]
        query = select(*columns, func.length(training_checkpoints.c.data).label("size"))
        if run_key is not None:
            query = query.where(training_checkpoints.c.run_key == run_key)
        query = query.order_by(training_checkpoints.c.run_key, training_checkpoints.c.stage)
        with self._read() as conn:
            return [_record(row._mapping, int(row.size)) for row in conn.execute(query)]

    def delete_checkpoints(self, run_key: str, *, stage_prefix: str = "") -> int:
        """Drop a run's checkpoints (those whose stage starts with `stage_prefix`); returns how many."""
        query = delete(training_checkpoints).where(training_checkpoints.c.run_key == run_key)
        if stage_prefix:
            query = query.where(training_checkpoints.c.stage.startswith(stage_prefix, autoescape=True))
        with self._write() as conn:
            return int(conn.execute(query).rowcount)


def _record(row, size: int) -> CheckpointRecord:
    return CheckpointRecord(
        run_key=row["run_key"], stage=row["stage"], job_id=int(row["job_id"]), epoch=int(row["epoch"]),
        created_at=row["created_at"], sha256=row["sha256"], size=size,
    )
