"""What the table views that are not log tables share (Jobs, Data, Registry, Drift, Importance,
A/B), in the Models view's and the log tables' way: `/` opens a filter box above the tables and
every keystroke narrows their rows (cells are synced in place, never rebuilt), Enter keeps the
filter and returns to the table, Esc in the box clears it. A details panel under the tables shows
what Enter drilled into; Esc closes it before it leaves the view."""

from __future__ import annotations

from textual import on
from textual.widgets import DataTable, Input, Static

from huracan_tui.console.screens.base import HuracanScreen
from huracan_tui.console.screens.models import FilterInput

FILTER_PLACEHOLDER = "filter rows (Enter keeps it, Esc clears)"


def matching(rows: dict[str, dict[str, object]], text: str) -> dict[str, dict[str, object]]:
    """The rows with `text` (any case) in any of their cells."""
    if not text:
        return rows
    wanted = text.lower()
    return {key: cells for key, cells in rows.items()
            if any(wanted in str(cell).lower() for cell in cells.values())}


def filter_box() -> FilterInput:
    box = FilterInput(placeholder=FILTER_PLACEHOLDER, id="filter")
    box.cursor_blink = False  # over SSH every blink is traffic
    box.display = False
    return box


def details_panel(panel_id: str = "details") -> Static:
    panel = Static("", id=panel_id, classes="log-details")
    panel.display = False
    return panel


def match_line(title: str, shown: int, total: int, text: str) -> str:
    return title if not text else f"{title}: {shown} of {total} match '{text}'"


class FilteredScreen(HuracanScreen):
    """Subclasses yield `filter_box()` and `details_panel()` in compose, name the table the focus
    returns to (FILTER_TABLE) and re-show their rows with `self.filter_text` in `show_filtered`."""

    FILTER_TABLE = ""
    DETAILS_ID = "details"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.filter_text = ""

    def show_filtered(self) -> None:
        raise NotImplementedError

    def action_filter(self) -> None:
        box = self.query_one("#filter", FilterInput)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.show_filtered()

    @on(Input.Submitted, "#filter")
    def _filter_kept(self) -> None:
        self.query_one(f"#{self.FILTER_TABLE}", DataTable).focus()

    def clear_filter(self) -> None:
        box = self.query_one("#filter", FilterInput)
        box.value = ""
        box.display = False
        self.filter_text = ""
        self.query_one(f"#{self.FILTER_TABLE}", DataTable).focus()
        self.show_filtered()

    def show_details(self, text) -> None:
        panel = self.query_one(f"#{self.DETAILS_ID}", Static)
        panel.update(text)
        panel.display = True

    def close_details(self) -> bool:
        """Close the details panel if it is open; whether it was."""
        panel = self.query_one(f"#{self.DETAILS_ID}", Static)
        if not panel.display:
            return False
        panel.display = False
        return True
