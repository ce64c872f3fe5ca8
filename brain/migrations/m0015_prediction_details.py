"""Migration 15: what an agent chose on each live bar.

`predictions.details` holds, for a version whose model is an agent (dqn, ppo_sizing), the JSON
of its choice on that bar: the action and the Q-value of each action, or the size. NULL for every
other kind, and for rows stored before this migration.

Frozen at version 15 like every migration; later changes belong in a new module.
"""

from sqlalchemy.engine import Connection

VERSION = 15
NAME = "prediction_details"


def upgrade(conn: Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE predictions ADD COLUMN details TEXT")
