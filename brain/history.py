"""What the console showed, kept as compact frames for replay: one row per change of one kind
(metrics, queues, drift) in `console_history`.

A frame is stored only when it differs from the frame of its kind before it, so an hour in which
nothing changed costs no rows: the state at any time is the newest frame at or before it.
Retention keeps that true: pruning never deletes the frame that still describes the state at
the cut-off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select

from brain.column_types import stored_json
from brain.errors import BrainError
from brain.part import BrainPart
from brain.rows import inserted_id
from brain.schema import console_history

FRAMES_READ = 5000


@dataclass(frozen=True)
class HistoryFrame:
    id: int
    ts: datetime
    kind: str
    payload: dict[str, Any]


def _as_stored(payload: dict[str, Any]) -> Any:
    """The payload as it reads back (tuples become lists, keys strings, NaN None), so a new
    frame compares equal to a stored one whenever it would store the same document."""
    return stored_json(payload)


def _newest_at(kind: str, ts: datetime):
    return (
        select(console_history)
        .where(console_history.c.kind == kind, console_history.c.ts <= ts)
        .order_by(console_history.c.ts.desc(), console_history.c.id.desc())
        .limit(1)
    )


def _frame(row) -> HistoryFrame:
    return HistoryFrame(**row._mapping)


class HistoryMixin(BrainPart):
    def record_frame(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        ts: datetime | None = None,
        min_interval: timedelta | None = None,
    ) -> HistoryFrame | None:
        """Store a frame of `kind` at `ts` (default now); None when nothing was stored because it
        equals the frame before it, or that frame is younger than `min_interval`."""
        if not kind or not kind.strip():
            raise BrainError("a console history frame needs a kind")
        if not isinstance(payload, dict):
            raise BrainError(f"a console history frame's payload is a JSON object, "
                             f"not {type(payload).__name__}")
        now = ts or datetime.now(UTC)
        document = _as_stored(payload)
        with self._write() as conn:
            previous = conn.execute(_newest_at(kind, now)).one_or_none()
            if previous is not None:
                if previous.payload == document:
                    return None
                if min_interval is not None and now - previous.ts < min_interval:
                    return None
            frame_id = inserted_id(conn.execute(
                insert(console_history).values(ts=now, kind=kind, payload=document)
            ))
            return _frame(conn.execute(select(console_history).where(console_history.c.id == frame_id)).one())

    def frames(
        self,
        kind: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = FRAMES_READ,
    ) -> list[HistoryFrame]:
        """Frames of `kind` with since <= ts <= until, oldest first; past `limit`, the newest."""
        if limit < 1:
            raise BrainError(f"limit must be >= 1, got {limit}")
        query = (
            select(console_history)
            .where(console_history.c.kind == kind)
            .order_by(console_history.c.ts.desc(), console_history.c.id.desc())
            .limit(limit)
        )
        if since is not None:
            query = query.where(console_history.c.ts >= since)
        if until is not None:
            query = query.where(console_history.c.ts <= until)
        with self._read() as conn:
            return [_frame(row) for row in reversed(conn.execute(query).all())]

    def frame_at(self, kind: str, ts: datetime) -> HistoryFrame | None:
        """The frame that described `kind` at `ts`: the newest at or before it."""
        with self._read() as conn:
            row = conn.execute(_newest_at(kind, ts)).one_or_none()
        return None if row is None else _frame(row)

    def prune_history(self, older_than: datetime) -> int:
        """Delete frames older than `older_than`, except, per kind, the one that still describes
        the state at `older_than`; returns the rows deleted."""
        deleted = 0
        with self._write() as conn:
            kinds = conn.execute(
                select(console_history.c.kind).where(console_history.c.ts < older_than).distinct()
            ).scalars().all()
            for kind in kinds:
                keep = conn.execute(_newest_at(kind, older_than)).one()
                deleted += conn.execute(
                    delete(console_history).where(
                        console_history.c.kind == kind,
                        or_(console_history.c.ts < keep.ts,
                            and_(console_history.c.ts == keep.ts, console_history.c.id < keep.id)),
                    )
                ).rowcount
        return deleted

    def history_kinds(self) -> dict[str, int]:
        """How many frames each kind holds (for the CLI and the tests)."""
        with self._read() as conn:
            rows = conn.execute(
                select(console_history.c.kind, func.count()).group_by(console_history.c.kind)
            ).all()
        return {kind: count for kind, count in rows}
