"""Bar lengths: naming them and recognising them from the data."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the console reads bar lengths without loading polars
    import polars as pl

# Nominal bar length in seconds for the names people use; months are calendar months, so their
# spacing varies between 28 and 31 days.
_NOMINAL_SECONDS = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "4h": 4 * 3600,
    "1d": 86400,
    "1w": 7 * 86400,
    "1mo": 30 * 86400,
}


def infer_timeframe(frame: pl.DataFrame) -> str:
    """The bar length of a canonical OHLCV frame, from the most common spacing of its bars.

    The mode rather than the median, because gaps (weekends in FX, holidays in stocks) make
    some spacings longer without changing what a bar is.
    """
    spacing = frame.get_column("ts").sort().diff().drop_nulls().dt.total_seconds()
    if spacing.len() == 0:
        raise ValueError("cannot infer the timeframe from fewer than two bars; pass --timeframe")
    typical = float(spacing.mode().sort()[0])
    if 27 * 86400 <= typical <= 31 * 86400:
        return "1mo"
    for name, seconds in _NOMINAL_SECONDS.items():
        if abs(typical - seconds) <= 0.01 * seconds:
            return name
    raise ValueError(f"bars are {typical:g} s apart, which is no known timeframe; pass --timeframe")


_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mo": 30 * 86400}
_TIMEFRAME = re.compile(r"^(\d+)(mo|m|h|d|w)$")


def bar_seconds(timeframe: str) -> float | None:
    """The nominal length of a bar named like '15m', '1h', '1d', '1w', '1mo' (a month as 30
    days), in seconds; None for a name of no known form."""
    match = _TIMEFRAME.match(timeframe.strip())
    if not match or int(match.group(1)) == 0:
        return None
    return float(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
