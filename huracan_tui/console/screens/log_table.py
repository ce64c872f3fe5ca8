"""What the lifecycle log views (Rollback log, Audit log, Queues) share: one table of brain
records, newest first, read in a thread worker and re-read on the console's refresh interval
(one read at a time, re-armed after each, paused with the console); cells are updated in place;
`/` filters the rows by text; Enter shows the selected record's details; Esc goes back."""

from __future__ import annotations

import json
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Static

from brain import BrainError
from huracan_tui.console.screens.filtered import FilteredScreen
from huracan_tui.console.widgets.filtered_table import FilteredTable, columns_hint, filter_box, match_line
from huracan_tui.console.widgets.footer import ConsoleFooter
from huracan_tui.console.widgets.status_bar import StatusBar


class RecordsLoaded(Message):
    def __init__(self, records: list | None, error: str | None = None) -> None:
        super().__init__()
        self.records = records
        self.error = error


def details_text(values: dict[str, Any] | None) -> str:
    """A record's JSON details, readable in a panel: numbers to 6 significant digits (the full
    values stay in the brain and in `huracan … --json`)."""
    if not values:
        return "(none)"
    return json.dumps(readable(values), indent=2, sort_keys=True, default=str)


def readable(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {key: readable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [readable(item) for item in value]
    return value


class LogTableScreen(FilteredScreen):
    """Subclasses name the table (TITLE, COLUMNS, TABLE_ID) and say how to read the records,
    key them and turn one into cells, and what Enter shows."""

    TITLE_TEXT = ""
    TABLE_ID = "records"
    COLUMNS: tuple[tuple[str, str], ...] = ()
    # Most important first: the columns a narrow terminal keeps (the first one always; `w` shows all).
    COLUMN_PRIORITY: tuple[str, ...] = ()
    DETAILS_ID = "log-details"

    def __init__(self) -> None:
        super().__init__()
        self.FILTER_TABLE = self.TABLE_ID
        self.records: dict[str, Any] = {}
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static(self.TITLE_TEXT, classes="section-title", id="log-title")
        yield filter_box()
        table = FilteredTable(id=self.TABLE_ID, cursor_type="row", zebra_stripes=True)
        table.set_columns(self.COLUMNS, priority=self.COLUMN_PRIORITY)
        yield table
        yield Static("", id="log-details", classes="log-details")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#log-details").display = False
        if self.app.snapshot is not None:
            self.query_one(StatusBar).show(self.app.status_line(self.app.snapshot))
        self.query_one(f"#{self.TABLE_ID}", DataTable).focus()
        self.load()

    # ---- reading -------------------------------------------------------------------------------

    def read(self, brain) -> list:
        raise NotImplementedError

    def key_of(self, record) -> str:
        return str(record.id)

    def cells(self, record) -> dict[str, object]:
        raise NotImplementedError

    def details(self, record) -> str:
        raise NotImplementedError

    @work(thread=True, exclusive=True, group="log-table")
    def load(self) -> None:
        try:
            self.post_message(RecordsLoaded(self.read(self.app.brain)))
        except BrainError as error:
            self.post_message(RecordsLoaded(None, str(error)))

    @on(RecordsLoaded)
    def _loaded(self, message: RecordsLoaded) -> None:
        if message.error is not None:
            self.notify(message.error, title="Brain unreachable", severity="error")
        else:
            self.records = {self.key_of(record): record for record in message.records}
            self.show_records()
        self._rearm()

    def _rearm(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if not self.app.paused:
            self._timer = self.set_timer(self.app.refresh_seconds, self.load)

    def show_records(self) -> None:
        rows = {key: self.cells(record) for key, record in self.records.items()}
        # Newest first: by the record id in the first column (new rows arrive at the end).
        table = self.query_one(f"#{self.TABLE_ID}", FilteredTable)
        shown = table.show_rows(
            rows, sort_by=self.COLUMNS[0][0], sort_key=lambda cell: int(str(cell)), reverse=True)
        total = len(self.records)
        title = match_line(self.TITLE_TEXT, shown, total, self.filter_text)
        self.query_one("#log-title", Static).update(
            (title if total else f"{self.TITLE_TEXT}: nothing yet") + columns_hint(table))

    def selected(self):
        table = self.query_one(f"#{self.TABLE_ID}", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return self.records.get(row_key.value)

    # ---- keys ----------------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open_record()

    def action_open_record(self) -> None:
        record = self.selected()
        panel = self.query_one("#log-details", Static)
        if record is None:
            return
        panel.update(self.details(record))
        panel.display = True

    def show_filtered(self) -> None:
        self.show_records()

    def action_back(self) -> None:
        if self.close_details():  # Esc closes the details first, then the view
            return
        if self._timer is not None:
            self._timer.stop()
        self.app.pop_screen()
