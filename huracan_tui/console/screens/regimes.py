"""The Regimes view: which market regime every slot is in now (each axis), and for one slot which
version wins in which regime: a versions × regimes heatmap of the regime map's metric with each
cell's bar count, and a timeline strip of the slot's regimes, one character per bucket of bars.

Everything is read off the UI thread from what the brain stores: the labels the leader and
training wrote (brain.load_regime_labels) and the versions' out-of-sample rows or live forecasts,
ranked by scheduler.services.regime_map with the labels handed in, so the console never labels
bars itself (no hmmlearn, no writes). `a` cycles the axis, `l` switches between walk-forward and
live numbers, Enter on a slot shows its map."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Static

from brain import BrainError
from huracan_tui.console.actions import bindings
from huracan_tui.console.screens.base import HuracanScreen
from huracan_tui.console.widgets.footer import ConsoleFooter
from huracan_tui.console.widgets.status_bar import StatusBar

AXIS_NAMES = {"vol": "Volatility", "trend": "Trend", "hmm": "HMM"}
# A glyph per label, so the strip and the cells read the same without colour.
GLYPHS = {"low": "▁", "normal": "▄", "high": "█", "trending_up": "▲", "trending_down": "▼", "ranging": "─"}
STATE_GLYPHS = "0123456789"
BEST, BETTER, WORSE, CHAMPION = "★", "▲", "▼", "●"
NEAR_ZERO = {"sharpe": 0.25, "win_rate": 0.02, "mean_bps": 1.0}  # within this of neutral: a warning colour
NEUTRAL = {"sharpe": 0.0, "win_rate": 0.5, "mean_bps": 0.0}
EMPTY_HINT = ("No regime labels stored for this slot yet: training labels its bars (and the leader the "
              "new ones after each live tick); `huracan regimes SLOT` labels them now.")


@dataclass(frozen=True)
class SlotNow:
    slot: str
    labels: dict[str, str | None]  # axis -> the newest bar's label


@dataclass(frozen=True)
class RegimesData:
    slots: tuple[SlotNow, ...]
    slot: str
    axes: tuple[str, ...]  # the axes stored for the slot
    axis: str | None  # None: nothing stored
    source: str
    found: Any  # scheduler.services.regime_map.RegimeMap, None when nothing is stored
    timeline: tuple[str | None, ...]  # the slot's labels on `axis`, oldest bar first
    first: datetime | None
    last: datetime | None


class RegimesLoaded(Message):
    def __init__(self, data: RegimesData | None, error: str | None = None) -> None:
        super().__init__()
        self.data = data
        self.error = error


def read_regimes(brain, slot_key: str, *, axis: str | None, source: str, settings,
                 regime_config) -> RegimesData:
    """What the view shows, from stored labels only: every slot's newest labels, and the slot's
    regime map on `axis` (default: the configured axis, else the first stored)."""
    from engine.regimes import RegimeConfig
    from scheduler.services.regime_map import regime_map

    config = regime_config or RegimeConfig()
    key = config.label_key()
    now = []
    for slot in brain.list_slots():
        newest = brain.last_bar_ts(slot.symbol, slot.timeframe)
        frame = (None if newest is None
                 else brain.load_regime_labels(slot.symbol, slot.timeframe, key, since=newest))
        row = frame.row(-1, named=True) if frame is not None and frame.height else {}
        now.append(SlotNow(slot.key, {name: value for name, value in row.items() if name != "ts"}))
    record = brain.get_slot(slot_key)
    if record is None:
        raise BrainError(f"no slot {slot_key!r} in the brain")
    stored = brain.load_regime_labels(record.symbol, record.timeframe, key)
    axes = tuple(name for name in stored.columns if name != "ts")
    if axis not in axes:
        axis = config.axis if config.axis in axes else (axes[0] if axes else None)
    if axis is None or stored.is_empty():
        return RegimesData(tuple(now), slot_key, axes, None, source, None, (), None, None)
    found = regime_map(brain, slot_key, axis=axis, settings=settings, source=source, regime_config=config,
                       labels=stored)
    return RegimesData(tuple(now), slot_key, axes, axis, source, found, tuple(stored[axis].to_list()),
                       stored["ts"][0], stored["ts"][-1])


def glyph(label: str | None) -> str:
    if label is None:
        return " "
    if label in GLYPHS:
        return GLYPHS[label]
    number = label.removeprefix("state_")
    return STATE_GLYPHS[int(number) % 10] if number.isdigit() else "?"


def label_style(label: str | None, theme) -> str:
    """A label's colour from the theme: calm / up in its success colour, stormy / down in its
    error colour, in between in its warning colour; hmm states in its accent colours."""
    if label in ("low", "trending_up"):
        return theme.success or "green"
    if label in ("high", "trending_down"):
        return theme.error or "red"
    if label in ("normal", "ranging"):
        return theme.warning or "yellow"
    if label is None:
        return "dim"
    number = label.removeprefix("state_")
    palette = [theme.primary, theme.secondary or theme.primary, theme.accent or theme.primary]
    return (palette[int(number) % len(palette)] or "") if number.isdigit() else ""


def label_text(label: str | None, theme) -> Text:
    return Text("-" if label is None else f"{glyph(label)} {label}", style=label_style(label, theme))


def buckets(labels: tuple[str | None, ...], width: int) -> list[str | None]:
    """One label per bucket of consecutive bars (at most `width` buckets): the one most bars of
    the bucket have (the newest of those on a tie), None where none has one."""
    if width <= 0 or not labels:
        return []
    size = max(1, math.ceil(len(labels) / width))
    shown = []
    for start in range(0, len(labels), size):
        counts = Counter(label for label in labels[start:start + size] if label is not None)
        if not counts:
            shown.append(None)
            continue
        most = max(counts.values())
        part = labels[start:start + size]
        shown.append(next(label for label in reversed(part) if counts.get(label) == most))
    return shown


def timeline_text(labels: tuple[str | None, ...], width: int, theme) -> Text:
    strip = Text()
    for label in buckets(labels, width):
        strip.append(glyph(label), style=label_style(label, theme))
    return strip


def cell_style(metric: str, value: float | None, enough: bool, theme) -> str:
    """The heatmap's colour of a value: the theme's success colour above neutral, its error colour
    below, its warning colour near neutral; dim with too few bars."""
    if value is None or not enough:
        return "dim"
    distance = value - NEUTRAL.get(metric, 0.0)
    if abs(distance) < NEAR_ZERO.get(metric, 0.0):
        return theme.warning or "yellow"
    colour = (theme.success or "green") if distance > 0 else (theme.error or "red")
    return f"bold {colour}" if abs(distance) >= 4 * NEAR_ZERO.get(metric, 0.0) else colour


def metric_number(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric == "win_rate":
        return f"{value:.0%}"
    return f"{value:+.2f}" if metric == "sharpe" else f"{value:+.1f}"


def heat_cell(standing, metric: str, theme) -> Text:
    mark = " "
    versus = standing.against_champion
    if standing.rank == 1:
        mark = BEST
    elif versus is not None and versus.verdict == "better":
        mark = BETTER
    elif versus is not None and versus.verdict == "worse":
        mark = WORSE
    text = f"{mark}{metric_number(metric, standing.value):>6} n{standing.n}"
    return Text(text, style=cell_style(metric, standing.value, standing.enough, theme))


class RegimesScreen(HuracanScreen):
    BINDINGS = bindings("regimes")
    AUTO_FOCUS = "#regime-slots"

    def __init__(self, slot_key: str) -> None:
        super().__init__()
        self.slot_key = slot_key
        self.axis: str | None = None
        self.source = "oos"
        self.data: RegimesData | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static("Regimes: the regime every slot is in now", classes="section-title", id="regimes-title")
        slots = DataTable(id="regime-slots", cursor_type="row", zebra_stripes=True)
        for key, label in (("slot", "Slot"), ("vol", "Volatility"), ("trend", "Trend"), ("hmm", "HMM")):
            slots.add_column(label, key=key)
        yield slots
        yield Static("", classes="section-title", id="regime-map-title")
        yield DataTable(id="regime-heatmap", cursor_type="row", zebra_stripes=True)
        yield Static("", id="regime-legend")
        yield Static("", id="regime-timeline")
        yield Static(EMPTY_HINT, id="empty-hint")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#empty-hint").display = False
        self.query_one("#regime-slots", DataTable).styles.max_height = 8
        if self.app.snapshot is not None:
            self.query_one(StatusBar).show(self.app.status_line(self.app.snapshot))
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        config = self.app.config
        try:
            data = read_regimes(self.app.brain, self.slot_key, axis=self.axis, source=self.source,
                                settings=config.regime_map, regime_config=config.regimes)
        except (BrainError, ValueError) as error:
            self.post_message(RegimesLoaded(None, str(error).splitlines()[0]))
            return
        self.post_message(RegimesLoaded(data))

    @on(RegimesLoaded)
    def _loaded(self, message: RegimesLoaded) -> None:
        if message.error is not None:
            self.notify(message.error, title="Regimes not read", severity="error")
            return
        self.data = message.data
        self.axis = message.data.axis
        self.show_data()

    def show_data(self) -> None:
        data, theme = self.data, self.app.current_theme
        if data is None:
            return
        slots = self.query_one("#regime-slots", DataTable)
        slots.clear()
        for now in data.slots:
            name = Text(now.slot, style="bold" if now.slot == data.slot else "")
            labels = [label_text(now.labels.get(axis), theme) for axis in ("vol", "trend", "hmm")]
            slots.add_row(name, *labels, key=now.slot)
        keys = [now.slot for now in data.slots]
        if data.slot in keys:
            slots.move_cursor(row=keys.index(data.slot))
        found = data.found
        self.query_one("#empty-hint").display = found is None
        heatmap = self.query_one("#regime-heatmap", DataTable)
        heatmap.clear(columns=True)
        if found is None:
            self.query_one("#regime-map-title", Static).update(f"{data.slot}: no regime labels stored")
            for widget in ("#regime-legend", "#regime-timeline"):
                self.query_one(widget, Static).update("")
            return
        source = "live" if found.source == "live" else "walk-forward"
        others = [axis for axis in data.axes if axis != found.axis]
        switch = f" · a: {', '.join(others)}" if others else ""
        self.query_one("#regime-map-title", Static).update(
            f"{data.slot} by {AXIS_NAMES.get(found.axis, found.axis)} regime · {found.metric}, {source}"
            f" · l: {'walk-forward' if found.source == 'live' else 'live'}{switch}")
        heatmap.add_column("Ver", key="version")
        heatmap.add_column("Kind", key="kind")
        for ranking in found.regimes:
            heading = f"{glyph(ranking.regime)} {ranking.regime} ({ranking.bars})"
            heatmap.add_column(Text(heading, style=label_style(ranking.regime, theme)), key=ranking.regime)
        versions = sorted({s.version: s for r in found.regimes for s in r.standings}.values(),
                          key=lambda s: s.version)
        for version in versions:
            cells = []
            for ranking in found.regimes:
                mine = next((s for s in ranking.standings if s.version == version.version), None)
                cells.append(Text("-", style="dim") if mine is None else heat_cell(mine, found.metric, theme))
            crown = f" {CHAMPION}" if version.champion else ""
            heatmap.add_row(f"v{version.version}{crown}", version.model_kind, *cells,
                            key=str(version.version))
        self.query_one("#regime-legend", Static).update(Text(
            f"{CHAMPION} champion  {BEST} best  {BETTER}/{WORSE} significantly better/worse than the "
            f"champion (α {found.alpha:g}, Holm)  dim: under {found.min_samples} bars",
            style="dim"))
        width = max(10, (self.size.width or 80) - 12)
        strip = Text(f"{found.axis:<6} ", style="bold")
        strip.append_text(timeline_text(data.timeline, width, theme))
        span = "" if data.first is None else f"\n{'':<7}{data.first:%Y-%m-%d} … {data.last:%Y-%m-%d}"
        now_label = found.current
        strip.append(f"{span}  now: ")
        strip.append_text(label_text(now_label, theme))
        self.query_one("#regime-timeline", Static).update(strip)

    def on_resize(self) -> None:
        self.show_data()

    def action_next_axis(self) -> None:
        data = self.data
        if data is None or len(data.axes) < 2:
            self.notify("Only one regime axis is stored for this slot (regimes.hmm_states adds the hmm one).")
            return
        current = data.axis if data.axis in data.axes else data.axes[0]
        self.axis = data.axes[(data.axes.index(current) + 1) % len(data.axes)]
        self.load()

    def action_toggle_source(self) -> None:
        self.source = "live" if self.source == "oos" else "oos"
        self.load()

    def action_open_slot_map(self) -> None:
        slots = self.query_one("#regime-slots", DataTable)
        if slots.row_count == 0:
            return
        row_key, _ = slots.coordinate_to_cell_key(slots.cursor_coordinate)
        if row_key.value and row_key.value != self.slot_key:
            self.slot_key = str(row_key.value)
            self.load()

    @on(DataTable.RowSelected, "#regime-slots")
    def _slot_selected(self) -> None:
        self.action_open_slot_map()

    def action_back(self) -> None:
        self.app.pop_screen()
