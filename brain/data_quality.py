"""Data quality reports as the brain keeps them: one row per issue kind, plus a summary row.

The brain doesn't know what the checks are (engine.quality does); it stores the rows it is
given, checked for shape, in one transaction so a report is never half written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, insert, select

from brain.errors import BrainError
from brain.part import BrainPart
from brain.records import QualityLogRecord
from brain.rows import inserted_id
from brain.schema import data_quality_logs

SEVERITIES = ("ok", "info", "warning", "error")
_ROW_KEYS = {"kind", "count", "severity", "example", "details", "symbol", "timeframe"}


def _prepared_rows(source: str, rows: Iterable[Mapping[str, Any]], defaults: dict[str, Any]) -> list[dict]:
    prepared = []
    for index, row in enumerate(rows):
        unknown = set(row) - _ROW_KEYS
        if unknown:
            raise BrainError(f"quality report for {source}: row {index} has unknown keys {sorted(unknown)}")
        kind, count, severity = row.get("kind"), row.get("count"), row.get("severity")
        if not isinstance(kind, str) or not kind:
            raise BrainError(f"quality report for {source}: row {index} needs a kind")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise BrainError(f"quality report for {source}: row {index} ({kind}) needs a count >= 0")
        if severity not in SEVERITIES:
            raise BrainError(
                f"quality report for {source}: row {index} ({kind}) has severity "
                f"{severity!r}; use one of {', '.join(SEVERITIES)}"
            )
        prepared.append(
            {
                **defaults,
                "symbol": row.get("symbol", defaults["symbol"]),
                "timeframe": row.get("timeframe", defaults["timeframe"]),
                "kind": kind,
                "count": count,
                "severity": severity,
                "example": row.get("example"),
                "details": row.get("details"),
            }
        )
    if not prepared:
        raise BrainError(f"quality report for {source}: no rows (a clean report still has its summary row)")
    return prepared


class DataQualityMixin(BrainPart):
    def record_quality_report(
        self,
        source: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        symbol: str | None = None,
        timeframe: str | None = None,
        calendar: str = "24/7",
        ts: datetime | None = None,
    ) -> list[QualityLogRecord]:
        """Store one report's rows (dicts with kind, count, severity, and optionally example,
        details, symbol, timeframe) under one timestamp, in one transaction."""
        if not source:
            raise BrainError("a quality report needs a source")
        when = ts or datetime.now(UTC)
        defaults = {
            "ts": when,
            "source": source,
            "symbol": symbol,
            "timeframe": timeframe,
            "calendar": calendar,
        }
        prepared = _prepared_rows(source, rows, defaults)
        records = []
        with self._write() as conn:
            for row in prepared:
                row_id = inserted_id(conn.execute(insert(data_quality_logs).values(**row)))
                records.append(QualityLogRecord(id=row_id, **row))
        return records

    def list_quality_reports(
        self,
        *,
        source: str | None = None,
        latest: bool = False,
        since: datetime | None = None,
        limit: int = 500,
    ) -> list[QualityLogRecord]:
        """Stored report rows, newest report first (rows of a report in the order written).

        ``latest=True`` keeps only the newest report of each source, sorted by source: what a
        data view shows. ``since`` keeps reports written at or after that moment.
        """
        table = data_quality_logs
        query = select(table)
        if source is not None:
            query = query.where(table.c.source == source)
        if since is not None:
            query = query.where(table.c.ts >= since)
        if latest:
            newest = select(table.c.source, func.max(table.c.ts).label("ts")).group_by(table.c.source)
            if source is not None:
                newest = newest.where(table.c.source == source)
            latest_ts = newest.subquery()
            query = query.join(latest_ts, and_(table.c.source == latest_ts.c.source,
                                               table.c.ts == latest_ts.c.ts))
            query = query.order_by(table.c.source, table.c.id)
        else:
            query = query.order_by(table.c.ts.desc(), table.c.id)
        with self._read() as conn:
            return [QualityLogRecord(**row._mapping) for row in conn.execute(query.limit(limit))]
