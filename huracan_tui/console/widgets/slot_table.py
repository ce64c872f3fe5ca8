"""The Models view's table: a row per slot, its cells formatted from the slot's SlotOverview. The
one cache of the refresh path is {slot key: (overview, cells)}: overviews are frozen records that
compare by value, so a slot whose overview equals the one its cells were made from is neither
formatted nor visited again, and a changed one has only its changed cells updated (LiveTable
repaints just that row). The rows are sorted again only where the order may have changed: a row
added, or a changed cell in the sorted column."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from huracan_tui.console import formatting as fmt
from huracan_tui.console.widgets.filtered_table import FilteredTable
from huracan_tui.console.widgets.heatmap import sparkline
from scheduler.services.overview import DriftFlag, SlotOverview

MODEL_COLUMNS = (
    ("slot", "Slot"),
    ("champion", "Champ"),
    ("version", "Latest"),
    ("model", "Model"),
    ("live_sharpe", "Live Sharpe"),
    ("live_hit", "Live hit"),
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


def slot_cells(slot: SlotOverview) -> dict[str, object]:
    """Live numbers of the champion, then the out-of-sample numbers of the champion where the slot
    has one, else of its latest version."""
    metrics, live = slot.shown_metrics, slot.live
    # Text, not str: a str cell is parsed as Rich markup by DataTable (slower, and a '[' in a
    # symbol would be taken for a tag).
    return {
        "slot": Text(slot.slot),
        "champion": fmt.right(f"v{slot.champion}" if slot.champion else "-"),
        "version": fmt.right(f"v{slot.latest_version}" if slot.latest_version else "-"),
        "model": Text(slot.shown_kind or "-"),
        "live_sharpe": fmt.signed(live.sharpe if live else None),
        "live_hit": fmt.percent(live.win_rate if live else None),
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


def sort_key(cell) -> tuple[int, float | str]:
    """Numbers sort as numbers ('+0.74', '52.3%', 'v2'), '-' last, anything else as text."""
    text = str(cell).strip()
    try:
        return (0, float(text.rstrip("%").removeprefix("v")))
    except ValueError:
        return (2, "") if text == "-" else (1, text)


class SlotTable(FilteredTable):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for key, label in MODEL_COLUMNS:
            self.add_column(label, key=key)
        self._cells: dict[str, tuple[SlotOverview, dict[str, object]]] = {}

    def show_slots(self, slots: Sequence[SlotOverview], *, sort_by: str = "slot", reverse: bool = False,
                   resort: bool = False) -> int:
        """Bring the table in line with `slots` (those matching the filter); how many are shown."""
        rows, changed = {}, set()
        for slot in slots:
            made_from, cells = self._cells.get(slot.slot, (None, None))
            if made_from is not slot and made_from != slot:
                old_cells, cells = cells, slot_cells(slot)
                self._cells[slot.slot] = (slot, cells)
                changed.add(slot.slot)
                # Compared as shown (the sort key reads the text): a moved row is re-sorted.
                if old_cells is not None and str(old_cells[sort_by]) != str(cells[sort_by]):
                    resort = True
            rows[slot.slot] = cells
        if len(self._cells) > len(rows):
            self._cells = {key: made for key, made in self._cells.items() if key in rows}
        return self.show_rows(rows, sort_by=sort_by, sort_key=sort_key, reverse=reverse, resort=resort,
                              changed=changed)
