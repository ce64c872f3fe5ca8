"""What the table views share (Models, Jobs, Data, Registry, Drift, Importance, A/B and the log
tables): `/` opens a filter box above the tables and every keystroke hands its text to the view's
FilteredTables (which narrow their rows, synced in place); Enter keeps the filter, closes the box and
returns to the table, Esc in the box clears it. A details panel under the tables shows what Enter drilled
into; Esc closes it before it leaves the view. Tables too wide for the terminal leave out their least
important columns (FilteredTable.set_columns) and `w` shows them all."""

from __future__ import annotations

from textual import on
from textual.widgets import DataTable, Input, Static

from huracan_tui.console.screens.base import HuracanScreen
from huracan_tui.console.widgets.filtered_table import FilteredTable, FilterInput


def details_panel(panel_id: str = "details") -> Static:
    panel = Static("", id=panel_id, classes="log-details")
    panel.display = False
    return panel


class FilteredScreen(HuracanScreen):
    """Subclasses yield `filter_box()` (and `details_panel()`) in compose, name the table the focus
    returns to (FILTER_TABLE) and re-show their rows in `show_filtered`."""

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
        self._set_filter(event.value.strip())

    @on(Input.Submitted, "#filter")
    def _filter_kept(self) -> None:
        # The box closes and gives its row back; the heading still says the filter is on, and
        # `/` opens it again with its text.
        self.query_one("#filter", FilterInput).display = False
        self.query_one(f"#{self.FILTER_TABLE}", DataTable).focus()

    def clear_filter(self) -> None:
        box = self.query_one("#filter", FilterInput)
        box.value = ""
        box.display = False
        self.query_one(f"#{self.FILTER_TABLE}", DataTable).focus()
        self._set_filter("")

    def _set_filter(self, text: str) -> None:
        self.filter_text = text
        for table in self.query(FilteredTable):
            table.filter_text = text
        self.show_filtered()

    def fitting_tables(self) -> list[FilteredTable]:
        """The view's tables that fit their columns to the width (those declared with a priority)."""
        return [table for table in self.query(FilteredTable) if table.priority]

    def action_toggle_wide(self) -> None:
        """`w`: every column (scrolling, the key column pinned), or again only those that fit."""
        tables = self.fitting_tables()
        wide = not any(table.wide for table in tables)
        for table in tables:
            table.wide = wide
            table.refit()
        self.show_filtered()  # the heading says which

    @on(FilteredTable.ColumnsFitted)
    def _columns_fitted(self) -> None:
        self.show_filtered()  # the heading's "+N columns"

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
