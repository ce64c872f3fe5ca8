"""The Models view: one row per slot with its latest version's out-of-sample metrics, and the
jobs the brain is running (demo, retrains) with their progress."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Input, ProgressBar, Static

from huracan_tui.console import formatting as fmt
from huracan_tui.console.actions import bindings
from huracan_tui.console.screens.base import HuracanScreen
from huracan_tui.console.widgets.heatmap import sparkline
from huracan_tui.console.widgets.live_table import LiveTable
from huracan_tui.console.widgets.status_bar import StatusBar
from scheduler.services.overview import BrainSnapshot

MODEL_COLUMNS = (
    ("slot", "Slot"),
    ("champion", "Champ"),
    ("version", "Latest"),
    ("model", "Model"),
    ("live_sharpe", "Live Sharpe"),
    ("live_hit", "Live hit"),
    ("trend", "Live trend"),
    ("drift", "Drift"),
    ("queue", "Queue"),
    ("sharpe", "Sharpe"),
    ("hit", "Hit rate"),
    ("ic", "IC"),
    ("rmse", "RMSE bps"),
    ("mae", "MAE bps"),
    ("trained", "Trained (UTC)"),
)
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


def slot_cells(slot: dict) -> dict[str, object]:
    """Live numbers of the champion, then the out-of-sample numbers of the champion where the slot
    has one, else of its latest version."""
    champion = slot.get("champion")
    metrics = (slot.get("champion_metrics") if champion else slot.get("metrics")) or {}
    live = slot.get("live") or {}
    # Text, not str: a str cell is parsed as Rich markup by DataTable (slower, and a '[' in a
    # symbol would be taken for a tag).
    return {
        "slot": Text(slot["slot"]),
        "champion": fmt.right(f"v{champion}" if champion else "-"),
        "version": fmt.right(f"v{slot['latest_version']}" if slot.get("latest_version") else "-"),
        "model": Text((slot.get("champion_kind") if champion else slot.get("model_kind")) or "-"),
        "live_sharpe": fmt.signed(live.get("sharpe")),
        "live_hit": fmt.percent(live.get("win_rate")),
        "trend": Text(sparkline(slot.get("live_trend") or []) or "-"),
        "sharpe": fmt.signed(metrics.get("sharpe")),
        "hit": fmt.percent(metrics.get("hit_rate")),
        "ic": fmt.signed(metrics.get("ic"), 3),
        "rmse": fmt.right(fmt.number(metrics.get("rmse"), 1)),
        "mae": fmt.right(fmt.number(metrics.get("mae"), 1)),
        "drift": drift_cell(slot.get("drift")),
        "queue": Text(queue_cell(slot.get("queue") or {})),
        "trained": Text(fmt.timestamp(slot.get("trained_at"))),
    }


def drift_cell(flag: dict | None) -> Text | str:
    """'⚠ 3/12' when features drifted at the newest check (the glyph reads without colour too)."""
    if not flag:
        return Text("-")
    drifted, features = flag["drifted"], flag["features"]
    if not drifted:
        return Text(f"ok 0/{features}", style="green")
    return Text(f"⚠ {drifted}/{features}", style="bold red" if drifted * 2 >= features else "yellow")


def queue_cell(counts: dict[str, int]) -> str:
    return " ".join(f"{queue} {count}" for queue, count in sorted(counts.items()) if count) or "-"


def job_cells(job) -> dict[str, object]:
    style = STATE_STYLES.get(job.state, "").replace("$accent", "yellow")
    return {
        "id": fmt.right(str(job.id)),
        "kind": job.kind if not job.slot_key else f"{job.kind} {job.slot_key}",
        "state": Text(job.state, style=style),
        "progress": fmt.percent(job.progress if job.progress is not None else 0.0),
        "message": job_message(job)[:60],
    }


def job_message(job) -> str:
    if job.state == "succeeded" and job.result and "versions" in job.result:
        stored = job.result["versions"]
        return f"stored {len(stored)} version{'s' if len(stored) != 1 else ''}"
    return job.error or job.message or ""


def sort_key(cell) -> tuple[int, float | str]:
    """Numbers sort as numbers ('+0.74', '52.3%', 'v2'), '-' last, anything else as text."""
    text = str(cell).strip()
    try:
        return (0, float(text.rstrip("%").removeprefix("v")))
    except ValueError:
        return (2, "") if text == "-" else (1, text)


def set_display(widget, shown: bool) -> None:
    """Show or hide, touching the widget (and the layout) only when that changes."""
    if widget.display != shown:
        widget.display = shown


def sync_rows(table: DataTable, rows: dict[str, dict[str, object]], *, sort_by: str | None = None,
              sort_key=None, reverse: bool = False, resort: bool = False,
              synced: dict[str, dict[str, object]] | None = None) -> None:
    """Bring a table in line with `rows` (row key -> {column key: cell}) by touching only what
    changed: new rows are added, gone rows removed, changed cells updated in place. With `synced`
    (the `rows` of the previous call), a row whose cells are the very dict synced then is skipped
    without comparing its cells: a refresh that changed one slot of 500 visits one row."""
    for key in [row_key.value for row_key in table.rows if row_key.value not in rows]:
        table.remove_row(key)
    added = False
    columns = [column.value for column in table.columns]
    for key, cells in rows.items():
        if key not in table.rows:
            table.add_row(*(cells[column] for column in columns), key=key)
            added = True
            continue
        if synced is not None and synced.get(key) is cells:
            continue
        for column, value in cells.items():
            if str(table.get_cell(key, column)) != str(value):
                # Only a wider value re-measures the column; a cell that still fits repaints
                # alone instead of the whole table (tens of ms per refresh at 500 rows).
                wider = cell_len(str(value)) > table.columns[column].content_width
                table.update_cell(key, column, value, update_width=wider)
    if (added or resort) and sort_by is not None:
        table.sort(sort_by, key=sort_key, reverse=reverse)


class ModelsScreen(HuracanScreen):
    BINDINGS = bindings("models")
    AUTO_FOCUS = "#models"

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self.sort_column = "slot"
        self.sort_reverse = False
        self._last_seen: tuple | None = None
        self._heading = ""
        # Per slot: the summary dict its cells were made from, and the cells. The snapshot keeps
        # an unchanged slot's very dict, so its cells are neither formatted nor compared again.
        self._cells: dict[str, tuple[dict, dict[str, object]]] = {}
        self._synced: dict[str, dict[str, object]] = {}

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static("Models", classes="section-title", id="models-title")
        # No blinking: over SSH every blink is traffic.
        filter_box = FilterInput(placeholder="filter rows (Enter keeps it, Esc clears)", id="filter")
        filter_box.cursor_blink = False
        filter_box.display = False
        yield filter_box
        yield Static(
            "This brain has no models yet. Press d to import the bundled market data and train "
            "the demo models.",
            id="empty-hint",
        )
        table = LiveTable(id="models", cursor_type="row", zebra_stripes=True)
        for key, label in MODEL_COLUMNS:
            table.add_column(label, key=key)
        yield table
        with Vertical(id="jobs-panel"):
            yield Static("Jobs", classes="section-title")
            yield ProgressBar(total=1.0, show_eta=False, id="job-progress")
            jobs = DataTable(id="jobs", cursor_type="none", show_cursor=False)
            for key, label in JOB_COLUMNS:
                jobs.add_column(label, key=key)
            yield jobs
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#job-progress").display = False
        self.query_one("#jobs-panel").display = False
        if self.app.snapshot is not None:
            self.show_snapshot(self.app.snapshot, first_frame=True)

    def show_snapshot(self, snapshot: BrainSnapshot, *, resort: bool = False,
                      first_frame: bool = False) -> None:
        """Bring the view in line with `snapshot`. With `first_frame` (the console's start), only
        the rows a screen can show are built: status() lists slots in the default order, by key,
        and the app shows the whole snapshot right after that frame is painted."""
        self.query_one(StatusBar).show(self.app.status_line(snapshot))
        # Most polls find nothing new: comparing plain data is far cheaper than visiting cells.
        seen = (snapshot.slots, snapshot.jobs, self.filter_text, self.sort_column, self.sort_reverse)
        if seen == self._last_seen and not resort:
            return
        self._last_seen = seen
        set_display(self.query_one("#empty-hint"), not snapshot.slots)
        table = self.query_one("#models", DataTable)
        slots = snapshot.slots
        by_key = self.sort_column == "slot" and not self.sort_reverse
        if first_frame and by_key and len(slots) > FIRST_FRAME_ROWS:
            slots, self._last_seen = slots[:FIRST_FRAME_ROWS], None
        rows = {slot["slot"]: self._cells_of(slot) for slot in slots}
        if self.filter_text:
            wanted = self.filter_text.lower()
            rows = {key: cells for key, cells in rows.items()
                    if any(wanted in str(cell).lower() for cell in cells.values())}
        sync_rows(table, rows, sort_by=self.sort_column,
                  sort_key=sort_key, reverse=self.sort_reverse, resort=resort, synced=self._synced)
        self._synced = rows
        shown, total = len(rows), len(snapshot.slots)
        title = "Models" if not self.filter_text else f"Models: {shown} of {total} match '{self.filter_text}'"
        sort = dict(MODEL_COLUMNS)[self.sort_column] + (" ↓" if self.sort_reverse else " ↑")
        heading = f"{title}  ·  sorted by {sort}"
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

    def _cells_of(self, slot: dict) -> dict[str, object]:
        made_from, cells = self._cells.get(slot["slot"], (None, None))
        if made_from is not slot:
            cells = slot_cells(slot)
            self._cells[slot["slot"]] = (slot, cells)
        return cells

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

    def action_filter(self) -> None:
        box = self.query_one("#filter", FilterInput)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        if self.app.snapshot is not None:
            self.show_snapshot(self.app.snapshot)

    @on(Input.Submitted, "#filter")
    def _filter_kept(self) -> None:
        self.query_one("#models", DataTable).focus()

    def clear_filter(self) -> None:
        box = self.query_one("#filter", FilterInput)
        box.value = ""
        box.display = False
        self.filter_text = ""
        self.query_one("#models", DataTable).focus()
        if self.app.snapshot is not None:
            self.show_snapshot(self.app.snapshot)

    def action_sort_next(self) -> None:
        keys = [key for key, _ in MODEL_COLUMNS]
        self.sort_column = keys[(keys.index(self.sort_column) + 1) % len(keys)]
        self._resort()

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._resort()

    def _resort(self) -> None:
        if self.app.snapshot is not None:
            self.show_snapshot(self.app.snapshot, resort=True)

    def action_export(self, fmt: str) -> None:
        self.app.export_table(self.query_one("#models", DataTable), "models", fmt)

    def action_copy_slot(self) -> None:
        slot = self.selected_slot()
        if slot is not None:
            self.app.copy_to_clipboard(slot)
            self.notify(f"Copied {slot}", title="Clipboard")


class FilterInput(Input):
    """Esc clears the filter and hides the box (Input's own Esc does nothing useful here)."""

    BINDINGS = [Binding("escape", "clear", "Clear filter", id="filter-clear")]

    def action_clear(self) -> None:
        self.screen.clear_filter()
