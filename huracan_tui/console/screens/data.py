"""The Data view: the latest stored data quality report of every source, one row per issue kind
(after the report's summary row), worst first within a source. Reports get into the brain with
`huracan data validate --store`. `/` filters the rows by text; Enter shows the selected row's
whole record (the full source path, the example, the report's details)."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Static

from brain import BrainError
from brain.records import QualityLogRecord
from huracan_tui.console import formatting as fmt
from huracan_tui.console.actions import bindings
from huracan_tui.console.screens.filtered import FilteredScreen, details_panel
from huracan_tui.console.screens.log_table import details_text
from huracan_tui.console.widgets.filtered_table import FilteredTable, columns_hint, filter_box, match_line
from huracan_tui.console.widgets.footer import ConsoleFooter
from huracan_tui.console.widgets.status_bar import StatusBar

QUALITY_COLUMNS = (
    ("source", "Source"),
    ("symbol", "Symbol"),
    ("timeframe", "TF"),
    ("kind", "Kind"),
    ("count", "Count"),
    ("severity", "Severity"),
    ("example", "First example"),
)
QUALITY_PRIORITY = ("source", "symbol", "timeframe", "kind", "severity", "count", "example")
SEVERITY_STYLES = {"error": "bold red", "warning": "yellow", "info": "", "ok": "green"}
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2, "ok": 3}
_SOURCE_WIDTH = 36
EMPTY_HINT = "No data quality reports yet: run `huracan data validate --data FILE --store`."


class QualityReportsLoaded(Message):
    def __init__(self, records: list[QualityLogRecord], error: str | None = None) -> None:
        super().__init__()
        self.records = records
        self.error = error


def short_source(source: str) -> str:
    """The end of a long path is the part that tells files apart."""
    return source if len(source) <= _SOURCE_WIDTH else "…" + source[-(_SOURCE_WIDTH - 1) :]


def ordered(records: list[QualityLogRecord]) -> list[QualityLogRecord]:
    """By source; each source's summary row first, then its issues, errors before warnings."""
    return sorted(
        records, key=lambda r: (r.source, r.kind != "summary", _SEVERITY_ORDER.get(r.severity, 9), r.id)
    )


def quality_details(record: QualityLogRecord) -> str:
    where = " ".join(part for part in (record.symbol, record.timeframe) if part) or "-"
    return (f"{record.source}\n{where}  calendar {record.calendar}  ·  report of "
            f"{record.ts:%Y-%m-%d %H:%M:%S} UTC\n{record.kind}: {record.count:,} ({record.severity})\n"
            f"example: {record.example or '-'}\n{details_text(record.details)}")


def quality_cells(record: QualityLogRecord) -> tuple[object, ...]:
    return (
        short_source(record.source),
        record.symbol or "-",
        record.timeframe or "-",
        Text(record.kind, style="bold" if record.kind == "summary" else ""),
        fmt.right(f"{record.count:,}"),
        Text(record.severity, style=SEVERITY_STYLES.get(record.severity, "")),
        record.example or "",
    )


class DataQualityScreen(FilteredScreen):
    BINDINGS = bindings("data")
    AUTO_FOCUS = "#quality"
    FILTER_TABLE = "quality"

    def __init__(self) -> None:
        super().__init__()
        self.records: list[QualityLogRecord] | None = None
        self._full_sources: dict[str, str] = {}  # shown (shortened) source -> its full path

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static(
            "Data quality: latest per source", classes="section-title", id="data-title"
        )
        yield filter_box()
        table = FilteredTable(id="quality", cursor_type="row", zebra_stripes=True)
        table.set_columns(QUALITY_COLUMNS, priority=QUALITY_PRIORITY)
        yield table
        yield Static(EMPTY_HINT, id="empty-hint")
        yield details_panel()
        yield ConsoleFooter()

    def on_mount(self) -> None:
        if self.app.snapshot is not None:
            self.query_one(StatusBar).show(self.app.status_line(self.app.snapshot))
        self.query_one("#empty-hint").display = False
        self.load_reports()

    @work(thread=True, exclusive=True)
    def load_reports(self) -> None:
        try:
            records = self.app.brain.list_quality_reports(latest=True, limit=5000)
        except BrainError as error:
            self.post_message(QualityReportsLoaded([], str(error)))
            return
        self.post_message(QualityReportsLoaded(records))

    @on(QualityReportsLoaded)
    def _show_reports(self, message: QualityReportsLoaded) -> None:
        if message.error is not None:
            self.notify(message.error, title="Brain unreachable", severity="error")
            return
        self.records = ordered(message.records)
        self.query_one("#empty-hint").display = not self.records
        self.show_filtered()

    def show_filtered(self) -> None:
        records = self.records or []
        columns = [key for key, _ in QUALITY_COLUMNS]
        rows = {str(record.id): dict(zip(columns, quality_cells(record), strict=True)) for record in records}
        self._full_sources = {short_source(record.source): record.source for record in records}
        table = self.query_one("#quality", FilteredTable)
        shown = table.show_rows(rows)
        # Rows a cleared filter brings back arrive at the end: put them back in their place.
        table.sort("source", "kind", "severity", key=self._order)
        sources = len({record.source for record in records})
        plural = "s" if sources != 1 else ""
        # Short, so that at 80 columns the "+N columns" hint fits beside it.
        title = f"Data quality: latest per source ({sources} source{plural})"
        self.query_one("#data-title", Static).update(
            match_line(title, shown, len(rows), self.filter_text) + columns_hint(table))

    def _order(self, cells: tuple) -> tuple:
        """`ordered`'s order, told from the cells (a stable sort keeps ids in order within a kind)."""
        source, kind, severity = (str(cell) for cell in cells)
        # Sources by their full path, as `ordered` sorts them; the table shows a shortened one.
        return self._full_sources.get(source, source), kind != "summary", _SEVERITY_ORDER.get(severity, 9)

    def selected(self) -> QualityLogRecord | None:
        table = self.query_one("#quality", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return next((record for record in self.records or [] if str(record.id) == row_key.value), None)

    @on(DataTable.RowSelected, "#quality")
    def _row_selected(self) -> None:
        self.action_open_record()

    def action_open_record(self) -> None:
        record = self.selected()
        if record is not None:
            self.show_details(quality_details(record))

    def action_back(self) -> None:
        if not self.close_details():  # Esc closes the details first, then the view
            self.app.pop_screen()
