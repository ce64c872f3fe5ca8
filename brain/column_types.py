"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on both backends.

    PostgreSQL stores ``timestamptz`` and hands back the session's zone; SQLite has no zone at
    all. So values are bound as UTC (naive ones are taken to be UTC already), stored naive on
    SQLite in SQLAlchemy's fixed-width text form (which sorts and compares correctly), and come
    back from either backend as aware UTC datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json_default(value: Any) -> Any:
    # Manifests carry datetimes and numpy scalars/arrays; store them as plain JSON values.
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable: {value!r}")


def dump_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_json_default)


def clean_json(value: Any) -> Any:
    """NaN and infinities become None (JSON has no such numbers, and PostgreSQL's parsers refuse
    them), dict keys strings and tuples lists: what a JSONText column stores of `value`."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(item) for item in value]
    return value


def stored_json(value: Any) -> Any:
    """`value` as a JSONText column gives it back, for callers that compare with or hand out what
    they store without reading it back."""
    value = clean_json(value)
    return None if value is None else json.loads(dump_json(value))


class JSONText(TypeDecorator):
    """A JSON document kept as TEXT, so both backends store and compare it the same way; NaN and
    infinities are stored as null, so no caller needs to clean a value first."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect) -> str | None:
        value = clean_json(value)
        return None if value is None else dump_json(value)

    def process_result_value(self, value: str | None, dialect) -> Any:
        return None if value is None else json.loads(value)


def nan_to_null(value: float | None) -> float | None:
    """NaN is stored as NULL: SQL aggregates and comparisons treat NaN inconsistently."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value
