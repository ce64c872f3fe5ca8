"""Retrying reads that fail for reasons that pass: a database restarting, a network file system
hiccuping. Exponential backoff with jitter, so many readers failing together don't retry in step.

Only transient errors are retried. A missing file, a bad column or a wrong SQL statement fails the
same way every time, so retrying it would only make the user wait for the same message.
"""

from __future__ import annotations

import errno
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

T = TypeVar("T")

# OSErrors that say "try again later": network file systems (ESTALE, EIO), busy or interrupted
# resources, and connections that were refused, reset or timed out.
TRANSIENT_ERRNOS = frozenset(
    code
    for code in (
        getattr(errno, name, None)
        for name in (
            "EAGAIN",
            "EBUSY",
            "EINTR",
            "EIO",
            "ESTALE",
            "ETIMEDOUT",
            "ECONNREFUSED",
            "ECONNRESET",
            "ECONNABORTED",
            "EHOSTUNREACH",
            "ENETUNREACH",
            "ENETDOWN",
            "EREMOTEIO",
        )
    )
    if code is not None
)
# Subclasses of OSError that no amount of waiting fixes.
PERMANENT_OS_ERRORS = (
    FileNotFoundError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
    FileExistsError,
)


# A PostgreSQL server that answers but refuses who is asking or what for: no such role or
# database, or a failed login. These arrive as "operational" errors, yet waiting won't fix them.
_REFUSED_LOGIN = re.compile(r"FATAL:.*(does not exist|authentication failed|no pg_hba\.conf entry)")


def is_transient(error: BaseException) -> bool:
    """True for errors worth retrying: connection trouble, timeouts, transient I/O errors, and
    SQLAlchemy / psycopg operational errors (server gone, connection refused or dropped), except
    a refused login or a missing database."""
    if isinstance(error, PERMANENT_OS_ERRORS):
        return False
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    if isinstance(error, OSError):
        return error.errno in TRANSIENT_ERRNOS
    if _REFUSED_LOGIN.search(str(error)):
        return False
    # Only look at database errors when their library is loaded: if it is not, the error
    # cannot come from it, and the engine stays free of a hard dependency on it.
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None:
        if isinstance(error, sqlalchemy_exc.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(
            error,
            sqlalchemy_exc.OperationalError
            | sqlalchemy_exc.InterfaceError
            | sqlalchemy_exc.DisconnectionError,
        ):
            return True
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    return False


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    The wait before retry k (k = 0, 1, …) is ``min(max_delay, base_delay * 2**k)``, shortened
    by a random fraction of up to ``jitter`` (0 = exactly that, 0.5 = between half and all of it).
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("base_delay and max_delay must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")

    def delay(self, retry_index: int, rng: random.Random | None = None) -> float:
        nominal = min(self.max_delay, self.base_delay * 2**retry_index)
        if self.jitter == 0:
            return nominal
        return nominal * (1 - self.jitter * (rng or random).random())


class RetriesExhausted(Exception):
    """Every attempt failed with a transient error; ``last`` is the final one."""

    def __init__(self, attempts: int, last: BaseException):
        self.attempts = attempts
        self.last = last
        detail = " ".join(str(last).split()) or type(last).__name__
        super().__init__(f"failed {attempts} times; last error: {detail}")


def retry(
    call: Callable[[], T],
    attempts: int | None = None,
    base_delay: float | None = None,
    max_delay: float | None = None,
    transient: tuple[type[BaseException], ...] | Callable[[BaseException], bool] = is_transient,
    *,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Call ``call()`` until it returns, retrying transient errors with backoff.

    ``transient`` is a tuple of exception types or a predicate (default `is_transient`).
    Permanent errors propagate at once, unchanged. When every attempt fails transiently,
    RetriesExhausted is raised with the last error chained. ``sleep`` and ``rng`` are there so
    that tests can record the schedule instead of waiting; ``on_retry(attempt, error, delay)``
    runs before each wait (attempt counts from 1).
    """
    policy = policy or RetryPolicy()
    overrides = {"attempts": attempts, "base_delay": base_delay, "max_delay": max_delay}
    policy = replace(policy, **{key: value for key, value in overrides.items() if value is not None})
    if callable(transient):
        worth_retrying = transient
    else:

        def worth_retrying(error: BaseException) -> bool:
            return isinstance(error, transient)

    for attempt in range(1, policy.attempts + 1):
        try:
            return call()
        except Exception as error:
            if not worth_retrying(error):
                raise
            if attempt == policy.attempts:
                raise RetriesExhausted(attempt, error) from error
            delay = policy.delay(attempt - 1, rng)
            if on_retry is not None:
                on_retry(attempt, error, delay)
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")
