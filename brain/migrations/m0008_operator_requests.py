"""Migration 8: the `commands` table becomes `operator_requests`, its rows kept.

"Command" also named the CLI's subcommands, the `:` prompt and Textual's palette; what an
operator asks the leader to do is an operator request. The table, its index (and on PostgreSQL
its key and id sequence) are renamed, so a brain made by this step looks like a fresh one.

Frozen at version 8 like every migration; later changes belong in a new module.
"""

from sqlalchemy import text
from sqlalchemy.engine import Connection

VERSION = 8
NAME = "operator_requests"

_RENAME_TABLE = "ALTER TABLE commands RENAME TO operator_requests"
# SQLite cannot rename an index: it is made again under its new name (its rows are the table's).
_SQLITE_INDEX = (
    "DROP INDEX ix_commands_state_ts",
    "CREATE INDEX ix_operator_requests_state_ts ON operator_requests (state, ts)",
)
_POSTGRESQL_NAMES = (
    "ALTER INDEX ix_commands_state_ts RENAME TO ix_operator_requests_state_ts",
    "ALTER TABLE operator_requests RENAME CONSTRAINT commands_pkey TO operator_requests_pkey",
    "ALTER SEQUENCE commands_id_seq RENAME TO operator_requests_id_seq",
)


def upgrade(conn: Connection) -> None:
    conn.execute(text(_RENAME_TABLE))
    renames = _POSTGRESQL_NAMES if conn.dialect.name == "postgresql" else _SQLITE_INDEX
    for statement in renames:
        conn.execute(text(statement))
