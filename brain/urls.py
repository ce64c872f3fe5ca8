"""Brain URLs: the default location and the two accepted spellings."""

from __future__ import annotations

from pathlib import Path

import platformdirs
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from brain.errors import BrainError

ACCEPTED_FORMS = "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"

# Spellings people paste from other tools; psycopg 3 is the only PostgreSQL driver we ship.
_POSTGRES_DRIVERS = {"postgresql", "postgres", "postgresql+psycopg"}
_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite"}


def default_brain_url() -> str:
    """``sqlite:///<user data dir>/brain.db``; platformdirs honours XDG_DATA_HOME."""
    data_dir = Path(platformdirs.user_data_dir("huracan"))
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'brain.db'}"


def safe_url(url: URL) -> str:
    """The URL as it may appear in messages and on screen: password hidden."""
    return url.render_as_string(hide_password=True)


def _redact(raw: str) -> str:
    # A URL that does not even parse may still carry a password: keep only scheme and host part.
    if "@" in raw and "://" in raw:
        scheme, rest = raw.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else raw
    return raw


def normalise_url(raw: str) -> URL:
    """Parse a brain URL into the form the engine factory expects, or raise BrainError."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise BrainError(f"unsupported brain URL {_redact(raw)!r}: {ACCEPTED_FORMS}") from None
    if url.drivername in _POSTGRES_DRIVERS:
        if not url.database:
            raise BrainError(f"brain URL {safe_url(url)!r} names no database: {ACCEPTED_FORMS}")
        return url.set(drivername="postgresql+psycopg")
    if url.drivername in _SQLITE_DRIVERS:
        if not url.database or url.database == ":memory:":
            # An in-memory brain would vanish with its connection and could not be shared
            # between the console and its workers, which is the brain's whole purpose.
            raise BrainError(f"brain URL {safe_url(url)!r} names no file: {ACCEPTED_FORMS}")
        return url.set(drivername="sqlite")
    raise BrainError(f"unsupported brain URL {safe_url(url)!r}: {ACCEPTED_FORMS}")
