"""The Models view says what its live numbers rest on and how fresh they are (issue 14): a
count of matured forecasts beside the live numbers, dimmed below console.min_live_samples; the
age of each slot's newest forecast, marked stale past console.stale_after_bars of its bars."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import DataTable

from brain import open_brain
from huracan_tui.console.screens.models import ModelsScreen
from tests.tui.helpers import FROZEN_NOW, make_app, wait_until

GOOG, EURUSD = "GOOG:1d:fwd_ret_1", "EURUSD:1h:fwd_ret_1"


def seed_live(url: str, slot: str, *, n: float, sharpe: float, made_ago: timedelta) -> None:
    with open_brain(url) as brain:
        brain.promote_version(slot, 1, actor="alice", reason="test", force=True)
        champion = brain.champion(slot)
        brain.record_metrics(champion.id, [
            {"name": "live_sharpe", "value": sharpe, "scope": "live"},
            {"name": "live_n", "value": n, "scope": "live"},
            {"name": "live_win_rate", "value": 0.5, "scope": "live"},
        ])
        made = FROZEN_NOW - made_ago
        brain.record_predictions([{"slot_key": slot, "version_id": champion.id,
                                   "ts": made - timedelta(hours=1), "predicted_at": made, "batch": 1.0,
                                   "blended": 1.0}])


def cells(app, slot: str) -> dict:
    table = app.screen.query_one("#models", DataTable)
    if slot not in table.rows:
        return {}
    return {column.value: table.get_cell(slot, column.value) for column in table.columns}


async def test_live_numbers_show_their_count_and_the_age_of_the_newest_forecast(seeded_brain_url):
    seed_live(seeded_brain_url, GOOG, n=2, sharpe=17.8, made_ago=timedelta(minutes=6))
    seed_live(seeded_brain_url, EURUSD, n=40, sharpe=-0.5, made_ago=timedelta(hours=5))
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen)
                         and str(cells(app, EURUSD).get("live_n")) == "40", what="the live columns")
        goog, eurusd = cells(app, GOOG), cells(app, EURUSD)
        # Two outcomes are not a Sharpe to lean on: dimmed, with their count.
        assert (str(goog["live_n"]), str(goog["live_sharpe"])) == ("2", "+17.80")
        assert "dim" in str(goog["live_sharpe"].spans) and "dim" in str(goog["live_n"].style)
        assert "dim" not in str(eurusd["live_sharpe"].spans)
        # Daily bars forecast 6 minutes ago are fresh; hourly ones 5 hours ago are stale.
        assert str(goog["last_forecast"]) == "6m ago"
        assert str(eurusd["last_forecast"]) == "⚠ 5h ago"


def test_ages_and_sorting_by_them():
    from huracan_tui.console.formatting import age
    from huracan_tui.console.widgets.slot_table import sort_key

    assert [age(s) for s in (0, 59, 60, 3599, 3600, 86400 * 2 + 5)] == [
        "0s ago", "59s ago", "1m ago", "59m ago", "1h ago", "2d ago"]
    ages = ["⚠ 3h ago", "40s ago", "6m ago", "-"]
    assert sorted(ages, key=sort_key) == ["40s ago", "6m ago", "⚠ 3h ago", "-"]
