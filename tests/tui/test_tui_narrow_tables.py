"""Issue 14, item 6: every table view at 80×24 keeps its key column and its most important
columns, drops the least important first, says "+N columns (w shows all)" in its heading, and `w`
shows every column (the key column pinned) and back; a wider terminal shows more. One mechanism,
FilteredTable.set_columns, for every view (the Models view has its own in SlotTable)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Static

from huracan_tui.console.actions import ACTIONS
from huracan_tui.console.screens.jobs import JOB_PRIORITY
from huracan_tui.console.screens.registry import TIMELINE_PRIORITY
from huracan_tui.console.widgets.filtered_table import FilteredTable, fit_columns
from tests.tui.helpers import make_app, wait_until
from tests.tui.test_tui_every_action import open_scope, seed

# scope -> (its table, the heading that carries the hint, the columns that must stay at 80 wide)
NARROW = {
    "jobs": ("all-jobs", "jobs-title", JOB_PRIORITY[:4]),
    "queues": ("queue-items", "log-title", ("id", "queue", "slot", "version", "state", "reason")),
    "audit": ("audit", "log-title", ("id", "action", "target", "outcome")),
    "rollbacks": ("rollbacks", "log-title", ("id", "slot", "change", "ts")),
    "registry": ("timeline", "timeline-title", TIMELINE_PRIORITY[:5]),
    "data": ("quality", "data-title", ("source", "symbol", "timeframe", "kind", "severity")),
}


def shown(table: DataTable) -> list[str]:
    return [column.key.value for column in table.ordered_columns]


def heading(app, heading_id: str) -> str:
    return str(app.screen.query_one(f"#{heading_id}", Static).render())


def hint(hidden: int) -> str:
    return f"+{hidden} column{'s' if hidden != 1 else ''} (w shows all)"


def test_fit_columns_drops_the_least_important_first_and_keeps_the_key_and_sorted_ones():
    widths = {"id": 3, "kind": 10, "state": 7, "message": 30, "eta": 4}
    order, priority = tuple(widths), ("id", "state", "kind", "eta", "message")
    assert fit_columns(widths, 200, order=order, priority=priority, keep=("id",)) == order
    # 5 + 9 + 12 = 26 fit in 30; eta (6 more) does not, nor anything after it.
    assert fit_columns(widths, 30, order=order, priority=priority, keep=("id",)) == ("id", "kind", "state")
    assert fit_columns(widths, 5, order=order, priority=priority, keep=("id", "message")) == ("id", "message")


@pytest.mark.parametrize("scope", list(NARROW))
async def test_a_table_view_at_80x24_fits_says_how_many_columns_it_left_out_and_w_shows_them(
        seeded_brain_url, scope):
    table_id, heading_id, must = NARROW[scope]
    seed(seeded_brain_url)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        await open_scope(pilot, app, scope)
        table = app.screen.query_one(f"#{table_id}", FilteredTable)
        every = [key for key, _ in table.declared]
        await wait_until(pilot, lambda: len(shown(table)) < len(every), what=f"{scope} fitted to 80")
        fitted = shown(table)
        assert fitted[0] == every[0] and set(must) <= set(fitted), (scope, fitted)
        assert fitted == [key for key in every if key in fitted]  # in the table's own order
        assert table.virtual_size.width <= 80 - 2  # nothing past the edge
        hidden = len(every) - len(fitted)
        await wait_until(pilot, lambda: hint(hidden) in heading(app, heading_id), what=f"{scope} hint")
        assert table.fixed_columns == 1  # the key column stays in view scrolled right
        if table.row_count > 1:
            await pilot.press("down")
        row = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        order = [key.value for key in table.rows]  # the sort, kept across the rebuild

        await pilot.press("w")
        await wait_until(pilot, lambda: shown(table) == every, what=f"{scope}: every column")
        assert "all columns (w fits them to the width)" in heading(app, heading_id)
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == row
        assert [key.value for key in table.rows] == order

        await pilot.press("w")
        await wait_until(pilot, lambda: shown(table) == fitted, what=f"{scope}: fitted again")
        assert hint(hidden) in heading(app, heading_id)
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == row

        await pilot.resize_terminal(120, 40)
        await wait_until(pilot, lambda: len(shown(table)) > len(fitted), what=f"{scope}: more at 120")
        wider = len(every) - len(shown(table))
        await wait_until(pilot, lambda: (hint(wider) if wider else "") in heading(app, heading_id)
                         and ("(w shows all)" in heading(app, heading_id)) == bool(wider),
                         what=f"{scope}: the hint says what 120 columns leave out")
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == row


def test_w_is_bound_in_the_views_it_applies_to():
    wide = {action.scope for action in ACTIONS if action.action == "toggle_wide"}
    assert {"models", *NARROW} <= wide


