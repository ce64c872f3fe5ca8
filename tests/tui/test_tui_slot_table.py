"""The Models view's SlotTable: one cache keyed on SlotOverview records. An overview equal to the
one a row was made from (even a new record) is neither formatted nor visited again; a changed one
updates only its changed cells; the `/` filter narrows the rows and a cleared filter brings them
back."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import App, ComposeResult

from huracan_tui.console.widgets import slot_table
from huracan_tui.console.widgets.filtered_table import matching
from huracan_tui.console.widgets.slot_table import (
    CELL_PADDING,
    COLUMN_PRIORITY,
    MODEL_COLUMNS,
    SlotTable,
    fit_columns,
)
from scheduler.services.overview import LiveSummary, OosMetrics, SlotOverview

T0 = datetime(2026, 1, 6, 8, tzinfo=UTC)


def overview(symbol: str, sharpe: float = 0.5) -> SlotOverview:
    return SlotOverview(slot=f"{symbol}:1h:fwd_ret_1", symbol=symbol, timeframe="1h", target="fwd_ret_1",
                        horizon=1, versions=1, latest_version=1, model_kind="lightgbm", trained_at=T0,
                        metrics=OosMetrics(sharpe=0.1), champion=1, champion_kind="lightgbm",
                        champion_metrics=OosMetrics(sharpe=0.2, hit_rate=0.55),
                        live=LiveSummary(version=1, ts=T0, sharpe=sharpe, win_rate=0.5),
                        live_trend=(0.1, 0.3, sharpe))


class OneTable(App):
    def compose(self) -> ComposeResult:
        yield SlotTable(id="models")


async def test_only_changed_overviews_are_formatted_and_only_changed_cells_updated(monkeypatch):
    formatted: list[str] = []
    format_cells = slot_table.slot_cells
    monkeypatch.setattr(slot_table, "slot_cells",
                        lambda slot, *rules: formatted.append(slot.slot) or format_cells(slot, *rules))
    app = OneTable()
    async with app.run_test(size=(160, 20)):
        table = app.query_one(SlotTable)
        slots = [overview("AAA"), overview("BBB"), overview("CCC")]
        assert table.show_slots(slots) == 3
        assert formatted == [slot.slot for slot in slots]
        updated: list[tuple[str, str]] = []
        update_cell = table.update_cell
        monkeypatch.setattr(table, "update_cell", lambda row, column, value, **kw: (
            updated.append((row, column)), update_cell(row, column, value, **kw)))
        formatted.clear()
        # Equal records, built anew (what a whole read of the brain returns), and one changed.
        again = [overview("AAA"), overview("BBB", sharpe=-0.25), overview("CCC")]
        table.show_slots(again)
        assert formatted == ["BBB:1h:fwd_ret_1"]
        assert sorted(updated) == [("BBB:1h:fwd_ret_1", "live_sharpe"), ("BBB:1h:fwd_ret_1", "trend")]
        assert str(table.get_cell("BBB:1h:fwd_ret_1", "live_sharpe")).strip() == "-0.25"

        table.filter_text = "bbb"
        assert table.show_slots(again) == 1 and table.row_count == 1
        table.filter_text = ""
        assert table.show_slots(again[:2]) == 2  # a slot gone from the brain leaves the table
        assert [table.coordinate_to_cell_key((row, 0)).row_key.value for row in range(2)] == [
            "AAA:1h:fwd_ret_1", "BBB:1h:fwd_ret_1"]


def test_the_filter_matches_any_cell_or_the_row_key_in_any_case():
    rows = {"rsi_14": {"feature": "rsi_1", "value": "High"}, "macd": {"feature": "macd", "value": "low"}}
    assert matching(rows, "") is rows
    assert list(matching(rows, "HIGH")) == ["rsi_14"]
    assert list(matching(rows, "14")) == []
    assert list(matching(rows, "14", by_key=True)) == ["rsi_14"]


async def test_slots_without_live_numbers_stay_last_whichever_way_the_column_is_sorted():
    def slot(symbol: str, sharpe: float | None) -> SlotOverview:
        made = overview(symbol, sharpe if sharpe is not None else 0.0)
        return made if sharpe is not None else SlotOverview(**{**made.__dict__, "live": None})

    app = OneTable()
    async with app.run_test(size=(160, 20)):
        table = app.query_one(SlotTable)
        slots = [slot("AAA", -5.79), slot("BBB", 1.66), slot("CCC", None), slot("DDD", -0.5)]
        orders = {True: ["BBB", "DDD", "AAA", "CCC"], False: ["AAA", "DDD", "BBB", "CCC"]}
        for reverse, expected in orders.items():
            table.show_slots(slots, sort_by="live_sharpe", reverse=reverse, resort=True)
            assert [str(table.get_row_at(i)[0]).split(":")[0] for i in range(table.row_count)] == expected



def test_columns_that_do_not_fit_are_dropped_least_important_first():
    widths = {key: len(label) for key, label in MODEL_COLUMNS}
    every = sum(width + CELL_PADDING for width in widths.values())
    assert fit_columns(widths, every) == tuple(key for key, _ in MODEL_COLUMNS)
    narrow = fit_columns(widths, 60)
    assert narrow == tuple(key for key, _ in MODEL_COLUMNS if key in COLUMN_PRIORITY[:len(narrow)])
    assert sum(widths[key] + CELL_PADDING for key in narrow) <= 60
    # The sorted column stays, even when it is the least important; the slot always does.
    assert fit_columns(widths, 10, keep="mae") == ("slot", "mae")
