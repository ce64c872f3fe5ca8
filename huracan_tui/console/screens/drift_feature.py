"""One feature's drift up close: its reference window (the version's training window) and its
current window (the bars the last check used) as two histograms on the same bins, with the
statistics recomputed on exactly these windows beside the ones the check stored."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Static

from brain.drift import DriftResultRecord
from huracan_tui.console import formatting as fmt
from huracan_tui.console.actions import bindings
from huracan_tui.console.screens.base import HuracanScreen
from huracan_tui.console.widgets.footer import ConsoleFooter
from huracan_tui.console.widgets.histogram import BAR_WIDTH, HistogramPair, bar, bin_label, histogram_pair
from huracan_tui.console.widgets.status_bar import StatusBar
from scheduler.services.drift import feature_drift

RECOMPUTED = ("psi", "ks")


@dataclass(frozen=True)
class FeatureDistributions:
    version: int
    reference_window: tuple
    current_window: tuple
    histogram: HistogramPair
    statistics: list[tuple[str, float, float | None, float, bool]]  # method, stat, p, threshold, drifted


class DistributionsReady(Message):
    def __init__(self, result: FeatureDistributions | None, error: str | None = None) -> None:
        super().__init__()
        self.result = result
        self.error = error


def feature_distributions(brain, slot_key: str, feature: str,
                          latest: DriftResultRecord | None) -> FeatureDistributions:
    """The windows the check `latest` compared (its version, its current window), rebuilt by the
    drift service, on the same bins."""
    number = (latest.details or {}).get("version") if latest is not None else None
    bounded = latest is not None and latest.current_start is not None and latest.current_end is not None
    drift = feature_drift(brain, slot_key, feature, version_number=int(number) if number else None,
                          current_between=(latest.current_start, latest.current_end) if bounded else None,
                          methods=RECOMPUTED)
    return FeatureDistributions(
        version=drift.version,
        reference_window=drift.reference_window,
        current_window=drift.current_window,
        histogram=histogram_pair(drift.reference_values, drift.current_values),
        statistics=drift.statistics,
    )


def window_text(label: str, window: tuple) -> str:
    start, end, rows = window
    return f"{label} {fmt.timestamp(start)} → {fmt.timestamp(end)} ({rows:,} bars)"


class DriftFeatureScreen(HuracanScreen):
    BINDINGS = bindings("detail")  # Esc goes back
    AUTO_FOCUS = "#histogram"

    def __init__(self, slot_key: str, feature: str, latest: dict[str, DriftResultRecord]) -> None:
        super().__init__()
        self.slot_key = slot_key
        self.feature = feature
        self.latest = latest  # method -> the newest stored result of this feature
        self.result: FeatureDistributions | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static(f"Drift: {self.slot_key} · {self.feature}: computing the distributions…",
                     classes="section-title", id="feature-title")
        yield Static("", id="feature-windows")
        table = DataTable(id="histogram", cursor_type="none", show_cursor=False)
        for key, label in (("bin", "Bin"), ("ref", "Reference"), ("ref_share", "Ref %"),
                           ("cur", "Current"), ("cur_share", "Cur %")):
            table.add_column(label, key=key)
        yield table
        yield Static("", id="feature-statistics")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        if self.app.snapshot is not None:
            self.query_one(StatusBar).show(self.app.status_line(self.app.snapshot))
        self.compute()

    @work(thread=True, exclusive=True)
    def compute(self) -> None:
        latest = self.latest.get("psi") or next(iter(self.latest.values()), None)
        try:
            result = feature_distributions(self.app.brain, self.slot_key, self.feature, latest)
        except (ValueError, KeyError) as error:
            self.post_message(DistributionsReady(None, str(error)))
            return
        self.post_message(DistributionsReady(result))

    @on(DistributionsReady)
    def _ready(self, message: DistributionsReady) -> None:
        title = self.query_one("#feature-title", Static)
        if message.error is not None:
            title.update(f"Drift: {self.slot_key} · {self.feature}: {message.error}")
            return
        self.result = result = message.result
        title.update(f"Drift: {self.slot_key} · {self.feature} · v{result.version}: reference versus "
                     "current, same bins")
        self.query_one("#feature-windows", Static).update(
            window_text("reference (training window)", result.reference_window) + "\n"
            + window_text("current (last check)      ", result.current_window))
        pair = result.histogram
        width = max(6, min(BAR_WIDTH, (self.app.size.width - 50) // 2))  # both bars fit at 80 columns
        table = self.query_one("#histogram", DataTable)
        for index in range(len(pair.reference)):
            table.add_row(
                bin_label(pair.edges[index], pair.edges[index + 1]),
                Text(bar(pair.reference[index], pair.scale, width), style="cyan"),
                fmt.percent(pair.reference[index]),
                Text(bar(pair.current[index], pair.scale, width), style="magenta"),
                fmt.percent(pair.current[index]),
                key=str(index),
            )
        lines = []
        for method, statistic, p_value, threshold, drifted in result.statistics:
            stored = self.latest.get(method)
            line = (f"{method.upper():<4} {fmt.number(statistic, 4)}  p {fmt.number(p_value, 4)}  "
                    f"threshold {threshold:g}  {'DRIFTED !' if drifted else 'no drift'}")
            if stored is not None:
                line += (f"  (stored {stored.ts:%m-%d %H:%M}: {fmt.number(stored.statistic, 4)}"
                         f"{' !' if stored.drifted else ''})")
            lines.append(line)
        self.query_one("#feature-statistics", Static).update("\n".join(lines))

    def action_back(self) -> None:
        self.app.pop_screen()
