"""Migration 13: alerts — changes of state told to webhooks and commands, and their deliveries.

`alerts`: one row per change the leader detected (a slot's drift flag turning on or off, a
rollback, a failed job, a feed turning stale, a new holder of the lease), with the document sent.
Its `dedupe_key` is unique: two leaders that detect the same change (one after the other, or at
once during a handover) write one row. The newest row of a (kind, subject) is also the state last
told, which is how the next detection knows what changed.

`alert_deliveries`: one row per alert and sink, pending until the sink took it (delivered) or the
last retry failed (undeliverable, with the last error kept); `next_attempt_at` is stored, so a
leader that restarts (or a new one) continues the backoff where it was.

Frozen at version 13 like every migration; later changes belong in a new module.
"""

from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, Table, Text, UniqueConstraint
from sqlalchemy.engine import Connection

from brain.column_types import JSONText, UTCDateTime

VERSION = 13
NAME = "alerts"

_metadata = MetaData()

Table(
    "alerts",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("condition", Text, nullable=False),
    Column("dedupe_key", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("payload", JSONText, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("dedupe_key", name="uq_alerts_dedupe_key"),
    Index("ix_alerts_kind_subject", "kind", "subject", "id"),
)

Table(
    "alert_deliveries",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("sink", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Column("delivered_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("alert_id", "sink", name="uq_alert_deliveries_alert_sink"),
    Index("ix_alert_deliveries_state_next", "state", "next_attempt_at"),
)


def upgrade(conn: Connection) -> None:
    _metadata.create_all(conn, tables=[_metadata.tables["alerts"], _metadata.tables["alert_deliveries"]])
