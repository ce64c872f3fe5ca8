"""The Replay view (`H`, `:replay [HOURS]`): what the console showed over the last hours, from the
frames the headless leader records every minute (scheduler.daemon.recorder). A table like the Models
view (champion, out-of-sample and live numbers, drift, queue) and the open queue items, both as
they were at one frame; ← / [ and → / ] step one frame, Home / End jump to the oldest / newest,
and a timeline of drifted features and open queue items marks where in the window you are."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from fractions import Fraction

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Label, Sparkline, Static

from brain import BrainError
from brain.history import HistoryFrame
from huracan_tui.console import formatting as fmt
from huracan_tui.console.actions import bindings
from huracan_tui.console.screens.base import HuracanScreen
from huracan_tui.console.widgets.filtered_table import sync_rows
from huracan_tui.console.widgets.footer import ConsoleFooter
from huracan_tui.console.widgets.slot_table import MODEL_COLUMNS, LiveCellRules
from huracan_tui.console.widgets.slot_table import slot_cells as model_cells
from huracan_tui.console.widgets.status_bar import StatusBar
from scheduler.services.overview import DriftFlag, LiveSummary, OosMetrics, SlotOverview

DEFAULT_HOURS = 24.0
KINDS = ("metrics", "queues", "drift")
# The Models view's figures under the Models view's names (one name per figure across views).
SLOT_COLUMNS = tuple((key, dict(MODEL_COLUMNS)[key]) for key in (
    "slot", "champion", "version", "model", "sharpe", "hit", "live_sharpe", "live_hit", "live_n", "drift",
    "queue"))
QUEUE_COLUMNS = (
    ("id", "#"),
    ("queue", "Queue"),
    ("slot", "Slot"),
    ("version", "Ver"),
    ("state", "State"),
    ("rule", "Rule"),
    ("reason", "Reason"),
)
LABEL_WIDTH = 18


def empty_hint(hours: float) -> str:
    return (f"No recorded frames in the last {hours:g}h: the headless leader records what the console "
            "shows every minute (huracan-tui --headless).")


@dataclass(frozen=True)
class ReplayStep:
    """The state at one time: each kind's newest frame at or before it (None before its first)."""

    ts: datetime
    metrics: dict | None
    queues: dict | None
    drift: dict | None

    def slot_keys(self) -> list[str]:
        keys = set((self.metrics or {}).get("slots", {})) | set((self.drift or {}).get("slots", {}))
        keys |= {item["slot"] for item in self.queue_items()}
        return sorted(keys)

    def queue_items(self) -> list[dict]:
        return (self.queues or {}).get("items", [])

    def drifted_features(self) -> int:
        """Drifted features over the slots, by the drift flags the console showed."""
        flags = (frame_drift_flag(check) for check in (self.drift or {}).get("slots", {}).values())
        return sum(flag.drifted for flag in flags if flag is not None)


def replay_steps(frames: dict[str, list[HistoryFrame]]) -> list[ReplayStep]:
    """One step per distinct frame time, oldest first, each carrying every kind's state then."""
    times = sorted({frame.ts for kind_frames in frames.values() for frame in kind_frames})
    state: dict[str, dict | None] = {kind: None for kind in KINDS}
    pending = {kind: sorted(frames.get(kind, []), key=lambda f: (f.ts, f.id)) for kind in KINDS}
    steps = []
    for ts in times:
        for kind in KINDS:
            while pending[kind] and pending[kind][0].ts <= ts:
                state[kind] = pending[kind].pop(0).payload
        steps.append(ReplayStep(ts, state["metrics"], state["queues"], state["drift"]))
    return steps


def frame_overview(step: ReplayStep, slot: str) -> SlotOverview:
    """The slot as the console held it at the step: its frames turned back into the SlotOverview
    the Models view formats, so a replayed row is formatted by the Models view's own code."""
    metrics = (step.metrics or {}).get("slots", {}).get(slot, {})
    symbol, timeframe, target = (slot.split(":", 2) + ["", ""])[:3]
    oos = OosMetrics.of(metrics.get("oos"))
    live = metrics.get("live")
    queues = Counter(item["queue"] for item in step.queue_items() if item["slot"] == slot)
    return SlotOverview(
        slot=slot, symbol=symbol, timeframe=timeframe, target=target, horizon=0,
        latest_version=metrics.get("latest"), model_kind=metrics.get("model"), metrics=oos,
        champion=metrics.get("champion"), champion_kind=metrics.get("model"), champion_metrics=oos,
        live=None if not live else LiveSummary(version=metrics.get("champion") or 0, ts=step.ts,
                                               **{name: live.get(name) for name in ("sharpe", "win_rate",
                                                                                     "mae", "n")}),
        drift=frame_drift_flag((step.drift or {}).get("slots", {}).get(slot)),
        queue=tuple(sorted(queues.items())))


def frame_drift_flag(check: dict | None) -> DriftFlag | None:
    """The drift flag the console showed: the frame's own copy of it ("flag"); frames recorded
    before they kept one give their check's PSI entry, the console's method."""
    if not check:
        return None
    if flag := check.get("flag"):
        return DriftFlag(ts=datetime.fromisoformat(flag["ts"]), features=int(flag["features"]),
                         drifted=int(flag["drifted"]), method=flag["method"])
    psi = check.get("methods", {}).get("psi")
    if psi is None:
        return None
    return DriftFlag(ts=datetime.fromisoformat(check["checked"]), features=int(check.get("features", 0)),
                     drifted=len(psi.get("drifted", [])), method="psi")


DEFAULT_RULES = LiveCellRules()


def slot_cells(step: ReplayStep, slot: str, rules: LiveCellRules = DEFAULT_RULES) -> dict[str, object]:
    """The Models view's cells of the slot at the step (slot_table.slot_cells on frame_overview)."""
    cells = model_cells(frame_overview(step, slot), rules)
    return {key: cells[key] for key, _ in SLOT_COLUMNS}


def queue_cells(item: dict) -> dict[str, object]:
    return {
        "id": fmt.right(str(item["id"])),
        "queue": item["queue"],
        "slot": item["slot"],
        "version": fmt.right(f"v{item['version']}" if item.get("version") else "-"),
        "state": item["state"],
        "rule": item["rule"],
        "reason": item.get("reason") or "",
    }


def cursor_columns(index: int, count: int, width: int) -> list[int]:
    """The columns of a `width`-wide Sparkline of `count` values that show value `index`, bucketed
    as textual's Sparkline does (a value spans several columns when there are fewer values)."""
    if count <= 0 or width <= 0:
        return []
    if count <= width:
        return [column for column in range(width) if int(Fraction(column * count, width)) == index]
    step = Fraction(count, width)
    return [column for column in range(width) if int(step * column) <= index < int(step * (column + 1))]


class TimelineCursor(Widget):
    """A ▲ under the timeline's Sparklines at the frame in view."""

    DEFAULT_CSS = "TimelineCursor { height: 1; width: 1fr; color: $accent; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.index = 0
        self.count = 0

    def point(self, index: int, count: int) -> None:
        self.index, self.count = index, count
        self.refresh()

    def render(self) -> str:
        columns = set(cursor_columns(self.index, self.count, self.size.width))
        return "".join("▲" if column in columns else " " for column in range(self.size.width))


class FramesLoaded(Message):
    def __init__(self, frames: dict[str, list[HistoryFrame]], error: str | None = None) -> None:
        super().__init__()
        self.frames = frames
        self.error = error


class ReplayScreen(HuracanScreen):
    # Priority: the arrows and Home / End step through frames even while the table has focus.
    BINDINGS = [replace(binding, priority=True) for binding in bindings("replay")]
    AUTO_FOCUS = "#replay-slots"
    DEFAULT_CSS = f"""
    ReplayScreen .timeline {{ height: 1; padding: 0 1; }}
    ReplayScreen .timeline Label {{ width: {LABEL_WIDTH}; color: $text-muted; }}
    ReplayScreen .timeline Sparkline {{ width: 1fr; }}
    ReplayScreen #replay-slots {{ height: auto; max-height: 60%; }}
    ReplayScreen #replay-queue {{ height: 1fr; min-height: 3; }}
    """

    def __init__(self, hours: float = DEFAULT_HOURS) -> None:
        super().__init__()
        self.hours = hours
        self.steps: list[ReplayStep] | None = None
        self.index = 0

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static("Replay", classes="section-title", id="replay-title")
        with Horizontal(classes="timeline"):
            yield Label("drifted features")
            yield Sparkline([], id="timeline-drift")
        with Horizontal(classes="timeline"):
            yield Label("open queue items")
            yield Sparkline([], id="timeline-queue")
        with Horizontal(classes="timeline"):
            yield Label("", id="timeline-ends")
            yield TimelineCursor(id="timeline-cursor")
        slots = DataTable(id="replay-slots", cursor_type="row", zebra_stripes=True, fixed_columns=1)
        for key, label in SLOT_COLUMNS:
            slots.add_column(label, key=key)
        yield slots
        yield Static("Open queue items", classes="section-title", id="replay-queue-title")
        queue = DataTable(id="replay-queue", cursor_type="none", show_cursor=False)
        for key, label in QUEUE_COLUMNS:
            queue.add_column(label, key=key)
        yield queue
        yield Static(empty_hint(self.hours), id="empty-hint")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#empty-hint").display = False
        if self.app.snapshot is not None:
            self.query_one(StatusBar).show(self.app.status_line(self.app.snapshot))
        self.load_frames()

    def reload(self, hours: float) -> None:
        self.hours = hours
        self.load_frames()

    @work(thread=True, exclusive=True)
    def load_frames(self) -> None:
        since = self.app.clock() - timedelta(hours=self.hours)
        brain = self.app.brain
        try:
            frames = {}
            for kind in KINDS:
                window = brain.frames(kind, since=since)
                before = brain.frame_at(kind, since)  # the state when the window opens
                if before is not None and all(frame.id != before.id for frame in window):
                    window.insert(0, before)
                frames[kind] = window
        except BrainError as error:
            self.post_message(FramesLoaded({}, str(error)))
            return
        self.post_message(FramesLoaded(frames))

    @on(FramesLoaded)
    def _frames_loaded(self, message: FramesLoaded) -> None:
        if message.error is not None:
            self.notify(message.error, title="Brain unreachable", severity="error")
            return
        self.steps = replay_steps(message.frames)
        self.index = len(self.steps) - 1
        empty = not self.steps
        hint = self.query_one("#empty-hint", Static)
        hint.update(empty_hint(self.hours))
        hint.display = empty
        for widget in self.query(".timeline, #replay-slots, #replay-queue-title, #replay-queue"):
            widget.display = not empty
        if empty:
            self.query_one("#replay-title", Static).update(f"Replay: last {self.hours:g}h")
            return
        self.query_one("#timeline-drift", Sparkline).data = [step.drifted_features() for step in self.steps]
        self.query_one("#timeline-queue", Sparkline).data = [len(step.queue_items()) for step in self.steps]
        self.show_step()

    @property
    def step(self) -> ReplayStep | None:
        return self.steps[self.index] if self.steps else None

    def show_step(self) -> None:
        step = self.step
        if step is None:
            return
        count = len(self.steps)
        self.query_one("#replay-title", Static).update(
            f"Replay: {step.ts:%Y-%m-%d %H:%M:%S} UTC  ·  frame {self.index + 1} of {count}  ·  "
            f"last {self.hours:g}h")
        self.query_one("#timeline-ends", Label).update(
            f"{self.steps[0].ts:%H:%M}→{self.steps[-1].ts:%H:%M}"[:LABEL_WIDTH])
        self.query_one(TimelineCursor).point(self.index, count)
        console = self.app.config.console
        rules = LiveCellRules(console.min_live_samples, console.stale_after_bars)
        sync_rows(self.query_one("#replay-slots", DataTable),
                  {slot: slot_cells(step, slot, rules) for slot in step.slot_keys()},
                  sort_by="slot", sort_key=str)
        items = step.queue_items()
        sync_rows(self.query_one("#replay-queue", DataTable),
                  {str(item["id"]): queue_cells(item) for item in items}, sort_by="id",
                  sort_key=lambda cell: int(str(cell)))
        self.query_one("#replay-queue-title", Static).update(
            f"Open queue items ({len(items)})" if items else "Open queue items: none")

    def action_step(self, delta: int) -> None:
        if not self.steps:
            return
        index = min(len(self.steps) - 1, max(0, self.index + delta))
        if index == self.index:
            self.notify("That is the oldest frame." if delta < 0 else "That is the newest frame.")
            return
        self.index = index
        self.show_step()

    def action_jump(self, end: str) -> None:
        if self.steps:
            self.index = 0 if end == "oldest" else len(self.steps) - 1
            self.show_step()

    def action_back(self) -> None:
        self.app.pop_screen()


def open_replay(app, hours: str = "") -> None:
    """`H` opens the last day; `:replay 6` the last six hours (or reloads the open view)."""
    span = float(hours) if hours else DEFAULT_HOURS
    if not math.isfinite(span) or span <= 0:
        app.notify(f"replay needs a positive number of hours, not {hours!r}", severity="warning")
        return
    if isinstance(app.screen, ReplayScreen):
        app.screen.reload(span)
    else:
        app.push_screen(ReplayScreen(span))
