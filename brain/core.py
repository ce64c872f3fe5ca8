"""The Brain handle and ``open_brain``, the one way in."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from brain import migrations
from brain.alerts import AlertsMixin
from brain.altdata import AltDataMixin
from brain.audit import AuditMixin
from brain.bars import BarsMixin
from brain.checkpoints import CheckpointsMixin
from brain.comparisons import ComparisonsMixin
from brain.connection import create_brain_engine, is_read_only, own_connection, transaction
from brain.data_quality import DataQualityMixin
from brain.drift import DriftMixin
from brain.errors import BrainError
from brain.feed_states import FeedStatesMixin
from brain.history import HistoryMixin
from brain.importance import ImportanceMixin
from brain.job_events import JobEventsMixin
from brain.jobs import JobsMixin
from brain.lease import LeaseMixin
from brain.lifecycle import LifecycleMixin
from brain.live import LiveMixin
from brain.mlflow_exports import MlflowExportsMixin
from brain.oos_predictions import OosPredictionsMixin
from brain.queues import QueuesMixin
from brain.regimes import RegimesMixin
from brain.registry import RegistryMixin
from brain.requests import RequestsMixin
from brain.roles import RolesMixin
from brain.serve_gaps import ServeGapsMixin
from brain.stress import StressMixin
from brain.urls import default_brain_url, normalise_url, safe_url


class Brain(
    RegistryMixin, BarsMixin, JobsMixin, AuditMixin, DataQualityMixin, AltDataMixin, ImportanceMixin,
    ComparisonsMixin, DriftMixin, LifecycleMixin, QueuesMixin, RequestsMixin, JobEventsMixin,
    LeaseMixin, LiveMixin, HistoryMixin, RolesMixin, ServeGapsMixin, FeedStatesMixin, OosPredictionsMixin,
    AlertsMixin, MlflowExportsMixin, CheckpointsMixin, RegimesMixin, StressMixin,
):
    """A connection pool onto one brain (SQLite file or PostgreSQL database).

    Safe to share between threads; every method runs in its own transaction.
    """

    def __init__(self, engine: Engine):
        self._engine = engine
        self.url: str = safe_url(engine.url)
        self.backend: str = engine.dialect.name  # "sqlite" | "postgresql"
        # A SQLite file this user may only read is opened read-only: viewing works, writes fail.
        self.read_only: bool = is_read_only(engine)

    def _read(self) -> AbstractContextManager[Connection]:
        return transaction(self._engine, write=False)

    def _write(self) -> AbstractContextManager[Connection]:
        return transaction(self._engine, write=True)

    def _own_connection(self) -> Connection:
        return own_connection(self._engine)

    def on_statement(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call `callback` with each SQL statement right before this brain runs it (test pause
        points, query counts); returns the function that stops it."""

        def before_execute(_conn, _cursor, statement: str, *_args) -> None:
            callback(statement)

        event.listen(self._engine, "before_cursor_execute", before_execute)
        return lambda: event.remove(self._engine, "before_cursor_execute", before_execute)

    def schema_version(self) -> int:
        with self._read() as conn:
            return migrations.current_version(conn)

    def migrate(self, *, target: int | None = None) -> list[int]:
        """Apply pending migrations (up to ``target``, default all); returns versions applied."""
        target = migrations.SCHEMA_VERSION if target is None else target
        applied: list[int] = []
        while True:
            with self._write() as conn:
                version = migrations.apply_next_migration(conn, target)
            if version is None:
                return applied
            applied.append(version)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Brain:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Brain({self.url!r})"


def open_brain(url: str | None = None, *, migrate: bool = True) -> Brain:
    """Open (and by default migrate) the brain at ``url``; None means the per-user SQLite file.

    Raises BrainError if the URL is unsupported, the database can't be reached, or its schema
    is newer than this code.
    """
    brain = Brain(create_brain_engine(normalise_url(url or default_brain_url())))
    try:
        version = brain.schema_version()  # also proves the database answers
        migrations.refuse_newer(version)
        if brain.read_only and version < migrations.SCHEMA_VERSION:
            raise BrainError(f"the brain at {brain.url} is read-only and at schema version {version}: "
                             f"its owner must open it once to migrate it to {migrations.SCHEMA_VERSION}")
        if migrate and version < migrations.SCHEMA_VERSION:  # up to date: no write lock taken
            brain.migrate()
    except BaseException:
        brain.close()
        raise
    return brain
