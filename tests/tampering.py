"""Test set-up that rewrites what the brain keeps append-only (pinning audit times for a
reproducible screen): the triggers of migration 9 are lifted for one transaction and put back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection

from brain.migrations import m0009_roles_audit_append_only as m0009


@contextmanager
def audit_log_unlocked(connection: Connection) -> Iterator[Connection]:
    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
        yield connection
        connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change"))
        return
    for name in ("audit_log_no_update", "audit_log_no_delete"):
        connection.execute(text(f"DROP TRIGGER {name}"))
    yield connection
    for statement in m0009._SQLITE_TRIGGERS:
        connection.execute(text(statement))
