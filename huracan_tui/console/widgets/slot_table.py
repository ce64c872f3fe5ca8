"""The Models view's table: a row per slot, its cells formatted from the slot's SlotOverview. The
one cache of the refresh path is {slot key: (overview, cells)}: overviews are frozen records that
compare by value, so a slot whose overview equals the one its cells were made from is neither
formatted nor visited again, and a changed one has only its changed cells updated (LiveTable
repaints just that row). The rows are sorted again only where the order may have changed: a row
added, or a changed cell in the sorted column."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.cells import cell_len
from rich.text import Text

from engine.timeframes import bar_seconds
from huracan_tui.console import formatting as fmt
from huracan_tui.console.export import Typed
from huracan_tui.console.widgets.filtered_table import CELL_PADDING, FilteredTable  # noqa: F401 (CELL_PADDING: tests)
from huracan_tui.console.widgets.filtered_table import fit_columns as fit_table_columns
from huracan_tui.console.widgets.heatmap import sparkline
from scheduler.services.overview import DriftFlag, SlotOverview

MODEL_COLUMNS = (
    ("slot", "Slot"),
    ("champion", "Champ"),
    ("version", "Latest"),
    ("model", "Model"),
    ("live_n", "Live n"),
    ("live_sharpe", "Live Sharpe"),
    ("live_hit", "Live win"),  # a win rate after costs, not the out-of-sample (directional) hit rate
    ("last_forecast", "Last fcst"),
    ("trend", "Live trend"),
    ("drift", "Drift"),
    ("queue", "Queue"),
    ("sharpe", "Sharpe"),
    ("hit", "Hit rate"),
    ("ic", "IC"),
    ("rmse", "RMSE bps"),
    ("mae", "MAE bps"),
    ("trained", "Trained (UTC)"),
)

# What each column is, for `?`: whose figure it is (the champion's, the latest version's) and from
# where (walk-forward out of sample at training, or live since the champion serves).
COLUMN_MEANINGS = {
    "slot": "The slot: a symbol, a timeframe and the target forecast (e.g. the next bar's return)",
    "champion": "The champion: the version serving the slot's live forecasts ('-': none promoted yet)",
    "version": "The latest version trained; one newer than the champion is a challenger (A/B compares)",
    "model": "The model kind of the champion, else of the latest version",
    "live_n": "Live: how many of the champion's forecasts have met their outcome; live figures resting on "
              "fewer than console.min_live_samples (default 30) are dimmed",
    "live_sharpe": "Live: the Sharpe ratio (annualised, after costs) of trading the champion's forecasts",
    "live_hit": "Live: the win rate, the share of the champion's live trades that made money after costs",
    "last_forecast": "Live: how long ago the slot's newest forecast was made; ⚠ when none came for more than "
                     "console.stale_after_bars bars",
    "trend": "Live: the champion's live Sharpe over its last windows, oldest on the left",
    "drift": "Features that drifted at the newest drift check, of those checked (F opens the Drift view)",
    "queue": "Open items of the slot in the retrain / prune queues (Q reviews them)",
    "sharpe": "Walk-forward, out of sample: the Sharpe ratio (annualised, after costs) of the champion "
              "(else of the latest version) over its test folds",
    "hit": "Walk-forward, out of sample: the hit rate, the share of test-fold forecasts whose direction "
           "was right",
    "ic": "Walk-forward, out of sample: the information coefficient (rank correlation, forecast v outcome)",
    "rmse": "Walk-forward, out of sample: the root mean squared forecast error, in basis points",
    "mae": "Walk-forward, out of sample: the mean absolute forecast error, in basis points",
    "trained": "When the latest version was trained (UTC)",
}

# Which columns an operator needs most, first: where the terminal is too narrow for all of them,
# the table drops them from the end of this list (keeping the slot, pinned on the left, and the
# sorted column), says how many it left out, and `w` shows them all.
COLUMN_PRIORITY = ("slot", "champion", "live_sharpe", "live_n", "drift", "sharpe", "queue", "last_forecast",
                   "model", "version", "live_hit", "hit", "trend", "trained", "ic", "rmse", "mae")


def fit_columns(widths: dict[str, int], available: int, *, keep: str = "slot") -> tuple[str, ...]:
    """The columns (in the table's order) that fit in `available` cells: the most important ones
    by COLUMN_PRIORITY, dropping from the least important until the rest fit; the slot and the
    `keep` column (the sorted one) stay whatever the width."""
    return fit_table_columns(widths, available, order=(key for key, _ in MODEL_COLUMNS),
                             priority=COLUMN_PRIORITY, keep=("slot", keep))


# Each column in an exported file (export.py), beside what it shows: the same number unformatted
# (hit rates as fractions, RMSE / MAE in bps as shown), versions as integers, times as datetimes,
# None where the cell shows '-'. Keyed by MODEL_COLUMNS' keys, the headers are the table's own.
MODEL_VALUES: dict[str, Typed] = {
    "slot": Typed(lambda slot: slot.slot),
    "champion": Typed(lambda slot: slot.champion),
    "version": Typed(lambda slot: slot.latest_version),
    "model": Typed(lambda slot: slot.shown_kind),
    "live_n": Typed(lambda slot: int(slot.live.n) if slot.live and slot.live.n is not None else None),
    "live_sharpe": Typed(lambda slot: slot.live.sharpe if slot.live else None),
    "live_hit": Typed(lambda slot: slot.live.win_rate if slot.live else None),
    # When the newest forecast was made, not its age: a file outlives the moment it was written.
    "last_forecast": Typed(lambda slot: slot.last_forecast),
    # The sparkline's numbers (the champion's last live Sharpe values, oldest first): JSON only.
    "trend": Typed(lambda slot: list(slot.live_trend), scalar=False),
    # How many features drifted at the newest check ('⚠ 7/8' -> 7, 'ok 0/8' -> 0, never checked ->
    # None); how many were checked is left out (it is the slot's feature count).
    "drift": Typed(lambda slot: slot.drift.drifted if slot.drift else None),
    # The queues holding open items, as shown ('drift 1 train 2'): text, names beside counts.
    "queue": Typed(lambda slot: queue_cell(slot.queue) if any(n for _, n in slot.queue) else None),
    "sharpe": Typed(lambda slot: slot.shown_metrics.sharpe),
    "hit": Typed(lambda slot: slot.shown_metrics.hit_rate),
    "ic": Typed(lambda slot: slot.shown_metrics.ic),
    "rmse": Typed(lambda slot: slot.shown_metrics.rmse),
    "mae": Typed(lambda slot: slot.shown_metrics.mae),
    "trained": Typed(lambda slot: slot.trained_at),
}


@dataclass(frozen=True)
class LiveCellRules:
    """How the live columns read: numbers resting on fewer than `min_samples` matured forecasts
    are dimmed (their count beside them), and a slot whose newest forecast is older than
    `stale_after_bars` of its bars is marked stale (console.min_live_samples, stale_after_bars)."""

    min_samples: int = 30
    stale_after_bars: int = 3


def slot_cells(slot: SlotOverview, rules: LiveCellRules = LiveCellRules()) -> dict[str, object]:
    """Live numbers of the champion, then the out-of-sample numbers of the champion where the slot
    has one, else of its latest version. The age of the newest forecast moves with the clock: it
    is forecast_cell's, made at every refresh."""
    metrics, live = slot.shown_metrics, slot.live
    count = int(live.n) if live and live.n is not None else None
    few = count is not None and count < rules.min_samples
    live_sharpe = fmt.signed(live.sharpe if live else None)
    live_hit = fmt.percent(live.win_rate if live else None)
    if few:  # too few outcomes to lean on: the number stays, dimmed, its count beside it
        live_sharpe.stylize("dim")
        live_hit.stylize("dim")
    # Text, not str: a str cell is parsed as Rich markup by DataTable (slower, and a '[' in a
    # symbol would be taken for a tag).
    return {
        "slot": Text(slot.slot),
        "champion": fmt.right(f"v{slot.champion}" if slot.champion else "-"),
        "version": fmt.right(f"v{slot.latest_version}" if slot.latest_version else "-"),
        "model": Text(slot.shown_kind or "-"),
        "live_n": Text("-" if count is None else str(count), style="dim" if few else "", justify="right"),
        "live_sharpe": live_sharpe,
        "live_hit": live_hit,
        "last_forecast": Text("-"),
        "trend": Text(sparkline(list(slot.live_trend)) or "-"),
        "sharpe": fmt.signed(metrics.sharpe),
        "hit": fmt.percent(metrics.hit_rate),
        "ic": fmt.signed(metrics.ic, 3),
        "rmse": fmt.right(fmt.number(metrics.rmse, 1)),
        "mae": fmt.right(fmt.number(metrics.mae, 1)),
        "drift": drift_cell(slot.drift),
        "queue": Text(queue_cell(slot.queue)),
        "trained": Text(fmt.timestamp(slot.trained_at)),
    }


def forecast_cell(slot: SlotOverview, now: datetime, rules: LiveCellRules) -> Text:
    """'6m ago' since the slot's newest forecast was made; '⚠ 3h ago' (stale) when no forecast came
    for more than `rules.stale_after_bars` of the slot's bars."""
    if slot.last_forecast is None:
        return Text("-")
    seconds = (now - slot.last_forecast).total_seconds()
    bar = bar_seconds(slot.timeframe)
    if bar is not None and seconds > rules.stale_after_bars * bar:
        return Text(f"⚠ {fmt.age(seconds)}", style="yellow")
    return Text(fmt.age(seconds))


def drift_cell(flag: DriftFlag | None) -> Text:
    """'⚠ 3/12' when features drifted at the newest check (the glyph reads without colour too)."""
    if not flag:
        return Text("-")
    if not flag.drifted:
        return Text(f"ok 0/{flag.features}", style="green")
    return Text(f"⚠ {flag.drifted}/{flag.features}",
                style="bold red" if flag.drifted * 2 >= flag.features else "yellow")


def queue_cell(counts: Sequence[tuple[str, int]]) -> str:
    return " ".join(f"{queue} {count}" for queue, count in sorted(counts) if count) or "-"


_AGO = re.compile(r"^(?:⚠ )?(\d+)([smhd]) ago$")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def sort_key(cell, *, reverse: bool = False) -> tuple[int, float | str]:
    """Numbers sort as numbers ('+0.74', '52.3%', 'v2'), anything else as text, and '-' (nothing
    measured) last whichever way the column is sorted (`reverse`: the sort is descending)."""
    text = str(cell).strip()
    ago = _AGO.match(text)
    if ago:  # an age sorts by its seconds: '40s ago' < '6m ago' < '⚠ 3h ago'
        return (0, float(ago.group(1)) * _AGE_UNITS[ago.group(2)])
    try:
        return (0, float(text.rstrip("%").removeprefix("v")))
    except ValueError:
        if text == "-":
            return (-1 if reverse else 2, "")
        return (1, text)


def descending_key(cell) -> tuple[int, float | str]:
    return sort_key(cell, reverse=True)


class SlotTable(FilteredTable):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, fixed_columns=1, **kwargs)  # the slot stays in view scrolling right
        self.wide = False  # every column, wider than the terminal if need be (`w`)
        for key, label in MODEL_COLUMNS:
            self.add_column(label, key=key)
        self.shown_columns = tuple(key for key, _ in MODEL_COLUMNS)
        self._reselect: str | None = None
        self._cells: dict[str, tuple[SlotOverview, dict[str, object]]] = {}
        self._rules = LiveCellRules()
        # The widest cell each column has had (its label included): only grows, so the columns
        # that fit do not flicker as numbers change.
        self._widths = {key: cell_len(label) for key, label in MODEL_COLUMNS}

    @property
    def hidden_columns(self) -> int:
        return len(MODEL_COLUMNS) - len(self.shown_columns)

    def _set_columns(self, keys: tuple[str, ...]) -> None:
        """Show `keys` (in MODEL_COLUMNS' order). The rows go too: show_slots adds them back,
        sorted, and the cursor stays on the slot it was on."""
        selected = None
        if self.row_count:
            selected = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        self.clear(columns=True)
        labels = dict(MODEL_COLUMNS)
        for key in keys:
            self.add_column(labels[key], key=key)
        self.shown_columns = keys
        self._reselect = selected

    def show_slots(self, slots: Sequence[SlotOverview], *, sort_by: str = "slot", reverse: bool = False,
                   resort: bool = False, now: datetime | None = None,
                   rules: LiveCellRules = LiveCellRules(), width: int | None = None) -> int:
        """Bring the table in line with `slots` (those matching the filter); how many are shown.
        `now`: the console's clock, which ages the newest forecasts. `width`: the cells the table
        may use; the columns that do not fit are left out (see COLUMN_PRIORITY) unless `wide`."""
        rows, changed = {}, set()
        if rules != self._rules:
            self._cells, self._rules = {}, rules
        for slot in slots:
            made_from, cells = self._cells.get(slot.slot, (None, None))
            if made_from is not slot and made_from != slot:
                old_cells, cells = cells, slot_cells(slot, rules)
                self._cells[slot.slot] = (slot, cells)
                changed.add(slot.slot)
                # Compared as shown (the sort key reads the text): a moved row is re-sorted.
                if old_cells is not None and str(old_cells[sort_by]) != str(cells[sort_by]):
                    resort = True
            if now is not None:
                aged = forecast_cell(slot, now, rules)
                if str(aged) != str(cells["last_forecast"]) or slot.slot in changed:
                    cells["last_forecast"] = aged
                    changed.add(slot.slot)
            rows[slot.slot] = cells
        if len(self._cells) > len(rows):
            self._cells = {key: made for key, made in self._cells.items() if key in rows}
        for key in changed:
            for column, cell in rows[key].items():
                if (length := cell_len(str(cell))) > self._widths[column]:
                    self._widths[column] = length
        all_columns = tuple(key for key, _ in MODEL_COLUMNS)
        columns = all_columns if self.wide or not width else fit_columns(self._widths, width, keep=sort_by)
        if columns != self.shown_columns:
            self._set_columns(columns)
        shown = self.show_rows(rows, sort_by=sort_by, sort_key=descending_key if reverse else sort_key,
                               reverse=reverse, resort=resort,
                               changed=changed)
        if self._reselect is not None and self._reselect in self.rows:
            self.move_cursor(row=self.get_row_index(self._reselect))
        self._reselect = None
        return shown

    def overview(self, slot: str) -> SlotOverview:
        """The record behind the row of `slot` (a row shown always has one)."""
        return self._cells[slot][0]
