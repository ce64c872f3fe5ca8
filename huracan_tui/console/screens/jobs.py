"""The Jobs view: every recent job with its state, progress, device, elapsed time and ETA;
operators cancel the selected one (with a confirmation and a reason for the audit log). Below
the table, the selected job's loss curve (neural training), live while it runs. `/` filters the
jobs by text; Enter shows the selected job's details: params, result, error and timings."""

from __future__ import annotations

from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Static

from brain import BrainError
from brain.records import JobRecord
from huracan_tui.console import formatting as fmt
from huracan_tui.console.actions import bindings
from huracan_tui.console.screens.confirm import ConfirmScreen
from huracan_tui.console.screens.filtered import FilteredScreen, details_panel
from huracan_tui.console.screens.log_table import details_text
from huracan_tui.console.screens.models import job_cells
from huracan_tui.console.widgets.filtered_table import FilteredTable, columns_hint, filter_box, match_line
from huracan_tui.console.widgets.footer import ConsoleFooter
from huracan_tui.console.widgets.loss_chart import LossChart, latest_curve
from huracan_tui.console.widgets.status_bar import StatusBar

JOBS_LISTED = 200
JOB_COLUMNS = (("id", "Job"), ("kind", "Kind"), ("state", "State"), ("progress", "Progress"),
               ("device", "Device"), ("elapsed", "Elapsed"), ("eta", "ETA"), ("message", "Message"))
# What a narrow terminal keeps, most important first (Enter's details show the whole job).
JOB_PRIORITY = ("id", "kind", "state", "progress", "eta", "elapsed", "device", "message")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def timing(job: JobRecord, now: datetime) -> tuple[float | None, float | None]:
    """Elapsed seconds, and the ETA from the rate of progress so far (running jobs only)."""
    if job.started_at is None:
        return None, None
    elapsed = ((job.finished_at or now) - job.started_at).total_seconds()
    if job.state != "running" or not job.progress:
        return elapsed, None
    return elapsed, elapsed * (1 - job.progress) / job.progress


def job_details(job: JobRecord, now: datetime) -> str:
    """Everything the brain knows of one job, for the details panel."""
    elapsed, eta = timing(job, now)

    def when(ts: datetime | None) -> str:
        return "-" if ts is None else f"{ts:%Y-%m-%d %H:%M:%S}"

    where = " ".join(part for part in (job.device, job.worker, f"pid {job.pid}" if job.pid else "") if part)
    return (f"job {job.id}  {job.kind} {job.slot_key or ''}  {job.state} "
            f"{100 * (job.progress or 0):.0f}%  on {where or '-'}\n"
            f"created {when(job.created_at)}  started {when(job.started_at)}  "
            f"finished {when(job.finished_at)}  heartbeat {when(job.heartbeat_at)} (UTC)  ·  "
            f"elapsed {duration(elapsed)}  ETA {duration(eta)}\n"
            f"message: {job.message or '-'}\nerror: {job.error or '-'}\n"
            f"params:\n{details_text(job.params)}\nresult:\n{details_text(job.result)}")


class JobsLoaded(Message):
    def __init__(self, jobs: list[JobRecord]) -> None:
        super().__init__()
        self.jobs = jobs


class JobEventsLoaded(Message):
    def __init__(self, job_id: int, events: list) -> None:
        super().__init__()
        self.job_id = job_id
        self.events = events


class JobsScreen(FilteredScreen):
    BINDINGS = bindings("jobs")
    AUTO_FOCUS = "#all-jobs"
    SHOWS_SNAPSHOT = True  # the app hands it every poll's snapshot (HuracanApp._show)
    FILTER_TABLE = "all-jobs"
    DEFAULT_CSS = """
    JobsScreen #all-jobs {
        height: 1fr;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, JobRecord] = {}
        self.details_job: str | None = None  # the job whose details are open: kept live
        # Events already read, per job: each poll asks the brain only for the steps after them.
        self._events: dict[int, list] = {}

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static("Jobs", classes="section-title", id="jobs-title")
        yield filter_box()
        table = FilteredTable(id="all-jobs", cursor_type="row", zebra_stripes=True)
        table.set_columns(JOB_COLUMNS, priority=JOB_PRIORITY)
        yield table
        yield details_panel()
        yield LossChart(id="loss-chart")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        if self.app.snapshot is not None:
            self.show_snapshot(self.app.snapshot)

    def show_snapshot(self, snapshot) -> None:
        self.query_one(StatusBar).show(self.app.status_line(snapshot))
        self.load_jobs()
        self.refresh_curve()

    def refresh_curve(self) -> None:
        job_id = self.selected_job()
        if job_id is None:
            self.query_one(LossChart).show(None)
            return
        known = self._events.get(job_id, [])
        self.load_events(job_id, known[-1].step if known else None)

    @work(thread=True, exclusive=True, group="loss")
    def load_events(self, job_id: int, after_step: int | None) -> None:
        try:
            events = self.app.brain.job_events(job_id, after_step=after_step)
            self.post_message(JobEventsLoaded(job_id, events))
        except BrainError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error")

    @on(JobEventsLoaded)
    def _show_events(self, message: JobEventsLoaded) -> None:
        known = self._events.setdefault(message.job_id, [])
        last = known[-1].step if known else -1
        # A reply that arrives late (the poll before overlapped it) adds nothing twice.
        known.extend(event for event in message.events if event.step > last)
        if message.job_id == self.selected_job():
            self.query_one(LossChart).show(latest_curve(known))

    @on(DataTable.RowHighlighted, "#all-jobs")
    def _job_highlighted(self, event: DataTable.RowHighlighted) -> None:
        job_id = int(event.row_key.value)
        self.query_one(LossChart).show(latest_curve(self._events.get(job_id, [])))
        self.refresh_curve()

    @work(thread=True, exclusive=True)
    def load_jobs(self) -> None:
        try:
            self.post_message(JobsLoaded(self.app.brain.list_jobs(limit=JOBS_LISTED)))
        except BrainError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error")

    @on(JobsLoaded)
    def _show_jobs(self, message: JobsLoaded) -> None:
        self.jobs = {str(job.id): job for job in message.jobs}
        self.show_filtered()

    def show_filtered(self) -> None:
        now = self.app.clock()
        rows = {}
        for job in self.jobs.values():
            elapsed, eta = timing(job, now)
            cells = job_cells(job)
            rows[str(job.id)] = {
                "id": cells["id"], "kind": cells["kind"], "state": cells["state"],
                "progress": cells["progress"], "device": job.device or "-",
                "elapsed": fmt.right(duration(elapsed)), "eta": fmt.right(duration(eta)),
                "message": cells["message"],
            }
        table = self.query_one("#all-jobs", FilteredTable)
        shown = table.show_rows(rows, sort_by="id", sort_key=lambda cell: int(str(cell)), reverse=True)
        self.query_one("#jobs-title", Static).update(
            match_line("Jobs", shown, len(rows), self.filter_text) + columns_hint(table))
        if self.query_one(f"#{self.DETAILS_ID}").display and self.details_job in self.jobs:
            self.show_details(job_details(self.jobs[self.details_job], now))

    def selected_job(self) -> int | None:
        table = self.query_one("#all-jobs", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(row_key.value)

    @on(DataTable.RowSelected, "#all-jobs")
    def _job_selected(self) -> None:
        self.action_open_job()

    def action_open_job(self) -> None:
        job_id = self.selected_job()
        job = self.jobs.get(str(job_id))
        if job is not None:
            self.details_job = str(job_id)
            self.show_details(job_details(job, self.app.clock()))

    def action_cancel_job(self) -> None:
        job_id = self.selected_job()
        if job_id is None:
            return
        # The record the load_jobs worker read (each refresh reads them again): no brain I/O on the
        # UI thread, and the dialog opens on the key press.
        job = self.jobs.get(str(job_id))
        if job is None:
            return
        if not job.is_active:
            self.notify(f"Job {job_id} is {job.state}: nothing to cancel.", severity="warning")
            return

        def confirmed(reason: str | None) -> None:
            if reason is not None:
                self.app.cancel_job(job_id, reason)
                self.load_jobs()

        what = f"{job.kind} {job.slot_key or ''}".strip()
        self.app.push_screen(ConfirmScreen(f"Cancel job {job_id} ({what}, {job.state})?"), confirmed)

    def action_back(self) -> None:
        if not self.close_details():  # Esc closes the details first, then the view
            self.app.pop_screen()
