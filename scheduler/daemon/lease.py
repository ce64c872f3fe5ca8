"""Exactly one leader per brain: the lease a headless scheduler must hold before it acts.

The brain keeps the lease (brain/lease.py): on PostgreSQL an advisory lock on a connection of
its own, which the server drops the moment that connection or process dies (kill -9 included),
so a standby takes over at its next try; on SQLite the `leader_lease` row, taken when absent,
expired, or held by a dead process of this machine, and renewed by a heartbeat well inside its
expiry. This module is the policy: when to take, renew and give up the lead.

A leader that cannot renew (its connection died, a standby took an expired lease) must stop
acting at once: `is_valid()` is what every cadence checks before doing anything.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

from sqlalchemy.exc import SQLAlchemyError

from brain import Brain, BrainError
from brain.lease import LEASE_NAME, LeaderRecord

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
        self._claim = brain.lease_claim(self.holder_id, name)

    def is_valid(self) -> bool:
        return self.held and time.monotonic() < self._valid_until

    def try_acquire(self) -> bool:
        """Take the lead if nobody alive holds it; True if we hold it now."""
        if self.held:
            return self.renew()
        started = time.monotonic()
        try:
            taken = self._claim.take(self.lease_seconds)
        except (BrainError, SQLAlchemyError) as error:
            log.warning("could not try for the lead: %s", error)
            self._claim.close()
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
            kept = self._claim.renew(self.lease_seconds)
        except (BrainError, SQLAlchemyError) as error:
            log.warning("could not renew the lead: %s", error)
            kept = False
        if kept:
            self._valid_until = started + self.lease_seconds
        else:
            self.held = False
            self._claim.close()
        return kept

    def release(self) -> None:
        """Give the lead up (clean shutdown), so a standby need not wait for the expiry."""
        if not self.held:
            self._claim.close()
            return
        self.held = False
        try:
            self._claim.release()
        except (BrainError, SQLAlchemyError) as error:
            log.warning("could not release the lead cleanly (it lapses by itself): %s", error)
        finally:
            self._claim.close()

    def holder(self) -> LeaderRecord | None:
        """Who leads now (None if nobody alive does)."""
        return self.brain.current_leader(self.name)
