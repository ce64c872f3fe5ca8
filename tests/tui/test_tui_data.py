"""The Data view shows the latest stored quality report of each source, read from the brain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from textual.widgets import DataTable

from brain import open_brain
from huracan_tui.console.screens.data import EMPTY_HINT, DataQualityScreen
from huracan_tui.console.screens.models import ModelsScreen
from tests.tui.helpers import make_app, wait_until

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def store_reports(url: str) -> None:
    with open_brain(url) as brain:
        # An old report of eurusd that a newer one replaces on screen.
        brain.record_quality_report(
            "/data/eurusd_hourly.csv",
            [
                {"kind": "summary", "count": 5000, "severity": "error", "example": "old"},
                {"kind": "nan_values", "count": 4, "severity": "error", "example": "row 9: close is NaN"},
            ],
            symbol="EURUSD",
            timeframe="1h",
            calendar="weekdays",
            ts=T0 - timedelta(days=1),
        )
        brain.record_quality_report(
            "/data/eurusd_hourly.csv",
            [
                {"kind": "summary", "count": 5000, "severity": "warning", "example": "5000 rows"},
                {
                    "kind": "gaps",
                    "count": 2,
                    "severity": "warning",
                    "example": "row 4263 (EURUSD 2017-12-25 22:00:00 UTC): 24 bar(s) missing",
                },
            ],
            symbol="EURUSD",
            timeframe="1h",
            calendar="weekdays",
            ts=T0,
        )
        brain.record_quality_report(
            "/a/very/long/path/that/goes/on/and/on/to/goog_daily.csv",
            [
                {"kind": "summary", "count": 2148, "severity": "error", "example": "2148 rows"},
                {"kind": "unsorted_rows", "count": 1, "severity": "warning", "example": "row 5"},
                {
                    "kind": "high_below_low",
                    "count": 3,
                    "severity": "error",
                    "example": "row 12: high 1 is below low 2",
                },
            ],
            symbol="GOOG",
            timeframe="1d",
            ts=T0,
        )


def table(app) -> DataTable:
    return app.screen.query_one("#quality", DataTable)


async def test_latest_reports_per_source_worst_first(seeded_brain_url):
    store_reports(seeded_brain_url)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(150, 40)) as pilot:  # wide enough for every column (145 cells)
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="the models view")
        app.push_screen(DataQualityScreen())
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, DataQualityScreen) and app.screen.records is not None,
            what="the reports to load",
        )
        assert table(app).row_count == 5
        rows = [[str(cell) for cell in table(app).get_row_at(i)] for i in range(table(app).row_count)]
        goog = "…at/goes/on/and/on/to/goog_daily.csv"  # the end of a long path, 36 characters
        assert [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows] == [
            (goog, "GOOG", "1d", "summary", "2,148", "error"),
            (goog, "GOOG", "1d", "high_below_low", "3", "error"),
            (goog, "GOOG", "1d", "unsorted_rows", "1", "warning"),
            ("/data/eurusd_hourly.csv", "EURUSD", "1h", "summary", "5,000", "warning"),
            ("/data/eurusd_hourly.csv", "EURUSD", "1h", "gaps", "2", "warning"),
        ]
        assert rows[4][6] == "row 4263 (EURUSD 2017-12-25 22:00:00 UTC): 24 bar(s) missing"
        assert not app.screen.query_one("#empty-hint").display
        assert "2 sources" in str(app.screen.query_one("#data-title").render())
        await pilot.press("escape")
        assert isinstance(app.screen, ModelsScreen)


async def test_no_reports_shows_how_to_make_one(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="the models view")
        app.push_screen(DataQualityScreen())
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, DataQualityScreen) and app.screen.records is not None,
            what="the reports to load",
        )
        assert table(app).row_count == 0
        hint = app.screen.query_one("#empty-hint")
        assert hint.display and str(hint.render()) == EMPTY_HINT


async def test_the_data_view_opens_by_key_and_by_command(seeded_brain_url):
    from huracan_tui.console.screens.data import DataQualityScreen
    from huracan_tui.console.screens.models import ModelsScreen
    from tests.tui.helpers import make_app as make_console
    from tests.tui.helpers import wait_until as wait

    app = make_console(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait(pilot, lambda: app.snapshot is not None, what="the first poll")
        await pilot.press("D")
        assert isinstance(app.screen, DataQualityScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, ModelsScreen)
        await pilot.press("colon", *"data", "enter")
        await wait(pilot, lambda: isinstance(app.screen, DataQualityScreen), what="the Data view")
