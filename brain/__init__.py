"""The brain: Huracan's persistence layer and single source of truth.

Plain records in SQLite (default, one file per user) or PostgreSQL, behind one SQLAlchemy Core
code path. It stores; it never trains, plots or imports the console.
"""

from brain.core import Brain, open_brain
from brain.errors import BrainError
from brain.migrations import SCHEMA_VERSION
from brain.records import (
    ACTIVE_JOB_STATES,
    AuditRecord,
    JobRecord,
    JobState,
    MetricRecord,
    OutOfSampleRecord,
    PromotionRecord,
    QualityLogRecord,
    QueueItemRecord,
    RequestRecord,
    RoleRecord,
    RollbackRecord,
    SlotRecord,
    VersionRecord,
)
from brain.urls import default_brain_url

__all__ = [
    "SCHEMA_VERSION",
    "AuditRecord",
    "Brain",
    "BrainError",
    "ACTIVE_JOB_STATES",
    "JobRecord",
    "JobState",
    "MetricRecord",
    "OutOfSampleRecord",
    "PromotionRecord",
    "QualityLogRecord",
    "QueueItemRecord",
    "RequestRecord",
    "RoleRecord",
    "RollbackRecord",
    "SlotRecord",
    "VersionRecord",
    "default_brain_url",
    "open_brain",
]
