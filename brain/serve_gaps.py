"""Serve gaps: bars a version was asked to forecast and could not, with the named state the live
loop gave them (an alternative-data value missing or too old, features not ready)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from brain.errors import BrainError
from brain.part import BrainPart
from brain.records import ServeGapRecord
from brain.schema import serve_gaps
from brain.upsert import insert_on_conflict

GAP_STATES = ("alt_missing", "alt_stale", "features_not_ready")


def _record(row) -> ServeGapRecord:
    return ServeGapRecord(
        slot_key=row.slot_key, version_id=row.version_id, ts=row.ts, state=row.state, detail=row.detail,
        recorded_at=row.recorded_at,
    )


class ServeGapsMixin(BrainPart):
    def record_serve_gaps(self, rows: Sequence[dict[str, Any]]) -> int:
        """Store gaps (slot_key, version_id, ts, state, detail); a bar already recorded with the
        same state for the version is kept as it was. Returns the rows added."""
        if not rows:
            return 0
        now = datetime.now(UTC)
        prepared = []
        for row in rows:
            if row["state"] not in GAP_STATES:
                raise BrainError(f"serve gap state {row['state']!r}: one of {', '.join(GAP_STATES)}")
            prepared.append({"slot_key": row["slot_key"], "version_id": int(row["version_id"]),
                             "ts": row["ts"],
                             "state": row["state"], "detail": str(row["detail"]),
                             "recorded_at": row.get("recorded_at") or now})
        with self._write() as conn:
            added = 0
            for values in prepared:
                # RETURNING counts what was added on both backends (psycopg's rowcount does not,
                # where SQLAlchemy already returns the new key).
                added += len(conn.execute(
                    insert_on_conflict(conn, serve_gaps).values(**values).on_conflict_do_nothing(
                        index_elements=["slot_key", "version_id", "ts", "state"]
                    ).returning(serve_gaps.c.id)
                ).all())
        return added

    def list_serve_gaps(self, slot_key: str, *, limit: int = 50) -> list[ServeGapRecord]:
        """The slot's gaps, newest bar first."""
        query = (
            select(serve_gaps)
            .where(serve_gaps.c.slot_key == slot_key)
            .order_by(serve_gaps.c.ts.desc(), serve_gaps.c.id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            return [_record(row) for row in conn.execute(query)]

    def serve_gap_summary(self, slot_key: str) -> dict[str, tuple[int, datetime]]:
        """state -> (bars with that state, the newest such bar), for the console's one line."""
        query = (
            select(serve_gaps.c.state, func.count(), func.max(serve_gaps.c.ts))
            .where(serve_gaps.c.slot_key == slot_key)
            .group_by(serve_gaps.c.state)
        )
        with self._read() as conn:
            return {state: (int(count), newest) for state, count, newest in conn.execute(query)}
