"""Plain, immutable records the brain hands out. Timestamps are aware UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple


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
class SlotStatus:
    """One slot as brain.status() reads it: its latest version and its champion, each with its
    overall out-of-sample metrics (name -> value; None where undefined)."""

    slot: str
    symbol: str
    timeframe: str
    target: str
    horizon: int
    versions: int
    latest_version: int | None
    model_kind: str | None
    trained_at: datetime | None  # when the latest version was stored
    metrics: dict[str, float | None]
    champion: int | None
    champion_kind: str | None
    champion_metrics: dict[str, float | None]


class JobState(StrEnum):
    """A job's life: queued -> running -> succeeded | failed | interrupted | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"


# A job still to be finished: a slot with one is busy.
ACTIVE_JOB_STATES = (JobState.QUEUED, JobState.RUNNING)
FINAL_JOB_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.INTERRUPTED, JobState.CANCELLED)


@dataclass(frozen=True)
class JobRecord:
    id: int
    kind: str
    slot_key: str | None
    params: dict[str, Any]
    state: str  # a JobState value
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

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_JOB_STATES


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


@dataclass(frozen=True)
class PromotionRecord:
    """One change of a slot's champion: a promotion, a rollback or an automatic rollback."""

    id: int
    ts: datetime
    slot_key: str
    version: int  # the champion from ts on
    previous_version: int | None
    kind: str  # promote, rollback, auto_rollback
    forced: bool  # promoted without a passing A/B verdict
    verdict: str | None
    actor: str
    origin: str | None
    reason: str
    metrics: dict[str, Any] | None


@dataclass(frozen=True)
class RollbackRecord:
    id: int
    ts: datetime
    slot_key: str
    from_version: int
    to_version: int
    automatic: bool
    actor: str
    origin: str | None
    reason: str
    evidence: dict[str, Any] | None


@dataclass(frozen=True)
class QueueItemRecord:
    """A slot waiting for a retrain, or a version waiting to be pruned, and why."""

    id: int
    queue: str  # retrain, prune
    slot_key: str
    version: int | None  # the version to prune
    rule: str
    reason: str
    evidence: dict[str, Any] | None
    state: str  # pending, approved, rejected, done
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    job_id: int | None


@dataclass(frozen=True)
class RequestRecord:
    """An operator request: an action asked for by a console or the CLI, carried out (or refused)
    by the leader, or by the asking process when no leader is alive."""

    id: int
    ts: datetime
    actor: str
    origin: str | None
    role: str
    action: str
    args: dict[str, Any]
    state: str  # pending, running, done, failed, refused
    outcome: str | None
    result: dict[str, Any] | None
    handled_by: str | None
    handled_at: datetime | None


class ChangeMarks(NamedTuple):
    """A cheap fingerprint of everything the per-slot overview reads: equal marks, equal overview.
    The newest ids are None while their table is empty."""

    newest_slot: int | None
    newest_version: int | None
    newest_metric: int | None
    newest_promotion: int | None
    newest_drift_check: int | None
    newest_queue_item: int | None
    newest_queue_decision: datetime | None
    open_queue_items: int
    newest_prediction: int | None = None  # a new forecast ages a slot's "last forecast"

    @property
    def side_parts(self) -> tuple[int | None, int | None, datetime | None, int]:
        """The marks of what a console reads whole when they move: drift checks and queue items."""
        return (self.newest_drift_check, self.newest_queue_item, self.newest_queue_decision,
                self.open_queue_items)


@dataclass(frozen=True)
class RoleRecord:
    """A user's role on this brain, and who granted it when (the owner's row: who created it)."""

    user: str
    role: str  # viewer, operator, owner
    granted_by: str
    granted_at: datetime


@dataclass(frozen=True)
class ServeGapRecord:
    """A bar a version could not forecast: its named state and what was missing."""

    slot_key: str
    version_id: int
    ts: datetime
    state: str  # alt_missing | alt_stale | features_not_ready
    detail: str
    recorded_at: datetime


@dataclass(frozen=True)
class FeedStateRecord:
    """What the live loop last knew of one feed (brain.feed_states)."""

    symbol: str
    timeframe: str
    state: str  # running | ended | failing
    detail: str
    updated_at: datetime


@dataclass(frozen=True)
class OutOfSampleRecord:
    """A version's walk-forward out-of-sample rows, column by column in bar order: the fold that
    predicted each bar, the bar, the prediction (what the trading metrics trade on) and the next
    bar's realised return it was scored against (a fraction). None stands for NaN."""

    fold: tuple[int, ...]
    ts: tuple[datetime, ...]
    prediction: tuple[float | None, ...]
    next_ret: tuple[float | None, ...]

    def __len__(self) -> int:
        return len(self.ts)
