"""The console's tables and their `/` filter: rows are given as {row key: {column key: cell}} and
synced in place (new rows added, gone rows removed, changed cells updated), never rebuilt; a
FilteredTable shows the rows with its filter text in any cell (or, for tables that filter by name,
in the row key). The filter box is a FilterInput; the screen that owns it hands its text to the
tables (screens/filtered.py).

A table that declares its columns with a priority order (`set_columns`) fits them to its width: on
a terminal too narrow for all of them it drops the least important first (never the key column nor
the sorted one), `hidden_columns` says how many it left out, and `wide` shows them all, scrolling
with the key column pinned. The shown set is rebuilt only when it changes (a resize, `w`), from the
rows last given, keeping the cursor's row and the sort."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from rich.cells import cell_len
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Input

from huracan_tui.console.widgets.live_table import LiveTable

Rows = dict[str, dict[str, object]]
FILTER_PLACEHOLDER = "filter rows (Enter keeps it, Esc clears)"
CELL_PADDING = 2  # DataTable's cell padding, one column each side
SCROLLBAR_WIDTH = 2  # kept free beside the columns for the vertical scrollbar, so none is cut


def fit_columns(widths: dict[str, int], available: int, *, order: Iterable[str], priority: Iterable[str],
                keep: Iterable[str] = ()) -> tuple[str, ...]:
    """The columns (in the table's `order`) that fit in `available` cells: the `keep` ones (the
    key column, the sorted one) whatever the width, then the others by `priority` (most important
    first; columns it does not name come last, in order) until the next one does not fit."""
    order = tuple(order)
    wanted = list(dict.fromkeys(keep))
    used = sum(widths[key] + CELL_PADDING for key in wanted)
    for key in (*priority, *order):
        if key in wanted:
            continue
        used += widths[key] + CELL_PADDING
        if used > available:
            break
        wanted.append(key)
    return tuple(key for key in order if key in wanted)


def columns_hint(table) -> str:
    """What a heading says of the columns a table left out, and how to see them (`w`)."""
    if table.wide:
        return "  ·  all columns (w fits them to the width)"
    hidden = table.hidden_columns
    return f"  ·  +{hidden} column{'s' if hidden != 1 else ''} (w shows all)" if hidden else ""


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

    class ColumnsFitted(Message):
        """A resize changed the columns a table shows: its view says so in its heading."""

        def __init__(self, table: FilteredTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> FilteredTable:
            return self.table

    def __init__(self, *args, filter_by_key: bool = False, **kwargs) -> None:
        kwargs.setdefault("fixed_columns", 1)
        super().__init__(*args, **kwargs)
        self.filter_text = ""
        self.filter_by_key = filter_by_key
        self.wide = False  # every declared column, wider than the table if need be (`w`)
        self.declared: tuple[tuple[str, object], ...] = ()  # (key, label), in the table's order
        self.priority: tuple[str, ...] = ()  # most important first; empty: every column, no fitting
        self._fixed_widths: dict[str, int] = {}
        # The widest cell each column has had, its label included: only grows, so the columns that
        # fit do not come and go as numbers change.
        self._fit_widths: dict[str, int] = {}
        self._last_rows: dict | None = None  # show_rows' arguments, to rebuild from on a resize

    def set_columns(self, columns: Iterable[tuple[str, object]], *, priority: Iterable[str] = (),
                    widths: dict[str, int] | None = None) -> None:
        """Declare the table's columns (key, label) and, with `priority` (most important first),
        fit them to the table's width; `widths`: the columns of a fixed width."""
        self.declared = tuple(columns)
        self.priority = tuple(priority)
        self._fixed_widths = dict(widths or {})
        self._fit_widths = {key: self._fixed_widths.get(key, cell_len(str(label)))
                            for key, label in self.declared}
        self.clear(columns=True)
        for key, label in self.declared:
            self.add_column(label, key=key, width=self._fixed_widths.get(key))

    @property
    def hidden_columns(self) -> int:
        return len(self.declared) - len(self.columns) if self.priority else 0

    def show_rows(self, rows: Rows, *, sort_by: str | None = None, sort_key: Callable | None = None,
                  reverse: bool = False, resort: bool = False, changed: Collection[str] | None = None,
                  always: Collection[str] = ()) -> int:
        """Sync the matching rows (and those keyed in `always`) into the table; how many are shown."""
        shown = matching(rows, self.filter_text, by_key=self.filter_by_key)
        if always and self.filter_text:
            shown = {key: cells for key, cells in rows.items() if key in always or key in shown}
        reselect = None
        if self.priority:
            self._last_rows = {"rows": rows, "sort_by": sort_by, "sort_key": sort_key, "reverse": reverse,
                               "always": always}
            self._measure(rows, changed)
            reselect = self._fit(sort_by)
        sync_rows(self, shown, sort_by=sort_by, sort_key=sort_key, reverse=reverse, resort=resort,
                  changed=changed)
        if reselect is not None and reselect in self.rows:
            self.move_cursor(row=self.get_row_index(reselect))
        return len(shown)

    def refit(self) -> bool:
        """Show the columns that fit the table's width now (all of them when `wide`), the rows
        last given back in them; whether the shown set changed."""
        if not self.priority:
            return False
        before = tuple(column.value for column in self.columns)
        if self._last_rows is not None:
            self.show_rows(**self._last_rows)
        else:
            self._fit(None)
        return tuple(column.value for column in self.columns) != before

    def on_resize(self, _: events.Resize) -> None:
        if self.refit():
            self.post_message(self.ColumnsFitted(self))

    def _measure(self, rows: Rows, changed: Collection[str] | None) -> None:
        widths = self._fit_widths
        for key in rows if changed is None else (key for key in changed if key in rows):
            for column, cell in rows[key].items():
                if column in widths and column not in self._fixed_widths \
                        and (length := cell_len(str(cell))) > widths[column]:
                    widths[column] = length

    def _fit(self, sort_by: str | None) -> str | None:
        """Rebuild the columns if the set that fits changed (the rows go with them: show_rows adds
        them back, sorted); the key of the row the cursor was on, to put it back there."""
        order = tuple(key for key, _ in self.declared)
        if self.wide or self.size.width <= 0:  # not laid out yet: every column until it is
            keys = order
        else:
            keep = (order[0], sort_by) if sort_by in order else (order[0],)
            keys = fit_columns(self._fit_widths, self.size.width - SCROLLBAR_WIDTH, order=order,
                               priority=self.priority, keep=keep)
        if keys == tuple(column.value for column in self.columns):
            return None
        selected = None
        if self.row_count:
            selected = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        self.clear(columns=True)
        labels = dict(self.declared)
        for key in keys:
            self.add_column(labels[key], key=key, width=self._fixed_widths.get(key))
            # Measured already: the columns are drawn at their width at once, not at their label's
            # until the table is next idle (a view under a dialog may not be).
            self.columns[key].content_width = self._fit_widths[key]
        return selected


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
