"""Checks of the values given on the command line, each refusing bad input with one line that
names the option: times, spans back from now, and whole numbers within what the brain can store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from huracan_tui.cli.output import CommandError

# Integer columns hold 32 bits on PostgreSQL: a larger version number, id or limit matches nothing
# and would only overflow on its way to the database.
LARGEST_NUMBER = 2**31 - 1


def checked_number(value: int | None, option: str, *, minimum: int = 1) -> int | None:
    """A count, id or version number given as `option`, within [minimum, LARGEST_NUMBER]."""
    if value is not None and not minimum <= value <= LARGEST_NUMBER:
        bound = f"at least {minimum}" if value < minimum else f"at most {LARGEST_NUMBER}"
        raise CommandError(f"{option} must be {bound}, not {value}")
    return value


def parse_utc(text: str, option: str) -> datetime:
    """ISO-8601; a time without an offset is taken as UTC, one with an offset is converted."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(f"{option}: not an ISO-8601 time: {text!r} (e.g. 2026-01-05T12:00:00Z)") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first representable moment
        raise CommandError(f"{option}: {text!r} is outside the years 1 to 9999 in UTC") from None


def moment_or_span(text: str, option: str, *, now: datetime | None = None) -> datetime:
    """An ISO-8601 time, or a span back from now (`24h`, `7d`)."""
    from scheduler.config import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError:
        return parse_utc(text, option)
    now = now or datetime.now(UTC)
    try:
        return now - timedelta(seconds=seconds)
    except OverflowError:
        oldest = (now - datetime(1, 1, 1, tzinfo=UTC)).days
        raise CommandError(f"{option}: {text!r} reaches back before the year 1 "
                           f"(at most {oldest}d)") from None
