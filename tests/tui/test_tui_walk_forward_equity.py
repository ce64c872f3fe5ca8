"""The slot detail draws the chosen version's walk-forward equity curve from the out-of-sample
predictions stored with it (issue 14): its figures beside buy-and-hold, with the drawdown and the
stored Sharpe; a version trained before they were stored says so in one line."""

from __future__ import annotations

from textual.widgets import DataTable
from textual_plotext import PlotextPlot

from brain import open_brain
from huracan_tui.console.screens.detail import ModelDetailScreen
from huracan_tui.console.widgets.equity_chart import EquityChart, curve_summary
from scheduler.services.equity import version_equity
from tests.scheduler.test_sched_equity import GOOG
from tests.scheduler.test_sched_oos_equity import forget_oos_predictions, stored_sharpe
from tests.tui.helpers import make_app, wait_until


def _walk_forward(app) -> EquityChart:
    return app.screen.query_one("#equity-walk-forward", EquityChart)


async def _open_goog(pilot, version: str) -> None:
    await wait_until(pilot, lambda: pilot.app.screen.query("#models")
                     and pilot.app.screen.query_one("#models", DataTable).row_count == 2, what="slot rows")
    pilot.app.push_screen(ModelDetailScreen(GOOG))
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ModelDetailScreen)
                     and pilot.app.screen.query("#equity-walk-forward")
                     and _walk_forward(pilot.app).summary.startswith(f"{version} "),
                     what=f"{version}'s walk-forward line")


async def test_the_detail_draws_each_versions_walk_forward_figures(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        curves = {n: version_equity(brain, GOOG, n).walk_forward for n in (1, 2)}
        sharpes = {n: stored_sharpe(brain, brain.get_version(GOOG, n)) for n in (1, 2)}
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_goog(pilot, "v2")
        chart = _walk_forward(app)
        assert chart.summary == f"v2 lightgbm walk-forward: {curve_summary(curves[2])}"
        assert f"Sharpe {sharpes[2]:+.2f}" in chart.summary  # the version's stored out-of-sample Sharpe
        assert "buy&hold" in chart.summary and "max DD" in chart.summary
        assert chart.query_one(PlotextPlot).display
        await pilot.press("down")  # v1: the curve follows the version shown
        await wait_until(pilot, lambda: _walk_forward(app).summary.startswith("v1 "), what="v1's curve")
        assert _walk_forward(app).summary == f"v1 linear walk-forward: {curve_summary(curves[1])}"
        assert f"Sharpe {sharpes[1]:+.2f}" in _walk_forward(app).summary


async def test_a_version_trained_before_they_were_stored_says_so(seeded_brain_url):
    forget_oos_predictions(seeded_brain_url, GOOG, 2)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_goog(pilot, "v2")
        chart = _walk_forward(app)
        assert chart.summary == ("v2 lightgbm walk-forward: "
                                 "trained before out-of-sample predictions were stored")
        assert not chart.query_one(PlotextPlot).display
