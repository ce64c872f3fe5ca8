"""The Models view at 80×24: the columns that matter most fit, the slot column is pinned, the
heading says how many columns were left out, and `w` shows them all."""

from __future__ import annotations

from textual.widgets import Static

from huracan_tui.console.screens.models import ModelsScreen
from huracan_tui.console.widgets.slot_table import COLUMN_PRIORITY, MODEL_COLUMNS, SlotTable
from tests.tui.helpers import make_app, tables_measured, wait_until

GOOG = "GOOG:1d:fwd_ret_1"


def models(app) -> SlotTable:
    return app.screen.query_one("#models", SlotTable)


def heading(app) -> str:
    return str(app.screen.query_one("#models-title", Static).render())


def shown_keys(app) -> list[str]:
    return [column.key.value for column in models(app).ordered_columns]


async def test_at_80_columns_the_important_columns_fit_and_w_shows_the_rest(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen) and models(app).row_count == 2,
                         what="two slot rows")
        await tables_measured(pilot)
        table = models(app)
        shown = shown_keys(app)
        # The most important first: slot, champion, live Sharpe, its count, drift, the CV Sharpe.
        assert shown[:2] == ["slot", "champion"]
        assert set(COLUMN_PRIORITY[:6]) <= set(shown) and len(shown) < len(MODEL_COLUMNS)
        # Nothing past the edge: the columns shown fit beside the scrollbar.
        assert table.virtual_size.width <= 80 - 2
        hidden = len(MODEL_COLUMNS) - len(shown)
        assert f"+{hidden} columns (w shows all)" in heading(app)
        assert table.fixed_columns == 1  # the slot stays in view when scrolling right
        await pilot.press("down")  # GOOG
        await pilot.press("w")
        await wait_until(pilot, lambda: len(shown_keys(app)) == len(MODEL_COLUMNS), what="every column")
        assert "all columns (w fits them to the width)" in heading(app)
        assert str(table.get_cell(GOOG, "mae")) != ""  # the last column is there, scrolled to
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == GOOG
        await pilot.press("w")
        await wait_until(pilot, lambda: shown_keys(app) == shown, what="fitted again")
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == GOOG


async def test_the_sorted_column_stays_shown_at_any_width(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: models(app).row_count == 2, what="two slot rows")
        while app.screen.sort_column != "mae":
            await pilot.press("s")
        await wait_until(pilot, lambda: "mae" in shown_keys(app), what="the sorted column shown")
        assert "sorted by MAE bps" in heading(app)


async def test_a_wider_terminal_brings_the_left_out_columns_back(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: models(app).row_count == 2, what="two slot rows")
        narrow = len(shown_keys(app))
        await pilot.resize_terminal(200, 40)
        await wait_until(pilot, lambda: len(shown_keys(app)) == len(MODEL_COLUMNS), what="every column")
        assert "columns (w shows all)" not in heading(app)
        assert narrow < len(MODEL_COLUMNS)


def header_text(table) -> str:
    """The table's header line as drawn now (scrolled as it is)."""
    return table.render_line(0).text


async def test_every_views_key_column_stays_in_view_when_its_table_is_scrolled_right(seeded_brain_url):
    from textual.widgets import DataTable

    app = make_app(seeded_brain_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: models(app).row_count == 2, what="two slot rows")
        await pilot.press("A")  # the audit log: wider than 80 columns with all its columns (its reasons)
        await wait_until(pilot, lambda: app.screen.query("#audit")
                         and app.screen.query_one("#audit", DataTable).row_count > 0,
                         what="the audit log's rows")
        table = app.screen.query_one("#audit", DataTable)
        await pilot.press("w")  # every column: at 80 the log shows only those that fit
        await wait_until(pilot, lambda: len(table.columns) == len(table.declared), what="every column")
        first = str(table.ordered_columns[0].label)
        assert table.virtual_size.width > table.size.width, "the table must be wider than 80 columns"
        assert first in header_text(table)
        table.scroll_to(x=table.max_scroll_x, animate=False)
        await wait_until(pilot, lambda: table.scroll_x == table.max_scroll_x, what="scrolled right")
        await pilot.pause()
        last = str(table.ordered_columns[-1].label)
        drawn = header_text(table)
        assert last in drawn and first in drawn
