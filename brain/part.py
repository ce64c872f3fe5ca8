"""The one base of the Brain's parts: each mixin (registry, jobs, lease, ...) subclasses BrainPart
and reaches storage only through what it declares; Brain (brain/core.py) implements it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager

from sqlalchemy.engine import Connection


class BrainPart(ABC):
    url: str  # where the brain is, password hidden
    backend: str  # "sqlite" | "postgresql"

    @abstractmethod
    def _read(self) -> AbstractContextManager[Connection]:
        """A read transaction on a pooled connection (on SQLite it never waits for writers)."""

    @abstractmethod
    def _write(self) -> AbstractContextManager[Connection]:
        """A write transaction: commits when the block ends, rolls back on any error (on SQLite
        it holds the write lock from its start, so writers queue instead of failing)."""

    @abstractmethod
    def _own_connection(self) -> Connection:
        """A connection of its own, out of the pool's reach and in autocommit, for state that
        lives as long as a session (PostgreSQL's advisory locks); the caller closes it."""
