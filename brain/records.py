"""Plain, immutable records the brain hands out. Timestamps are aware UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class SlotRecord:
    """What a model is for: one (symbol, timeframe, target, horizon)."""

    id: int
    key: str  # SYMBOL:TIMEFRAME:TARGET, e.g. GOOG:1d:fwd_ret_1
    symbol: str
    timeframe: str
    target: str
    horizon: int
    created_at: datetime


@dataclass(frozen=True)
class VersionRecord:
    """One trained model of a slot; ``manifest`` says exactly how it was made."""

    id: int
    slot_key: str
    number: int
    model_kind: str
    status: str
    artifact_sha256: str
    manifest: dict[str, Any]
    data_start: datetime | None
    data_end: datetime | None
    created_at: datetime
    notes: str | None


@dataclass(frozen=True)
class MetricRecord:
    """One measurement of a version; ``fold`` None means over all folds, ``value`` None is NaN."""

    version_id: int
    name: str
    value: float | None
    fold: int | None
    ts: datetime
    scope: str  # 'oos' (walk-forward, out of sample) or 'live'


@dataclass(frozen=True)
class JobRecord:
    id: int
    kind: str
    slot_key: str | None
    params: dict[str, Any]
    state: str  # queued, running, succeeded, failed, interrupted, cancelled
    progress: float
    message: str
    device: str
    worker: str | None
    pid: int | None
    error: str | None
    result: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class AuditRecord:
    """Who did what, when, from where, why, and how it ended."""

    id: int
    ts: datetime
    actor: str
    origin: str | None
    action: str
    target: str | None
    reason: str | None
    outcome: str
    details: dict[str, Any] | None


@dataclass(frozen=True)
class QualityLogRecord:
    """One row of a stored data quality report: the report's "summary" row (count = rows
    checked, severity = the worst found) or one kind of issue. Rows of one report share ``ts``."""

    id: int
    ts: datetime
    source: str
    symbol: str | None
    timeframe: str | None
    calendar: str
    kind: str
    count: int
    severity: str  # ok, info, warning, error
    example: str | None
    details: dict[str, Any] | None
