"""The leader lease: which scheduler leads this brain, read by consoles and written by the leader.

SQLite keeps the lease in `leader_lease` alone (taken and renewed in write transactions, valid
until `expires_at`). PostgreSQL's real lock is a session advisory lock that dies with its
connection; the row there only says who holds it, so a reader checks pg_locks before believing
it. `Brain.lease_claim` hands a contender the claim that fits the backend; the policy (when to
take, renew, step down) lives in scheduler/daemon/lease.py.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from brain.connection import describe_dbapi_error
from brain.errors import BrainError
from brain.part import BrainPart
from brain.schema import leader_lease
from brain.upsert import insert_on_conflict

LEASE_NAME = "scheduler"
# The advisory lock's first key half, fixed for Huracan; the second half is derived from the
# database and schema, because a brain is a schema (tests and shared servers keep several
# brains in one database, and each must have its own leader).
ADVISORY_CLASS_ID = 0x48524331  # "HRC1"


@dataclass(frozen=True)
class LeaderRecord:
    """Who holds a lease now: the current leader."""

    holder: str  # unique per lease holder: host:pid:token
    host: str | None
    pid: int | None
    acquired_at: datetime
    heartbeat_at: datetime
    expires_at: datetime

    @property
    def label(self) -> str:
        return f"{self.host}:{self.pid}"


def _now() -> datetime:
    return datetime.now(UTC)


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine is alive (a zombie counts as dead: it runs nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc (macOS): trust the signal probe


def holder_is_dead(record: LeaderRecord) -> bool:
    """A holder on this machine whose process is gone: its lease need not run out first."""
    return record.host == socket.gethostname() and record.pid is not None and not pid_alive(record.pid)


def advisory_key(conn: Connection, name: str = LEASE_NAME) -> tuple[int, int]:
    database, schema = conn.execute(text("SELECT current_database(), current_schema()")).one()
    digest = hashlib.sha256(f"{database}/{schema}/{name}".encode()).digest()
    return ADVISORY_CLASS_ID, int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def advisory_lock_held(conn: Connection, key: tuple[int, int], *, by_me: bool = False) -> bool:
    """Whether some session (or, with by_me, this one) holds the leader's advisory lock."""
    query = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND classid = CAST(:classid AS oid) AND objid = CAST(:objid AS oid) AND objsubid = 2"
    )
    if by_me:
        query += " AND pid = pg_backend_pid()"
    return conn.execute(text(query), {"classid": key[0], "objid": key[1]}).scalar_one() > 0


def _record(row) -> LeaderRecord:
    mapping = row._mapping
    return LeaderRecord(**{key: mapping[key] for key in LeaderRecord.__dataclass_fields__})


def read_lease(conn: Connection, name: str = LEASE_NAME) -> LeaderRecord | None:
    row = conn.execute(select(leader_lease).where(leader_lease.c.name == name)).one_or_none()
    return None if row is None else _record(row)


def write_lease(conn: Connection, name: str, holder: str, *, seconds: float) -> None:
    """Make `holder` the lease's owner from now on (the caller has checked it may)."""
    now = _now()
    values = dict(holder=holder, host=socket.gethostname(), pid=os.getpid(), acquired_at=now,
                  heartbeat_at=now, expires_at=now + timedelta(seconds=seconds))
    conn.execute(
        insert_on_conflict(conn, leader_lease)
        .values(name=name, **values)
        .on_conflict_do_update(index_elements=["name"], set_=values)
    )


def beat_lease(conn: Connection, name: str, holder: str, *, seconds: float) -> bool:
    """Extend `holder`'s lease; False if the lease is someone else's now."""
    now = _now()
    result = conn.execute(
        update(leader_lease)
        .where(leader_lease.c.name == name, leader_lease.c.holder == holder)
        .values(heartbeat_at=now, expires_at=now + timedelta(seconds=seconds))
    )
    return result.rowcount == 1


def drop_lease(conn: Connection, name: str, holder: str) -> None:
    conn.execute(delete(leader_lease).where(leader_lease.c.name == name, leader_lease.c.holder == holder))


class LeaseClaim(Protocol):
    """One holder's claim on a named lease; `take` and `renew` say whether the holder holds it
    (for `seconds` more). Errors are BrainError."""

    def take(self, seconds: float) -> bool: ...

    def renew(self, seconds: float) -> bool: ...

    def release(self) -> None: ...

    def close(self) -> None: ...


class RowLeaseClaim:
    """SQLite: the `leader_lease` row is the lease, taken when absent, expired, the holder's own,
    or held by a dead process of this machine."""

    def __init__(self, write: Callable[[], AbstractContextManager[Connection]], name: str, holder: str):
        self._write = write
        self.name = name
        self.holder = holder

    def take(self, seconds: float) -> bool:
        with self._write() as conn:  # BEGIN IMMEDIATE: one contender at a time
            current = read_lease(conn, self.name)
            free = (current is None or current.holder == self.holder
                    or current.expires_at <= _now() or holder_is_dead(current))
            if free:
                write_lease(conn, self.name, self.holder, seconds=seconds)
            return free

    def renew(self, seconds: float) -> bool:
        with self._write() as conn:
            return beat_lease(conn, self.name, self.holder, seconds=seconds)

    def release(self) -> None:
        with self._write() as conn:
            drop_lease(conn, self.name, self.holder)

    def close(self) -> None:
        pass  # nothing held between calls


@contextmanager
def _brain_errors() -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        raise BrainError(f"brain lease operation failed: {describe_dbapi_error(exc)}") from exc
    except SQLAlchemyError as exc:
        raise BrainError(f"brain lease operation failed: {exc}") from exc


class AdvisoryLeaseClaim:
    """PostgreSQL: a session advisory lock on a connection of its own is the lease, held for as
    long as that connection lives (the server drops it when the session or process dies, kill -9
    included); the `leader_lease` row only tells consoles who holds it."""

    def __init__(self, connect: Callable[[], Connection], name: str, holder: str):
        self._connect = connect
        self.name = name
        self.holder = holder
        self._conn: Connection | None = None  # the session owning the lock, while we try or hold

    def take(self, seconds: float) -> bool:
        with _brain_errors():
            if self._conn is None:
                self._conn = self._connect()
            key = advisory_key(self._conn, self.name)
            taken = self._conn.execute(
                text("SELECT pg_try_advisory_lock(:c, :o)"), {"c": key[0], "o": key[1]}
            ).scalar_one()
            if not taken:
                self.close()  # a standby should not hold a server connection idle
                return False
            write_lease(self._conn, self.name, self.holder, seconds=seconds)
            return True

    def renew(self, seconds: float) -> bool:
        if self._conn is None:
            return False
        with _brain_errors():
            if not advisory_lock_held(self._conn, advisory_key(self._conn, self.name), by_me=True):
                return False  # e.g. the server restarted: the session, and the lock, are gone
            beat_lease(self._conn, self.name, self.holder, seconds=seconds)
            return True

    def release(self) -> None:
        if self._conn is None:
            return
        with _brain_errors():
            drop_lease(self._conn, self.name, self.holder)
            key = advisory_key(self._conn, self.name)
            self._conn.execute(text("SELECT pg_advisory_unlock(:c, :o)"), {"c": key[0], "o": key[1]})

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except SQLAlchemyError:
                pass  # a dead session is closed enough
            self._conn = None

    def session_pid(self) -> int | None:
        """The server process of the session that would hold the lock (None with no session)."""
        if self._conn is None:
            return None
        with _brain_errors():
            return self._conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


class LeaseMixin(BrainPart):
    def current_leader(self, name: str = LEASE_NAME) -> LeaderRecord | None:
        """The live leader of this brain, or None (expired lease, dead holder, or none ever)."""
        with self._read() as conn:
            record = read_lease(conn, name)
            if record is None:
                return None
            if conn.dialect.name == "postgresql":
                # The lock, not the row, is the truth: a killed leader's row stays behind.
                alive = advisory_lock_held(conn, advisory_key(conn, name))
            else:
                alive = record.expires_at > _now()
        return record if alive and not holder_is_dead(record) else None

    def lease_claim(self, holder: str, name: str = LEASE_NAME) -> LeaseClaim:
        """`holder`'s claim on the lease `name`, the kind this backend keeps; it opens nothing
        until taken. The caller closes it."""
        if self.backend == "postgresql":
            return AdvisoryLeaseClaim(self._own_connection, name, holder)
        return RowLeaseClaim(self._write, name, holder)
