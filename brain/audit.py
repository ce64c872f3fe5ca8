"""The audit log: who did what, when, from where, why, and the outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Row

from brain.part import BrainPart
from brain.records import AuditRecord
from brain.rows import inserted_id
from brain.schema import audit_log


def insert_audit(
    conn: Connection,
    action: str,
    *,
    actor: str,
    outcome: str,
    target: str | None = None,
    reason: str | None = None,
    origin: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditRecord:
    """Write one audit row inside the caller's transaction, so it lands with what it records."""
    values: dict[str, Any] = dict(
        ts=datetime.now(UTC),
        actor=actor,
        origin=origin,
        action=action,
        target=target,
        reason=reason,
        outcome=outcome,
        details=details,
    )
    audit_id = inserted_id(conn.execute(insert(audit_log).values(**values)))
    return AuditRecord(id=audit_id, **values)


def _audit_record(row: Row) -> AuditRecord:
    return AuditRecord(**row._mapping)


class AuditMixin(BrainPart):
    def audit(
        self,
        action: str,
        *,
        actor: str,
        outcome: str,
        target: str | None = None,
        reason: str | None = None,
        origin: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditRecord:
        with self._write() as conn:
            return insert_audit(
                conn,
                action,
                actor=actor,
                outcome=outcome,
                target=target,
                reason=reason,
                origin=origin,
                details=details,
            )

    def list_audit(self, *, since: datetime | None = None, limit: int = 200) -> list[AuditRecord]:
        """Newest first; ``since`` keeps entries at or after that moment."""
        query = select(audit_log).order_by(audit_log.c.ts.desc(), audit_log.c.id.desc())
        if since is not None:
            query = query.where(audit_log.c.ts >= since)
        with self._read() as conn:
            return [_audit_record(row) for row in conn.execute(query.limit(limit))]
