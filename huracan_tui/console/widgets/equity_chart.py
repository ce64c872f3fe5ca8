"""An equity curve drawn with plotext (textual-plotext): the strategy's compounded return after
costs, buy-and-hold over the same bars and the strategy's drawdown, in percent, under a one-line
heading, the final figures in words as the plot's title (on its top border, so the whole chart
fits a 80x24 detail); a curve that is not there is one line saying why."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from scheduler.services.equity import EquityCurve

# Legend and colours, one entry per line drawn: (label, plotext colour).
STRATEGY = ("strategy after costs", "green")
BUY_AND_HOLD = ("buy & hold", "blue")
DRAWDOWN = ("drawdown", "red")
Y_TICKS = 5
X_TICKS = 3
DAYS_FOR_DATES = 3  # over a longer span the x axis shows dates, over a shorter one hours too


def signed_percent(value: float | None) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{100 * value:+.1f}%"


def curve_summary(curve: EquityCurve) -> str:
    """'strategy +12.3% · buy&hold +8.1% · max DD -6.2% · Sharpe +0.74'."""
    sharpe = "-" if curve.sharpe is None else f"{curve.sharpe:+.2f}"
    return (f"strategy {signed_percent(curve.total_return)} · buy&hold "
            f"{signed_percent(curve.buy_and_hold_return)} · max DD {signed_percent(curve.max_drawdown)}"
            f" · Sharpe {sharpe}")


def _x_ticks(curve: EquityCurve) -> tuple[list[int], list[str]]:
    first, last = curve.timestamps[0], curve.timestamps[-1]
    form = "%Y-%m-%d" if (last - first).days >= DAYS_FOR_DATES else "%m-%d %H:%M"
    spots = sorted({round(i) for i in np.linspace(0, len(curve.timestamps) - 1, X_TICKS)})
    return spots, [curve.timestamps[i].strftime(form) for i in spots]


def _y_ticks(values: np.ndarray) -> tuple[list[float], list[str]]:
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        low, high = low - 1.0, high + 1.0
    spots = np.linspace(low, high, Y_TICKS)
    digits = 0 if high - low >= 10 else 1
    return spots.tolist(), [f"{spot:+.{digits}f}%" for spot in spots]


class EquityChart(Vertical):
    """`show(heading, curve, absent)`: the heading over the plot titled with the curve's figures,
    or the heading with `absent` (why there is no curve) and no plot."""

    summary = ""  # what the chart says in words, plain: its heading and the curve's figures

    DEFAULT_CSS = """
    EquityChart {
        height: auto;
    }
    EquityChart .equity-summary {
        height: auto;
        padding: 0 1;
    }
    EquityChart PlotextPlot {
        height: 10;
        width: 1fr;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("", classes="equity-summary")
        yield PlotextPlot()

    def on_mount(self) -> None:
        self.query_one(PlotextPlot).display = False

    def show(self, heading: str, curve: EquityCurve | None, absent: str = "") -> None:
        line = heading if curve is not None else f"{heading}: {absent}"
        self.query_one(".equity-summary", Static).update(line)
        self.summary = Text.from_markup(line).plain + ("" if curve is None else f": {curve_summary(curve)}")
        plot = self.query_one(PlotextPlot)
        plot.display = curve is not None
        if curve is not None:
            self._draw(plot, curve)

    def _draw(self, plot: PlotextPlot, curve: EquityCurve) -> None:
        plt = plot.plt
        plt.clear_figure()
        plt.title(curve_summary(curve))
        x = list(range(len(curve.timestamps)))
        lines = ((curve.strategy, STRATEGY), (curve.buy_and_hold, BUY_AND_HOLD), (curve.drawdown, DRAWDOWN))
        series = [(np.asarray(values) * 100, label, colour) for values, (label, colour) in lines]
        for values, label, colour in series:
            plt.plot(x, values.tolist(), label=label, color=colour, marker="braille")
        plt.xticks(*_x_ticks(curve))
        plt.yticks(*_y_ticks(np.concatenate([values for values, _, _ in series])))
        plot.refresh()
