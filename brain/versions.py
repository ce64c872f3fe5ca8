"""Reading model versions and the champion row, shared by the registry, lifecycle and queue parts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Row, Select, select
from sqlalchemy.engine import Connection

from brain.records import VersionRecord
from brain.schema import model_versions, promotions, slots

_VERSION_COLUMNS = (
    model_versions.c.id,
    slots.c.key.label("slot_key"),
    model_versions.c.number,
    model_versions.c.model_kind,
    model_versions.c.status,
    model_versions.c.artifact_sha256,
    model_versions.c.manifest,
    model_versions.c.data_start,
    model_versions.c.data_end,
    model_versions.c.created_at,
    model_versions.c.notes,
)


def select_versions() -> Select:
    """Versions with their slot's key, in VersionRecord's columns; the caller adds the where."""
    return select(*_VERSION_COLUMNS).join_from(model_versions, slots)


def version_record(row: Row) -> VersionRecord:
    return VersionRecord(**row._mapping)


def champion_row(conn: Connection, slot_key: str, at: datetime | None) -> Row | None:
    """The promotion that made the slot's champion at `at` (None: now): id, version_id and
    previous_version_id; None before the first promotion."""
    query = (
        select(promotions.c.id, promotions.c.version_id, promotions.c.previous_version_id)
        .where(promotions.c.slot_key == slot_key)
        .order_by(promotions.c.ts.desc(), promotions.c.id.desc())
        .limit(1)
    )
    if at is not None:
        query = query.where(promotions.c.ts <= at)
    return conn.execute(query).one_or_none()
