"""Results of drift checks: one row per (check time, slot, feature, method). A multivariate check
(reconstruction error over every feature at once) is one row too, its `feature` a pseudo-feature
name (`⟨multivariate · autoencoder⟩`) and `details.multivariate` true."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select

from brain.column_types import nan_to_null
from brain.errors import BrainError
from brain.part import BrainPart
from brain.schema import drift_results

_ROW_KEYS = {
    "ts",
    "slot_key",
    "feature",
    "method",
    "statistic",
    "p_value",
    "threshold",
    "drifted",
    "reference_start",
    "reference_end",
    "current_start",
    "current_end",
    "details",
}


@dataclass(frozen=True)
class DriftResultRecord:
    id: int
    ts: datetime
    slot_key: str | None
    feature: str
    method: str
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool
    reference_start: datetime | None
    reference_end: datetime | None
    current_start: datetime | None
    current_end: datetime | None
    details: dict | None

    @property
    def multivariate(self) -> bool:
        """A check over every feature at once (engine.drift.multivariate), not one feature's."""
        return bool(self.details and self.details.get("multivariate"))


def _finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


class DriftMixin(BrainPart):
    def record_drift_results(
        self, rows: list[dict[str, Any]], *, slot_key: str | None = None, ts: datetime | None = None
    ) -> int:
        """Store one check's rows in one transaction; returns the count.

        Each row needs feature, method, threshold and drifted; statistic, p_value, the window
        bounds and details (JSON) are optional. ``slot_key`` / ``ts`` fill rows that lack them
        (ts default: now, the same for every row of the call). Unknown keys are refused."""
        now = ts or datetime.now(UTC)
        prepared = []
        for number, row in enumerate(rows):
            unknown = set(row) - _ROW_KEYS
            if unknown:
                raise BrainError(f"drift result row {number} has unknown keys {sorted(unknown)}")
            for needed in ("feature", "method", "threshold", "drifted"):
                if row.get(needed) is None:
                    raise BrainError(f"drift result row {number} is missing {needed!r}")
            prepared.append(
                {
                    **{key: None for key in _ROW_KEYS},
                    **row,
                    "ts": row.get("ts") or now,
                    "slot_key": row.get("slot_key", slot_key),
                    "statistic": nan_to_null(row.get("statistic")),
                    "p_value": nan_to_null(row.get("p_value")),
                    "threshold": float(row["threshold"]),
                    "drifted": 1 if row["drifted"] else 0,
                    "details": _finite_or_none(row.get("details")),
                }
            )
        if not prepared:
            return 0
        with self._write() as conn:
            conn.execute(insert(drift_results), prepared)
        return len(prepared)

    def list_drift_results(
        self,
        *,
        slot_key: str | None = None,
        feature: str | None = None,
        method: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[DriftResultRecord]:
        """Newest first (ts, then id), filtered by whichever of slot_key, feature, method,
        since (ts >= since) are given."""
        if limit < 1:
            raise BrainError(f"limit must be >= 1, got {limit}")
        query = (
            select(drift_results).order_by(drift_results.c.ts.desc(), drift_results.c.id.desc()).limit(limit)
        )
        if slot_key is not None:
            query = query.where(drift_results.c.slot_key == slot_key)
        if feature is not None:
            query = query.where(drift_results.c.feature == feature)
        if method is not None:
            query = query.where(drift_results.c.method == method)
        if since is not None:
            query = query.where(drift_results.c.ts >= since)
        with self._read() as conn:
            return [
                DriftResultRecord(**{**row._mapping, "drifted": bool(row.drifted)})
                for row in conn.execute(query)
            ]

    def drift_flags(self, *, method: str = "psi", slot_keys: Collection[str] | None = None
                    ) -> dict[str, dict[str, Any]]:
        """Per slot (of `slot_keys`, or every one), its newest check with `method`: when, how many
        features drifted of how many."""
        scope = [drift_results.c.method == method, drift_results.c.slot_key.is_not(None)]
        if slot_keys is not None:
            scope.append(drift_results.c.slot_key.in_(list(slot_keys)))
        newest = (
            select(drift_results.c.slot_key, func.max(drift_results.c.ts).label("ts"))
            .where(*scope)
            .group_by(drift_results.c.slot_key)
            .subquery()
        )
        query = (
            select(drift_results.c.slot_key, drift_results.c.ts, func.count().label("features"),
                   func.sum(drift_results.c.drifted).label("drifted"))
            .join(newest, (newest.c.slot_key == drift_results.c.slot_key)
                  & (newest.c.ts == drift_results.c.ts))
            .where(drift_results.c.method == method)
            .group_by(drift_results.c.slot_key, drift_results.c.ts)
        )
        with self._read() as conn:
            return {row.slot_key: {"ts": row.ts, "features": row.features, "drifted": int(row.drifted or 0),
                                   "method": method}
                    for row in conn.execute(query)}
