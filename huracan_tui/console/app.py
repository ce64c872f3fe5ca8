"""The Textual console. It holds no state the brain does not have: a worker thread polls the
brain, and each snapshot it reads is handed to the screens. Training runs in worker processes
(scheduler.daemon.worker), never in this process, so the UI never blocks on it.

Every action is in the registry (huracan_tui.console.actions) and every one passes one gate,
`allows`, whether it comes from a key, the command palette or the `:` command line."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from textual import actions, events, on, work
from textual.app import App
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import Input

from brain import Brain, BrainError, RequestRecord
from brain.identity import current_actor
from huracan_tui.console.actions import (
    AUDIT_NAMES,
    CHANGES_THINGS,
    DESCRIPTIONS,
    Action,
    action_name,
    bindings,
)
from huracan_tui.console.notification_log import NotificationLog
from huracan_tui.console.notifications import events_between
from huracan_tui.console.palette import ActionsProvider
from huracan_tui.console.prompt import PromptError, parse_prompt
from huracan_tui.console.screens.demo import DemoOfferScreen
from huracan_tui.console.screens.help import HelpScreen, scope_of
from huracan_tui.console.screens.models import ModelsScreen
from huracan_tui.console.screens.prompt import PromptScreen
from huracan_tui.console.screens.slot_view import push_slot_view
from huracan_tui.console.state_file import (
    RememberedState,
    StateFileError,
    default_state_path,
    read_state,
    write_state,
)
from huracan_tui.console.status_line import StatusPart, fit_status, home_short
from huracan_tui.console.widgets.disconnected import DisconnectedBanner, retry_seconds
from huracan_tui.console.widgets.status_bar import StatusBar
from scheduler.config import HuracanConfig
from scheduler.services.overview import BrainSnapshot, Clock, read_snapshot, utc_now
from scheduler.services.requests import submit_request
from scheduler.services.roles import effective_role
from scheduler.services.worker_process import start_worker
from themes import STYLESHEET, THEME_NAMES, THEMES

if TYPE_CHECKING:
    from huracan_tui.console.export import TypedColumns

# The views not on screen at the start (Data, Jobs, Replay, the exports) are imported when first
# opened: the first paint waits for every module imported here.

MIN_REFRESH_SECONDS = 0.25
MAX_REFRESH_SECONDS = 300.0


def clamp_refresh(seconds: float) -> float:
    return min(MAX_REFRESH_SECONDS, max(MIN_REFRESH_SECONDS, seconds))


def brain_label(url: str) -> str:
    """Which brain: the SQLite file's path (absolute, the home directory as `~`; the status bar
    shortens it from the left where the line is too wide), or PostgreSQL's host and database
    (never its user or password)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ":memory:"
        if database == ":memory:":
            return "sqlite::memory:"
        # A read-only opening is `sqlite:///file:PATH?mode=ro&uri=true`: the file is after `file:`.
        if parsed.query.get("uri") == "true":
            database = database.removeprefix("file:")
        return f"sqlite:{home_short(Path(database))}"
    return f"{parsed.get_backend_name()}:{parsed.host or 'localhost'}/{parsed.database}"


class SnapshotReady(Message):
    def __init__(self, snapshot: BrainSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class PollFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class RequestFinished(Message):
    """An operator request this console made was carried out, failed or was refused."""

    def __init__(self, request: RequestRecord, on_done: Callable[[RequestRecord], None] | None) -> None:
        super().__init__()
        self.request = request
        self.on_done = on_done


# The title of a done request's toast where it is not "<action>: done".
DONE_TITLES = {"demo": "Demo"}
# Done requests whose effect the next poll announces (a champion changed, a rollback, a job
# ended), whoever asked: a toast of their own would tell the same event twice.
ANNOUNCED_BY_POLL = frozenset({"promote", "rollback", "cancel_job"})



def feeds_text(feeds) -> str:
    """The live loop's feeds in a few words: a failing one by name with its reason, else how
    many run and how many ended ('feeds: 2 running, 1 ended'); empty without feeds."""
    failing = [feed for feed in feeds if feed.state == "failing"]
    if failing:
        first = failing[0]
        more = f" (+{len(failing) - 1} more)" if len(failing) > 1 else ""
        return f"feed {first.symbol} {first.timeframe} FAILING: {first.detail}{more}"
    counts = {state: sum(feed.state == state for feed in feeds) for state in ("running", "ended")}
    parts = [f"{count} {state}" for state, count in counts.items() if count]
    return f"feeds: {', '.join(parts)}" if parts else ""


def undeliverable_text(count: int) -> str:
    """Alerts no sink got after every retry ('2 alerts UNDELIVERABLE'); empty with none."""
    return f"{count} alert{'s' if count != 1 else ''} UNDELIVERABLE" if count else ""


class HuracanApp(App):
    TITLE = "Huracan"
    CSS_PATH = str(STYLESHEET)
    BINDINGS = bindings("app")
    COMMANDS = App.COMMANDS | {ActionsProvider}

    def __init__(
        self,
        brain: Brain,
        brain_url: str,
        config: HuracanConfig,
        *,
        demo: bool = False,
        read_only: bool = False,
        clock: Clock = utc_now,
        worker_log: Path | None = None,
        identity: tuple[str, str | None] | None = None,
        acting_as: str | None = None,
        snapshot: BrainSnapshot | None = None,
        after_first_paint: Callable[[], None] | None = None,
        state_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.brain = brain
        self.brain_url = brain_url  # with secrets: worker processes open the brain with it
        self.config = config
        self.clock = clock
        self.worker_log = worker_log
        self.user, self.origin = identity or current_actor()
        # `--as NAME` (an SSH forced command on a shared account): NAME acts, bounded by the account.
        self.account: str | None = None
        if acting_as is not None:
            self.account, self.user = self.user, acting_as
        self.role = effective_role(brain, config, self.user, read_only=read_only, account=self.account)
        # Read before the app starts (huracan-tui does), the first frame already shows the slots:
        # no empty frame first, and the read does not compete with Textual's start for the GIL.
        self.snapshot: BrainSnapshot | None = snapshot
        # Theme, sort and refresh interval as this user left them (over the config's defaults).
        self.state_path = state_path or default_state_path()
        self._state_warning: str | None = None
        try:
            self.remembered = read_state(self.state_path)
        except StateFileError as error:
            self.remembered, self._state_warning = RememberedState(), str(error)
        self.refresh_seconds = (clamp_refresh(self.remembered.refresh_seconds)
                                if self.remembered.refresh_seconds else config.console.refresh_seconds)
        self.paused = False
        self._start_demo = demo
        self._after_first_paint = after_first_paint  # huracan-tui starts its leader here
        self._demo_offered = False
        self._polling = False
        self._timer: Timer | None = None
        self.unreachable_since = None  # when polls started failing; None while they succeed
        self._failed_polls = 0
        self._denials_unwritten: set[threading.Event] = set()  # refusals whose audit row is on its way
        self._queued_jobs: set[int] = set()  # jobs this console's requests queued, no poll has seen yet
        self.notification_log = NotificationLog()  # every toast shown: the Notifications view (N)
        self._held_toasts: list[dict] = []  # raised while a dialog's input is typed in: shown after it
        self._ui_thread: int | None = None  # notify's callers on other threads log on this one
        for theme in THEMES:
            self.register_theme(theme)
        # Set before mounting: the theme is applied with the first styling pass instead of
        # restyling every widget again once they are up.
        remembered_theme = self.remembered.theme
        self.theme = remembered_theme if remembered_theme in THEME_NAMES else config.console.theme

    # --- lifecycle and polling ----------------------------------------------------------------

    def get_default_screen(self) -> ModelsScreen:
        # The Models view is the app's first screen itself, not pushed over an empty one: one
        # screen to compose and style before the first frame.
        return ModelsScreen(sort_column=self.remembered.sort_column or "slot",
                            sort_reverse=self.remembered.sort_reverse)

    def on_mount(self) -> None:
        self._ui_thread = threading.get_ident()
        self.screen_change_signal.subscribe(self, self._screen_changed)
        if self.config.console.keymap:
            self.set_keymap(self.config.console.keymap)
        if self._state_warning:
            self.notify(f"{self._state_warning}; starting with the defaults", title="Remembered settings",
                        severity="warning")
        # Whichever way the theme changed (`:theme`, the palette's theme picker), it is remembered.
        self.theme_changed_signal.subscribe(self, lambda theme: self.remember(theme=theme.name))
        if self.snapshot is None:
            self.refresh_now()
        else:
            self._rearm()
            self.call_after_refresh(self._first_frame_painted)

    def _first_frame_painted(self) -> None:
        self._show(self.snapshot)  # the rows the first frame left out
        self._after_first_snapshot()

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
            self.post_message(SnapshotReady(read_snapshot(self.brain, self.clock, previous=self.snapshot)))
        except BrainError as error:
            self.post_message(PollFailed(str(error)))

    def _rearm(self, delay: float | None = None) -> None:
        self._polling = False
        if not self.paused:
            self._timer = self.set_timer(delay or self.refresh_seconds, self.refresh_now)

    @on(SnapshotReady)
    def _snapshot_ready(self, message: SnapshotReady) -> None:
        if not self.is_running:
            # Shutting down: screens are losing their widgets; a poll that lands now shows nothing.
            return
        if self.unreachable_since is not None:
            self._reconnected()
        first = self.snapshot is None
        if not first:
            self._announce(self.snapshot, message.snapshot)
        self.snapshot = message.snapshot
        self._show(self.snapshot)
        self._rearm()
        if first:
            self._after_first_snapshot()

    def _announce(self, before: BrainSnapshot, after: BrainSnapshot) -> None:
        """A toast for each event since the last poll, whoever caused it (this console, a leader,
        another operator): jobs ended, drift flags turned on or off, champions changed, rollbacks,
        queue items. Changes of state only, so a quiet brain stays quiet."""
        for event in events_between(before, after, queued_since=self._queued_jobs):
            self.notify(event.message, title=event.title, severity=event.severity)
        # Seen now: active ones are in the next `before`, ended ones were just told.
        self._queued_jobs -= {job.id for job in after.jobs}

    # --- toasts and their log -----------------------------------------------------------------

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast, whoever raises it (a poll's events, an action, a screen), is logged for the
        Notifications view at once; while a dialog's text input has the focus (the `:` prompt, a
        reason being typed) the toast itself waits until the dialog closes, never drawn over what
        is being typed. Thread-safe like Textual's: a worker's toast is logged on the UI thread."""
        if self._ui_thread is not None and threading.get_ident() != self._ui_thread:
            self.call_later(self.notify, message, title=title, severity=severity, timeout=timeout,
                            markup=markup)
            return
        self.notification_log.add(self.clock(), severity, title, message)
        self._show_notification_log()
        toast = {"message": message, "title": title, "severity": severity, "timeout": timeout,
                 "markup": markup}
        if self._typing():
            self._held_toasts.append(toast)
        else:
            super().notify(**toast)

    def _typing(self) -> bool:
        """A dialog is up with its text input focused: a toast would cover what is typed (at 80×24
        the prompt's input is where toasts are drawn). Held, rather than moved, as the only place
        Textual puts toasts is the screen's bottom-right corner, where the prompt sits."""
        screen = self.screen_stack[-1] if self.screen_stack else None
        return isinstance(screen, ModalScreen) and isinstance(screen.focused, Input)

    def _screen_changed(self, screen: Screen) -> None:
        # After the refresh: a dialog just pushed has focused its input by then (still typing).
        if self._held_toasts:
            self.call_after_refresh(self._release_toasts)

    def _release_toasts(self) -> None:
        if self._typing():
            return
        held, self._held_toasts = self._held_toasts, []
        for toast in held:
            super().notify(**toast)

    def _show_notification_log(self) -> None:
        from huracan_tui.console.screens.notifications import NotificationsScreen

        for screen in self.screen_stack:
            if isinstance(screen, NotificationsScreen) and screen.is_mounted:
                screen.load()

    def remember(self, **changes) -> None:
        """Keep a changed setting for this user's next start (fields of RememberedState)."""
        state = replace(self.remembered, **changes)
        if state == self.remembered:
            return
        self.remembered = state
        try:
            write_state(self.state_path, state)
        except OSError as error:  # the console goes on; only the next start forgets
            self.notify(f"{self.state_path}: not written ({error})", title="Remembered settings",
                        severity="warning")

    def _show(self, snapshot: BrainSnapshot) -> None:
        self._show_status(snapshot)
        for screen in self.screen_stack:
            # A screen still composing shows app.snapshot from its own on_mount instead.
            if getattr(screen, "SHOWS_SNAPSHOT", False) and screen.is_mounted:
                screen.show_snapshot(snapshot)

    def _show_status(self, snapshot: BrainSnapshot) -> None:
        """The one status line, on every view in the stack after every poll: the one on top and
        those under it (back on them, the clock is not stale). One line for all, fitted once."""
        line = self.status_line(snapshot)
        for screen in self.screen_stack:
            if screen.is_mounted:
                for bar in screen.query(StatusBar):
                    bar.show(line)

    def on_resize(self, event: events.Resize) -> None:
        # The line is fitted to the width: a narrower terminal drops parts of it, a wider one
        # gets them back, without waiting for the next poll (none comes while paused).
        if self.snapshot is not None:
            self.call_after_refresh(self._show_status, self.snapshot)

    @on(PollFailed)
    def _poll_failed(self, message: PollFailed) -> None:
        """A banner (not a toast per failure) while the brain is away; polls back off."""
        if not self.is_running:  # shutting down: nothing left to show it on
            return
        self._failed_polls += 1
        self.unreachable_since = self.unreachable_since or self.clock()
        every = retry_seconds(self.refresh_seconds, self._failed_polls)
        for screen in self.screen_stack:
            bars = list(screen.query(StatusBar)) if screen.is_mounted else []
            if not bars:
                continue
            banners = list(screen.query(DisconnectedBanner))
            banner = banners[0] if banners else DisconnectedBanner(id="disconnected")
            if not banners:
                screen.mount(banner, after=bars[0])
            banner.show(self.unreachable_since, every, message.error)
        self._rearm(every)

    def _reconnected(self) -> None:
        self.unreachable_since, self._failed_polls = None, 0
        for screen in self.screen_stack:
            for banner in screen.query(DisconnectedBanner):
                banner.remove()

    def _after_first_snapshot(self) -> None:
        if self._after_first_paint is not None:
            try:
                self._after_first_paint()
            except (BrainError, OSError) as error:  # the console goes on; the banner tells of the brain
                self.notify(f"No scheduler was started beside the console: {error}", severity="warning")
        if self._start_demo:
            self.start_demo()
        elif (not self.snapshot.slots and not self.snapshot.active_jobs and not self._demo_offered
              and self.role == "operator"):
            self._demo_offered = True
            self.push_screen(DemoOfferScreen(), self._demo_answered)

    def _demo_answered(self, start: bool | None) -> None:
        if start:
            self.start_demo()

    def status_line(self, snapshot: BrainSnapshot, width: int | None = None) -> str:
        """The status bar's line in `width` characters (default: the terminal's, less the bar's
        padding). Where it does not fit, parts give way in this order: the refresh interval (never
        PAUSED), the brain's path from its left, the user's name (the role stays), the slot count,
        the feeds, a failing feed's reason and the count of undeliverable alerts, the leader, the
        jobs, and the brain last."""
        width = self.size.width - 2 if width is None else width
        active = len(snapshot.active_jobs)
        jobs = f"{active} job{'s' if active != 1 else ''} active" if active else "idle"
        role = "READ-ONLY" if self.role == "viewer" else "OPERATOR"
        refreshed = f"refreshed {snapshot.taken_at:%H:%M:%S} UTC"
        if self.paused:
            fresh = StatusPart(f"{refreshed} (PAUSED)")
        else:
            fresh = StatusPart(f"{refreshed} (every {self.refresh_seconds:g}s)", drop=9, short=refreshed)
        brain = f"brain {brain_label(self.brain.url)}"
        feeds = feeds_text(snapshot.feeds)
        failing = any(feed.state == "failing" for feed in snapshot.feeds)
        lost = snapshot.alerts.undeliverable
        return fit_status([
            StatusPart(brain, drop=1, shrink=8, keep=brain.index(":") + 1),
            StatusPart(f"leader: {snapshot.leader.label}" if snapshot.leader else "no leader", drop=3),
            StatusPart(feeds, drop=4 if failing else 5, short="feed FAILING" if failing else ""),
            StatusPart(undeliverable_text(lost), drop=4, short=f"{lost} undelivered" if lost else ""),
            StatusPart(f"{self.user} {role}", drop=7, short=role),
            StatusPart(f"{len(snapshot.slots)} slots", drop=6),
            StatusPart(jobs, drop=2),
            fresh,
        ], width)

    # --- the one gate -------------------------------------------------------------------------

    def allows(self, action: str) -> bool:
        """Viewers may look, never act: actions that change things are for operators only."""
        return self.role == "operator" or action_name(action) not in CHANGES_THINGS

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # False hides a viewer's changing keys from the footer (room for the ones they can use);
        # a press still reaches run_action below, which refuses it aloud.
        return self.allows(action)

    async def run_action(self, action, default_namespace=None, namespaces=None) -> bool:
        """Every key, palette entry and `:` command ends here: a viewer's action that changes
        things is refused with a toast and a 'denied' row in the audit log, never silently."""
        name = (action[1] if isinstance(action, tuple) else actions.parse(action)[1])
        if not self.allows(name):
            self.deny(name)
            return True  # handled: the key goes no further
        return await super().run_action(action, default_namespace, namespaces)

    def action_is_available(self, action: Action) -> bool:
        return self.allows(action.action)

    def run_registered_action(self, action: Action) -> None:
        """Run a registry action from the palette: screen actions on the screen that binds them."""
        if not self.allows(action.action):
            self.deny(action.id)
            return
        target = "app" if action.scope == "app" else "screen"
        self.call_later(self.run_action, f"{target}.{action.action}")

    def deny(self, what: str) -> None:
        """Refuse a viewer's action aloud, in its own words, and audit it with the slot in view."""
        from huracan_tui.console.screens.slot_view import slot_in_view

        said = DESCRIPTIONS.get(what, what)
        what = AUDIT_NAMES.get(what, what)
        self.notify(f"{said}: needs the operator role (you are a viewer)", severity="warning",
                    title="Read-only")
        written = threading.Event()
        self._denials_unwritten = {event for event in self._denials_unwritten if not event.is_set()}
        self._denials_unwritten.add(written)
        self._audit_denial(what, slot_in_view(self) if self.snapshot else None, written)

    @work(thread=True, group="audit")
    def _audit_denial(self, what: str, target: str | None, written: threading.Event) -> None:
        """The refusal's audit row, written off the UI thread (the brain may be slow or away)."""
        try:
            details = {"role": self.role, **({"account": self.account} if self.account else {})}
            self.brain.audit(what, actor=self.user, origin=self.origin, target=target, outcome="denied",
                             details=details)
        except BrainError as error:
            self.call_from_thread(self.notify, str(error), title=f"{what}: not audited", severity="error")
        finally:
            written.set()

    async def on_unmount(self) -> None:
        # A refusal just before quitting still lands in the audit log: its thread outlives the
        # worker, which Textual has cancelled by now, so wait for the rows themselves.
        unwritten = list(self._denials_unwritten)
        await asyncio.to_thread(lambda: [event.wait(10) for event in unwritten])

    # --- actions ------------------------------------------------------------------------------

    def start_demo(self, *, asked: bool = False) -> None:
        """An operator request like any other (the leader checks the role again); the demo job
        it creates trains in a worker process. On a brain with models (`d`, or `--demo`) it asks
        first: the demo would train every demo slot again."""
        if not self.allows("demo"):
            self.deny("demo.start")
            return
        running = [job for job in (self.snapshot.active_jobs if self.snapshot else [])
                   if job.kind == "demo"]
        if running:  # the handler refuses it too; the console knows already, from its snapshot
            self.notify(f"The demo is already running as job {running[0].id}.")
            return
        trained = [slot for slot in (self.snapshot.slots if self.snapshot else []) if slot.versions]
        if trained and not asked:
            self.push_screen(DemoOfferScreen(existing=len(trained)),
                             lambda start: self.start_demo(asked=True) if start else None)
            return
        self.submit_request("demo", {})

    def open_slot(self, slot_key: str) -> None:
        # Imported when first opened: its equity charts bring plotext and numpy, a tenth of a
        # second the console's first paint does not wait for.
        from huracan_tui.console.screens.detail import ModelDetailScreen

        self.push_screen(ModelDetailScreen(slot_key))

    def action_demo(self) -> None:
        self.start_demo()

    def action_refresh(self) -> None:
        self.refresh_now()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.paused and self._timer is not None:
            self._timer.stop()
        self.notify("Live refresh paused (p resumes)" if self.paused else "Live refresh resumed")
        if not self.paused:
            self.refresh_now()
        elif self.snapshot is not None:
            self._show(self.snapshot)

    def set_refresh_seconds(self, seconds: float) -> None:
        self.refresh_seconds = clamp_refresh(seconds)
        self.remember(refresh_seconds=self.refresh_seconds)
        self.notify(f"Refreshing every {self.refresh_seconds:g}s")
        if not self.paused:
            self.refresh_now()

    def action_refresh_faster(self) -> None:
        self.set_refresh_seconds(self.refresh_seconds / 2)

    def action_refresh_slower(self) -> None:
        self.set_refresh_seconds(self.refresh_seconds * 2)

    def action_show_data(self) -> None:
        from huracan_tui.console.screens.data import DataQualityScreen

        if not isinstance(self.screen, DataQualityScreen):
            self.push_screen(DataQualityScreen())

    # Views away from the start are imported when first opened: the console starts faster.
    def action_show_drift(self, slot: str = "") -> None:
        from huracan_tui.console.screens.drift import DriftScreen

        push_slot_view(self, DriftScreen, slot)

    def action_show_importance(self, slot: str = "") -> None:
        from huracan_tui.console.screens.importance import ImportanceScreen

        push_slot_view(self, ImportanceScreen, slot)

    def action_show_regimes(self, slot: str = "") -> None:
        from huracan_tui.console.screens.regimes import RegimesScreen

        push_slot_view(self, RegimesScreen, slot)

    def action_show_compare(self, slot: str = "") -> None:
        from huracan_tui.console.screens.compare import CompareScreen

        push_slot_view(self, CompareScreen, slot)

    def action_retrain(self, slot: str = "") -> None:
        from huracan_tui.console.screens.retrain import open_retrain

        open_retrain(self, slot)

    def action_show_registry(self, slot: str = "") -> None:
        from huracan_tui.console.screens.registry import RegistryScreen

        push_slot_view(self, RegistryScreen, slot)

    def action_show_rollbacks(self) -> None:
        from huracan_tui.console.screens.rollbacks import RollbacksScreen

        if not isinstance(self.screen, RollbacksScreen):
            self.push_screen(RollbacksScreen())

    def action_show_audit(self) -> None:
        from huracan_tui.console.screens.audit import AuditScreen

        if not isinstance(self.screen, AuditScreen):
            self.push_screen(AuditScreen())

    def action_show_queues(self) -> None:
        from huracan_tui.console.screens.queues import QueuesScreen

        if not isinstance(self.screen, QueuesScreen):
            self.push_screen(QueuesScreen())

    def action_show_notifications(self) -> None:
        from huracan_tui.console.screens.notifications import NotificationsScreen

        if not isinstance(self.screen, NotificationsScreen):
            self.push_screen(NotificationsScreen())

    def action_show_jobs(self) -> None:
        from huracan_tui.console.screens.jobs import JobsScreen

        if not isinstance(self.screen, JobsScreen):
            self.push_screen(JobsScreen())

    def action_show_replay(self, hours: str = "") -> None:
        from huracan_tui.console.screens.replay import open_replay

        open_replay(self, hours)

    def submit_request(self, action: str, args: dict, *,
                       on_done: Callable[[RequestRecord], None] | None = None) -> None:
        """Ask for an action that changes things: an operator request. A live headless leader
        carries it out, else this console does, in a thread (the same code, the same checks).
        The outcome comes back as a toast and to `on_done`."""
        if self.role != "operator":  # every request changes something
            self.deny(action)
            return
        self._carry_out(action, args, on_done)

    @work(thread=True, group="requests")
    def _carry_out(self, action: str, args: dict, on_done) -> None:
        try:
            request = submit_request(self.brain, self.config, action, args, actor=self.user,
                                     origin=self.origin, role=self.role, handler=f"console {self.user}",
                                     account=self.account,
                                     start_job=self._start_worker)
        except BrainError as error:
            self.call_from_thread(self.notify, str(error), title=action, severity="error")
            return
        self.post_message(RequestFinished(request, on_done))

    def _start_worker(self, job_id: int) -> None:
        # The job stops with this console, however it ends (a kill -9 included): interrupted, to
        # be retried, never training on with nobody watching.
        start_worker(self.brain_url, job_id, log_path=self.worker_log, exit_with=os.getpid())

    @on(RequestFinished)
    def _request_finished(self, message: RequestFinished) -> None:
        request = message.request
        severity = {"done": "information", "refused": "warning"}.get(request.state, "error")
        if request.state in ("pending", "running"):
            outcome = f"handed to the leader; still {request.state}"
        else:
            outcome = request.outcome or request.state
        done = request.state == "done"
        job = (request.result or {}).get("job") if done and request.action != "cancel_job" else None
        if job is not None:  # the job's end is its own toast ("Job N ... finished")
            self._queued_jobs.add(int(job))
            title = DONE_TITLES.get(request.action) or f"{request.action}: queued as job {job}"
            self.notify(outcome, title=title, severity=severity)
        elif not (done and request.action in ANNOUNCED_BY_POLL):
            title = DONE_TITLES.get(request.action) if done else None
            self.notify(outcome, title=title or f"{request.action}: {request.state}", severity=severity)
        if message.on_done is not None:
            message.on_done(request)
        self.refresh_now()

    def cancel_job(self, job_id: int, reason: str) -> None:
        self.submit_request("cancel_job", {"job": job_id, "reason": reason, "target": f"job {job_id}"})

    def action_help(self) -> None:
        """Help for the view in front: its columns (COLUMN_HELP, where it has one) and keys first."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(scope_of(self.screen), getattr(self.screen, "COLUMN_HELP", ())))
            if not self.remembered.hint_seen:  # read: the first-run hint goes, for good
                self.remember(hint_seen=True)
                for screen in self.screen_stack:
                    for hint in screen.query("#first-run-hint"):
                        hint.display = False

    def action_command_line(self) -> None:
        if not isinstance(self.screen, PromptScreen):
            self.push_screen(PromptScreen(), self.run_prompt)

    def run_prompt(self, text: str | None) -> None:
        if not text:
            return
        slots = [slot.slot for slot in self.snapshot.slots] if self.snapshot else []
        try:
            command = parse_prompt(text, slots)
        except PromptError as error:
            self.notify(str(error), severity="warning", title="Command")
            return
        if not self.allows(command.action):
            self.deny(command.action)
            return
        if command.action == "models":
            while not isinstance(self.screen, ModelsScreen):
                self.pop_screen()
        elif command.action == "slot":
            self.open_slot(command.argument)
        elif command.action == "interval":
            self.set_refresh_seconds(float(command.argument))
        elif command.action == "theme":
            if not command.argument:
                self.notify(", ".join(THEME_NAMES), title=f"Themes (now {self.theme})")
            elif command.argument not in THEME_NAMES:
                self.notify(f"unknown theme {command.argument!r}; themes: {', '.join(THEME_NAMES)}",
                            severity="warning")
            else:
                self.theme = command.argument
        elif command.argument:  # `:drift EURUSD` -> show_drift('EURUSD:1h:fwd_ret_1')
            self.call_later(self.run_action, f"{command.action}({command.argument!r})")
        else:
            self.call_later(self.run_action, command.action)

    def export_table(self, table, name: str, fmt: str, typed: TypedColumns | None = None) -> None:
        """Write the table shown to the export folder; the toast names the file, or why not."""
        from huracan_tui.console.export import ExportError, export_folder, export_table

        try:
            path = export_table(table, export_folder(self.config.console.export_dir), name, fmt,
                                self.clock(), typed)
        except ExportError as error:
            self.notify(f"Export not written: {error}", severity="warning", title="Export", markup=False)
            return
        self.notify(f"Wrote {path}", title="Export", markup=False)

    def action_save_svg(self) -> None:
        from huracan_tui.console.export import ExportError, export_folder, writable_folder

        folder = export_folder(self.config.console.export_dir)
        try:
            path = self.save_screenshot(path=str(writable_folder(folder)),
                                        filename=f"huracan-{self.clock():%Y%m%dT%H%M%S}.svg")
        except (ExportError, OSError) as error:
            why = error if isinstance(error, ExportError) else f"cannot write to {folder} ({error.strerror})"
            self.notify(f"Screenshot not written: {why}", severity="warning", title="Screenshot",
                        markup=False)
            return
        self.notify(f"Wrote {path}", title="Screenshot", markup=False)
