"""Explicit repairs of OHLCV bars: each one happens only when asked for, and is logged.

Nothing here runs on its own: validation (engine.quality) reports, the caller decides. Filling
gaps invents bars, so every filled bar carries ``filled = True``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from engine.calendars import check_calendar, fill_slots, find_gaps
from engine.data import VALUE_COLUMNS
from engine.timeframes import infer_timeframe

_SHOWN_ROWS = 20  # row numbers kept in the log per action; the counts are always complete


@dataclass
class RepairLog:
    """What repair did, one entry per requested action, in the order they ran."""

    actions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(action["rows"] for action in self.actions)

    def to_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, "actions": self.actions}


def repair(
    frame: pl.DataFrame,
    *,
    drop_duplicates: bool = False,
    sort: bool = False,
    fill_gaps_up_to: int = 0,
    timeframe: str | None = None,
    calendar: str = "24/7",
) -> tuple[pl.DataFrame, RepairLog]:
    """Apply the requested repairs, in this order, and say what each did.

    - ``drop_duplicates``: keep the first row (in the frame's order) of each (symbol, ts) and
      drop the rest; the log counts those whose values differed from the kept row.
    - ``sort``: sort by (symbol, ts), stable; the log counts rows that moved.
    - ``fill_gaps_up_to=N``: insert the missing bars of every gap of at most N bars (gaps as in
      engine.calendars for ``timeframe``, inferred when None, and ``calendar``; a weekend closure
      is not a gap and is never filled). A filled bar repeats the previous close as its open,
      high, low and close, with volume 0: no trading was seen, so none is invented. A boolean
      ``filled`` column marks them. Needs rows already sorted and unique per symbol (ask for the
      other two repairs), and no unreadable timestamps; ValueError otherwise.

    With every option off the frame comes back unchanged and the log is empty.
    """
    if fill_gaps_up_to < 0:
        raise ValueError(f"fill_gaps_up_to must be 0 or more, got {fill_gaps_up_to}")
    check_calendar(calendar)
    log = RepairLog()
    if drop_duplicates:
        frame = _drop_duplicates(frame, log)
    if sort:
        frame = _sort(frame, log)
    if fill_gaps_up_to:
        frame = _fill_gaps(frame, fill_gaps_up_to, timeframe, calendar, log)
    return frame, log


def _row_numbers(frame: pl.DataFrame, mask: pl.Series) -> list[int]:
    rows = frame["row"] if "row" in frame.columns else pl.int_range(1, frame.height + 1, eager=True)
    return rows.filter(mask).head(_SHOWN_ROWS).to_list()


def _drop_duplicates(frame: pl.DataFrame, log: RepairLog) -> pl.DataFrame:
    key = pl.struct("symbol", "ts")
    # Rows without a readable timestamp have no key to repeat: they are never dropped here.
    repeated = frame.select(~key.is_first_distinct() & pl.col("ts").is_not_null()).to_series()
    values = pl.concat_list(VALUE_COLUMNS)
    differs = (
        frame.select(values != values.first().over(["symbol", "ts"])).to_series().fill_null(True) & repeated
    )
    log.actions.append(
        {
            "action": "drop_duplicates",
            "rows": int(repeated.sum()),
            "conflicting": int(differs.sum()),
            "dropped_rows": _row_numbers(frame, repeated),
        }
    )
    return frame.filter(~repeated)


def _sort(frame: pl.DataFrame, log: RepairLog) -> pl.DataFrame:
    order = frame.select(pl.arg_sort_by(["symbol", "ts"], nulls_last=True, maintain_order=True)).to_series()
    moved = order != pl.int_range(0, frame.height, eager=True, dtype=order.dtype)
    log.actions.append(
        {"action": "sort", "rows": int(moved.sum()), "moved_rows": _row_numbers(frame.gather(order), moved)}
    )
    return frame.gather(order)


def _fill_gaps(
    frame: pl.DataFrame, limit: int, timeframe: str | None, calendar: str, log: RepairLog
) -> pl.DataFrame:
    if frame["ts"].null_count():
        raise ValueError("cannot fill gaps: some timestamps are unreadable")
    key = pl.struct("symbol", "ts")
    if not frame.select(key.is_unique().all()).item():
        raise ValueError("cannot fill gaps: rows repeat a timestamp; drop duplicates first")
    if not frame.select((pl.col("ts").diff().over("symbol") >= pl.duration()).all()).item():
        raise ValueError("cannot fill gaps: rows are not sorted by time; sort first")
    frame = frame.with_columns(filled=pl.lit(False), _position=pl.int_range(0, pl.len()))
    added, filled_gaps, left = [], 0, 0
    for (symbol,), bars in frame.group_by("symbol", maintain_order=True):
        step = timeframe or infer_timeframe(bars)
        gaps = find_gaps(bars["ts"], step, calendar)
        for prev, nxt, missing in gaps.select("prev", "next", "missing_bars").iter_rows():
            if missing > limit:
                left += 1
                continue
            before = bars.filter(pl.col("ts") == prev).row(0, named=True)
            slots = fill_slots(prev, nxt, step)
            if calendar == "weekdays":
                slots = slots.filter(slots.dt.weekday() <= 5)
            added.append(
                pl.DataFrame(
                    {
                        "ts": slots,
                        "symbol": [symbol] * slots.len(),
                        **{
                            name: [before["close"]] * slots.len() for name in ("open", "high", "low", "close")
                        },
                        "volume": [0.0] * slots.len(),
                        "filled": [True] * slots.len(),
                        "_position": [before["_position"]] * slots.len(),
                    }
                )
            )
            filled_gaps += 1
    log.actions.append(
        {
            "action": "fill_gaps",
            "rows": sum(part.height for part in added),
            "gaps_filled": filled_gaps,
            "gaps_left": left,
            "up_to": limit,
        }
    )
    if added:
        new_rows = pl.concat(added).cast({"ts": frame.schema["ts"], "_position": frame.schema["_position"]})
        # Each filled bar goes right after the bar it repeats, so the frame keeps its own order.
        frame = pl.concat([frame, new_rows], how="diagonal_relaxed").sort("_position", "ts")
    return frame.drop("_position")
