"""When the next bar is due, and which silences in a series are gaps.

Timeframes are written as in the rest of Huracan: <n>m (minutes), <n>h, <n>d, <n>w, <n>mo
(calendar months), <n>y. Polars spells durations the same way, so a timeframe is also the
polars offset from one bar to the next (in UTC, where a day is always 24 hours).

Calendars say when a market trades:
- "24/7": always (crypto). Every missing bar is a gap.
- "weekdays": Monday to Friday, around the clock (FX). The weekend closure is not a gap: a
  silence that covers a whole Saturday (UTC) and lasts at most two days plus two hours (the
  FX week closes Friday 17:00 New York and opens Sunday 17:00 New York, so in UTC the session
  times move by an hour with daylight saving). Holidays are not known: a missing Monday or
  Friday is a gap, on purpose, because nothing here can tell a holiday from lost data.
- "none": no expectations; gaps are not looked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

CALENDARS = ("24/7", "weekdays", "none")
WEEKEND_MAX = timedelta(days=2, hours=2)
_SATURDAY = 6  # polars weekday: Monday = 1 … Sunday = 7
_TIMEFRAME = re.compile(r"^(\d+)(mo|m|h|d|w|y)$")
_FIXED_UNITS = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
GAP_SCHEMA = {
    "prev": pl.Datetime("us", "UTC"),
    "next": pl.Datetime("us", "UTC"),
    "missing_bars": pl.Int64,
    "weekend": pl.Boolean,
}


@dataclass(frozen=True)
class BarStep:
    """One bar's length. ``fixed`` is None for calendar months and years, whose length varies."""

    timeframe: str
    count: int
    unit: str
    fixed: timedelta | None

    @property
    def months(self) -> int:
        return self.count * (12 if self.unit == "y" else 1)


def bar_step(timeframe: str) -> BarStep:
    """Parse a timeframe; ValueError names the accepted forms."""
    match = _TIMEFRAME.match(timeframe.strip()) if isinstance(timeframe, str) else None
    if not match or int(match.group(1)) == 0:
        raise ValueError(
            f"unknown timeframe {timeframe!r}; use <n>m, <n>h, <n>d, <n>w, <n>mo or <n>y "
            "(e.g. 15m, 1h, 1d, 1mo)"
        )
    count, unit = int(match.group(1)), match.group(2)
    fixed = _FIXED_UNITS[unit] * count if unit in _FIXED_UNITS else None
    return BarStep(f"{count}{unit}", count, unit, fixed)


def check_calendar(calendar: str) -> str:
    if calendar not in CALENDARS:
        raise ValueError(f"unknown calendar {calendar!r}; use one of {', '.join(CALENDARS)}")
    return calendar


def find_gaps(ts: pl.Series, timeframe: str, calendar: str = "24/7") -> pl.DataFrame:
    """The silences in one symbol's sorted, unique, non-null timestamps.

    One row per silence: ``prev`` (last bar before it), ``next`` (first bar after it),
    ``missing_bars`` (bar slots on prev's grid strictly between the two; with calendar
    "weekdays" only those falling Monday to Friday, UTC) and ``weekend`` (the silence is the
    weekdays calendar's weekend closure). With calendar "weekdays" the weekend closures are left
    out; with "none" nothing is returned.
    """
    check_calendar(calendar)
    step = bar_step(timeframe)
    empty = pl.DataFrame(schema=GAP_SCHEMA)
    if calendar == "none" or ts.len() < 2:
        return empty
    pairs = pl.DataFrame({"prev": ts[:-1], "next": ts[1:]}).cast(
        {"prev": GAP_SCHEMA["prev"], "next": GAP_SCHEMA["next"]}
    )
    if step.fixed is None:
        return _calendar_unit_gaps(pairs, step).select(list(GAP_SCHEMA))
    pairs = pairs.with_columns(due=pl.col("prev").dt.offset_by(step.timeframe)).filter(
        pl.col("next") > pl.col("due")
    )
    step_us = step.fixed // timedelta(microseconds=1)
    span = (pl.col("next") - pl.col("prev")).dt.total_microseconds()
    pairs = pairs.with_columns(
        # Slots prev + k·step with k > 0 and prev + k·step < next: ceil(span / step) - 1.
        missing_bars=((span + step_us - 1) // step_us - 1).cast(pl.Int64),
        weekend=_weekend_closure(),
    )
    if calendar == "weekdays":
        pairs = _weekday_slots_only(pairs.filter(~pl.col("weekend")), step.timeframe)
    return pairs.select(list(GAP_SCHEMA))


def _weekday_slots_only(pairs: pl.DataFrame, timeframe: str) -> pl.DataFrame:
    # On a weekdays calendar only Monday-Friday slots are missing bars: a holiday Monday in daily
    # stock data is one missing bar, not three. Silences with no weekday slot are no gaps at all.
    slots = pl.datetime_ranges(pl.col("due"), pl.col("next"), timeframe, closed="left")
    weekday_slots = slots.list.eval(pl.element().dt.weekday() <= 5).list.sum().cast(pl.Int64)
    return pairs.with_columns(missing_bars=weekday_slots).filter(pl.col("missing_bars") > 0)


def _month_index(column: str) -> pl.Expr:
    return pl.col(column).dt.year().cast(pl.Int64) * 12 + pl.col(column).dt.month().cast(pl.Int64)


def _calendar_unit_gaps(pairs: pl.DataFrame, step: BarStep) -> pl.DataFrame:
    # Months are counted as months, not as days: monthly bars may be labelled by the month's
    # first day or its last (Jan 31, Feb 29, Mar 31), and either way one bar a month is no gap.
    months = _month_index("next") - _month_index("prev")
    return pairs.with_columns(
        missing_bars=((months + step.months - 1) // step.months - 1).cast(pl.Int64),
        weekend=pl.lit(False),
    ).filter(pl.col("missing_bars") > 0)


def _weekend_closure() -> pl.Expr:
    # The silence runs from `due` (where the first missing bar would start) to `next`. It is the
    # weekend when it holds a whole Saturday and is no longer than WEEKEND_MAX (as in
    # is_weekend_closure, here for a whole column at once).
    due, nxt = pl.col("due"), pl.col("next")
    day = due.dt.truncate("1d")
    saturday = day + pl.duration(days=(_SATURDAY - due.dt.weekday().cast(pl.Int64)) % 7)
    saturday = pl.when(saturday < due).then(saturday + pl.duration(days=7)).otherwise(saturday)
    return (saturday + pl.duration(days=1) <= nxt) & (nxt - due <= WEEKEND_MAX)


def is_weekend_closure(start: datetime, end: datetime) -> bool:
    """Whether a silence from ``start`` to ``end`` is the weekdays calendar's weekend closure:
    it holds a whole Saturday (UTC) and lasts at most WEEKEND_MAX."""
    if end - start > WEEKEND_MAX:
        return False
    saturday = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=(_SATURDAY - start.isoweekday()) % 7
    )
    if saturday < start:
        saturday += timedelta(days=7)
    return saturday + timedelta(days=1) <= end


def fill_slots(prev, nxt, timeframe: str) -> pl.Series:
    """The bar starts strictly between ``prev`` and ``nxt`` on prev's grid (for gap filling);
    month-end labels stay on month ends."""
    step = bar_step(timeframe)
    start = pl.Series("ts", [prev], dtype=pl.Datetime("us", "UTC"))
    if step.fixed is not None:
        return pl.datetime_range(
            prev, nxt, step.timeframe, closed="none", eager=True, time_unit="us", time_zone="UTC"
        ).alias("ts")
    month_end = bool((start.dt.month_end() == start)[0])
    months = (nxt.year * 12 + nxt.month) - (prev.year * 12 + prev.month)
    missing = (months + step.months - 1) // step.months - 1
    slots = [start.dt.offset_by(f"{k * step.months}mo") for k in range(1, missing + 1)]
    slots = [slot.dt.month_end() if month_end else slot for slot in slots]
    return pl.concat(slots) if slots else start.clear()
