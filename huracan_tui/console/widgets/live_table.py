"""A DataTable whose cell updates repaint their own row only, and whose new rows are measured
cheaply.

DataTable.update_cell bumps a table-wide update counter that every one of its render caches is
keyed by, so one changed cell re-renders every visible row: at 15 columns and 40 rows that is
hundreds of cells, tens of milliseconds of the event loop, for a single new number. Here a cell
update drops the cache entries of its own row and refreshes that row's region; the other rows
are painted from their caches. A cell that needs a wider column still takes the stock path (every
column to the right moves).

Adding rows, DataTable measures every new cell with Rich's generic measure; for one line of Text
that is its cell length, which is what is used here (500 slots × 15 columns took a tenth of a
second of the console's start).

It leans on DataTable's private caches, so pyproject pins Textual's major version and
tests/tui/test_tui_live_table.py fails if their shape changes."""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from rich.text import Text
from textual.render import measure
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, CellType, ColumnKey, RowKey


class LiveTable(DataTable):
    def update_cell(self, row_key: RowKey | str, column_key: ColumnKey | str, value: CellType, *,
                    update_width: bool = False) -> None:
        if update_width:
            super().update_cell(row_key, column_key, value, update_width=True)
            return
        row_key = RowKey(row_key) if isinstance(row_key, str) else row_key
        column_key = ColumnKey(column_key) if isinstance(column_key, str) else column_key
        if row_key not in self._row_locations or column_key not in self._column_locations:
            raise CellDoesNotExist(f"No cell exists for row_key={row_key!r}, column_key={column_key!r}.")
        self._data[row_key][column_key] = value
        self._forget_row(row_key)
        self.refresh_row(self._row_locations.get(row_key))

    def _forget_row(self, row_key: RowKey) -> None:
        """Drop what the render caches hold for one row. Cell and row caches are keyed by the row
        key first; row renderables by (update count, row index); lines by screen line, so that
        small cache (lines are assembled from the row cache) is emptied."""
        index = self._row_locations.get(row_key)
        for cache, stale in ((self._cell_render_cache, lambda key: key[0] == row_key),
                             (self._row_render_cache, lambda key: key[0] == row_key),
                             (self._row_renderable_cache, lambda key: key[1] == index)):
            for key in [key for key in cache.keys() if stale(key)]:
                cache.discard(key)
        self._line_cache.clear()

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Widen columns for new one-line, unlabelled rows here; DataTable's own pass handles the
        rest (labels, auto height) and then re-sizes the table."""
        others = []
        console, columns = self.app.console, self.ordered_columns
        for row_key in new_rows:
            row, index = self.rows.get(row_key), self._row_locations.get(row_key)
            if row is None or index is None:
                continue  # removed before the table was idle
            if row.label is not None or row.auto_height:
                others.append(row_key)
                continue
            _, cells = self._get_row_renderables(index)
            for column, cell in zip(columns, cells, strict=False):
                width = _one_line_width(cell)
                if width is None:
                    width = measure(console, cell, 1)
                if width > column.content_width:
                    column.content_width = width
        super()._update_dimensions(others)


def _one_line_width(cell) -> int | None:
    """What Rich measures as the widest line of a one-line Text; None for anything else."""
    if isinstance(cell, Text) and "\n" not in cell.plain and "\t" not in cell.plain:
        return cell_len(cell.plain)
    return None
