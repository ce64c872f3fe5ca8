"""Feature importance per model version, with its trend across retrains (ranks computed here)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select

from brain.column_types import nan_to_null
from brain.errors import BrainError
from brain.part import BrainPart
from brain.schema import feature_importance, model_versions, slots


def importance_ranks(values: Mapping[str, float | None]) -> dict[str, int]:
    """1 = most important; NaN / None last; ties broken by feature name (reproducible)."""

    def key(item):
        name, value = item
        missing = value is None or math.isnan(float(value))
        return (missing, 0.0 if missing else -float(value), name)

    return {name: rank for rank, (name, _v) in enumerate(sorted(values.items(), key=key), start=1)}


class ImportanceMixin(BrainPart):
    def record_feature_importance(self, version_id: int, method: str, values: dict[str, float]) -> int:
        """Store one method's importance of a version (ranks computed here), replacing what that
        method stored before for the version. Returns the number of features."""
        if not method:
            raise BrainError("feature importance needs a method name")
        if not values:
            raise BrainError(f"feature importance ({method}) of version id {version_id}: no features")
        ranks = importance_ranks(values)
        now = datetime.now(UTC)
        rows = [
            dict(version_id=version_id, method=method, feature=name, value=nan_to_null(values[name]),
                 rank=ranks[name], created_at=now)
            for name in values
        ]
        with self._write() as conn:
            known = select(model_versions.c.id).where(model_versions.c.id == version_id)
            if conn.execute(known).scalar() is None:
                raise BrainError(f"no model version with id {version_id}")
            conn.execute(
                delete(feature_importance).where(
                    feature_importance.c.version_id == version_id, feature_importance.c.method == method
                )
            )
            conn.execute(insert(feature_importance), rows)
        return len(rows)

    def feature_importance(self, version_id: int, method: str | None = None) -> list[dict[str, Any]]:
        """Rows (method, feature, value, rank, created_at) ordered by method then rank."""
        query = (
            select(feature_importance.c.method, feature_importance.c.feature, feature_importance.c.value,
                   feature_importance.c.rank, feature_importance.c.created_at)
            .where(feature_importance.c.version_id == version_id)
            .order_by(feature_importance.c.method, feature_importance.c.rank)
        )
        if method is not None:
            query = query.where(feature_importance.c.method == method)
        with self._read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def importance_trend(self, slot_key: str, method: str, *, top_k: int = 5) -> dict[str, Any]:
        """Per version (in number order) the ranks of `method`, the rank change of each feature
        since the previous version that has this method, and an alert when the top-k set changed.

        {"slot", "method", "top_k", "versions": [{"number", "ranks", "top", "changes",
        "entered", "left", "alert"}], "alerts": [numbers]}."""
        query = (
            select(model_versions.c.number, feature_importance.c.feature, feature_importance.c.rank)
            .join_from(feature_importance, model_versions)
            .join(slots, slots.c.id == model_versions.c.slot_id)
            .where(slots.c.key == slot_key, feature_importance.c.method == method)
            .order_by(model_versions.c.number, feature_importance.c.rank)
        )
        by_version: dict[int, dict[str, int]] = {}
        with self._read() as conn:
            for row in conn.execute(query):
                by_version.setdefault(row.number, {})[row.feature] = row.rank
        versions: list[dict[str, Any]] = []
        alerts: list[int] = []
        previous: dict[str, Any] | None = None
        for number, ranks in by_version.items():
            top = [name for name, rank in sorted(ranks.items(), key=lambda item: item[1])[:top_k]]
            entry: dict[str, Any] = {"number": number, "ranks": ranks, "top": top, "changes": {},
                                     "entered": [], "left": [], "alert": False}
            if previous is not None:
                entry["changes"] = {
                    name: previous["ranks"][name] - rank  # positive: moved up
                    for name, rank in ranks.items()
                    if name in previous["ranks"] and previous["ranks"][name] != rank
                }
                entry["entered"] = sorted(set(top) - set(previous["top"]))
                entry["left"] = sorted(set(previous["top"]) - set(top))
                entry["alert"] = bool(entry["entered"] or entry["left"])
                if entry["alert"]:
                    alerts.append(number)
            versions.append(entry)
            previous = entry
        return {"slot": slot_key, "method": method, "top_k": top_k, "versions": versions, "alerts": alerts}
