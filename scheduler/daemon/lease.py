"""Exactly one leader per brain: the lease a headless scheduler must hold before it acts.

PostgreSQL: `pg_try_advisory_lock` on a connection of its own, kept for as long as we lead;
the server drops the lock the moment that connection or process dies (kill -9 included), so a
standby takes over at its next try. The holder is also written to `leader_lease` so consoles
can say who leads. SQLite has no such lock: the lease is the `leader_lease` row itself, taken
in a write transaction when absent, expired, or held by a dead process of this machine, and
renewed by a heartbeat well inside its expiry.

A leader that cannot renew (its connection died, a standby took an expired lease) must stop
acting at once: `is_valid()` is what every cadence checks before doing anything.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from brain import Brain, BrainError
from brain.leader import (
    LEASE_NAME,
    LeaderRecord,
    advisory_key,
    advisory_lock_held,
    beat_lease,
    drop_lease,
    holder_is_dead,
    read_lease,
    write_lease,
)

log = logging.getLogger("huracan.leader")

HEARTBEAT_SECONDS = 2.0
LEASE_SECONDS = 6.0  # three missed heartbeats and a standby may take over


class LeaderLease:
    """One contender for the lead of one brain. Not thread-safe: one thread drives it."""

    def __init__(self, brain: Brain, *, name: str = LEASE_NAME, lease_seconds: float = LEASE_SECONDS):
        self.brain = brain
        self.name = name
        self.lease_seconds = lease_seconds
        # host:pid names the process for people; the token tells two leases of one process apart.
        self.holder_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held = False
        self._valid_until = 0.0  # monotonic; we stop acting past it even if renew never ran
        self._lock_conn: Connection | None = None  # PostgreSQL: the session owning the lock

    @property
    def is_postgres(self) -> bool:
        return self.brain.backend == "postgresql"

    def is_valid(self) -> bool:
        return self.held and time.monotonic() < self._valid_until

    def try_acquire(self) -> bool:
        """Take the lead if nobody alive holds it; True if we hold it now."""
        if self.held:
            return self.renew()
        started = time.monotonic()
        try:
            taken = self._acquire_postgres() if self.is_postgres else self._acquire_sqlite()
        except (BrainError, SQLAlchemyError) as error:
            log.warning("could not try for the lead: %s", error)
            self._drop_lock_connection()
            return False
        if taken:
            self.held = True
            self._valid_until = started + self.lease_seconds
        return taken

    def renew(self) -> bool:
        """Beat the heartbeat; False (and no longer held) if the lead was lost."""
        if not self.held:
            return False
        started = time.monotonic()
        try:
            kept = self._renew_postgres() if self.is_postgres else self._renew_sqlite()
        except (BrainError, SQLAlchemyError) as error:
            log.warning("could not renew the lead: %s", error)
            kept = False
        if kept:
            self._valid_until = started + self.lease_seconds
        else:
            self.held = False
            self._drop_lock_connection()
        return kept

    def release(self) -> None:
        """Give the lead up (clean shutdown), so a standby need not wait for the expiry."""
        if not self.held:
            self._drop_lock_connection()
            return
        self.held = False
        try:
            if self._lock_conn is not None:
                drop_lease(self._lock_conn, self.name, self.holder_id)
                key = advisory_key(self._lock_conn, self.name)
                self._lock_conn.execute(text("SELECT pg_advisory_unlock(:c, :o)"), {"c": key[0], "o": key[1]})
            else:
                with self.brain._write() as conn:
                    drop_lease(conn, self.name, self.holder_id)
        except (BrainError, SQLAlchemyError) as error:
            log.warning("could not release the lead cleanly (it lapses by itself): %s", error)
        finally:
            self._drop_lock_connection()

    def holder(self) -> LeaderRecord | None:
        """Who leads now (None if nobody alive does)."""
        return self.brain.current_leader(self.name)

    # --- SQLite: the row is the lease ---------------------------------------------------------

    def _acquire_sqlite(self) -> bool:
        with self.brain._write() as conn:  # BEGIN IMMEDIATE: one contender at a time
            current = read_lease(conn, self.name)
            free = (current is None or current.holder == self.holder_id
                    or current.expires_at <= datetime.now(UTC) or holder_is_dead(current))
            if free:
                write_lease(conn, self.name, self.holder_id, seconds=self.lease_seconds)
            return free

    def _renew_sqlite(self) -> bool:
        with self.brain._write() as conn:
            return beat_lease(conn, self.name, self.holder_id, seconds=self.lease_seconds)

    # --- PostgreSQL: the advisory lock is the lease -------------------------------------------

    def _acquire_postgres(self) -> bool:
        if self._lock_conn is None:
            # Out of the pool's reach for as long as we lead; autocommit so no transaction stays
            # open on it (the lock is session-level and survives commits anyway).
            self._lock_conn = self.brain._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        key = advisory_key(self._lock_conn, self.name)
        taken = self._lock_conn.execute(
            text("SELECT pg_try_advisory_lock(:c, :o)"), {"c": key[0], "o": key[1]}
        ).scalar_one()
        if not taken:
            self._drop_lock_connection()  # a standby should not hold a server connection idle
            return False
        write_lease(self._lock_conn, self.name, self.holder_id, seconds=self.lease_seconds)
        return True

    def _renew_postgres(self) -> bool:
        if self._lock_conn is None:
            return False
        key = advisory_key(self._lock_conn, self.name)
        if not advisory_lock_held(self._lock_conn, key, by_me=True):
            return False  # e.g. the server restarted: the session, and the lock, are gone
        beat_lease(self._lock_conn, self.name, self.holder_id, seconds=self.lease_seconds)
        return True

    def _drop_lock_connection(self) -> None:
        if self._lock_conn is not None:
            try:
                self._lock_conn.close()
            except SQLAlchemyError:
                pass
            self._lock_conn = None
