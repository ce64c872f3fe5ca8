"""The Textual console. It holds no state the brain does not have: a worker thread polls the
brain, and each snapshot it reads is handed to the screens. Training runs in worker processes
(scheduler.worker), never in this process, so the UI never blocks on it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from textual import on, work
from textual.app import App
from textual.message import Message
from textual.timer import Timer

from brain import Brain, BrainError
from huracan_tui.actions import bindings
from huracan_tui.screens.demo import DemoOfferScreen
from huracan_tui.screens.detail import ModelDetailScreen
from huracan_tui.screens.help import HelpScreen
from huracan_tui.screens.models import ModelsScreen
from huracan_tui.snapshot import BrainSnapshot, Clock, read_snapshot, utc_now
from scheduler.config import HuracanConfig
from scheduler.executor import start_worker
from scheduler.jobs import demo_job_params
from themes import DEFAULT_THEME, STYLESHEET, THEMES


def brain_label(url: str) -> str:
    """Short enough for a status bar: the SQLite file's name, or PostgreSQL's host and database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:{Path(parsed.database or ':memory:').name}"
    return f"{parsed.get_backend_name()}:{parsed.host or 'localhost'}/{parsed.database}"


class SnapshotReady(Message):
    def __init__(self, snapshot: BrainSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class PollFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class HuracanApp(App):
    TITLE = "Huracan"
    CSS_PATH = str(STYLESHEET)
    BINDINGS = bindings("app")

    def __init__(
        self,
        brain: Brain,
        brain_url: str,
        config: HuracanConfig,
        *,
        demo: bool = False,
        clock: Clock = utc_now,
        worker_log: Path | None = None,
    ) -> None:
        super().__init__()
        self.brain = brain
        self.brain_url = brain_url  # with secrets: worker processes open the brain with it
        self.config = config
        self.clock = clock
        self.worker_log = worker_log
        self.snapshot: BrainSnapshot | None = None
        self._start_demo = demo
        self._demo_offered = False
        self._polling = False
        self._timer: Timer | None = None

    # --- lifecycle and polling ----------------------------------------------------------------

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = DEFAULT_THEME
        self.push_screen(ModelsScreen())
        self.refresh_now()

    def refresh_now(self) -> None:
        if self._polling:  # never overlap polls; the running one re-arms the timer
            return
        if self._timer is not None:
            self._timer.stop()
        self._polling = True
        self._poll()

    @work(thread=True, exclusive=True, group="poll")
    def _poll(self) -> None:
        try:
            self.post_message(SnapshotReady(read_snapshot(self.brain, self.clock)))
        except BrainError as error:
            self.post_message(PollFailed(str(error)))

    def _rearm(self) -> None:
        self._polling = False
        self._timer = self.set_timer(self.config.console.refresh_seconds, self.refresh_now)

    @on(SnapshotReady)
    def _snapshot_ready(self, message: SnapshotReady) -> None:
        first = self.snapshot is None
        self.snapshot = message.snapshot
        for screen in self.screen_stack:
            if isinstance(screen, ModelsScreen):
                screen.show_snapshot(self.snapshot)
        self._rearm()
        if first:
            self._after_first_snapshot()

    @on(PollFailed)
    def _poll_failed(self, message: PollFailed) -> None:
        self.notify(message.error, title="Brain unreachable", severity="error")
        self._rearm()

    def _after_first_snapshot(self) -> None:
        if self._start_demo:
            self.start_demo()
        elif not self.snapshot.slots and not self.snapshot.active_jobs and not self._demo_offered:
            self._demo_offered = True
            self.push_screen(DemoOfferScreen(), self._demo_answered)

    def _demo_answered(self, start: bool | None) -> None:
        if start:
            self.start_demo()

    def status_line(self, snapshot: BrainSnapshot) -> str:
        active = len(snapshot.active_jobs)
        jobs = f"{active} job{'s' if active != 1 else ''} active" if active else "idle"
        return (f"brain {brain_label(self.brain.url)}  ·  {len(snapshot.slots)} slots  ·  {jobs}  ·  "
                f"refreshed {snapshot.taken_at:%H:%M:%S} UTC")

    # --- actions ------------------------------------------------------------------------------

    def start_demo(self) -> None:
        running = [job for job in (self.snapshot.active_jobs if self.snapshot else [])
                   if job.kind == "demo"]
        if running:
            self.notify(f"The demo is already running as job {running[0].id}.")
            return
        job = self.brain.create_job("demo", params=demo_job_params(self.config.training))
        start_worker(self.brain_url, job.id, log_path=self.worker_log)
        self.notify(f"Demo started as job {job.id}: importing data and training in a worker.",
                    title="Demo")
        self.refresh_now()

    def open_slot(self, slot_key: str) -> None:
        self.push_screen(ModelDetailScreen(slot_key))

    def action_demo(self) -> None:
        self.start_demo()

    def action_refresh(self) -> None:
        self.refresh_now()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
