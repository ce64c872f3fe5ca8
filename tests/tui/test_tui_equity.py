"""The slot detail draws equity curves (issue 14): the champion's live one since its promotion
with its figures in words, and one clear line where a curve cannot be drawn."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.widgets import DataTable
from textual_plotext import PlotextPlot

from brain import open_brain
from huracan_tui.console.screens.detail import ModelDetailScreen
from huracan_tui.console.widgets.equity_chart import EquityChart, curve_summary
from scheduler.services.equity import champion_live_equity, equity_curve
from tests.scheduler.test_sched_equity import GOOG, seed_live_equity
from tests.tui.helpers import make_app, wait_until


def _chart(app, which: str) -> EquityChart:
    return app.screen.query_one(f"#equity-{which}", EquityChart)


async def _open_goog(pilot) -> None:
    await wait_until(pilot, lambda: pilot.app.screen.query("#models")
                     and pilot.app.screen.query_one("#models", DataTable).row_count == 2, what="slot rows")
    pilot.app.push_screen(ModelDetailScreen(GOOG))
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ModelDetailScreen)
                     and pilot.app.screen.query("#equity-live")
                     and "live" in _chart(pilot.app, "live").summary, what="the live equity line")


async def test_the_detail_shows_the_champions_live_equity_figures(seeded_brain_url):
    seed_live_equity(seeded_brain_url)
    with open_brain(seeded_brain_url) as brain:
        curve = champion_live_equity(brain, GOOG).curve
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await _open_goog(pilot)
        live = _chart(app, "live")
        assert "★ v1 live since 2026-01-06 08:00 · 60 matured forecasts" in live.summary
        assert curve_summary(curve) in live.summary
        assert f"strategy {100 * curve.total_return:+.1f}%" in live.summary
        assert f"max DD {100 * curve.max_drawdown:+.1f}%" in live.summary
        assert live.query_one(PlotextPlot).display
        walk_forward = _chart(app, "walk-forward")
        assert walk_forward.summary.startswith("v2 lightgbm walk-forward: strategy ")  # stored with v2
        assert walk_forward.query_one(PlotextPlot).display


async def test_without_a_champion_each_curve_is_one_line_saying_why(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_goog(pilot)
        assert _chart(app, "live").summary == "live: no champion yet to draw"
        assert not _chart(app, "live").query_one(PlotextPlot).display
        await pilot.press("down")  # v1: the walk-forward line follows the version shown
        await wait_until(pilot, lambda: "v1 linear walk-forward" in _chart(app, "walk-forward").summary,
                         what="v1's walk-forward line")


async def test_a_walk_forward_curve_is_drawn_with_its_legend(seeded_brain_url):
    """The widget alone, for the day the brain stores out-of-sample predictions."""
    from textual.app import App

    stamps = [datetime(2026, 1, day, tzinfo=UTC) for day in range(1, 11)]
    curve = equity_curve(stamps, [1.0] * 10, [0.01, -0.02] * 5, cost_bps=1.0, periods_per_year=252)

    class One(App):
        def compose(self):
            yield EquityChart(id="chart")

    app = One()
    async with app.run_test(size=(80, 14)) as pilot:
        app.query_one(EquityChart).show("v9 walk-forward", curve)
        await pilot.pause()
        screen = app.export_screenshot()
    for words in ("v9 walk-forward", "strategy after costs", "buy &amp; hold", "drawdown", "2026-01-01",
                  "2026-01-10", "buy&amp;hold"):
        assert words in screen.replace("\xa0", " ").replace("&#160;", " "), words
