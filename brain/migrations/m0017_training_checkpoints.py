"""Migration 17: training checkpoints — a neural fit's state after its newest epoch.

`training_checkpoints`: one row per (train run, stage), the stage being a fold or the final refit
of one model kind on one slot. Each epoch replaces the row in one transaction, so the table holds
the newest checkpoint of each stage only. `run_key` is the same for a job and its requeues (a
digest of the job's kind, slot and params), which is how a requeued job finds where the killed
one got to; `job_id` is the job that wrote the row. `data` is a torch.save file of tensors and
plain containers, loaded with weights_only=True once it hashes to `sha256`.

Frozen at version 17 like every migration; later changes belong in a new module.
"""

from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table, Text, UniqueConstraint
from sqlalchemy.engine import Connection

from brain.column_types import UTCDateTime

VERSION = 17
NAME = "training_checkpoints"

_metadata = MetaData()

Table(
    "training_checkpoints",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("run_key", Text, nullable=False),
    Column("stage", Text, nullable=False),
    Column("job_id", Integer, nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    UniqueConstraint("run_key", "stage", name="uq_training_checkpoints_run_stage"),
)


def upgrade(conn: Connection) -> None:
    _metadata.create_all(conn, tables=[_metadata.tables["training_checkpoints"]])
