"""Migration 9: roles live in the brain, and the audit log becomes append-only in the database.

`user_roles` holds who may act (viewer, operator, owner); its first row is the brain's owner, the
OS user who created the brain or first migrated it to this version. Triggers refuse any UPDATE
or DELETE of an audit row (and on PostgreSQL a TRUNCATE), whoever connects and however.

Frozen at version 9 like every migration; later changes belong in a new module.
"""

import getpass
import os
from datetime import UTC, datetime

from sqlalchemy import Column, MetaData, Table, Text, insert, text
from sqlalchemy.engine import Connection

from brain.column_types import UTCDateTime

VERSION = 9
NAME = "roles_audit_append_only"

_metadata = MetaData()

_user_roles = Table(
    "user_roles",
    _metadata,
    Column("user", Text, primary_key=True),
    Column("role", Text, nullable=False),  # viewer, operator, owner
    Column("granted_by", Text, nullable=False),
    Column("granted_at", UTCDateTime, nullable=False),
)

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)
_POSTGRESQL_TRIGGERS = (
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
)


def _os_user() -> str:
    # As brain.identity.current_actor names the user, copied so this step stays frozen.
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def upgrade(conn: Connection) -> None:
    _user_roles.create(conn)
    owner = _os_user()
    conn.execute(insert(_user_roles).values(user=owner, role="owner", granted_by=owner,
                                            granted_at=datetime.now(UTC)))
    triggers = _POSTGRESQL_TRIGGERS if conn.dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for statement in triggers:
        conn.execute(text(statement))
