"""The console's tables and their `/` filter: rows are given as {row key: {column key: cell}} and
synced in place (new rows added, gone rows removed, changed cells updated), never rebuilt; a
FilteredTable shows the rows with its filter text in any cell (or, for tables that filter by name,
in the row key). The filter box is a FilterInput; the screen that owns it hands its text to the
tables (screens/filtered.py)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from rich.cells import cell_len
from textual.binding import Binding
from textual.widgets import DataTable, Input

from huracan_tui.console.widgets.live_table import LiveTable

Rows = dict[str, dict[str, object]]
FILTER_PLACEHOLDER = "filter rows (Enter keeps it, Esc clears)"


def text_matches(text: str, values: Iterable[object]) -> bool:
    """Whether `text` (any case) is in any of `values` shown as text: the one filter rule."""
    wanted = text.lower()
    return any(wanted in str(value).lower() for value in values)


def matching(rows: Rows, text: str, *, by_key: bool = False) -> Rows:
    """The rows with `text` in any of their cells (with `by_key`, in their row key)."""
    if not text:
        return rows
    return {key: cells for key, cells in rows.items()
            if text_matches(text, (key,) if by_key else cells.values())}


def match_line(title: str, shown: int, total: int, text: str) -> str:
    return title if not text else f"{title}: {shown} of {total} match '{text}'"


def sync_rows(table: DataTable, rows: Rows, *, sort_by: str | None = None, sort_key=None,
              reverse: bool = False, resort: bool = False, changed: Collection[str] | None = None) -> None:
    """Bring a table in line with `rows` by touching only what changed. With `changed` (the keys
    whose cells may differ from those the table shows), the other rows already in the table are
    skipped without comparing their cells: a refresh that changed one slot of 500 visits one row."""
    for key in [row_key.value for row_key in table.rows if row_key.value not in rows]:
        table.remove_row(key)
    added = False
    columns = [column.value for column in table.columns]
    for key, cells in rows.items():
        if key not in table.rows:
            table.add_row(*(cells[column] for column in columns), key=key)
            added = True
            continue
        if changed is not None and key not in changed:
            continue
        for column in columns:  # the columns shown: a table may leave some of its cells out
            value = cells[column]
            if str(table.get_cell(key, column)) != str(value):
                # Only a wider value re-measures the column; a cell that still fits repaints
                # alone instead of the whole table (tens of ms per refresh at 500 rows).
                wider = cell_len(str(value)) > table.columns[column].content_width
                table.update_cell(key, column, value, update_width=wider)
    if (added or resort) and sort_by is not None:
        table.sort(sort_by, key=sort_key, reverse=reverse)


class FilteredTable(LiveTable):
    """A table that shows the rows matching its `filter_text`. Its first column (what a row is
    about: the slot, the job, the feature) stays in view when the table is scrolled right, as
    on a terminal too narrow for every column."""

    def __init__(self, *args, filter_by_key: bool = False, **kwargs) -> None:
        kwargs.setdefault("fixed_columns", 1)
        super().__init__(*args, **kwargs)
        self.filter_text = ""
        self.filter_by_key = filter_by_key

    def show_rows(self, rows: Rows, *, sort_by: str | None = None, sort_key: Callable | None = None,
                  reverse: bool = False, resort: bool = False, changed: Collection[str] | None = None,
                  always: Collection[str] = ()) -> int:
        """Sync the matching rows (and those keyed in `always`) into the table; how many are shown."""
        shown = matching(rows, self.filter_text, by_key=self.filter_by_key)
        if always and self.filter_text:
            shown = {key: cells for key, cells in rows.items() if key in always or key in shown}
        sync_rows(self, shown, sort_by=sort_by, sort_key=sort_key, reverse=reverse, resort=resort,
                  changed=changed)
        return len(shown)


class FilterInput(Input):
    """Esc clears the filter and hides the box (Input's own Esc does nothing useful here)."""

    BINDINGS = [Binding("escape", "clear", "Clear filter", id="filter-clear")]

    def action_clear(self) -> None:
        self.screen.clear_filter()


def filter_box() -> FilterInput:
    box = FilterInput(placeholder=FILTER_PLACEHOLDER, id="filter")
    box.cursor_blink = False  # over SSH every blink is traffic
    box.display = False
    return box
