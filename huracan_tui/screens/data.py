"""The Data view: the latest stored data quality report of every source, one row per issue kind
(after the report's summary row), worst first within a source. Reports get into the brain with
`huracan data validate --store`."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from brain import BrainError
from brain.records import QualityLogRecord
from huracan_tui import formatting as fmt
from huracan_tui.actions import bindings
from huracan_tui.screens.base import HuracanScreen

QUALITY_COLUMNS = (
    ("source", "Source"),
    ("symbol", "Symbol"),
    ("timeframe", "TF"),
    ("kind", "Kind"),
    ("count", "Count"),
    ("severity", "Severity"),
    ("example", "First example"),
)
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


class DataQualityScreen(HuracanScreen):
    BINDINGS = bindings("detail")  # Esc goes back

    def __init__(self) -> None:
        super().__init__()
        self.records: list[QualityLogRecord] | None = None

    def compose(self) -> ComposeResult:
        yield Static(
            "Data quality: the latest report of each source", classes="section-title", id="data-title"
        )
        table = DataTable(id="quality", cursor_type="row", zebra_stripes=True)
        for key, label in QUALITY_COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Static(EMPTY_HINT, id="empty-hint")
        yield Footer()

    def on_mount(self) -> None:
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
        table = self.query_one("#quality", DataTable)
        table.clear()
        for record in self.records:
            table.add_row(*quality_cells(record), key=str(record.id))
        self.query_one("#empty-hint").display = not self.records
        sources = len({record.source for record in self.records})
        self.query_one("#data-title", Static).update(
            f"Data quality: the latest report of each source ({sources} source{'s' if sources != 1 else ''})"
        )

    def action_back(self) -> None:
        self.app.pop_screen()
