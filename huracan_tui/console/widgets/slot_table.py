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

from rich.text import Text

from engine.timeframes import bar_seconds
from huracan_tui.console import formatting as fmt
from huracan_tui.console.widgets.filtered_table import FilteredTable
from huracan_tui.console.widgets.heatmap import sparkline
from scheduler.services.overview import DriftFlag, SlotOverview

MODEL_COLUMNS = (
    ("slot", "Slot"),
    ("champion", "Champ"),
    ("version", "Latest"),
    ("model", "Model"),
    ("live_n", "Live n"),
    ("live_sharpe", "Live Sharpe"),
    ("live_hit", "Live hit"),
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
        super().__init__(*args, **kwargs)
        for key, label in MODEL_COLUMNS:
            self.add_column(label, key=key)
        self._cells: dict[str, tuple[SlotOverview, dict[str, object]]] = {}
        self._rules = LiveCellRules()

    def show_slots(self, slots: Sequence[SlotOverview], *, sort_by: str = "slot", reverse: bool = False,
                   resort: bool = False, now: datetime | None = None,
                   rules: LiveCellRules = LiveCellRules()) -> int:
        """Bring the table in line with `slots` (those matching the filter); how many are shown.
        `now`: the console's clock, which ages the newest forecasts."""
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
        return self.show_rows(rows, sort_by=sort_by, sort_key=descending_key if reverse else sort_key,
                              reverse=reverse, resort=resort,
                              changed=changed)
