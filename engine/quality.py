"""Data quality: a report with one row per kind of problem found in a set of bars.

`validate_ohlcv` looks at a raw lenient read (engine.raw) or any frame with the canonical
columns, and reports every problem at once instead of stopping at the first (load_ohlcv's job).
It changes nothing. Repairs are a separate, explicit step: engine.repair.

Kinds (severity): unparsable_timestamps, missing_values, nan_values, infinite_values,
non_positive_prices, negative_volume, high_below_low, close_outside_range, open_outside_range,
duplicate_timestamps, naive_and_aware_timestamps, dst_repeated_hour, future_timestamps (later
than now plus one bar), utc_offsets_reorder_rows (rows written in order that their UTC offsets
put out of order: sorting would scramble them) (errors: the bars are wrong or ambiguous as they
stand); unsorted_rows, gaps, mixed_utc_offsets (warnings: the bars can be used once sorted, the
gaps are known, the offsets were converted).
`repair` (engine.repair, also importable from here) fixes duplicates, order and short gaps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from engine.calendars import bar_step, check_calendar, find_gaps
from engine.data import PRICE_COLUMNS, VALUE_COLUMNS, typical_spacing
from engine.repair import RepairLog, repair  # the explicit answer to a report, named here too
from engine.timeframes import infer_timeframe
from engine.timestamps import OFFSET_PATTERN, UTC_MICROS, reordered_by_offsets, utc_offsets

__all__ = ["KINDS", "SEVERITIES", "QualityIssue", "QualityReport", "RepairLog", "repair", "validate_ohlcv"]

ERROR, WARNING = "error", "warning"
SEVERITIES = {
    "unparsable_timestamps": ERROR,
    "missing_values": ERROR,
    "nan_values": ERROR,
    "infinite_values": ERROR,
    "non_positive_prices": ERROR,
    "negative_volume": ERROR,
    "high_below_low": ERROR,
    "close_outside_range": ERROR,
    "open_outside_range": ERROR,
    "duplicate_timestamps": ERROR,
    "naive_and_aware_timestamps": ERROR,
    "dst_repeated_hour": ERROR,
    "future_timestamps": ERROR,
    "utc_offsets_reorder_rows": ERROR,
    "unsorted_rows": WARNING,
    "gaps": WARNING,
    "mixed_utc_offsets": WARNING,
}
KINDS = tuple(SEVERITIES)
_OFFSET = OFFSET_PATTERN  # the offset at the end of a timestamp written as text


@dataclass(frozen=True)
class QualityIssue:
    """One kind of problem: how many, how bad, and the first place it shows (in file order)."""

    kind: str
    count: int
    severity: str
    example: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QualityReport:
    source: str
    timeframe: str | None
    calendar: str
    rows: int
    symbols: tuple[str, ...]
    first_ts: datetime | None
    last_ts: datetime | None
    issues: tuple[QualityIssue, ...]

    @property
    def has_errors(self) -> bool:
        return any(issue.severity == ERROR for issue in self.issues)

    @property
    def is_clean(self) -> bool:
        return not self.issues

    @property
    def severity(self) -> str:
        """The worst severity found: "error", "warning", or "ok"."""
        return ERROR if self.has_errors else WARNING if self.issues else "ok"

    def issue(self, kind: str) -> QualityIssue | None:
        return next((issue for issue in self.issues if issue.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "timeframe": self.timeframe,
            "calendar": self.calendar,
            "rows": self.rows,
            "symbols": list(self.symbols),
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "severity": self.severity,
            "issues": [asdict(issue) for issue in self.issues],
        }

    def to_frame(self) -> pl.DataFrame:
        """kind, count, severity, example: the report as a table."""
        return pl.DataFrame(
            [(issue.kind, issue.count, issue.severity, issue.example) for issue in self.issues],
            schema={"kind": pl.String, "count": pl.Int64, "severity": pl.String, "example": pl.String},
            orient="row",
        )

    def log_rows(self) -> list[dict[str, Any]]:
        """Rows for the brain's data_quality_logs: a summary row (kind "summary", count = rows
        checked, severity = the worst found) so that a clean report is recorded too, then one
        row per issue."""
        summary = {
            "kind": "summary",
            "count": self.rows,
            "severity": self.severity,
            "example": f"{self.rows} rows, {len(self.symbols)} symbol(s), {len(self.issues)} issue kind(s)",
            "details": {"symbols": list(self.symbols), "first_ts": self.first_ts, "last_ts": self.last_ts},
        }
        return [summary, *(asdict(issue) for issue in self.issues)]


def validate_ohlcv(
    frame: pl.DataFrame,
    timeframe: str | None = None,
    calendar: str = "24/7",
    *,
    source: str = "frame",
    now: datetime | None = None,
) -> QualityReport:
    """Report every problem in ``frame`` (a raw read from engine.raw, or a canonical frame).

    ``timeframe`` (e.g. "1h") is what the gaps are measured against; None infers it from the
    bars. ``calendar`` is "24/7", "weekdays" or "none" (see engine.calendars). Rows are named by
    the frame's ``row`` column when it has one (a raw read), else by position from 1. ``now``
    (default: the clock) is what bars later than one bar ahead of are future_timestamps.
    """
    check_calendar(calendar)
    frame = _prepared(frame)
    valid_ts = frame.filter(pl.col("ts").is_not_null())
    if timeframe is None and calendar != "none":
        timeframe = _infer(valid_ts)
    elif timeframe is not None:
        timeframe = bar_step(timeframe).timeframe
    issues = [
        *_timestamp_issues(frame),
        *_value_issues(frame),
        *_order_issues(valid_ts, timeframe),
        *_time_issues(valid_ts, now),
        *_gap_issues(valid_ts, timeframe, calendar),
    ]
    issues.sort(key=lambda issue: KINDS.index(issue.kind))
    return QualityReport(
        source=source,
        timeframe=timeframe,
        calendar=calendar,
        rows=frame.height,
        symbols=tuple(sorted(frame["symbol"].drop_nulls().unique().to_list())),
        first_ts=valid_ts["ts"].min() if valid_ts.height else None,
        last_ts=valid_ts["ts"].max() if valid_ts.height else None,
        issues=tuple(issues),
    )


# --- preparation --------------------------------------------------------------------------


def _prepared(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [name for name in ["ts", *VALUE_COLUMNS] if name not in frame.columns]
    if missing:
        raise ValueError(
            f"validate_ohlcv needs the columns ts, {', '.join(VALUE_COLUMNS)}; missing {missing}"
        )
    ts_type = frame.schema["ts"]
    if not isinstance(ts_type, pl.Datetime):
        raise ValueError(f"validate_ohlcv needs ts as a Datetime column, not {ts_type}")
    ts = pl.col("ts")
    ts = ts.dt.replace_time_zone("UTC") if ts_type.time_zone is None else ts.dt.convert_time_zone("UTC")
    extra = []
    if "row" not in frame.columns:
        extra.append(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row"))
    if "symbol" not in frame.columns:
        extra.append(pl.lit("?", dtype=pl.String).alias("symbol"))
    if "ts_text" not in frame.columns:
        extra.append(pl.lit(None, dtype=pl.String).alias("ts_text"))
    # `row` only labels rows; their order is the frame's own (a repaired frame keeps the labels
    # of the file it came from, in its new order).
    return frame.with_columns(*extra).with_columns(
        ts.cast(UTC_MICROS),
        *(pl.col(name).cast(pl.Float64) for name in VALUE_COLUMNS),
        _position=pl.int_range(0, pl.len()),
    )


def _infer(valid_ts: pl.DataFrame) -> str | None:
    """The first symbol's bar length; None when it has fewer than two readable bars (then there
    are no gaps to measure). Spacing that is no known timeframe raises ValueError."""
    if valid_ts.is_empty():
        return None
    first_symbol = valid_ts["symbol"][0]
    one = valid_ts.filter(pl.col("symbol") == first_symbol).unique("ts")
    return infer_timeframe(one) if one.height >= 2 else None


# --- the checks -----------------------------------------------------------------------------


def _issue(kind: str, hits: pl.DataFrame, describe, count: int | None = None, **details) -> QualityIssue:
    """An issue from the rows that show it (``hits``), its example taken from the first of them
    in the frame's order."""
    first = hits.sort("_position").row(0, named=True)
    if hits["symbol"].n_unique() > 1:
        details["by_symbol"] = dict(hits.group_by("symbol").len().sort("symbol").iter_rows())
    return QualityIssue(
        kind,
        hits.height if count is None else count,
        SEVERITIES[kind],
        f"{_where(first)}: {describe(first)}",
        {"first_row": first["row"], "first_ts": first["ts"], **details},
    )


def _where(row: dict) -> str:
    moment = row.get("ts")
    shown = "unreadable time" if moment is None else _show_ts(moment)
    label = "unnumbered row" if row["row"] is None else f"row {row['row']}"
    return f"{label} ({row['symbol']} {shown})"


def _show_ts(moment: datetime) -> str:
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _timestamp_issues(frame: pl.DataFrame) -> list[QualityIssue]:
    issues = []
    unreadable = frame.filter(pl.col("ts").is_null())
    if unreadable.height:
        issues.append(
            _issue(
                "unparsable_timestamps",
                unreadable,
                lambda r: "missing" if not r["ts_text"] else f"cannot read {r['ts_text']!r}",
            )
        )
    # Unix epochs are UTC by definition: neither naive nor offset, so they take no part here.
    written = frame.filter(
        pl.col("ts").is_not_null()
        & pl.col("ts_text").is_not_null()
        & ~pl.col("ts_text").str.contains(r"^-?\d+$")
    ).with_columns(zone=utc_offsets(pl.col("ts_text")))
    if written.is_empty():
        return issues
    naive, aware = written.filter(pl.col("zone").is_null()), written.filter(pl.col("zone").is_not_null())
    if naive.height and aware.height:
        # The example is one of the fewer kind: the odd ones out.
        if naive.height <= aware.height:
            odd, describe = (
                naive,
                lambda r: (
                    f"{r['ts_text']!r} has no UTC offset while {aware.height} "
                    "others have one (it was read as UTC)"
                ),
            )
        else:
            odd, describe = (
                aware,
                lambda r: (
                    f"{r['ts_text']!r} has a UTC offset while {naive.height} "
                    "others have none (those were read as UTC)"
                ),
            )
        issues.append(
            _issue("naive_and_aware_timestamps", odd, describe, naive=naive.height, aware=aware.height)
        )
    offsets = aware["zone"].unique(maintain_order=True).to_list()
    changes = aware.filter(pl.col("zone") != pl.col("zone").shift(1))  # rows where it changes
    if len(offsets) > 1 and changes.height:
        issues.append(
            _issue(
                "mixed_utc_offsets",
                changes,
                lambda r: f"UTC offset changes to {r['zone']} ({r['ts_text']!r}); converted to UTC",
                offsets=offsets,
            )
        )
    return issues


def _value_issues(frame: pl.DataFrame) -> list[QualityIssue]:
    issues = []
    for kind, test, words in [
        ("missing_values", lambda c: c.is_null(), "empty or not a number"),
        ("nan_values", lambda c: c.is_nan(), "NaN"),
        ("infinite_values", lambda c: c.is_infinite(), "infinite"),
    ]:
        cells = _cells(frame, VALUE_COLUMNS, test)
        if cells.height:
            issues.append(
                _issue(kind, cells, lambda r, w=words: f"{r['column']} is {w}", by_column=_by_column(cells))
            )
    finite = {name: pl.col(name).is_finite().fill_null(False) for name in VALUE_COLUMNS}
    prices = _cells(frame, PRICE_COLUMNS, lambda c: c.is_finite().fill_null(False) & (c <= 0))
    if prices.height:
        issues.append(
            _issue(
                "non_positive_prices",
                prices,
                lambda r: f"{r['column']} is {r['value']}",
                by_column=_by_column(prices),
            )
        )
    checks = [
        ("negative_volume", finite["volume"] & (pl.col("volume") < 0), lambda r: f"volume is {r['volume']}"),
        (
            "high_below_low",
            finite["high"] & finite["low"] & (pl.col("high") < pl.col("low")),
            lambda r: f"high {r['high']} is below low {r['low']}",
        ),
    ]
    in_order = finite["high"] & finite["low"] & (pl.col("high") >= pl.col("low"))
    for name in ("close", "open"):
        outside = (pl.col(name) < pl.col("low")) | (pl.col(name) > pl.col("high"))
        checks.append(
            (
                f"{name}_outside_range",
                in_order & finite[name] & outside,
                lambda r, n=name: f"{n} {r[n]} is outside [low {r['low']}, high {r['high']}]",
            )
        )
    for kind, mask, describe in checks:
        hits = frame.filter(mask)
        if hits.height:
            issues.append(_issue(kind, hits, describe))
    return issues


def _cells(frame: pl.DataFrame, columns: list[str], test) -> pl.DataFrame:
    """One row per (row, column) cell that passes ``test``, in the frame's order."""
    parts = [
        frame.filter(test(pl.col(name)).fill_null(False)).select(
            "_position", "row", "ts", "symbol", pl.lit(name).alias("column"), pl.col(name).alias("value")
        )
        for name in columns
    ]
    return pl.concat(parts).sort("_position", maintain_order=True)


def _by_column(cells: pl.DataFrame) -> dict[str, int]:
    return dict(cells.group_by("column", maintain_order=True).len().iter_rows())


def _order_issues(valid: pl.DataFrame, timeframe: str | None) -> list[QualityIssue]:
    issues = []
    by_symbol = pl.col("ts").shift(1).over("symbol")
    stepped = valid.with_columns(prev=by_symbol, step=pl.col("ts") - by_symbol)
    key = pl.struct("symbol", "ts")
    repeats = stepped.filter(~key.is_first_distinct())
    if repeats.height:
        firsts = stepped.filter(key.is_first_distinct()).select(
            "symbol",
            "ts",
            pl.col("row").alias("first_row"),
            pl.concat_list(VALUE_COLUMNS).alias("first_values"),
        )
        repeats = repeats.join(firsts, on=["symbol", "ts"], how="left").with_columns(
            conflicting=pl.concat_list(VALUE_COLUMNS) != pl.col("first_values")
        )
        conflicting = int(repeats["conflicting"].sum())
        issues.append(
            _issue(
                "duplicate_timestamps",
                repeats,
                lambda r: (
                    f"same time as row {r['first_row']}"
                    + (" with different values" if r["conflicting"] else " (an exact copy)")
                ),
                conflicting=conflicting,
                identical=repeats.height - conflicting,
            )
        )
    backwards = stepped.filter(pl.col("step") < timedelta(0))
    if backwards.height:
        issues.append(
            _issue(
                "unsorted_rows",
                backwards,
                lambda r: f"earlier than the row before it ({_show_ts(r['prev'])})",
            )
        )
    repeated_hour = _dst_repeats(stepped, timeframe)
    if repeated_hour.height:
        issues.append(
            _issue(
                "dst_repeated_hour",
                repeated_hour,
                lambda r: (
                    f"the clock falls back one hour after {_show_ts(r['prev'])} on a Sunday: "
                    "local time with a daylight-saving change?"
                ),
            )
        )
    return issues


def _time_issues(valid: pl.DataFrame, now: datetime | None) -> list[QualityIssue]:
    issues = []
    reordered = [
        part.filter(reordered_by_offsets(part["ts_text"], part["ts"]))
        for (_symbol,), part in valid.group_by("symbol", maintain_order=True)
    ]
    hits = pl.concat(reordered) if reordered else valid.clear()
    if hits.height:
        offsets = utc_offsets(valid["ts_text"]).drop_nulls().unique(maintain_order=True).to_list()
        issues.append(
            _issue(
                "utc_offsets_reorder_rows",
                hits,
                lambda r: (
                    f"{r['ts_text']!r} is earlier in UTC than the row before it although written later: "
                    f"the UTC offsets ({', '.join(offsets)}) reorder the rows"
                ),
                offsets=offsets,
            )
        )
    now = datetime.now(UTC) if now is None else now if now.tzinfo else now.replace(tzinfo=UTC)
    limit = now + typical_spacing(valid["ts"])
    late = valid.filter(pl.col("ts") > limit)
    if late.height:
        issues.append(
            _issue(
                "future_timestamps",
                late,
                lambda r: f"later than now ({now:%Y-%m-%d %H:%M} UTC) plus one bar",
                now=now,
            )
        )
    return issues


def _dst_repeats(stepped: pl.DataFrame, timeframe: str | None) -> pl.DataFrame:
    """Rows where, in file order, the clock falls back by exactly one hour on a Sunday in
    timestamps written without an offset: what local time does when daylight saving ends
    (the hour from 01:00 or 02:00 comes twice). For hourly bars that is a repeated timestamp
    with other values, for 15-minute bars a step of -45 minutes."""
    step = bar_step(timeframe).fixed if timeframe else None
    if step is None or step > timedelta(hours=1):
        return stepped.clear()
    naive_text = pl.col("ts_text").is_null() | pl.col("ts_text").str.extract(_OFFSET, 1).is_null()
    candidates = stepped.filter(
        (pl.col("step") == step - timedelta(hours=1)) & (pl.col("ts").dt.weekday() == 7) & naive_text
    )
    if step == timedelta(hours=1) and candidates.height:
        # A repeated hourly timestamp with identical values is a plain copy, not a second hour.
        before = stepped.select("symbol", "ts", *(pl.col(c).alias(f"{c}_before") for c in VALUE_COLUMNS))
        candidates = candidates.join(
            before.unique(["symbol", "ts"], keep="first"), on=["symbol", "ts"], how="left"
        ).filter(pl.any_horizontal(pl.col(c) != pl.col(f"{c}_before") for c in VALUE_COLUMNS))
    return candidates


def _gap_issues(valid: pl.DataFrame, timeframe: str | None, calendar: str) -> list[QualityIssue]:
    if calendar == "none" or timeframe is None:
        return []
    gaps = []
    for (symbol,), bars in valid.group_by("symbol", maintain_order=True):
        found = find_gaps(bars["ts"].unique().sort(), timeframe, calendar)
        if found.height:
            gaps.append(found.with_columns(symbol=pl.lit(symbol)))
    if not gaps:
        return []
    table = pl.concat(gaps).sort("prev")
    rows = valid.select("symbol", pl.col("ts").alias("next"), "row", "_position").unique(
        ["symbol", "next"], keep="first"
    )
    table = table.join(rows, on=["symbol", "next"], how="left").with_columns(ts=pl.col("next"))
    longest = table.sort("missing_bars", descending=True, maintain_order=True).row(0, named=True)
    return [
        _issue(
            "gaps",
            table,
            lambda r: f"{r['missing_bars']} bar(s) missing after {_show_ts(r['prev'])}",
            missing_bars=int(table["missing_bars"].sum()),
            longest={
                "after": longest["prev"],
                "before": longest["next"],
                "missing_bars": longest["missing_bars"],
            },
        )
    ]
