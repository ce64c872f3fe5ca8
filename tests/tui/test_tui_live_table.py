"""LiveTable (the Models view's table): a cell update repaints its own row only, and what it
paints is exactly what Textual's own DataTable paints after the same updates. Leans on
DataTable's private render caches; this test is what fails if a Textual upgrade changes them."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from huracan_tui.console.widgets.live_table import LiveTable

COLUMNS = ("slot", "sharpe", "hit", "trend")
ROWS = 60  # more than the screen shows: rows below the fold must stay right when scrolled to


class TwoTables(App):
    CSS = "DataTable { height: 1fr; }"
    AUTO_FOCUS = None  # neither table focused: both paint alike

    def compose(self) -> ComposeResult:
        yield DataTable(id="stock", zebra_stripes=True, cursor_type="row")
        yield LiveTable(id="live", zebra_stripes=True, cursor_type="row")

    def on_mount(self) -> None:
        for table in self.query(DataTable):
            for column in COLUMNS:
                table.add_column(column, key=column)
            for row in range(ROWS):
                key = f"SYM{row:03d}"
                sharpe = Text(f"{row / 10:+.2f}", style="green" if row % 3 else "red", justify="right")
                table.add_row(key, sharpe, f"{row % 100}%", "▁▂▃", key=key)


def painted(table: DataTable) -> list[list[tuple[str, object]]]:
    return [[(segment.text, segment.style) for segment in table.render_line(y)]
            for y in range(table.size.height)]


async def test_a_cell_update_repaints_its_row_only_and_paints_what_datatable_paints():
    app = TwoTables()
    async with app.run_test(size=(60, 30)) as pilot:
        stock, live = app.query_one("#stock", DataTable), app.query_one("#live", LiveTable)
        await pilot.pause()
        assert painted(live) == painted(stock)
        rendered: list[tuple] = []
        render_cell = live._render_cell

        def counting(row_index, column_index, *args, **kwargs):
            rendered.append((row_index, column_index))
            return render_cell(row_index, column_index, *args, **kwargs)

        live._render_cell = counting
        for step, (row, column, value) in enumerate([(2, "sharpe", "+9.99"), (3, "trend", "▇▆▅"),
                                                     (2, "hit", "12%"), (40, "sharpe", "-1.00")]):
            rendered.clear()
            for table in (stock, live):
                table.update_cell(f"SYM{row:03d}", column, value)
            await pilot.pause()
            # The repaint came from the caches, bar the updated row's cells.
            repainted_rows = {row_index for row_index, _ in rendered}
            assert repainted_rows <= {row}, f"update {step}: rows {sorted(repainted_rows)} repainted"
            assert painted(live) == painted(stock), f"update {step}"
        assert "+9.99" in "".join(text for line in painted(live) for text, _ in line)
        for table in (stock, live):  # rows below the fold, updated while unseen
            table.move_cursor(row=45)
        await pilot.pause()
        assert painted(live) == painted(stock)
        assert "-1.00" in "".join(text for line in painted(live) for text, _ in line)
        # A value too wide for its column takes DataTable's own path: the column widens.
        for table in (stock, live):
            table.update_cell("SYM045", "slot", "A-MUCH-LONGER-SLOT-NAME", update_width=True)
        await pilot.pause()
        assert painted(live) == painted(stock)
