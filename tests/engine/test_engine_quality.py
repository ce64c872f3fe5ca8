"""Validation names every flaw at once (and nothing that isn't one); repairs do only what they
are asked and say what they did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from engine.calendars import find_gaps
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.quality import KINDS, SEVERITIES, repair, validate_ohlcv
from engine.raw import read_raw_ohlcv

HEADER = "Date,Open,High,Low,Close,Volume"
OK = "1.1,1.2,1.0,1.15,100"

# One file with every flaw; the comment says which. 2024-11-03 is a Sunday (US DST ended).
DIRTY_ROWS = [
    f"2024-11-02 20:00:00,{OK}",  # 1
    f"2024-11-02 21:00:00,{OK}",  # 2
    f"2024-11-02 21:00:00,{OK}",  # 3 exact copy of row 2
    f"2024-11-02 23:00:00,{OK}",  # 4
    f"2024-11-02 22:00:00,{OK}",  # 5 earlier than row 4: unsorted
    "2024-11-03 00:00:00,nan,1.2,1.0,1.15,100",  # 6 NaN
    f"2024-11-03 01:00:00,{OK}",  # 7
    "2024-11-03 01:00:00,1.12,1.2,1.0,1.13,90",  # 8 the 01:00 hour again, other values: DST
    "2024-11-03 02:00:00,1.1,inf,1.0,1.15,100",  # 9 infinite
    "2024-11-03 03:00:00,1.1,1.2,-1,1.15,100",  # 10 non-positive low
    "2024-11-03 04:00:00,1.1,1.0,1.2,1.1,100",  # 11 high below low
    "2024-11-03 05:00:00,1.1,1.2,1.0,1.5,100",  # 12 close above high
    "2024-11-03 06:00:00,0.9,1.2,1.0,1.15,100",  # 13 open below low
    "2024-11-03 07:00:00,1.1,1.2,1.0,1.15,-5",  # 14 negative volume
    "2024-11-03 08:00:00,1.1,1.2,1.0,,100",  # 15 empty close
    f"soon,{OK}",  # 16 unreadable timestamp
    f"2024-11-03 10:00:00+01:00,{OK}",  # 17 an offset among naive times
    f"2024-11-03 12:00:00+02:00,{OK}",  # 18 another offset
    f"2024-11-03 14:00:00,{OK}",  # 19 after a 2-bar gap (12:00, 13:00 UTC missing); after NOW + 1h
    f"2024-11-03 16:00:00+05:00,{OK}",  # 20 written after row 19, but 11:00 UTC: offsets reorder
]
NOW = datetime(2024, 11, 3, 12, tzinfo=UTC)
EXPECTED = {  # kind: (count, first row)
    "unparsable_timestamps": (1, 16),
    "missing_values": (1, 15),
    "nan_values": (1, 6),
    "infinite_values": (1, 9),
    "non_positive_prices": (1, 10),
    "negative_volume": (1, 14),
    "high_below_low": (1, 11),
    "close_outside_range": (1, 12),
    "open_outside_range": (1, 13),
    "duplicate_timestamps": (2, 3),
    "naive_and_aware_timestamps": (3, 17),
    "dst_repeated_hour": (1, 8),
    "future_timestamps": (1, 19),
    "utc_offsets_reorder_rows": (1, 20),
    "unsorted_rows": (2, 5),
    "gaps": (1, 19),
    "mixed_utc_offsets": (2, 18),
}


def write_csv(path, rows) -> str:
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return str(path)


def test_every_flaw_in_one_file_is_named_with_its_count_and_first_row(tmp_path):
    raw = read_raw_ohlcv(write_csv(tmp_path / "dirty_1h.csv", DIRTY_ROWS))
    report = validate_ohlcv(raw, "1h", source="dirty", now=NOW)
    assert set(EXPECTED) == set(KINDS)
    assert {i.kind: (i.count, i.details["first_row"]) for i in report.issues} == EXPECTED
    assert [i.kind for i in report.issues] == list(KINDS)  # reported in a fixed order
    assert all(i.severity == SEVERITIES[i.kind] for i in report.issues)
    assert report.has_errors and report.severity == "error" and report.rows == 20
    shown = {i.kind: i.example for i in report.issues}
    assert shown["unparsable_timestamps"] == "row 16 (DIRTY unreadable time): cannot read 'soon'"
    assert shown["close_outside_range"] == (
        "row 12 (DIRTY 2024-11-03 05:00:00 UTC): close 1.5 is outside [low 1.0, high 1.2]"
    )
    assert (
        shown["duplicate_timestamps"]
        == "row 3 (DIRTY 2024-11-02 21:00:00 UTC): same time as row 2 (an exact copy)"
    )
    assert (
        shown["gaps"]
        == "row 19 (DIRTY 2024-11-03 14:00:00 UTC): 2 bar(s) missing after 2024-11-03 11:00:00 UTC"
    )
    details = {i.kind: i.details for i in report.issues}
    assert (details["duplicate_timestamps"]["conflicting"], details["duplicate_timestamps"]["identical"]) == (
        1,
        1,
    )
    assert details["mixed_utc_offsets"]["offsets"] == ["+01:00", "+02:00", "+05:00"]
    assert details["utc_offsets_reorder_rows"]["offsets"] == ["+01:00", "+02:00", "+05:00"]
    assert shown["utc_offsets_reorder_rows"] == (
        "row 20 (DIRTY 2024-11-03 11:00:00 UTC): '2024-11-03 16:00:00+05:00' is earlier in UTC than "
        "the row before it although written later: the UTC offsets (+01:00, +02:00, +05:00) reorder the rows"
    )
    assert shown["future_timestamps"] == (
        "row 19 (DIRTY 2024-11-03 14:00:00 UTC): later than now (2024-11-03 12:00 UTC) plus one bar"
    )
    assert (
        details["naive_and_aware_timestamps"]["naive"],
        details["naive_and_aware_timestamps"]["aware"],
    ) == (16, 3)
    assert details["gaps"]["missing_bars"] == 2


def clean_rows(hours: int = 12, start: datetime = datetime(2024, 3, 4)) -> list[str]:
    """Hourly bars from a Monday: nothing wrong with them."""
    return [f"{start + timedelta(hours=h):%Y-%m-%d %H:%M:%S},{OK}" for h in range(hours)]


def replaced(index: int, line: str):
    return lambda rows: [*rows[:index], line, *rows[index + 1 :]]


FLAWS = {
    "clean": (lambda rows: rows, set()),
    "copy": (lambda rows: [*rows[:5], rows[4], *rows[5:]], {"duplicate_timestamps"}),
    "swap": (lambda rows: [*rows[:3], rows[4], rows[3], *rows[5:]], {"unsorted_rows"}),
    "hole": (lambda rows: rows[:4] + rows[6:], {"gaps"}),
    "nan": (replaced(2, "2024-03-04 02:00:00,1.1,1.2,1.0,NaN,100"), {"nan_values"}),
    "inf": (replaced(2, "2024-03-04 02:00:00,1.1,1.2,1.0,1.15,inf"), {"infinite_values"}),
    "text": (replaced(2, "2024-03-04 02:00:00,1.1,n/a,1.0,1.15,100"), {"missing_values"}),
    "zero": (replaced(2, "2024-03-04 02:00:00,1.1,1.2,0,1.15,100"), {"non_positive_prices"}),
    "inverted": (replaced(2, "2024-03-04 02:00:00,1.1,1.0,1.2,1.1,100"), {"high_below_low"}),
    "close_low": (replaced(2, "2024-03-04 02:00:00,1.1,1.2,1.0,0.99,100"), {"close_outside_range"}),
    "open_high": (replaced(2, "2024-03-04 02:00:00,1.3,1.2,1.0,1.1,100"), {"open_outside_range"}),
    "sold_minus": (replaced(2, "2024-03-04 02:00:00,1.1,1.2,1.0,1.1,-1"), {"negative_volume"}),
    "one_offset": (
        replaced(2, "2024-03-04T04:00:00+02:00,1.1,1.2,1.0,1.1,100"),
        {"naive_and_aware_timestamps"},
    ),
    # An unreadable time takes its bar off the clock as well.
    "garbled": (replaced(2, "2024-13-04 02:00:00,1.1,1.2,1.0,1.1,100"), {"unparsable_timestamps", "gaps"}),
}


@pytest.mark.parametrize("flaw", FLAWS)
def test_each_flaw_alone_is_reported_alone(tmp_path, flaw):
    mutate, expected = FLAWS[flaw]
    report = validate_ohlcv(read_raw_ohlcv(write_csv(tmp_path / "flaw.csv", mutate(clean_rows()))), "1h")
    assert {issue.kind for issue in report.issues} == expected
    assert report.is_clean == (not expected)


def test_offsets_that_change_with_daylight_saving_are_a_warning_only(tmp_path):
    # Local Berlin time written with its offset: correct instants, so only worth knowing.
    rows = [
        f"2024-03-31 00:00:00+01:00,{OK}",
        f"2024-03-31 01:00:00+01:00,{OK}",
        f"2024-03-31 03:00:00+02:00,{OK}",
        f"2024-03-31 04:00:00+02:00,{OK}",
    ]
    report = validate_ohlcv(read_raw_ohlcv(write_csv(tmp_path / "berlin.csv", rows)), "1h")
    assert [(i.kind, i.severity, i.details["first_row"]) for i in report.issues] == [
        ("mixed_utc_offsets", "warning", 3)
    ]


def test_a_repeated_hour_in_quarter_hour_bars_is_a_dst_fall_back(tmp_path):
    # New York, 2024-11-03 (a Sunday): 01:00-01:45 comes twice in naive local time.
    times = ["00:45", "01:00", "01:15", "01:30", "01:45", "01:00", "01:15", "01:30", "01:45", "02:00"]
    rows = [f"2024-11-03 {t}:00,1.1,1.2,1.0,1.1{i},100" for i, t in enumerate(times)]
    report = validate_ohlcv(read_raw_ohlcv(write_csv(tmp_path / "ny.csv", rows)), "15m")
    kinds = {i.kind: i for i in report.issues}
    assert set(kinds) == {"dst_repeated_hour", "duplicate_timestamps", "unsorted_rows"}
    assert kinds["dst_repeated_hour"].details["first_row"] == 6
    # The same step on a weekday is disorder, not daylight saving.
    weekday = [row.replace("2024-11-03", "2024-11-05") for row in rows]
    report = validate_ohlcv(read_raw_ohlcv(write_csv(tmp_path / "wd.csv", weekday)), "15m")
    assert "dst_repeated_hour" not in {i.kind for i in report.issues}


# --- calendars on real data -------------------------------------------------------------------


@pytest.fixture(scope="module")
def eurusd_raw() -> pl.DataFrame:
    return read_raw_ohlcv(bundled_path("EURUSD"))


def test_fx_weekends_are_gaps_around_the_clock_but_not_on_weekdays(eurusd_raw):
    around_the_clock = validate_ohlcv(eurusd_raw, "1h", "24/7").issue("gaps")
    weekdays = validate_ohlcv(eurusd_raw, "1h", "weekdays").issue("gaps")
    assert around_the_clock.count == 42 and around_the_clock.details["missing_bars"] == 2063
    # Only the two holiday Mondays (Christmas, New Year) are left: FX reopened on Monday evening.
    assert weekdays.count == 2
    assert weekdays.example == (
        "row 4263 (EURUSD 2017-12-25 22:00:00 UTC): 24 bar(s) missing after 2017-12-22 21:00:00 UTC"
    )
    assert weekdays.details["missing_bars"] == 48
    gaps = find_gaps(eurusd_raw["ts"], "1h", "24/7")
    weekend = gaps.filter(pl.col("weekend"))
    assert weekend.height == 40
    assert set(weekend["prev"].dt.weekday().to_list()) == {5}  # Friday evening
    assert set(weekend["next"].dt.weekday().to_list()) == {7}  # to Sunday evening
    assert validate_ohlcv(eurusd_raw, "1h", "none").is_clean


def test_the_bundled_files_are_otherwise_clean_and_read_as_load_ohlcv_reads_them():
    for symbol, timeframe in [("GOOG", "1d"), ("EURUSD", "1h"), ("BTCUSD", "1mo")]:
        raw = read_raw_ohlcv(bundled_path(symbol))
        strict = load_ohlcv(bundled_path(symbol))
        assert raw.drop("row", "ts_text").equals(strict)
        report = validate_ohlcv(raw, None, "none")
        assert report.timeframe is None and report.is_clean and report.severity == "ok"
        assert validate_ohlcv(raw, None, "weekdays").timeframe == timeframe
    # Monthly bars labelled by the month's last day are one a month: no gaps.
    assert validate_ohlcv(read_raw_ohlcv(bundled_path("BTCUSD")), "1mo").is_clean


def test_a_canonical_frame_validates_too_and_is_left_untouched():
    frame = load_ohlcv(bundled_path("GOOG"))
    before = frame.clone()
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=1)
    report = validate_ohlcv(shuffled, "1d", "weekdays", source="goog")
    assert {i.kind for i in report.issues} == {"unsorted_rows", "gaps"}
    assert frame.equals(before)
    assert report.log_rows()[0] == {
        "kind": "summary",
        "count": 2148,
        "severity": "warning",
        "example": "2148 rows, 1 symbol(s), 2 issue kind(s)",
        "details": {
            "symbols": ["GOOG"],
            "first_ts": datetime(2004, 8, 19, tzinfo=UTC),
            "last_ts": datetime(2013, 3, 1, tzinfo=UTC),
        },
    }
    assert report.to_frame().columns == ["kind", "count", "severity", "example"]


def test_bad_arguments_are_refused():
    frame = load_ohlcv(bundled_path("GOOG"))
    with pytest.raises(ValueError, match="unknown calendar 'weekends'"):
        validate_ohlcv(frame, "1d", "weekends")
    with pytest.raises(ValueError, match="unknown timeframe '1 day'"):
        validate_ohlcv(frame, "1 day")
    with pytest.raises(ValueError, match="missing \\['volume'\\]"):
        validate_ohlcv(frame.drop("volume"), "1d")


# --- repair -----------------------------------------------------------------------------------


@pytest.fixture
def dirty_but_repairable(tmp_path) -> pl.DataFrame:
    rows = clean_rows(12)
    conflicting = rows[7].replace(",1.15,", ",1.16,")
    rows = [*rows[:3], rows[4], rows[3], rows[4], *rows[6:8], conflicting, *rows[10:]]
    # hours: 0 1 2 4 3 4(copy) 6 7 7(other values) 10 11 -> 5 missing (1 bar), 8-9 missing (2 bars)
    return read_raw_ohlcv(write_csv(tmp_path / "fixable_1h.csv", rows))


def test_repair_does_nothing_unless_asked(dirty_but_repairable):
    repaired, log = repair(dirty_but_repairable)
    assert repaired.equals(dirty_but_repairable)
    assert log.actions == [] and not log.changed


def test_each_repair_does_only_its_own_job(dirty_but_repairable):
    deduped, log = repair(dirty_but_repairable, drop_duplicates=True)
    assert log.actions == [{"action": "drop_duplicates", "rows": 2, "conflicting": 1, "dropped_rows": [6, 9]}]
    assert deduped["row"].to_list() == [1, 2, 3, 4, 5, 7, 8, 10, 11]  # order kept, first copies kept

    ordered, log = repair(dirty_but_repairable, sort=True)
    assert ordered.height == dirty_but_repairable.height
    assert ordered["ts"].is_sorted()
    assert log.actions == [{"action": "sort", "rows": 2, "moved_rows": [5, 4]}]

    with pytest.raises(ValueError, match="rows repeat a timestamp; drop duplicates first"):
        repair(dirty_but_repairable, fill_gaps_up_to=2, timeframe="1h")
    with pytest.raises(ValueError, match="not sorted by time; sort first"):
        repair(dirty_but_repairable, drop_duplicates=True, fill_gaps_up_to=2, timeframe="1h")


def test_filled_bars_repeat_the_last_close_with_no_volume_and_are_flagged(dirty_but_repairable):
    repaired, log = repair(
        dirty_but_repairable, drop_duplicates=True, sort=True, fill_gaps_up_to=1, timeframe="1h"
    )
    assert log.actions[-1] == {"action": "fill_gaps", "rows": 1, "gaps_filled": 1, "gaps_left": 1, "up_to": 1}
    filled = repaired.filter("filled")
    assert filled["ts"].to_list() == [datetime(2024, 3, 4, 5, tzinfo=UTC)]
    assert filled.select("open", "high", "low", "close", "volume").row(0) == (1.15, 1.15, 1.15, 1.15, 0.0)
    assert repaired.filter(~pl.col("filled")).height == 9
    report = validate_ohlcv(repaired, "1h")
    assert [(i.kind, i.count) for i in report.issues] == [("gaps", 1)]  # only the 2-bar gap is left

    repaired, log = repair(
        dirty_but_repairable, drop_duplicates=True, sort=True, fill_gaps_up_to=2, timeframe="1h"
    )
    assert log.actions[-1]["rows"] == 3 and validate_ohlcv(repaired, "1h").is_clean


def test_weekend_closures_are_never_filled_on_a_weekdays_calendar(eurusd_raw):
    repaired, log = repair(eurusd_raw, fill_gaps_up_to=100, timeframe="1h", calendar="weekdays")
    # The two holiday gaps get their weekday hours; no Saturday or Sunday bar is invented.
    assert log.actions == [
        {"action": "fill_gaps", "rows": 48, "gaps_filled": 2, "gaps_left": 0, "up_to": 100}
    ]
    assert set(repaired.filter("filled")["ts"].dt.weekday().to_list()) == {1, 5}
    assert repaired.filter(~pl.col("filled")).drop("filled").equals(eurusd_raw)


def test_a_file_with_no_readable_time_still_gets_a_report(tmp_path):
    raw = read_raw_ohlcv(write_csv(tmp_path / "when.csv", [f"soon,{OK}", f"later,{OK}", f",{OK}"]))
    report = validate_ohlcv(raw)
    assert report.timeframe is None and report.first_ts is None
    (issue,) = report.issues
    assert (issue.kind, issue.count, issue.example) == (
        "unparsable_timestamps",
        3,
        "row 1 (WHEN unreadable time): cannot read 'soon'",
    )
    assert "row 3 (WHEN unreadable time): missing" == validate_ohlcv(raw.tail(1)).issues[0].example


def test_unix_epochs_read_leniently_and_count_as_utc(tmp_path):
    epochs = [1709510400000 + 3_600_000 * h for h in range(6)]  # 2024-03-04 00:00 UTC, in ms
    rows = [f"{e},{OK}" for e in epochs]
    rows[2] = f"17095176x0000,{OK}"
    rows[4] = f"2024-03-04T04:00:00+00:00,{OK}"
    raw = read_raw_ohlcv(write_csv(tmp_path / "ms.csv", rows))
    assert raw["ts"].to_list() == [None if h == 2 else datetime(2024, 3, 4, h, tzinfo=UTC) for h in range(6)]
    assert {i.kind for i in validate_ohlcv(raw, "1h").issues} == {"unparsable_timestamps", "gaps"}


def test_offsets_that_reorder_rows_are_an_error_not_a_warning(tmp_path):
    from tests.engine.test_engine_data import SCRAMBLED

    path = write_csv(tmp_path / "scrambled.csv", [f"{t},{OK}" for t in SCRAMBLED])
    report = validate_ohlcv(read_raw_ohlcv(path), calendar="none")
    issue = report.issue("utc_offsets_reorder_rows")
    assert issue is not None and issue.severity == "error" and report.severity == "error"
    assert (issue.count, issue.details["first_row"], issue.details["offsets"]) == (2, 2, ["+00:00", "+05:00"])


def test_a_bar_in_the_year_9999_is_an_error(tmp_path):
    rows = [f"2024-03-04 00:00:00,{OK}", f"2024-03-05 00:00:00,{OK}", f"9999-12-30 00:00:00,{OK}"]
    report = validate_ohlcv(read_raw_ohlcv(write_csv(tmp_path / "far.csv", rows)), calendar="none")
    issue = report.issue("future_timestamps")
    assert issue is not None and issue.severity == "error" and issue.details["first_row"] == 3
    now = datetime(2024, 3, 4, 12, tzinfo=UTC)
    early = validate_ohlcv(read_raw_ohlcv(write_csv(tmp_path / "days.csv", rows[:2])), now=now)
    assert early.is_clean  # 2024-03-05 is within one bar (a day) of now
    late = validate_ohlcv(read_raw_ohlcv(tmp_path / "days.csv"), now=now - timedelta(days=1))
    assert late.issue("future_timestamps").details["first_row"] == 2
