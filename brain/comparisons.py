"""A/B comparisons of a challenger version against its slot's champion: one row per test."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from brain.column_types import nan_to_null
from brain.errors import BrainError
from brain.part import BrainPart
from brain.schema import model_comparisons

_COMPARISON_KEYS = {
    "ts", "slot_key", "champion_version", "challenger_version", "test", "statistic", "p_value",
    "p_adjusted", "correction", "effect_size", "verdict", "details",
}
_VERDICTS = {"challenger_better", "champion_better", "no_difference"}


class ComparisonsMixin(BrainPart):
    def record_comparison(self, rows: list[dict[str, Any]]) -> int:
        """Store comparison rows (one per test) in one transaction; returns the count."""
        now = datetime.now(UTC)
        prepared = []
        for row in rows:
            unknown = set(row) - _COMPARISON_KEYS
            if unknown:
                raise BrainError(f"comparison row has unknown keys {sorted(unknown)}")
            for needed in ("slot_key", "champion_version", "challenger_version", "test", "verdict"):
                if row.get(needed) is None:
                    raise BrainError(f"comparison row is missing {needed!r}")
            if row["verdict"] not in _VERDICTS:
                known = ", ".join(sorted(_VERDICTS))
                raise BrainError(f"comparison verdict {row['verdict']!r}; known: {known}")
            prepared.append(
                {
                    **{key: None for key in _COMPARISON_KEYS},
                    **row,
                    "ts": row.get("ts") or now,
                    "statistic": nan_to_null(row.get("statistic")),
                    "p_value": nan_to_null(row.get("p_value")),
                    "p_adjusted": nan_to_null(row.get("p_adjusted")),
                    "effect_size": nan_to_null(row.get("effect_size")),
                }
            )
        if not prepared:
            return 0
        with self._write() as conn:
            conn.execute(insert(model_comparisons), prepared)
        return len(prepared)

    def list_comparisons(
        self, slot_key: str, *, challenger_version: int | None = None, test: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Stored comparisons of a slot, newest first."""
        query = (
            select(model_comparisons)
            .where(model_comparisons.c.slot_key == slot_key)
            .order_by(model_comparisons.c.ts.desc(), model_comparisons.c.id)
        )
        if challenger_version is not None:
            query = query.where(model_comparisons.c.challenger_version == challenger_version)
        if test is not None:
            query = query.where(model_comparisons.c.test == test)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
