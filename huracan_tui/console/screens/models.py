"""The Models view: one row per slot with its latest version's out-of-sample metrics, and the
jobs the brain is running (demo, retrains) with their progress."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, ProgressBar, Static

from huracan_tui.console import formatting as fmt
from huracan_tui.console.actions import bindings
from huracan_tui.console.export import TypedColumns
from huracan_tui.console.screens.filtered import FilteredScreen
from huracan_tui.console.widgets.filtered_table import SCROLLBAR_WIDTH, columns_hint, filter_box, sync_rows
from huracan_tui.console.widgets.footer import ConsoleFooter
from huracan_tui.console.widgets.slot_table import (
    COLUMN_MEANINGS,
    MODEL_COLUMNS,
    MODEL_VALUES,
    LiveCellRules,
    SlotTable,
)
from huracan_tui.console.widgets.status_bar import StatusBar
from scheduler.services.job_params import what_it_runs
from scheduler.services.overview import BrainSnapshot

JOB_COLUMNS = (
    ("id", "Job"),
    ("kind", "Kind"),
    ("state", "State"),
    ("progress", "Progress"),
    ("message", "Message"),
)
STATE_STYLES = {
    "running": "bold $accent",
    "queued": "dim",
    "succeeded": "green",
    "failed": "bold red",
    "interrupted": "yellow",
    "cancelled": "dim",
}


# Rows built for the console's first frame (no terminal shows more); at hundreds of slots,
# formatting and measuring the others would hold that frame back by a tenth of a second.
FIRST_FRAME_ROWS = 100


def job_cells(job) -> dict[str, object]:
    style = STATE_STYLES.get(job.state, "").replace("$accent", "yellow")
    return {
        "id": fmt.right(str(job.id)),
        "kind": job_kind(job),
        "state": Text(job.state, style=style),
        "progress": fmt.percent(job.progress if job.progress is not None else 0.0),
        "message": job_message(job)[:60],
    }


def job_kind(job) -> str:
    """'train lightgbm · GOOG:1d:fwd_ret_1': the job's kind, what it trains, and its slot."""
    kind = " ".join(part for part in (job.kind, what_it_runs(job.kind, job.params)) if part)
    return f"{kind} · {job.slot_key}" if job.slot_key else kind


def job_message(job) -> str:
    if job.state == "succeeded" and job.result and "versions" in job.result:
        stored = job.result["versions"]
        return f"stored {len(stored)} version{'s' if len(stored) != 1 else ''}"
    return job.error or job.message or ""


# Shown until the user first opens the help (remembered per user): what the rows and columns are.
FIRST_RUN_HINT = ("New here? A row is a slot: a symbol, a timeframe and a target. Its champion is the "
                  "version serving live forecasts; the Live columns score those, Sharpe and Hit rate the "
                  "walk-forward out-of-sample test. ? explains every column (and hides this hint).")

def set_display(widget, shown: bool) -> None:
    """Show or hide, touching the widget (and the layout) only when that changes."""
    if widget.display != shown:
        widget.display = shown


class ModelsScreen(FilteredScreen):
    BINDINGS = bindings("models")
    COLUMN_HELP = tuple((label, COLUMN_MEANINGS[key]) for key, label in MODEL_COLUMNS)  # for `?`
    AUTO_FOCUS = "#models"
    SHOWS_SNAPSHOT = True  # the app hands it every poll's snapshot (HuracanApp._show)
    FILTER_TABLE = "models"

    def __init__(self, *, sort_column: str = "slot", sort_reverse: bool = False) -> None:
        super().__init__()
        # A remembered column this version no longer has falls back to the default order.
        self.sort_column = sort_column if sort_column in dict(MODEL_COLUMNS) else "slot"
        self.sort_reverse = sort_reverse
        self._heading = ""

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static("Models", classes="section-title", id="models-title")
        yield filter_box()
        yield Static(
            "This brain has no models yet. Press d to import the bundled market data and train "
            "the demo models.",
            id="empty-hint",
        )
        hint = Static(FIRST_RUN_HINT, id="first-run-hint")
        hint.display = not self.app.remembered.hint_seen
        yield hint
        yield SlotTable(id="models", cursor_type="row", zebra_stripes=True)
        with Vertical(id="jobs-panel"):
            yield Static("Jobs", classes="section-title")
            yield ProgressBar(total=1.0, show_eta=False, id="job-progress")
            jobs = DataTable(id="jobs", cursor_type="none", show_cursor=False)
            for key, label in JOB_COLUMNS:
                jobs.add_column(label, key=key)
            yield jobs
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#job-progress").display = False
        self.query_one("#jobs-panel").display = False
        if self.app.snapshot is not None:
            self.show_snapshot(self.app.snapshot, first_frame=True)

    def show_snapshot(self, snapshot: BrainSnapshot, *, resort: bool = False,
                      first_frame: bool = False) -> None:
        """Bring the view in line with `snapshot`. With `first_frame` (the console's start), only
        the rows a screen can show are built: the overview lists slots in the default order, by
        key, and the app shows the whole snapshot right after that frame is painted."""
        self.query_one(StatusBar).show(self.app.status_line(snapshot))
        set_display(self.query_one("#empty-hint"), not snapshot.slots)
        slots = snapshot.slots
        by_key = self.sort_column == "slot" and not self.sort_reverse
        if first_frame and by_key and len(slots) > FIRST_FRAME_ROWS:
            slots = slots[:FIRST_FRAME_ROWS]
        console = self.app.config.console
        table = self.query_one("#models", SlotTable)
        shown = table.show_slots(
            slots, sort_by=self.sort_column, reverse=self.sort_reverse, resort=resort, now=snapshot.taken_at,
            rules=LiveCellRules(console.min_live_samples, console.stale_after_bars),
            width=self.app.size.width - SCROLLBAR_WIDTH)
        title = ("Models" if not self.filter_text
                 else f"Models: {shown} of {len(snapshot.slots)} match '{self.filter_text}'")
        sort = dict(MODEL_COLUMNS)[self.sort_column] + (" ↓" if self.sort_reverse else " ↑")
        heading = f"{title}  ·  sorted by {sort}{columns_hint(table)}"
        if heading != self._heading:  # an unchanged heading must not cost a layout pass
            self._heading = heading
            self.query_one("#models-title", Static).update(heading)
        set_display(self.query_one("#jobs-panel"), bool(snapshot.jobs))
        sync_rows(self.query_one("#jobs", DataTable), {str(job.id): job_cells(job) for job in snapshot.jobs},
                  sort_by="id", sort_key=lambda cell: int(str(cell)), reverse=True)
        running = [job for job in snapshot.jobs if job.state == "running"]
        bar = self.query_one("#job-progress", ProgressBar)
        set_display(bar, bool(running))
        if running:
            bar.update(progress=running[0].progress or 0.0)

    def show_filtered(self) -> None:
        if self.app.snapshot is not None:
            self.show_snapshot(self.app.snapshot)

    def on_resize(self) -> None:
        self.show_filtered()  # the columns that fit the new width

    def action_toggle_wide(self) -> None:
        table = self.query_one("#models", SlotTable)
        table.wide = not table.wide
        self.show_filtered()

    def selected_slot(self) -> str | None:
        table = self.query_one("#models", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def action_open_slot(self) -> None:
        slot = self.selected_slot()
        if slot is not None:
            self.app.open_slot(slot)

    @on(DataTable.RowSelected, "#models")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.open_slot(event.row_key.value)

    def action_demo(self) -> None:
        self.app.start_demo()

    def action_sort_next(self) -> None:
        keys = [key for key, _ in MODEL_COLUMNS]
        self.sort_column = keys[(keys.index(self.sort_column) + 1) % len(keys)]
        self._resort()

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._resort()

    def _resort(self) -> None:
        self.app.remember(sort_column=self.sort_column, sort_reverse=self.sort_reverse)
        if self.app.snapshot is not None:
            self.show_snapshot(self.app.snapshot, resort=True)

    def action_export(self, fmt: str) -> None:
        table = self.query_one("#models", SlotTable)  # typed values from the overviews behind the rows
        self.app.export_table(table, "models", fmt, TypedColumns(MODEL_VALUES, table.overview, MODEL_COLUMNS))

    def action_copy_slot(self) -> None:
        slot = self.selected_slot()
        if slot is not None:
            self.app.copy_to_clipboard(slot)
            self.notify(f"Copied {slot}", title="Clipboard")
